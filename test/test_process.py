"""execution/process.py on real processes: how a test is started (its own
session, stdin from /dev/null, two non-blocking pipes, a pidfd, the token
in its environment) and reaped (exit status and rusage), the subreaper, and
the guardian's start and normal end."""

import json
import os
import select
import signal
import subprocess
import time

import pytest

from conftest import PYTHON, VENV_PYTHON
from mozparallel.execution.process import TOKEN_VAR, Reaped, spawn, start_guardian

MIB = 2 ** 20


def wait_ended(proc, timeout=30):
    """Block until the pidfd of ``proc`` is readable (the process ended)."""
    ready, _, _ = select.select([proc.pidfd], [], [], timeout)
    assert ready, "pid %d still running after %ss" % (proc.pid, timeout)


def read_all(proc, fd, timeout=30):
    """Everything written to pipe ``fd`` until its end of file."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        select.select([fd], [], [], 1.0)
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk:
            return out
        out += chunk
    raise AssertionError("no end of file on fd %d" % fd)


def finish(proc):
    wait_ended(proc)
    reaped = proc.reap()
    proc.close_pidfd()
    for fd in (proc.stdout_fd, proc.stderr_fd):
        if fd is not None:
            proc.close_pipe(fd)
    return reaped


def python_test(code):
    return [PYTHON, "-S", "-c", code]


def test_pipes_are_separate_and_non_blocking_and_stdin_is_empty():
    proc = spawn(python_test(
        "import sys; sys.stdout.write('out:' + repr(sys.stdin.read())); sys.stderr.write('err')"))
    assert not os.get_blocking(proc.stdout_fd) and not os.get_blocking(proc.stderr_fd)
    assert read_all(proc, proc.stdout_fd) == b"out:''"        # stdin was /dev/null: EOF at once
    assert read_all(proc, proc.stderr_fd) == b"err"
    assert finish(proc).returncode == 0


def test_own_session_and_group():
    proc = spawn(python_test("import os; print(os.getsid(0), os.getpgid(0))"))
    sid, pgid = map(int, read_all(proc, proc.stdout_fd).split())
    assert sid == pgid == proc.pid != os.getsid(0)
    finish(proc)


def test_cwd_and_environment_reach_the_test(tmp_path):
    proc = spawn(python_test("import os; print(os.getcwd()); print(os.environ[%r])" % TOKEN_VAR),
                 cwd=str(tmp_path), env={TOKEN_VAR: "run-7", "PATH": os.environ["PATH"]})
    assert read_all(proc, proc.stdout_fd).decode().split() == [str(tmp_path), "run-7"]
    finish(proc)


def test_pidfd_readable_only_once_the_process_ends_and_reap_before_that_is_none():
    proc = spawn(python_test("import time; time.sleep(60)"))
    try:
        assert select.select([proc.pidfd], [], [], 0.2)[0] == []
        assert proc.reap() is None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
    wait_ended(proc)
    reaped = proc.reap()
    assert reaped.returncode == -signal.SIGKILL
    assert proc.popen.returncode == -signal.SIGKILL       # Popen will not wait for it again
    assert proc.popen.poll() == -signal.SIGKILL
    assert proc.reap() is None                             # already reaped: nothing more to say
    finish(proc)


def test_exit_status_as_given():
    proc = spawn(python_test("raise SystemExit(3)"))
    assert finish(proc).returncode == 3


def test_rusage_counts_the_test_and_the_children_it_waited_for():
    # The test burns ~0.3 s of CPU itself and a child of it another ~0.3 s;
    # the child also touches 64 MiB. CPU seconds are the processes' own,
    # whatever the load on the machine: lower bounds only.
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
    child = burn + "b = bytearray(%d)\nfor i in range(0, len(b), 4096): b[i] = 1\n" % (64 * MIB)
    code = burn + "import subprocess\nsubprocess.run([%r, '-S', '-c', %r], check=True)\n" % (PYTHON, child)
    reaped = finish(spawn(python_test(code)))
    assert isinstance(reaped, Reaped) and reaped.returncode == 0
    assert reaped.user + reaped.system >= 0.55, reaped
    assert reaped.maxrss_kb >= 64 * 1024, reaped


def test_a_command_that_cannot_start_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        spawn([str(tmp_path / "missing.sh")])
    script = tmp_path / "not_executable.sh"
    script.write_text("#!/bin/sh\necho ok\n")
    script.chmod(0o644)
    with pytest.raises(PermissionError):
        spawn([str(script)])


def test_close_pipe_and_pidfd_forget_the_fds():
    proc = spawn(python_test("pass"))
    wait_ended(proc)
    fds = proc.stdout_fd, proc.stderr_fd, proc.pidfd
    proc.reap()
    proc.close_pipe(proc.stdout_fd)
    proc.close_pipe(proc.stderr_fd)
    proc.close_pidfd()
    proc.close_pidfd()                      # twice is harmless
    assert (proc.stdout_fd, proc.stderr_fd, proc.pidfd) == (None, None, None)
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)


SUBREAPER = """
import json, os, subprocess, sys
from mozparallel.execution.process import become_subreaper
became = become_subreaper() if sys.argv[1] == "yes" else False
shell = subprocess.Popen(["/bin/sh", "-c", "sleep 0.3 & echo $!"], stdout=subprocess.PIPE, text=True)
orphan = int(shell.stdout.read())
shell.wait()
try:
    pid, status = os.wait()             # the orphan, if it came to us
