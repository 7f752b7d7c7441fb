"""The head start (execution/head_start.py): a run saves which tests the next
run of the same command starts first; that run starts them before the runner
is up, adopts each only if its own plan has exactly that command, and kills
anything else. Real runs, real processes."""

import json
import os
import signal
import time

import pytest

from conftest import ends_by_test, paralleltest, read_raw, wait_gone, write_test

from mozparallel.execution.head_start import FILENAME, next_first, state_dir_from_argv
from mozparallel.execution.pool import TestSpec
from mozparallel.schedule.gate import MemoryGate
from mozparallel.schedule.policies import ListOrder

DURATIONS = {"a.sh": 0.1, "b.sh": 0.9, "c.sh": 0.2, "d.sh": 0.7, "e.sh": 0.05, "f.sh": 0.3}


def suite(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    for name, seconds in DURATIONS.items():
        write_test(tests, name, 'echo "1..1"\nsleep %s\necho "ok 1"\n' % seconds)
    return tests


def run(tmp_path, tests, *extra, marker=None):
    args = ["-j", "2", "-r", "tap", "--log-raw", "raw.log", "--objdir", str(tmp_path / "obj")]
    args += list(extra) + [str(tests / n) for n in sorted(DURATIONS)]
    proc = paralleltest(args, cwd=str(tmp_path), marker=marker)
    events = read_raw(tmp_path / "raw.log") if (tmp_path / "raw.log").exists() else []
    if (tmp_path / "raw.log").exists():
        os.unlink(tmp_path / "raw.log")
    return proc, events


def head_lines(events, level=None):
    return [e["message"] for e in events if e["action"] == "log" and "head start" in e["message"]
            and (level is None or e["level"] == level)]


def real_starts(events):
    """When each test's process really started (its end minus its wall), ms."""
    return {e["test"]: e["time"] - 1000 * e["extra"]["wall"] for e in events if e["action"] == "test_end"}


def saved_tests_now_sleep(tmp_path):
    """Make every saved head-start test a sleeper that leaves started-PID
    behind: what a stale plan would start."""
    path = tmp_path / "obj" / ".mozparallel" / FILENAME
    data = json.load(open(path))
    sleeper = write_test(tmp_path, "long.sh", "touch %s/started-$$\nsleep 30\n" % tmp_path)
    for t in data["entries"][0]["tests"]:
        t["argv"] = [sleeper]
    json.dump(data, open(path, "w"))


def test_second_run_starts_the_longest_tests_before_the_runner_is_up(tmp_path):
    tests = suite(tmp_path)
    first, events1 = run(tmp_path, tests)
    assert first.returncode == 0, first.stderr
    assert not head_lines(events1)          # nothing saved yet
    saved = json.load(open(tmp_path / "obj" / ".mozparallel" / FILENAME))["entries"][0]
    assert [t["id"] for t in saved["tests"]] == ["tests/b.sh", "tests/d.sh"]   # the 2 longest

    second, events = run(tmp_path, tests)
    assert second.returncode == 0, second.stderr
    lines = head_lines(events, "INFO")
    assert len(lines) == 1 and "2 tests were started" in lines[0], lines
    assert not head_lines(events, "WARNING")
    suite_start = next(e["time"] for e in events if e["action"] == "suite_start")
    starts = real_starts(events)
    # b and d ran before the runner logged suite_start; the others after.
    assert starts["tests/b.sh"] < suite_start and starts["tests/d.sh"] < suite_start
    assert all(starts[t] >= suite_start - 5 for t in starts if t not in ("tests/b.sh", "tests/d.sh"))
    # Every test once, each test_start after suite_start, each test_end after its test_start.
    assert sorted(ends_by_test(events)) == sorted("tests/" + n for n in DURATIONS)
    order = [e["action"] + ":" + e.get("test", "") for e in events if e["action"] in ("test_start", "test_end")]
    assert len(order) == 2 * len(DURATIONS)
    for name in DURATIONS:
        assert order.index("test_start:tests/" + name) < order.index("test_end:tests/" + name)
    # Their wall times count from the real start: b slept 0.9 s.
    assert ends_by_test(events)["tests/b.sh"]["extra"]["wall"] >= 0.9


def test_a_changed_input_or_option_means_no_head_start(tmp_path):
    tests = suite(tmp_path)
    assert run(tmp_path, tests)[0].returncode == 0
    time.sleep(0.01)
    write_test(tests, "c.sh", 'echo "1..1"\nsleep 0.25\necho "ok 1"\n')   # an argument changed
    proc, events = run(tmp_path, tests)
    assert proc.returncode == 0 and not head_lines(events)
    proc, events = run(tmp_path, tests)      # saved again by the run before: used
    assert proc.returncode == 0 and head_lines(events, "INFO")
    proc, events = run(tmp_path, tests, "--no-head-start")
    assert proc.returncode == 0 and not head_lines(events)
    proc, events = run(tmp_path, tests, "--timeout", "30")     # another command line: none
    assert proc.returncode == 0 and not head_lines(events)
    # --store none keeps no history: no head start saved, so none used.
    other = tmp_path / "obj-none"
    for _ in range(2):
        proc = paralleltest(["-j", "2", "-r", "tap", "--store", "none", "--objdir", str(other)]
                            + [str(tests / n) for n in sorted(DURATIONS)], cwd=str(tmp_path))
        assert proc.returncode == 0 and "head start" not in proc.stdout
    assert not (other / ".mozparallel" / FILENAME).exists()


def test_a_started_test_this_run_does_not_plan_is_killed_and_the_run_is_right(tmp_path, marker):
    tests = suite(tmp_path)
    assert run(tmp_path, tests, marker=marker)[0].returncode == 0
    path = tmp_path / "obj" / ".mozparallel" / FILENAME
    data = json.load(open(path))
    # A stale plan: the saved command of b is no longer what this run runs.
    sleeper = write_test(tmp_path, "stale.sh", "touch %s/stale-started\nsleep 30\n" % tmp_path)
    data["entries"][0]["tests"][0]["argv"] = [sleeper]
    json.dump(data, open(path, "w"))
    start = time.monotonic()
    proc, events = run(tmp_path, tests, marker=marker)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 10
    warning = head_lines(events, "WARNING")
    assert len(warning) == 1 and "tests/b.sh" in warning[0], warning
    assert "1 tests were started" in head_lines(events, "INFO")[0]      # d was adopted
    ends = ends_by_test(events)
    assert sorted(ends) == sorted("tests/" + n for n in DURATIONS)
    assert ends["tests/b.sh"]["status"] == "OK" and ends["tests/b.sh"]["extra"]["wall"] >= 0.9
    assert (tmp_path / "stale-started").exists()
    assert not wait_gone(marker)             # the stale sleeper was killed


def test_an_error_before_the_pool_kills_what_was_started(tmp_path, marker):
    tests = tmp_path / "tests"
    tests.mkdir()
    for name in ("x.sh", "y.sh"):
        write_test(tests, name, 'echo "1..1"\nsleep 0.2\necho "ok 1"\n')
    (tmp_path / "out").mkdir()
    args = ["-j", "2", "-r", "tap", "--objdir", str(tmp_path / "obj"), "--report-html", "out/r.html",
            str(tests / "x.sh"), str(tests / "y.sh")]
    assert paralleltest(args, cwd=str(tmp_path), marker=marker).returncode == 0
    # The same command line again, but the saved tests now sleep and the
    # report's directory is gone: the run stops after selecting its tests
    # (exit 2), long after the head start began them.
    saved_tests_now_sleep(tmp_path)
    (tmp_path / "out" / "r.html").unlink()
    (tmp_path / "out").rmdir()
    proc = paralleltest(args, cwd=str(tmp_path), marker=marker)
    assert proc.returncode == 2 and "--report-html" in proc.stderr, proc.stderr
    assert len(list(tmp_path.glob("started-*"))) == 2     # both had started
    assert not wait_gone(marker)


def test_state_dir_from_argv_agrees_with_the_options(tmp_path):
    env = {"MOZ_OBJDIR": "/o"}
    assert state_dir_from_argv(["--objdir", "/x", "t"], env) == "/x/.mozparallel"
    assert state_dir_from_argv(["--objdir=/y", "t"], env) == "/y/.mozparallel"
    assert state_dir_from_argv(["t"], env) == "/o/.mozparallel"
    assert state_dir_from_argv(["--", "--objdir", "/x"], {}) == os.path.join(os.getcwd(), ".mozparallel")


def spec(name, sequential=None):
    return TestSpec(id=name, argv=[name], path=name, sequential=sequential)


def test_next_first_picks_the_longest_or_the_fixed_order_and_stops_at_a_sequential_test():
    specs = [spec("a"), spec("b"), spec("c"), spec("d")]
    walls = {"a": 1.0, "b": 3.0, "c": 2.0, "d": 2.0}
    assert [s.id for s in next_first(specs, [], walls, True, 3)] == ["b", "c", "d"]
    assert [s.id for s in next_first(specs, ["d", "a", "b", "c"], walls, False, 2)] == ["d", "a"]
    # a test never measured comes first, as in LongestFirst
    assert [s.id for s in next_first(specs + [spec("new")], [], walls, True, 2)] == ["new", "b"]
    specs[2] = spec("c", sequential="true")
    assert [s.id for s in next_first(specs, [], walls, True, 3)] == ["b"]


def test_take_hands_out_a_test_out_of_order_once():
    specs = [spec("a"), spec("b"), spec("c")]
    policy = ListOrder(specs)
    assert policy.take("b", lambda s: False) is None and policy.remaining() == 3
    assert policy.take("b").id == "b"
    assert policy.take("b") is None
    assert [policy.next_test(1).id, policy.next_test(1).id, policy.next_test(1)] == ["a", "c", None]
    gate = MemoryGate(ListOrder(specs), {"a": 60, "b": 50}, 100)
    assert gate.take("b").id == "b" and gate.reserved == {"b": 50}
    assert gate.next_test(1) is None        # a (60) does not fit beside b (50)
    gate.finished("b", 1.0)
    assert gate.next_test(1).id == "a"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_runner_starts_leaves_nothing_of_the_head_start(tmp_path, marker, sig):
    """SIGINT as soon as the head start's tests are running (the runner is
    still importing): exit 130 without a traceback. SIGTERM: the runner
    ends (143 or killed by it) and its guardian ends those tests. Either
    way nothing is left running."""
    import subprocess

    from conftest import VENV_PYTHON

    tests = tmp_path / "tests"
    tests.mkdir()
    for name in ("x.sh", "y.sh"):
        write_test(tests, name, 'echo "1..1"\nsleep 0.2\necho "ok 1"\n')
    args = ["-j", "2", "-r", "tap", "--objdir", str(tmp_path / "obj"), str(tests / "x.sh"), str(tests / "y.sh")]
    assert paralleltest(args, cwd=str(tmp_path), marker=marker).returncode == 0
    saved_tests_now_sleep(tmp_path)
    env = dict(os.environ, MOZPARALLEL_TEST_MARKER=marker)
    env.pop("MOZ_OBJDIR", None)
    proc = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel"] + args, cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not list(tmp_path.glob("started-*")) and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode in ((130,) if sig == signal.SIGINT else (143, -signal.SIGTERM)), (out, err)
    assert "Traceback" not in err, err
    assert list(tmp_path.glob("started-*"))
    assert not wait_gone(marker)


def test_tbpl_took_counts_from_the_real_start(tmp_path):
    """mozlog's TBPL "took" is the time since test_start, logged at adoption
    for a head-started test; ours is the test's measured wall time."""
    import re

    slow = write_test(tmp_path, "slow.sh", 'echo "1..1"\nsleep 0.5\necho "ok 1"\n')
    args = ["-r", "tbpl", "--objdir", str(tmp_path / "obj"), slow]
    paralleltest(args, cwd=str(tmp_path))
    proc = paralleltest(args, cwd=str(tmp_path))
    assert proc.returncode == 0 and "head start: 1 tests" in proc.stdout, proc.stdout
    took = int(re.search(r"TEST-OK \| slow.sh \| took (\d+)ms", proc.stdout).group(1))
    assert took >= 500, proc.stdout


def test_a_daemon_left_by_a_head_started_test_is_found_and_killed(tmp_path, marker):
    """A head-started test that leaves a daemon before the pool is up: the
    daemon is our child already when the pool starts, but it carries the
    run's token, so it is reported as that test's leak and killed, as it
    would be without a head start."""
    from conftest import write_python_test
    from test_hygiene import DAEMON

    daemon = write_python_test(tmp_path, "daemon.py", DAEMON)
    args = ["-r", "tap", "--objdir", str(tmp_path / "obj"), "--log-raw", "raw.log", daemon]
    paralleltest(args, cwd=str(tmp_path), marker=marker)
    assert wait_gone(marker) == []
    proc = paralleltest(args, cwd=str(tmp_path), marker=marker)
    events = read_raw(tmp_path / "raw.log")
    assert head_lines(events, "INFO"), events
    end = ends_by_test(events)["daemon.py"]
    assert end["status"] == "ERROR" and "left 1 process(es) running" in end["message"], end
    assert proc.returncode == 1
    assert wait_gone(marker) == []


def test_a_malformed_saved_entry_is_ignored(tmp_path):
    tests = suite(tmp_path)
    assert run(tmp_path, tests)[0].returncode == 0
    path = tmp_path / "obj" / ".mozparallel" / FILENAME
    good = json.load(open(path))
    for damage in ({"argv": "not a list"}, {"argv": []}, {"env": {"A": 1}}, {"id": None}):
        data = json.loads(json.dumps(good))
        data["entries"][0]["tests"][0].update(damage)
        json.dump(data, open(path, "w"))
        proc, events = run(tmp_path, tests)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert not head_lines(events)
    path.write_text("{not json")
    proc, events = run(tmp_path, tests)
    assert proc.returncode == 0 and not head_lines(events)
