"""The harnesses' option names with their meaning (xpcshell's and
mochitest's): --sequential, --keep-going, --headless, --setenv,
--debugger/--debugger-args; --this-chunk defaults to 1. Real processes."""

import json
import os
import signal
import subprocess
import time

from conftest import VENV_PYTHON, ends_by_test, paralleltest, read_raw, write_test


def _starts_and_ends(raw):
    events = read_raw(raw)
    spans = {}
    for e in events:
        if e["action"] in ("test_start", "test_end"):
            spans.setdefault(e["test"], []).append(e["time"])
    return events, spans


def test_sequential_runs_one_at_a_time(tmp_path):
    tests = [write_test(tmp_path, "t%d.sh" % i, "echo 1..1\nsleep 0.2\necho ok 1\n") for i in range(3)]
    raw = tmp_path / "raw.log"
    proc = paralleltest(["--sequential", "--log-raw", str(raw), "-r", "tap"] + tests, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    _, spans = _starts_and_ends(raw)
    ordered = sorted(spans.values())
    assert len(ordered) == 3 and all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:]))
    bad = paralleltest(["--sequential", "-j", "2"] + tests, cwd=str(tmp_path))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--sequential" in bad.stderr


def test_headless_and_setenv_reach_the_test(tmp_path):
    t = write_test(tmp_path, "t.sh", 'echo 1..2\n[ "$MOZ_HEADLESS" = 1 ] && echo ok 1 || echo not ok 1\n'
                                     '[ "$GREETING" = "a=b c" ] && echo ok 2 || echo not ok 2\n')
    proc = paralleltest(["--headless", "--setenv", "GREETING=a=b c", "-r", "tap", t], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert paralleltest(["-r", "tap", t], cwd=str(tmp_path)).returncode == 1
    bad = paralleltest(["--setenv", "NOEQUALS", t], cwd=str(tmp_path))
    assert bad.returncode == 2 and "NOEQUALS" in bad.stderr


def test_debugger_wraps_each_test_one_at_a_time_without_timeout(tmp_path):
    wrapper = write_test(tmp_path, "dbg.sh", 'echo "# under $1 $2" ; shift 2; exec "$@"\n')
    tests = [write_test(tmp_path, "t%d.sh" % i, "echo 1..1\nsleep 1.2\necho ok 1\n") for i in range(2)]
    raw = tmp_path / "raw.log"
    proc = paralleltest(["--debugger", wrapper, "--debugger-args", "X Y", "--timeout", "1", "--log-raw", str(raw),
                         "-r", "tap"] + tests, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events, spans = _starts_and_ends(raw)
    ordered = sorted(spans.values())
    assert ordered[0][1] <= ordered[1][0]
    assert sum("under X Y" in e.get("data", "") for e in events if e["action"] == "process_output") == 2
    bad = paralleltest(["--debugger-args", "X"] + tests, cwd=str(tmp_path))
    assert bad.returncode == 2 and "--debugger-args given without --debugger" in bad.stderr


def _run_and_interrupt(tmp_path, extra, signals):
    quick = [write_test(tmp_path, "q%d.sh" % i, "echo 1..1\nsleep 0.3\necho ok 1\n") for i in range(3)]
    slow = write_test(tmp_path, "a_slow.sh", "echo 1..1\nsleep 30\necho ok 1\n")
    raw = tmp_path / "raw.log"
    env = dict(os.environ, MOZ_OBJDIR=str(tmp_path / "obj"))
    proc = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel", "-j", "1", "--schedule", "list", "--log-raw",
                             str(raw), "-r", "tap"] + extra + [slow] + quick, cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and '"test_start"' not in (raw.read_text() if raw.exists() else ""):
        time.sleep(0.05)
    time.sleep(0.3)
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.3)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, ends_by_test(read_raw(raw)), err


def test_keep_going_ends_the_running_test_and_goes_on(tmp_path):
    status, ends, err = _run_and_interrupt(tmp_path, ["--keep-going"], [signal.SIGINT])
    assert ends["a_slow.sh"]["status"] == "ERROR" and "--keep-going" in ends["a_slow.sh"]["message"]
    assert all(ends["q%d.sh" % i]["status"] == "OK" for i in range(3))
    assert status == 1, err


def test_keep_going_second_ctrl_c_stops(tmp_path):
    status, ends, err = _run_and_interrupt(tmp_path, ["--keep-going"], [signal.SIGINT, signal.SIGINT])
    assert status == 130, err
    assert ends["a_slow.sh"]["status"] == "ERROR"
    assert "q2.sh" not in ends or ends["q2.sh"]["status"] != "OK"


def test_without_keep_going_ctrl_c_stops(tmp_path):
    status, ends, err = _run_and_interrupt(tmp_path, [], [signal.SIGINT])
    assert status == 130 and "--resume" in err
    assert not any(ends.get("q%d.sh" % i, {}).get("status") == "OK" for i in range(3))
