"""Intermittent failures (flaky/): --retries, --rerun-failures, --run-until-failure,
--repeat, --verify and ``paralleltest history --flaky``, on real processes.

The flaky fixture (fixtures/flaky/coin.py) fails with probability 0.3, the
same way for the same $FLAKY_SEED: each test picks the first seed whose
outcomes have the shape it needs, so every run here is deterministic.
"""

import importlib.util
import json
import os
import re
import sqlite3

import pytest

from conftest import FIXTURES, ends_by_test, paralleltest, read_raw, write_python_test, write_test

COIN = os.path.join(FIXTURES, "flaky", "coin.py")
_spec = importlib.util.spec_from_file_location("coin", COIN)
coin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(coin)


def seed_where(wanted, n):
    """The first seed whose first ``n`` attempts (True = fails) satisfy ``wanted``."""
    for seed in range(10000):
        outcomes = [coin.fails(seed, i) for i in range(n)]
        if wanted(outcomes):
            return str(seed), outcomes
    raise AssertionError("no seed found")


def flaky_fixture(directory, seed):
    """The p=0.3 fixture as an executable in ``directory``, and its environment."""
    with open(COIN) as f:
        path = write_python_test(directory, "flaky.py", f.read())
    counter = os.path.join(str(directory), "flaky.count")
    return path, {"FLAKY_SEED": seed, "FLAKY_COUNTER": counter}


def always_failing(directory):
    return write_test(directory, "broken.sh", "echo 1..1; echo 'not ok 1 - broken every time'; exit 1\n")


def attempts(counter):
    with open(counter) as f:
        return len(f.read())


def ends_of(events, test):
    return [e for e in events if e["action"] == "test_end" and e["test"] == test]


def logged(events):
    return [e["message"] for e in events if e["action"] == "log"]


def unexpected(e):
    """mozlog's logged form: ``expected`` is left out when the result was expected."""
    return "expected" in e and e["status"] not in (e.get("known_intermittent") or [])


