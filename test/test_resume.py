"""--resume RUN_ID: a run SIGKILLed after some tests finished, restarted
with --resume, runs only the rest; its own report covers the whole run and
the merge of both logs has every test once."""

import os
import signal
import subprocess
import time

import psutil

from conftest import VENV_PYTHON, ends_by_test, paralleltest, read_raw, wait_gone, write_test


def make_suite(directory, n=8, seconds=0.4, failing=()):
    names = []
    for i in range(n):
        name = "t%02d.sh" % i
        ok = "not ok" if i in failing else "ok"
        write_test(directory, name, "echo 1..1\nsleep %s\necho '%s 1 - slept'\n" % (seconds, ok))
        names.append(name)
    return names


def started_run(args, cwd, marker):
    env = dict(os.environ, MOZPARALLEL_TEST_MARKER=marker)
    env.pop("MOZ_OBJDIR", None)
    return subprocess.Popen([VENV_PYTHON, "-m", "mozparallel"] + args, cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def ends_in(log):
    try:
        return [e for e in read_raw(log) if e["action"] == "test_end"]
    except (OSError, ValueError):
        return []


def kill_run_after(proc, log, finished, timeout=30):
    """SIGKILL the runner and every process of its tests once ``finished``
    tests have ended; returns the run id it printed."""
    deadline = time.monotonic() + timeout
    while len(ends_in(log)) < finished:
        assert proc.poll() is None and time.monotonic() < deadline, "run ended before the kill"
        time.sleep(0.05)
    tree = psutil.Process(proc.pid).children(recursive=True)
    proc.kill()
    proc.wait()
    for child in tree:
        try:
            child.kill()
        except psutil.Error:
            pass
    start = read_raw(log)[0]
    assert start["action"] == "suite_start"
    return start["extra"]["run_id"]


def test_killed_run_resumed_runs_only_the_rest(tmp_path, marker):
    names = make_suite(tmp_path, n=8, failing=(1,))
    store = str(tmp_path / "history.sqlite")
    first = tmp_path / "first.log"
    proc = started_run(["-j", "2", "--schedule", "list", "--store", store, "--log-raw", str(first), "-r", "tbpl"]
                       + names, tmp_path, marker)
    run_id = kill_run_after(proc, first, finished=3)
    assert wait_gone(marker) == []
    done_before = {e["test"] for e in ends_in(first)}
    assert 3 <= len(done_before) < 8 and "t01.sh" in done_before

    second = tmp_path / "second.log"
    resumed = paralleltest(["-j", "2", "--store", store, "--resume", run_id, "--log-raw", str(second),
                            "-r", "tbpl"] + names, cwd=tmp_path, marker=marker)
    # t01.sh failed before the kill: the resumed run still says so.
    assert resumed.returncode == 1, resumed.stderr
    events = read_raw(second)
    assert events[0]["extra"]["run_id"] == run_id
    ends = ends_by_test(events)
    assert sorted(ends) == names and sum(1 for e in events if e["action"] == "test_end") == 8
    copied = {t for t, e in ends.items() if (e.get("extra") or {}).get("resumed_from") == run_id}
    assert copied == done_before
    ran = {t for t, e in ends.items() if "exitcode" in (e.get("extra") or {})}
    assert ran == set(names) - done_before      # only the rest ran
    # Its point failed (its end was OK): the store keeps it as failed, and
    # the copied result is one unexpected line.
    assert [e["status"] for e in read_raw(first) if e["action"] == "test_status" and e["test"] == "t01.sh"] \
        == ["FAIL"]
    assert ends["t01.sh"]["status"] == "FAIL" and ends["t01.sh"]["expected"] == "OK"
    summary = [e["message"] for e in events if e["action"] == "log" and "tests in" in e["message"]]
    assert "8 tests in" in summary[0] and "7 passed, 1 unexpected" in summary[0]

    merged = tmp_path / "merged.log"
    proc = paralleltest(["merge", str(first), str(second), "--log-raw", str(merged), "-r", "tbpl"], cwd=tmp_path)
    assert proc.returncode == 1
    merged_events = read_raw(merged)
    assert sorted(e["test"] for e in merged_events if e["action"] == "test_end") == names
    # The original results are kept over their copies, without a note about duplicates.
    by = ends_by_test(merged_events)
    assert not any("resumed_from" in (by[t].get("extra") or {}) for t in done_before)
    assert not any("complete results" in e.get("message", "") for e in merged_events)

    # Resuming again: nothing is left to run.
    third = tmp_path / "third.log"
    again = paralleltest(["--store", store, "--resume", run_id, "--log-raw", str(third), "-r", "tbpl"] + names,
                         cwd=tmp_path)
    assert again.returncode == 1
    third_events = read_raw(third)
    assert not any("exitcode" in (e.get("extra") or {}) for e in third_events if e["action"] == "test_end")
    assert len(ends_by_test(third_events)) == 8


def test_unknown_run_id_is_a_usage_error(tmp_path):
    names = make_suite(tmp_path, n=1, seconds=0)
    store = str(tmp_path / "history.sqlite")
    proc = paralleltest(["--store", store, "--resume", "20990101-000000-abcdef"] + names, cwd=tmp_path)
    assert proc.returncode == 2
    assert "--resume 20990101-000000-abcdef: no run with that id" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = paralleltest(["--store", "none", "--resume", "x"] + names, cwd=tmp_path)
    assert proc.returncode == 2 and "needs a history store" in proc.stderr


def test_resume_with_other_tests_is_refused(tmp_path):
    """--resume RUN_ID with tests that are not the run's: one line, exit 2,
    nothing recorded into that run."""
    import sqlite3

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_test(tmp_path / "a", "t1.sh", "echo 1..1; echo ok 1\n")
    write_test(tmp_path / "b", "bad.sh", "echo 1..1; echo not ok 1\n")
    objdir = tmp_path / "obj"
    objdir.mkdir()
    first = paralleltest(["--objdir", str(objdir), "-r", "tap", "a"], cwd=str(tmp_path))
    assert first.returncode == 0
    db = sqlite3.connect(str(objdir / ".mozparallel" / "history.sqlite"))
    [(run_id,)] = db.execute("SELECT run_id FROM runs").fetchall()
    other = paralleltest(["--objdir", str(objdir), "--resume", run_id, "b"], cwd=str(tmp_path))
    assert other.returncode == 2 and other.stderr.count("\n") == 1
    assert "not given now (a/t1.sh)" in other.stderr
    assert db.execute("SELECT test FROM results WHERE run_id = ?", (run_id,)).fetchall() == [("a/t1.sh",)]
