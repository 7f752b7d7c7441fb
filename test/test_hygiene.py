"""Process hygiene on real processes: leaks (in the group, out of it,
holding the output), --max-time, --max-failures, tests that cannot start,
hostile file names and behaviours, a SIGKILLed runner. Each test checks
the verdict and that no process of the run is left."""

import json
import os
import signal
import subprocess
import time

import pytest

from mozparallel.execution import kill
from conftest import (PYTHON, VENV_PYTHON, ends_by_test, paralleltest, read_raw, wait_gone,
                      write_python_test, write_test)


def run(tmp_path, marker, args, files, **kwargs):
    raw = tmp_path / "raw.log"
    proc = paralleltest(["--log-raw", str(raw), "-r", "tap"] + list(args) + [str(f) for f in files],
                        cwd=str(tmp_path), marker=marker, **kwargs)
    events = read_raw(raw)
    assert events and events[-1]["action"] == "suite_end"
    return proc, events


def errors(events, level="ERROR"):
    return [e["message"] for e in events if e["action"] == "log" and e["level"] == level]


DAEMON = """
import os, sys, time
print("1..1"); print("ok 1 - started a daemon"); sys.stdout.flush()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.execvp("sleep", ["sleep", "311"])
    os._exit(0)
os.wait()
"""


def test_daemon_that_left_the_group_is_found_reported_and_killed(tmp_path, marker):
    write_python_test(tmp_path, "daemon.py", DAEMON)
    write_test(tmp_path, "fine.sh", "echo 1..1; echo ok 1\n")
    proc, events = run(tmp_path, marker, ["-j", "2"], ["daemon.py", "fine.sh"])
    ends = ends_by_test(events)
    assert ends["daemon.py"]["status"] == "ERROR"
    assert ends["daemon.py"]["expected"] == "OK"
    assert "left 1 process(es) running" in ends["daemon.py"]["message"]
    assert ends["fine.sh"]["status"] == "OK"
    [message] = errors(events)
    assert message.startswith("daemon.py leaked 1 process(es): ")
    assert "(sleep 311)" in message
    assert proc.returncode == 1
    assert wait_gone(marker) == []


def test_allow_leaks_keeps_the_verdict_and_still_kills(tmp_path, marker):
    write_test(tmp_path, "bg.sh", "sleep 312 >/dev/null 2>&1 &\necho 1..1; echo ok 1\n")
    proc, events = run(tmp_path, marker, ["--allow-leaks"], ["bg.sh"])
    assert ends_by_test(events)["bg.sh"]["status"] == "OK"
    assert errors(events) == []
    [warning] = errors(events, "WARNING")
    assert "bg.sh leaked 1 process(es)" in warning and "sleep 312" in warning
    assert proc.returncode == 0
    assert wait_gone(marker) == []


def test_a_leak_being_ended_is_not_blamed_on_the_next_test(tmp_path, marker):
    # The leaked process ignores SIGTERM (so it lives through --kill-grace)
    # and has no test token in its environment (as a process that is
    # exiting, whose environment cannot be read any more): it was once
    # blamed again on every test that ended while it was being ended.
    write_test(tmp_path, "leaker.sh", '(trap "" TERM; exec env -i MOZPARALLEL_TEST_MARKER="$MOZPARALLEL_TEST_MARKER" '
                                      '/bin/sleep 314) >/dev/null 2>&1 &\necho 1..1; echo ok 1\n')
    write_test(tmp_path, "after.sh", "sleep 0.5; echo 1..1; echo ok 1\n")
    proc, events = run(tmp_path, marker, ["-j", "1", "--schedule", "list", "--kill-grace", "3"],
                          ["leaker.sh", "after.sh"])
    ends = ends_by_test(events)
    assert ends["leaker.sh"]["status"] == "ERROR" and "left 1 process(es) running" in ends["leaker.sh"]["message"]
    assert ends["after.sh"]["status"] == "OK", ends["after.sh"]
    [message] = errors(events)
    assert message.startswith("leaker.sh leaked 1 process(es)")
    assert proc.returncode == 1
    assert wait_gone(marker) == []