def runs_in(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT run_id, kind, parent_run FROM runs ORDER BY started").fetchall()


def test_retries_tell_intermittent_from_real(tmp_path):
    # Fails, fails, then passes: intermittent after two re-runs.
    seed, _ = seed_where(lambda o: o[:3] == [True, True, False], 3)
    flaky, env = flaky_fixture(tmp_path, seed)
    broken = always_failing(tmp_path)
    ok = write_test(tmp_path, "ok.sh", "echo 1..1; echo ok 1\n")
    raw, db = tmp_path / "run.raw", tmp_path / "history.sqlite"
    proc = paralleltest(["-j", "3", "--retries", "5", "--log-raw", str(raw), "--store", str(db),
                         flaky, broken, ok], env=env)
    assert proc.returncode == 1, proc.stderr          # the real failure fails the run
    events = read_raw(raw)

    flaky_ends = ends_of(events, flaky)
    assert attempts(env["FLAKY_COUNTER"]) == 3
    # A failing point is the failure line; the file itself ends OK (one failure, one line).
    assert [e["status"] for e in flaky_ends] == ["OK", "OK", "OK"]
    for e in flaky_ends[:2]:        # logged as xpcshell does before a re-run: not unexpected
        assert not unexpected(e) and e["extra"]["rerun"]["expected"] == "OK"
        assert "note" in e["extra"]["rerun"]
    final = flaky_ends[-1]
    assert final["known_intermittent"] == ["FAIL"]
    assert [a["status"] for a in final["extra"]["intermittent"]["failed_attempts"]] == ["FAIL", "FAIL"]
    assert "intermittent" in final["message"]

    broken_ends = ends_of(events, broken)
    assert len(broken_ends) == 6 and {e["status"] for e in broken_ends} == {"OK"}
    broken_points = [e for e in events if e["action"] == "test_status" and e["test"] == broken]
    assert [unexpected(e) for e in broken_points] == [False] * 5 + [True]
    assert broken_ends[-1]["extra"]["rerun"]["verdict"] == "failed every attempt"

    # Never a plain pass: every end of either carries its re-run note or the earlier failure.
    for e in flaky_ends + broken_ends:
        assert e.get("known_intermittent") or "rerun" in e["extra"]
    # The only unexpected result in the stream is the real failure's last attempt: one line.
    assert [(e["test"], e["action"]) for e in events if e["action"] in ("test_end", "test_status")
            and unexpected(e)] == [(broken, "test_status")]
    assert [e["status"] for e in ends_of(events, ok)] == ["OK"] and "known_intermittent" not in ends_of(events, ok)[0]

    messages = logged(events)
    assert "mozparallel: intermittent (passed on another attempt): %s (failed 2 of 3 attempts: FAIL)" % flaky in messages
    assert "mozparallel: real failures (failed every attempt): %s (failed 6 of 6 attempts: FAIL)" % broken \
        in messages

    # Re-runs are stored as runs of their own, marked as retries of the main run.
    runs = runs_in(db)
    main = [r for r in runs if r[1] == ""]
    assert len(main) == 1 and main[0][0] == events[0]["extra"]["run_id"]
    assert [(kind, parent) for _, kind, parent in runs[1:]] == [("retry", main[0][0])] * 5
    with sqlite3.connect(db) as c:
        tested = c.execute("SELECT r.test, r.status FROM results r JOIN runs u USING (run_id) "
                           "WHERE u.kind = 'retry' ORDER BY u.started").fetchall()
    assert tested.count((broken, "FAIL")) == 5      # stored as failed: its point failed
    assert [s for t, s in tested if t == flaky] == ["FAIL", "OK"]


def test_only_intermittent_failures_exit_zero(tmp_path):
    seed, _ = seed_where(lambda o: o[:2] == [True, False], 2)
    flaky, env = flaky_fixture(tmp_path, seed)
    proc = paralleltest(["--retries", "1", "--store", "none", "-r", "tbpl", flaky], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "intermittent (passed on another attempt): %s (failed 1 of 2 attempts: FAIL)" % flaky in proc.stdout
    assert "TEST-UNEXPECTED" not in proc.stdout


def test_mach_view_and_summary_count_each_test_once_with_its_verdict(tmp_path):
    """The default (mach) view: a failure to be re-run says RERUN, the
    counter never passes the number of tests, and the closing line counts
    the intermittent test as passed, the broken one as unexpected."""
    seed, _ = seed_where(lambda o: o[:2] == [True, False], 2)
    flaky, env = flaky_fixture(tmp_path, seed)
    broken = always_failing(tmp_path)
    good = write_test(tmp_path, "good.sh", "echo 1..1; echo ok 1\n")
    proc = paralleltest(["--retries", "2", "--store", "none", flaky, broken, good], env=env,
                        cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    tags = [tuple(map(int, t)) for t in re.findall(r"^\[(\d+)/(\d+)\]", proc.stdout, flags=re.M)]
    assert tags and all(done <= total == 3 for done, total in tags), proc.stdout
    assert "RERUN flaky.py" in proc.stdout and "RERUN broken.sh" in proc.stdout
    assert "XFAIL" not in proc.stdout
    assert "3 tests in" in proc.stdout and "2 passed (1 intermittent), 1 unexpected" in proc.stdout


def test_repeat_with_retries_judges_by_the_repeats(tmp_path):
    # Fails, passes, fails over three rounds: intermittent without a re-run.
    seed, _ = seed_where(lambda o: o[:3] == [True, False, True], 3)
    flaky, env = flaky_fixture(tmp_path, seed)
    proc = paralleltest(["--repeat", "2", "--retries", "3", "--store", "none", "-r", "tbpl", flaky],
                        env=env)
    assert proc.returncode == 0, proc.stdout
    assert attempts(env["FLAKY_COUNTER"]) == 3
    assert "intermittent (passed on another attempt): %s (failed 2 of 3 attempts: FAIL)" % flaky in proc.stdout
    assert "TEST-UNEXPECTED" not in proc.stdout


def test_a_stopped_run_reports_the_failure_it_did_not_rerun(tmp_path):
    broken = always_failing(tmp_path)
    raw = tmp_path / "run.raw"
    proc = paralleltest(["--retries", "3", "--max-failures", "1", "--store", "none",
                         "--log-raw", str(raw), broken])
    assert proc.returncode == 1
    ends = ends_of(read_raw(raw), broken)
    assert len(ends) == 2 and not unexpected(ends[0]) and unexpected(ends[1])
    assert "not re-run: --max-failures 1 reached" in ends[1]["message"]


def test_run_until_failure_stops_at_the_first_failure(tmp_path):
    # Passes three times, then fails on the fourth run.
    seed, outcomes = seed_where(lambda o: o == [False, False, False, True], 4)
    flaky, env = flaky_fixture(tmp_path, seed)
    raw, db = tmp_path / "run.raw", tmp_path / "history.sqlite"
    proc = paralleltest(["--run-until-failure", "--log-raw", str(raw), "--store", str(db), flaky], env=env)
    assert proc.returncode == 1
    events = read_raw(raw)
    assert attempts(env["FLAKY_COUNTER"]) == 4
    points = [e for e in events if e["action"] == "test_status" and e["test"] == flaky]
    assert len(points) == 1 and unexpected(points[0]) and len(ends_of(events, flaky)) == 4
    assert "mozparallel: --run-until-failure: first unexpected result in run 4 of at most 30 (took 4 runs): " \
           "%s FAIL" % flaky in logged(events)
    assert [kind for _, kind, _ in runs_in(db)] == ["", "repeat", "repeat", "repeat"]


def test_run_until_failure_without_a_failure_stops_at_repeat(tmp_path):
    ok = write_test(tmp_path, "ok.sh", "echo 1..1; echo ok 1\n")
    proc = paralleltest(["--run-until-failure", "--repeat", "3", "--store", "none", "-r", "tbpl", ok])
    assert proc.returncode == 0
    assert proc.stdout.count("TEST-OK | %s" % ok) == 3
    assert "--run-until-failure: no unexpected result in 3 run(s)" in proc.stdout


def test_history_flaky_rate_over_20_runs(tmp_path):
    # 20 runs (the run and 19 repeats), 6 failures among them: rate 0.3.
    seed, outcomes = seed_where(lambda o: sum(o) == 6 and o[0] is False, 20)
    flaky, env = flaky_fixture(tmp_path, seed)
    ok = write_test(tmp_path, "ok.sh", "echo 1..1; echo ok 1\n")
    db = tmp_path / "history.sqlite"
    proc = paralleltest(["--repeat", "19", "--store", str(db), "-r", "tbpl", flaky, ok], env=env)
    assert proc.returncode == 1
    assert "mozparallel: --repeat 19: each test ran 20 time(s)" in proc.stdout
    assert "unexpected results: %s (unexpected in 6 of 20: FAIL)" % flaky in proc.stdout

    proc = paralleltest(["history", "--flaky", "--runs", "20", "--store", str(db), "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["runs"] == 20
    [row] = report["flaky"]         # ok.sh never changed: not listed
    assert row["test"] == flaky and row["runs"] == 20 and row["failures"] == 6
    assert abs(row["rate"] - 0.3) <= 0.1
    assert row["reruns_for_95"] == 9         # 1 - 0.7^9 = 0.960 >= 0.95 > 1 - 0.7^8 = 0.942
    assert row["changes"] == sum(1 for a, b in zip(outcomes, outcomes[1:]) if a != b)

    text = paralleltest(["history", "--flaky", "--runs", "20", "--store", str(db)]).stdout
    assert " 30.0%     6/20               9  " + flaky in text


@pytest.mark.parametrize("rate, runs", [(0.3, 9), (0.5, 5), (0.05, 59), (1.0, 1), (0.95, 1), (0.0, None)])
def test_reruns_for_95_percent_confidence(rate, runs):
    from mozparallel.flaky import reruns_for_confidence

    n = reruns_for_confidence(rate)
    assert n == runs
    if n:
        assert 1 - (1 - rate) ** n >= 0.95 and (n == 1 or 1 - (1 - rate) ** (n - 1) < 0.95)


def test_verify_reports_each_mode(tmp_path):
    # Three runs alone pass; under load, the second of three fails.
    seed, _ = seed_where(lambda o: o == [False, False, False, False, True, False], 6)
    flaky, env = flaky_fixture(tmp_path, seed)
    ok = write_test(tmp_path, "ok.sh", "echo 1..1; echo ok 1\n")
    db = tmp_path / "history.sqlite"
    proc = paralleltest(["--verify", "--repeat", "3", "-j", "2", "--store", str(db), "-r", "tbpl", flaky, ok],
                        env=env)
    assert proc.returncode == 1
    out = proc.stdout
    assert "mozparallel: --verify: each test 3 time(s) alone, 3 time(s) under load (J=2)" in out
    assert "mozparallel: verify %s: alone stable (3 run(s)); under load unstable (1 of 3 unexpected: FAIL)" \
        % flaky in out
    assert "mozparallel: verify %s: alone stable (3 run(s)); under load stable (3 run(s))" % ok in out
    assert "mozparallel: --verify: 1 of 2 test(s) unstable" in out
    # The run itself is recorded first (it starts before its rounds) and is the first run under load.
    assert [kind for _, kind, _ in runs_in(db)] == [""] + ["verify-alone"] * 3 + ["verify-load"] * 2


@pytest.mark.parametrize("args, message", [
    (["--verify", "--run-until-failure"], "--verify and --run-until-failure cannot be combined"),
    (["--retries", "2", "--verify"], "--retries cannot be combined with --verify"),
    (["--retries", "0"], "argument --retries: must be at least 1: '0'"),
    (["--rerun-failures", "3"], "argument --rerun-failures: takes no count: it runs the last run's failures"),
    (["--repeat", "x"], "argument --repeat: not a count: 'x'"),
])
def test_bad_combinations_are_usage_errors(tmp_path, args, message):
    ok = write_test(tmp_path, "ok.sh", "echo 1..1; echo ok 1\n")
    proc = paralleltest(args + ["--store", "none", ok])
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_rerun_failures_runs_only_the_last_runs_failures(tmp_path):
    """xpcshell's --rerun-failures: the tests that failed in the last
    recorded run of these tests, nothing else; a TEST right after the flag
    is still a TEST."""
    good = write_test(tmp_path, "a_good.sh", "echo 1..1; echo ok 1\n")
    bad = write_test(tmp_path, "b_bad.sh", "echo 1..1; test -e fixed && echo ok 1 || echo not ok 1\n")
    objdir = tmp_path / "obj"
    objdir.mkdir()
    first = paralleltest(["--objdir", str(objdir), "-r", "tap", good, bad], cwd=str(tmp_path))
    assert first.returncode == 1
    (tmp_path / "fixed").write_text("")
    raw = tmp_path / "raw.log"
    again = paralleltest(["--objdir", str(objdir), "--rerun-failures", good, bad, "--log-raw", str(raw), "-r", "tap"],
                         cwd=str(tmp_path))
    assert again.returncode == 0, again.stdout + again.stderr
    ran = [e["test"] for e in read_raw(raw) if e["action"] == "test_end"]
    assert ran == ["b_bad.sh"]
    assert "1 test(s) had an unexpected result in run" in again.stderr
    none = paralleltest(["--store", "none", "--rerun-failures", good], cwd=str(tmp_path))
    assert none.returncode == 2 and "needs the history" in none.stderr


# -- the live view and the closing line of the repeat modes -------------------
def rendered(out):
    from test_live import Screen

    screen = Screen()
    screen.feed(out)
    return [line for line in screen.text() if line]


def slowest(lines):
    """The "Slowest tests" entries: [(seconds, test)]."""
    if "Slowest tests:" not in lines:
        return []
    out = []
    for line in lines[lines.index("Slowest tests:") + 1:]:
        m = re.match(r"^\s+(\d+\.\d+)s\s+(\S+)$", line)
        if not m:
            break
        out.append((float(m.group(1)), m.group(2)))
    return out


def test_verify_in_a_terminal_counts_each_round_and_judges_each_test_once(tmp_path):
    """--verify on a pty: the counter counts each round's tests ([alone 2:
    1/2], never [6/2]); a test unstable under load is unexpected on the
    closing line, as the verdict and the exit status have it; the slowest
    list names each test once, never a 0.00s one."""
    from test_live import run_in_pty

    seed, _ = seed_where(lambda o: o == [False, False, False, False, True, False], 6)
    flaky, env = flaky_fixture(tmp_path, seed)
    write_test(tmp_path, "ok.sh", "sleep 0.05; echo 1..1; echo ok 1\n")
    write_test(tmp_path, "quick.sh", "echo 1..1; echo ok 1\n")
    out, status = run_in_pty(["--verify", "--repeat", "3", "-j", "2", "--store", "none",
                              "flaky.py", "ok.sh", "quick.sh"], cwd=str(tmp_path), env=env)
    assert status == 1, out
    lines = rendered(out)
    tags = [re.match(r"^\[([a-z]+ \d+): (\d+)/(\d+)\]", line) for line in lines]
    tags = [(m.group(1), int(m.group(2)), int(m.group(3))) for m in tags if m]
    rounds = ["alone 1", "alone 2", "alone 3", "run 1", "run 2", "run 3"]
    assert [label for label, _, _ in tags] == [r for r in rounds for _ in range(3)], lines
    assert [(done, total) for _, done, total in tags] == [(1, 3), (2, 3), (3, 3)] * 6
    assert "mozparallel: --verify: 1 of 3 test(s) unstable" in lines
    assert lines[-1].startswith("mozparallel: 3 tests in ") and \
        lines[-1].endswith(": 2 passed, 1 unexpected, 0 skipped, 0 expected failures"), lines[-1]
    assert "Unexpected results: 1" in lines
    listed = slowest(lines)
    names = [t for _, t in listed]
    assert len(names) == len(set(names)) and "flaky.py" in names, listed      # each once
    assert all(seconds > 0 for seconds, _ in listed)                         # never 0.00s


@pytest.mark.parametrize("mode", [["--repeat", "2"], ["--run-until-failure", "--repeat", "3"]])
def test_repeat_and_until_failure_close_with_each_tests_verdict(tmp_path, mode):
    # Passes the first run, fails the second.
    seed, _ = seed_where(lambda o: o[:2] == [False, True], 2)
    flaky, env = flaky_fixture(tmp_path, seed)
    good = write_test(tmp_path, "good.sh", "echo 1..1; echo ok 1\n")
    proc = paralleltest(mode + ["--store", "none", "flaky.py", "good.sh"], env=env, cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    tags = [tuple(map(int, m.groups())) for m in (re.match(r"^\[run \d+: (\d+)/(\d+)\]", l) for l in lines) if m]
    assert tags and all(done <= total == 2 for done, total in tags), proc.stdout
    assert "2 passed" not in lines[-1] and "1 passed, 1 unexpected" in lines[-1], lines[-1]
    assert "flaky.py  FAIL unlucky draw" in proc.stdout
