"""Where a test's process tree is found and killed: by pid, never by name.

The runner is a child subreaper, so when a process of a test dies, its
children become the runner's children rather than init's. Every live
process a test started is therefore a descendant of either its main
process or of one of the runner's "adopted" children, whatever it did with
its session, group or stdout. ``ChildWatch`` reads the runner's children
list (one ``pread`` of /proc/self/task/TID/children, the cost of the
``killpg(pid, 0)`` it replaces) so a test's end only looks further when
something was adopted. An adopted process is attributed to its test by the
token in its environment, else by its session. Trees are walked through
/proc/PID/task/*/children (no scan of all of /proc); where that file does
not exist, psutil's full scan is the fallback.
"""

import os
import signal
import threading

from .lazy import psutil
from .process import TOKEN_VAR, become_subreaper  # noqa: F401 (the pool calls kill.become_subreaper)

_TOKEN_PREFIX = (TOKEN_VAR + "=").encode()


def _read(path, size=1 << 16):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


HAVE_CHILDREN_FILE = os.path.exists("/proc/self/task/%d/children" % os.getpid())


def children(pid):
    """Direct children of ``pid`` (every thread's), or [] if it is gone."""
    if not HAVE_CHILDREN_FILE:
        try:
            return [p.pid for p in psutil.Process(pid).children()]
        except psutil.Error:
            return []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return []
    found = []
    for tid in tids:
        data = _read("/proc/%d/task/%s/children" % (pid, tid))
        if data:
            found.extend(int(p) for p in data.split())
    return found


def descendants(roots):
    """``roots`` and every live process below them."""
    found = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children(pid))
    return found


def session_of(pid):
    try:
        return os.getsid(pid)
    except OSError:
        return None


def token_of(pid):
    """The test token in the environment of ``pid`` (None: none, or gone)."""
    data = _read("/proc/%d/environ" % pid, 1 << 20)
    if data is None:
        try:
            return psutil.Process(pid).environ().get(TOKEN_VAR)
        except psutil.Error:
            return None
    for item in data.split(b"\0"):
        if item.startswith(_TOKEN_PREFIX):
            return item[len(_TOKEN_PREFIX):].decode("ascii", "replace")
    return None


def is_zombie(pid):
    data = _read("/proc/%d/stat" % pid, 4096)
    if data is None:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            return True
    # "pid (comm) S ...": comm may hold spaces and parentheses.
    return data[data.rfind(b")") + 2:data.rfind(b")") + 3] in (b"Z", b"X")


def reap(pid):
    """Reap ``pid`` if it is our child and has ended."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


class ChildWatch:
    """The runner's own children, read in one syscall: what the pool uses at
    every test's end to notice adopted processes without scanning."""

    def __init__(self):
        self.ignored = set()        # children that are not tests' (the guardian, ...)
        self._fds = []
        if HAVE_CHILDREN_FILE:
            tids = {threading.get_native_id(), os.getpid()}     # orphans go to the leader
            for tid in tids:
                try:
                    self._fds.append(os.open("/proc/self/task/%d/children" % tid, os.O_RDONLY))
                except OSError:
                    pass
        # Whatever is already our child when the pool starts is not a test's.
        self.ignored.update(self.pids())

    def pids(self):
        if not self._fds:
            try:
                return [p.pid for p in psutil.Process().children()]
            except psutil.Error:
                return []
        pids = []
        for fd in self._fds:
            pids.extend(int(p) for p in os.pread(fd, 1 << 16, 0).split())
        return pids

    def unknown(self, running):
        """Our children that are neither a running test's main process nor ignored."""
        if self._fds and len(self._fds) == 1:
            data = os.pread(self._fds[0], 1 << 16, 0)
            if not data:
                return ()
            pids = map(int, data.split())
        else:
            pids = self.pids()
        ignored = self.ignored
        return [p for p in pids if p not in running and p not in ignored]

    def close(self):
        for fd in self._fds:
            os.close(fd)
        self._fds = []


