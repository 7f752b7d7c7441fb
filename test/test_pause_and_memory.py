"""Two faults of the runner's own, with real processes (issue 17, items 1
and 7): the runner itself is stopped (Ctrl-Z, a laptop lid, a paused VM)
for longer than --timeout, and a test prints hundreds of megabytes without
a newline."""

import os
import signal
import subprocess
import time

import psutil

from conftest import PYTHON, VENV_PYTHON, ends_by_test, read_raw, write_test


def _run_paused(tmp_path, tests, pause_at=1.0, pause_for=6.0, timeout=5):
    raw = tmp_path / "raw.log"
    env = dict(os.environ, MOZ_OBJDIR=str(tmp_path / "obj"))
    proc = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel", "-j", str(len(tests)), "--timeout", str(timeout),
                             "--log-raw", str(raw), "-r", "tap"] + [str(t) for t in tests],
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(pause_at)
    os.kill(proc.pid, signal.SIGSTOP)
    time.sleep(pause_for)
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, ends_by_test(read_raw(raw)), err


def test_a_paused_runner_does_not_blame_tests_for_its_pause(tmp_path):
    """Paused 6 s with --timeout 5: the test that printed on time (during
    the pause) passes; the one that really was silent for 8 s is a TIMEOUT."""
    prints = write_test(tmp_path, "t_prints.sh", "echo 1..2\nsleep 3\necho ok 1\nsleep 3\necho ok 2\n",
                        shebang="#!/bin/bash")
    exits = write_test(tmp_path, "t_exits.sh", "echo 1..1\nsleep 3\necho ok 1\n", shebang="#!/bin/bash")
    silent = write_test(tmp_path, "t_silent.sh", "echo 1..1\nsleep 30\necho ok 1\n", shebang="#!/bin/bash")
    status, ends, err = _run_paused(tmp_path, [prints, exits, silent])
    assert ends["t_prints.sh"]["status"] == "OK", ends["t_prints.sh"]
    assert ends["t_exits.sh"]["status"] == "OK", ends["t_exits.sh"]
    assert ends["t_silent.sh"]["status"] == "TIMEOUT"
    assert "no output for 5s" in ends["t_silent.sh"]["message"]
    assert status == 1, err


def test_300_mb_without_a_newline_keeps_the_runner_small(tmp_path):
    """The runner's peak RSS stays under 100 MB while a test writes 300 MB
    with no newline (framing.py hands it on in pieces; the reporters keep
    a few KB of each)."""
    big = write_test(tmp_path, "t_big.py", """
import sys
chunk = "x" * (1 << 20)
sys.stdout.write("1..1\\n")
for _ in range(300):
    sys.stdout.write(chunk)
sys.stdout.write("\\nok 1\\n")
""", shebang="#!" + PYTHON)
    env = dict(os.environ, MOZ_OBJDIR=str(tmp_path / "obj"))
    # The default mach reporter (it keeps failures' output) and no raw log.
    proc = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel", str(big)], cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runner = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, runner.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.02)
    out, err = proc.communicate(timeout=120)
    print("runner peak RSS while a test wrote 300 MB without a newline: %.1f MB" % (peak / 1e6))
    assert proc.returncode == 0, out + err
    assert 0 < peak < 100e6


def test_max_time_does_not_judge_tests_that_exited_while_the_runner_was_paused(tmp_path):
    """Four 1.5 s tests, --max-time 7, the runner stopped from 1 s to 10 s:
    they exited in time, so they pass."""
    tests = [write_test(tmp_path, "t%d.sh" % i, "sleep 1.5\necho 1..1\necho ok 1\n") for i in range(4)]
    raw = tmp_path / "raw.log"
    env = dict(os.environ, MOZ_OBJDIR=str(tmp_path / "obj"))
    proc = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel", "-j", "4", "--max-time", "7", "--log-raw", str(raw),
                             "-r", "tap"] + tests, cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGSTOP)
    time.sleep(9.0)
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    ends = ends_by_test(read_raw(raw))
    assert [ends["t%d.sh" % i]["status"] for i in range(4)] == ["OK"] * 4, ends
    assert proc.returncode == 0, err