def test_orphan_holding_stdout_ends_as_a_leak_without_timeout(tmp_path, marker):
    # No --timeout: waiting for end of file must still end (5 s after exit).
    write_test(tmp_path, "holder.sh", "sleep 313 &\necho 1..1; echo ok 1\n")
    proc, events = run(tmp_path, marker, [], ["holder.sh"])
    end = ends_by_test(events)["holder.sh"]
    assert end["status"] == "ERROR"
    assert "kept its output open" in end["message"]
    assert any("sleep 313" in m for m in errors(events))
    assert end["extra"]["wall"] >= 5.0          # it waited 5 s for end of file after the exit
    assert wait_gone(marker) == []


def test_max_time_on_a_chatty_test_and_from_the_manifest(tmp_path, marker):
    write_test(tmp_path, "chatty.sh", "echo 1..1; while :; do echo '# still here'; sleep 0.1; done\n")
    write_test(tmp_path, "capped.sh", "echo 1..1; while :; do echo '# still here'; sleep 0.1; done\n")
    (tmp_path / "m.ini").write_text("[capped.sh]\nmax-time = 1\n")
    proc, events = run(tmp_path, marker, ["-j", "2", "--max-time", "1.5", "-t", "10"],
                                ["chatty.sh", "m.ini"])
    ends = ends_by_test(events)
    assert ends["chatty.sh"]["status"] == "TIMEOUT"
    assert "--max-time 1.5s" in ends["chatty.sh"]["message"]
    assert ends["capped.sh"]["status"] == "TIMEOUT"
    assert "--max-time 1s" in ends["capped.sh"]["message"]
    assert wait_gone(marker) == []


def test_max_failures_ends_running_tests_at_once(tmp_path, marker):
    files = [write_test(tmp_path, "f%d.sh" % i, "echo 1..1; echo 'not ok 1'\n") for i in range(2)]
    files += [write_test(tmp_path, "s%d.sh" % i, "trap '' TERM; echo 1..1; sleep 300; echo ok 1\n")
              for i in range(4)]
    # They ignore SIGTERM, and they and the grace outlast the time the run is
    # given: it ends only if they get SIGKILL at once, without the grace.
    proc, events = run(tmp_path, marker, ["-j", "3", "--max-failures", "2", "--schedule", "list",
                                          "--kill-grace", "300"],
                       [os.path.basename(f) for f in files], timeout=60)
    ends = ends_by_test(events)
    for failed in ("f0.sh", "f1.sh"):        # their own verdict, not the stop's
        assert ends[failed]["status"] == "OK" and "not ok" in ends[failed]["message"]     # its point failed
    stopped = [t for t, e in ends.items() if "--max-failures 2 reached" in (e.get("message") or "")]
    assert stopped and all(t.startswith("s") for t in stopped)
    assert all(ends[t]["status"] == "ERROR" for t in stopped)
    assert len(ends) < 6                            # the rest never started
    assert proc.returncode == 1
    assert wait_gone(marker) == []