def tree_pids(main_pid, token, watch, running=(), include_main=True):
    """Every live process of the test started as ``main_pid``: its main
    process (if ``include_main``) and descendants, and the runner's adopted
    children that carry ``token`` or live in its session, with theirs."""
    roots = [main_pid] if include_main else []
    for pid in watch.unknown(running):
        if belongs_to(pid, token, main_pid):
            roots.append(pid)
    if not roots:
        return set()
    found = descendants(roots)
    found.discard(os.getpid())
    return found


def belongs_to(pid, token, main_pid):
    owner = token_of(pid)
    if owner is not None:
        return owner == token
    return session_of(pid) == main_pid


def signal_pids(pids, sig):
    """Send ``sig`` to each pid; returns the pids that were still there."""
    alive = set()
    for pid in pids:
        try:
            os.kill(pid, sig)
            alive.add(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return alive


def signal_group(pgid, sig):
    """Signal a whole process group; False if it has no member left."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_alive(pgid):
    return signal_group(pgid, 0)


def reap_adopted(watch, running=()):
    """Reap zombies re-parented to us, except running tests' main processes
    (the pool reaps those itself, with their rusage)."""
    for pid in watch.unknown(running):
        if is_zombie(pid):
            reap(pid)


PF_EXITING = 0x4       # include/linux/sched.h: the task is in do_exit()


def is_exiting(pid):
    """Whether ``pid`` is on its way out (the kernel's PF_EXITING flag, field
    9 of /proc/PID/stat), as when a daemon the test stopped at its teardown
    is still exiting. (An empty cmdline is no sign: a process in the middle
    of an exec has none for a moment.)"""
    data = _read("/proc/%d/stat" % pid)
    if not data:
        return False
    try:
        fields = data[data.rindex(b")") + 2:].split()
        return bool(int(fields[6]) & PF_EXITING)
    except (ValueError, IndexError):
        return False


def cmdline(pid):
    """The command line of ``pid``; a process that is exiting (or a zombie)
    has none any more: then its name in brackets, as ps shows it."""
    data = _read("/proc/%d/cmdline" % pid)
    if data is None:
        try:
            return " ".join(psutil.Process(pid).cmdline()) or "?"
        except psutil.Error:
            return "?"
    text = data.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    if not text:
        comm = _read("/proc/%d/comm" % pid)
        text = "[%s]" % comm.decode("utf-8", "replace").strip() if comm else "?"
    return text


class Strays:
    """Leaked processes being ended: SIGTERM now, SIGKILL after the grace.
    Each is held by a pidfd, so a pid reused meanwhile is never signalled."""

    def __init__(self):
        self.by_fd = {}             # pidfd -> [pid, deadline, killed]

    def add(self, pids, deadline, sig=signal.SIGTERM):
        added = []
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                signal.pidfd_send_signal(fd, sig)
            except OSError:
                pass
            self.by_fd[fd] = [pid, deadline, sig == signal.SIGKILL]
            added.append(fd)
        return added

    def pids(self):
        """The processes being ended (reported already)."""
        return {entry[0] for entry in self.by_fd.values()}

    def next_deadline(self):
        return min((d for _, d, _ in self.by_fd.values()), default=None)

    def ended(self, fd):
        """The process behind ``fd`` has exited (its pidfd is readable)."""
        pid = self.by_fd.pop(fd)[0]
        os.close(fd)
        reap(pid)

    def due(self, now, settle):
        """SIGKILL those past their grace; give up on those SIGKILLed
        ``settle`` seconds ago. Returns the fds given up on."""
        dropped = []
        for fd, entry in list(self.by_fd.items()):
            if now < entry[1]:
                continue
            if entry[2]:
                dropped.append(fd)
                self.by_fd.pop(fd)
                os.close(fd)
                continue
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
            entry[1], entry[2] = now + settle, True
        return dropped

    def hurry(self):
        """SIGKILL at the next look (a second Ctrl-C)."""
        for entry in self.by_fd.values():
            entry[1] = 0.0

    def kill_all(self):
        for fd in list(self.by_fd):
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
            self.by_fd.pop(fd)
            os.close(fd)
