"""Interrupting a run: the first SIGINT/SIGTERM ends it gracefully (every
finished result written, suite_end, how to carry on, exit 130/143), a
second SIGINT ends the running tests at once; no process is left."""

import json
import os
import signal
import subprocess
import time

from conftest import VENV_PYTHON, ends_by_test, marked_processes, read_raw, wait_gone, write_test

# A kill grace no run here may wait out: a run that ends in time did not wait for it.
LONG_GRACE = ["--kill-grace", "300"]


def start(tmp_path, marker, args):
    env = dict(os.environ, MOZPARALLEL_TEST_MARKER=marker)
    env.pop("MOZ_OBJDIR", None)
    return subprocess.Popen([VENV_PYTHON, "-m", "mozparallel", "--log-raw", "raw.log", "-r", "tap"] + args,
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def ended(proc, marker, timeout=30):
    """``proc.communicate()``; a runner still there after ``timeout`` (it
    waited for the grace) is killed, with the tests it left, and the test fails."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        for left in marked_processes(marker):
            left.kill()
        raise AssertionError("the run did not end within %ss" % timeout)


def ends_so_far(path):
    try:
        with open(path) as f:
            return [json.loads(line)["test"] for line in f if '"test_end"' in line]
    except OSError:
        return []


def wait_for_ends(path, n, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = ends_so_far(path)
        if len(done) >= n:
            return done
        time.sleep(0.02)
    raise AssertionError("fewer than %d results after %ss" % (n, timeout))


def sleepers(directory, n=40, body="sleep 0.5"):
    for i in range(n):
        write_test(directory, "t%02d.sh" % i, "echo 1..1; %s; echo ok 1\n" % body)


def test_sigint_after_a_few_finish(tmp_path, marker):
    sleepers(tmp_path)
    proc = start(tmp_path, marker, ["-j", "4", "."] + LONG_GRACE)
    finished_before = wait_for_ends(tmp_path / "raw.log", 6)
    proc.send_signal(signal.SIGINT)
    out, err = ended(proc, marker)          # sleep ends on SIGTERM: the grace is not waited out
    assert proc.returncode == 130, err
    events = read_raw(tmp_path / "raw.log")
    assert events[-1]["action"] == "suite_end"
    ends = ends_by_test(events)
    assert set(finished_before) <= {t for t, e in ends.items() if e["status"] == "OK"}
    stopped = {t for t, e in ends.items() if "interrupted by SIGINT" in (e.get("message") or "")}
    assert stopped and all(ends[t]["status"] == "ERROR" for t in stopped)
    assert 6 <= len(ends) < 40
    # How to carry on: the run id and a command for the rest.
    run_id = next(e for e in events if e["action"] == "suite_start")["extra"]["run_id"]
    assert "rerun the tests that did not finish with:" in err
    assert run_id in err
    assert wait_gone(marker) == []
    # The printed command runs exactly the tests that did not finish.
    command = err.strip().splitlines()[-1].split()
    assert command[0] == "paralleltest" and command[-2:] == ["--resume", run_id]
    env = dict(os.environ, MOZPARALLEL_TEST_MARKER=marker)
    env.pop("MOZ_OBJDIR", None)
    again = subprocess.run([VENV_PYTHON, "-m", "mozparallel"] + command[1:] + ["--log-raw", "again.log"],
                           cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    ran = {e["test"] for e in read_raw(tmp_path / "again.log")
           if e["action"] == "test_end" and "resumed_from" not in (e.get("extra") or {})}
    assert ran == {"t%02d.sh" % i for i in range(40)} - set(finished_before) - (set(ends) - stopped)
    assert wait_gone(marker) == []


def test_sigterm_exits_143(tmp_path, marker):
    sleepers(tmp_path, 8, "sleep 30")
    proc = start(tmp_path, marker, ["-j", "2", "."])
    wait_started(tmp_path / "raw.log", 2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    events = read_raw(tmp_path / "raw.log")
    assert events[-1]["action"] == "suite_end"
    assert all("interrupted by SIGTERM" in e["message"] for e in ends_by_test(events).values())
    assert wait_gone(marker) == []


def test_second_sigint_ends_running_tests_at_once(tmp_path, marker):
    # They ignore SIGTERM: after the first Ctrl-C alone the run would wait
    # out the grace; the second one ends them at once.
    sleepers(tmp_path, 6, "trap '' TERM; sleep 317")
    proc = start(tmp_path, marker, ["-j", "3", "."] + LONG_GRACE)
    wait_started(tmp_path / "raw.log", 3)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None              # still waiting for them
    proc.send_signal(signal.SIGINT)
    out, err = ended(proc, marker)
    assert proc.returncode == 130
    events = read_raw(tmp_path / "raw.log")
    assert events[-1]["action"] == "suite_end"
    ends = ends_by_test(events)
    assert len(ends) == 3 and all(e["status"] == "ERROR" for e in ends.values())
    assert wait_gone(marker) == []


def started(path):
    try:
        with open(path) as f:
            return [line for line in f if '"test_start"' in line]
    except OSError:
        return []


def wait_started(path, n, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(started(path)) < n:
        time.sleep(0.02)
    time.sleep(0.2)