def test_a_file_not_executable_is_refused_up_front(tmp_path):
    """A .js (or .t, .py) file without --exec: one line naming it and the
    interpreter to give, exit 2, nothing started."""
    write_test(tmp_path, "test_a.js", "console.log('1..1')\n", mode=0o644)
    write_test(tmp_path, "test_b.js", "console.log('1..1')\n", mode=0o644)
    proc = paralleltest(["test_a.js", "test_b.js"], cwd=str(tmp_path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "test_a.js (and 1 more) is not executable" in proc.stderr and "--exec node" in proc.stderr


def test_tests_that_cannot_start_fail_with_the_os_error_and_the_run_goes_on(tmp_path, marker):
    # a_remover removes b and takes c's execute bit once the run has
    # started (a file not executable at the start is refused up front:
    # test_a_file_not_executable_is_refused_up_front).
    write_test(tmp_path, "a_remover.sh", "d=\"$(dirname \"$0\")\"; rm -f \"$d/b_missing.sh\"; chmod -x \"$d/c_noexec.sh\"; "
               "echo 1..1; echo ok 1\n")
    write_test(tmp_path, "b_missing.sh", "echo 1..1; echo ok 1\n")
    write_test(tmp_path, "c_noexec.sh", "echo 1..1; echo ok 1\n")
    write_test(tmp_path, "d_badinterp.sh", "echo 1..1\n", shebang="#!/no/such/interpreter")
    write_test(tmp_path, "e_fine.sh", "echo 1..1; echo ok 1\n")
    names = ["a_remover.sh", "b_missing.sh", "c_noexec.sh", "d_badinterp.sh", "e_fine.sh"]
    proc, events = run(tmp_path, marker, ["-j", "1", "--schedule", "list"], names)
    ends = ends_by_test(events)
    assert ends["a_remover.sh"]["status"] == "OK"
    assert ends["b_missing.sh"]["status"] == "ERROR"
    assert "No such file or directory" in ends["b_missing.sh"]["message"]
    assert ends["c_noexec.sh"]["status"] == "ERROR"
    assert "Permission denied" in ends["c_noexec.sh"]["message"]
    assert ends["d_badinterp.sh"]["status"] == "ERROR"
    assert "bad interpreter /no/such/interpreter" in ends["d_badinterp.sh"]["message"]
    assert ends["e_fine.sh"]["status"] == "OK"
    assert proc.returncode == 1

    exec_run = paralleltest(["-r", "tap", "--log-raw", str(tmp_path / "exec.log"), "-e", "no-such-command-x",
                             "e_fine.sh"], cwd=str(tmp_path), marker=marker)
    end = ends_by_test(read_raw(tmp_path / "exec.log"))["e_fine.sh"]
    assert end["status"] == "ERROR" and "no-such-command-x" in end["message"]
    assert exec_run.returncode == 1
    assert wait_gone(marker) == []


HOSTILE = ["with space.sh", "quote'single.sh", 'quote"double.sh', "new\nline.sh", "-dash.sh",
           "ünïcødé-テスト.sh", "$(touch pwned).sh"]


def test_hostile_file_names(tmp_path, marker):
    d = tmp_path / "suite"
    d.mkdir()
    for name in HOSTILE:
        write_test(d, name, 'echo 1..1; echo "ok 1 - $(basename "$0" | wc -c) bytes"\n')
    proc, events = run(tmp_path, marker, ["-j", "3", "--log-subtests", "all"], ["suite"])
    ends = ends_by_test(events)
    assert sorted(ends) == sorted("suite/" + n for n in HOSTILE)
    assert all(e["status"] == "OK" for e in ends.values()), ends
    assert not (tmp_path / "pwned").exists() and not (d / "pwned").exists()
    # Each test saw its own name, byte for byte (wc -c counts the newline basename adds).
    for e in events:
        if e["action"] == "test_status":
            name = e["test"].split("/", 1)[1]
            assert e["subtest"] == "%d bytes" % (len(name.encode()) + 1), (name, e["subtest"])
    assert proc.returncode == 0, proc.stderr
    # A leading dash through --exec: the path is absolute, never an option.
    proc = paralleltest(["-r", "tap", "-e", "sh", "--", "suite/-dash.sh"], cwd=str(tmp_path), marker=marker)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert wait_gone(marker) == []


def test_a_name_cannot_forge_a_tbpl_line(tmp_path, marker):
    """A file named "a<newline>TEST-PASS | b.sh" stays one TBPL line per
    event (escaped), in -r tbpl and --log-tbpl; the raw log keeps the name."""
    name = "a\nTEST-PASS | b.sh"
    write_test(tmp_path, name, 'echo 1..1; echo "not ok 1 - the \\n stays"\n')
    proc = paralleltest(["-r", "tbpl", "--store", "none", "--log-tbpl", "out.tbpl", "--log-raw", "raw.log",
                         "--", name], cwd=str(tmp_path), marker=marker)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for text in (proc.stdout, (tmp_path / "out.tbpl").read_text()):
        assert not [line for line in text.splitlines() if line.startswith("TEST-PASS")], text
        assert "TEST-UNEXPECTED-FAIL | a\\nTEST-PASS | b.sh | the " in text, text
    assert ends_by_test(read_raw(tmp_path / "raw.log"))[name]["status"] == "OK"
    assert wait_gone(marker) == []


def test_hostile_behaviours(tmp_path, marker):
    # Closes stdout early and keeps running for a while, then exits 0.
    write_test(tmp_path, "closer.sh", "echo 1..1; echo ok 1; exec >&- 2>&-; sleep 1\n")
    # Closes its output and then hangs: the silent timeout ends it.
    write_test(tmp_path, "closer_hang.sh", "echo 1..1; echo ok 1; exec >&- 2>&-; sleep 314\n")
    # 100 MB on stdout: 100 MB in one line, then TAP.
    write_test(tmp_path, "flood.sh", "head -c 100000000 /dev/zero | tr '\\0' x; echo; echo 1..1; echo ok 1\n")
    # Reads stdin: gets /dev/null (end of file at once), never the terminal.
    write_test(tmp_path, "reader.sh", "echo 1..1; if read line; then echo 'not ok 1 - read'; "
                                      "else echo 'ok 1 - end of file'; fi; cat >/dev/null\n")
    # Moves a child into a process group of its own, then waits for it.
    write_python_test(tmp_path, "regroup.py", """
import os, sys, time
print("1..1"); sys.stdout.flush()
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    time.sleep(315)
    os._exit(0)
os.setpgid(0, 0)                # its own group again: a no-op, not an escape
os.waitpid(pid, 0)
""")
    names = ["closer.sh", "closer_hang.sh", "flood.sh", "reader.sh", "regroup.py"]
    proc, events = run(tmp_path, marker, ["-j", "5", "-t", "2", "--kill-grace", "1"], names)
    ends = ends_by_test(events)
    assert ends["closer.sh"]["status"] == "OK"
    assert ends["closer_hang.sh"]["status"] == "TIMEOUT"
    assert ends["flood.sh"]["status"] == "OK"
    flood = [len(e["data"]) for e in events if e["action"] == "process_output" and e["test"] == "flood.sh"]
    assert sum(flood) == 100000000 and max(flood) <= 8 << 20
    assert ends["reader.sh"]["status"] == "OK"
    assert ends["regroup.py"]["status"] == "TIMEOUT"
    assert wait_gone(marker) == []


def test_sigkilled_runner_leaves_finished_results_and_no_process(tmp_path, marker):
    for i in range(3):
        write_test(tmp_path, "quick%d.sh" % i, "echo 1..1; echo ok 1\n")
    for i in range(3):
        write_test(tmp_path, "slow%d.sh" % i, "trap '' TERM; echo 1..1; sleep 316; echo ok 1\n")
    raw = tmp_path / "raw.log"
    env = dict(os.environ, MOZPARALLEL_TEST_MARKER=marker)
    env.pop("MOZ_OBJDIR", None)
    proc = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel", "-j", "6", "--kill-grace", "1",
                             "--log-raw", str(raw), "-r", "tap", "."], cwd=str(tmp_path), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    finished = []
    while time.monotonic() < deadline:
        if raw.exists():
            finished = [json.loads(line) for line in raw.read_text().splitlines()
                        if '"test_end"' in line]
            if len(finished) >= 3:
                break
        time.sleep(0.05)
    assert len(finished) == 3
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    events = read_raw(raw)          # every line is whole JSON
    ends = ends_by_test(events)
    assert {t for t, e in ends.items() if e["status"] == "OK"} == {"quick0.sh", "quick1.sh", "quick2.sh"}
    assert not any(e["action"] == "suite_end" for e in events)
    # The guardian ended the slow tests (SIGTERM ignored: SIGKILL after 1 s).
    assert wait_gone(marker, 10) == []


def test_a_daemon_still_exiting_when_its_test_ends_is_not_a_leak(tmp_path):
    """GLib's installed ``actions`` test stops the dbus-daemon it started at
    its teardown; the daemon is sometimes still exiting (its memory gone,
    /proc/PID/cmdline empty) when the test's main process exits. That is
    not a leak (it was 3 runs in 10 before kill.is_exiting)."""
    import subprocess

    actions = "/usr/libexec/installed-tests/glib/actions"
    assert os.path.exists(actions), "libglib2.0-tests (tools/install-system-deps.sh)"
    for _ in range(5):
        proc = paralleltest(["--store", "none", "-r", "tap", actions], cwd=str(tmp_path))
        assert proc.returncode == 0 and "leaked" not in proc.stderr + proc.stdout, proc.stdout + proc.stderr
    zombie = subprocess.Popen(["true"])
    while not kill.is_zombie(zombie.pid):
        time.sleep(0.01)
    assert kill.is_exiting(zombie.pid) and not kill.is_exiting(os.getpid())
    zombie.wait()


def test_a_file_name_that_is_not_utf8_is_one_line(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    bad = os.path.join(os.fsencode(str(d)), b"bad\xff.sh")
    with open(bad, "w") as f:
        f.write("#!/bin/sh\necho 1..1\necho ok 1\n")
    os.chmod(bad, 0o755)
    proc = paralleltest(["d"], cwd=str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "not valid UTF-8" in proc.stderr and "bad\\xff.sh" in proc.stderr
