"""Where a test process is started and reaped.

Each test runs in a new session (so its whole group can be signalled), with
stdin from /dev/null and stdout/stderr on separate pipes. This is the
mechanism mozprocess's ``run_and_wait`` uses (``setsid``); we do not use
``ProcessHandler``: its ``preexec_fn`` forces a full fork plus Python in the
child (measured here: 2.8 ms a spawn against 0.8 ms for a new session), it
reads every pipe on threads that poll every 20 ms, and its ``kill()``
blocks and reaps, losing the child's rusage. See docs/architecture.rst.

Exit is observed through a pidfd (readable when the process ends), and the
process is reaped with ``wait4`` so its rusage (CPU of it and every child it
waited for, peak RSS) is exact.
"""

import os
import subprocess
import sys
import threading

# The environment variable that marks every process of a test, so that
# descendants that left its session can still be found by pid (psutil
# reads /proc/PID/environ) and never by name.
TOKEN_VAR = "MOZPARALLEL_TEST_TOKEN"


PR_SET_CHILD_SUBREAPER = 36


class Reaped:
    """How a test's main process ended (a slotted class: one per test)."""

    __slots__ = ("returncode", "user", "system", "maxrss_kb")

    def __init__(self, returncode, user, system, maxrss_kb):
        self.returncode = returncode    # negative: killed by that signal
        self.user = user                # CPU seconds (the process and its waited-for children)
        self.system = system
        self.maxrss_kb = maxrss_kb      # largest single RSS among them

    def __repr__(self):
        return "Reaped(returncode=%r, user=%r, system=%r, maxrss_kb=%r)" % (
            self.returncode, self.user, self.system, self.maxrss_kb)


def become_subreaper():
    """Make orphans of our tests our children (Linux; see kill.py); harmless
    elsewhere. Idempotent."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class TestProcess:
    """A started test: its Popen, pidfd and pipe fds."""

    __slots__ = ("popen", "pid", "pidfd", "stdout_fd", "stderr_fd")

    def __init__(self, argv, cwd=None, env=None):
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
            bufsize=0,
        )
        self.pid = self.popen.pid
        self.pidfd = os.pidfd_open(self.pid)
        self.stdout_fd = self.popen.stdout.fileno()
        self.stderr_fd = self.popen.stderr.fileno()
        os.set_blocking(self.stdout_fd, False)
        os.set_blocking(self.stderr_fd, False)

    def reap(self):
        """Reap the process if it has ended; ``None`` while it runs."""
        try:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return None
        code = os.waitstatus_to_exitcode(status)
        self.popen.returncode = code    # so Popen never waits for it again
        return Reaped(code, ru.ru_utime, ru.ru_stime, ru.ru_maxrss)

    def close_pidfd(self):
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def close_pipe(self, fd):
        if fd == self.stdout_fd:
            self.popen.stdout.close()
            self.stdout_fd = None
        elif fd == self.stderr_fd:
            self.popen.stderr.close()
            self.stderr_fd = None


def spawn(argv, cwd=None, env=None):
    """Start a test; raises OSError when it cannot be started."""
    return TestProcess(argv, cwd=cwd, env=env)


class Guardian:
    """The run's guardian process (guardian.py): ends the run's tests if the
    runner dies without ending them. The pool tells it each test's session
    as the test starts and once nothing of the test is left; ``done()`` at a
    normal end."""

    def __init__(self, token_prefix, grace):
        env = {k: v for k, v in os.environ.items() if k != TOKEN_VAR}
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guardian.py")
        self.popen = subprocess.Popen(
            [sys.executable, "-I", "-S", script, token_prefix, repr(float(grace))],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env, start_new_session=True, bufsize=0,
        )
        self.pid = self.popen.pid
        self._fd = self.popen.stdin.fileno()
        # Never block the pool's loop: the guardian reads every few ms; if it
        # ever does not, a message is dropped rather than waited for.
        os.set_blocking(self._fd, False)

    def session_started(self, sid):
        self._tell(b"+%d\n" % sid)

    def session_ended(self, sid):
        self._tell(b"-%d\n" % sid)

    def _tell(self, message):
        if self._fd is None:
            return
        try:
            os.write(self._fd, message)
        except OSError:
            pass

    def done(self):
        """The run ended normally: let the guardian exit without doing anything."""
        self._fd = None
        try:
            self.popen.stdin.write(b"done\n")
        except OSError:
            pass
        try:
            self.popen.stdin.close()
        except OSError:
            pass
        if self.popen.poll() is None:
            # It reads "done" and exits by itself, once its interpreter is up;
            # waiting for that here cost ~30 ms at the end of every run. A
            # daemon thread reaps it (or the runner's exit hands it to init).
            threading.Thread(target=self.popen.wait, daemon=True).start()


def start_guardian(token_prefix, grace):
    """Start the guardian; None if it cannot be started (the run goes on)."""
    try:
        return Guardian(token_prefix, grace)
    except OSError:
        return None