except ChildProcessError:
    pid = None
print(json.dumps({"became": became, "orphan": orphan, "reaped": pid}))
"""


@pytest.mark.parametrize("subreaper", ["yes", "no"])
def test_orphans_come_to_a_subreaper(subreaper):
    # In a child interpreter: the test process itself stays an ordinary parent.
    out = subprocess.run([VENV_PYTHON, "-c", SUBREAPER, subreaper], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    got = json.loads(out)
    if subreaper == "yes":
        assert got["became"] is True and got["reaped"] == got["orphan"]
    else:
        assert got["reaped"] is None


def test_guardian_has_no_token_and_exits_when_told_done(monkeypatch):
    monkeypatch.setenv(TOKEN_VAR, "the-runner-is-not-a-test")
    guardian = start_guardian("prefix-%d-" % os.getpid(), 1.0)
    assert guardian is not None
    try:
        with open("/proc/%d/environ" % guardian.pid, "rb") as f:
            environ = f.read().split(b"\0")
        assert not any(e.startswith(TOKEN_VAR.encode() + b"=") for e in environ)
        assert os.getsid(guardian.pid) == guardian.pid         # its own session: a Ctrl-C misses it
        guardian.done()
        assert guardian.popen.wait(timeout=30) == 0
    finally:
        if guardian.popen.poll() is None:
            guardian.popen.kill()
            guardian.popen.wait()


def test_guardian_ends_the_runs_marked_processes_when_the_runner_goes_without_done():
    prefix = "guard-%d-" % os.getpid()
    guardian = start_guardian(prefix, 0.5)
    # SIGTERM is not enough for these: SIGKILL after the grace.
    sleep = ["/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 60"]
    base = {"PATH": os.environ["PATH"]}
    mine = subprocess.Popen(sleep, env=dict(base, **{TOKEN_VAR: prefix + "1"}), stdout=subprocess.PIPE,
                            start_new_session=True)
    other = subprocess.Popen(sleep, env=dict(base, **{TOKEN_VAR: "guard-other-1"}), stdout=subprocess.PIPE,
                             start_new_session=True)
    try:
        assert mine.stdout.readline() == other.stdout.readline() == b"ready\n"
        guardian.popen.stdin.close()        # the runner "died": end of file, no "done"
        assert guardian.popen.wait(timeout=30) == 0
        assert mine.wait(timeout=30) == -signal.SIGKILL
        assert other.poll() is None         # another run's test is left alone
    finally:
        for proc in (mine, other):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
        if guardian.popen.poll() is None:
            guardian.popen.kill()
            guardian.popen.wait()
