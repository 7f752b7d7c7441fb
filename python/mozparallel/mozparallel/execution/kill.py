"""Where a process tree is found and killed: by pid, through psutil, never
by name.

A test's tree is every process that (a) descends from its main process, (b)
is still in its session (it was started with ``setsid``, so the session id
is the main pid), or (c) carries its token in the environment (a grandchild
that called ``setsid`` itself and was orphaned). The runner is a child
subreaper, so orphans of tests are re-parented to it rather than to init,
and (c) only needs to look among the runner's own descendants.
"""

import ctypes
import os
import signal

import psutil

from .process import TOKEN_VAR

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Make orphans of our tests our children (Linux); harmless elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _session_of(pid):
    try:
        return os.getsid(pid)
    except OSError:
        return None


def tree_pids(main_pid, token=None):
    """Pids of every live process that belongs to the test started as
    ``main_pid`` (its session id), the main process included if alive."""
    found = set()
    me = os.getpid()
    try:
        candidates = psutil.Process(me).children(recursive=True)
    except psutil.Error:
        candidates = []
    for proc in candidates:
        pid = proc.pid
        if _session_of(pid) == main_pid:
            found.add(pid)
            continue
        if token is not None:
            try:
                if proc.environ().get(TOKEN_VAR) == token:
                    found.add(pid)
            except psutil.Error:
                pass
    # Descendants of members (they may have changed session but not parent).
    for proc in candidates:
        if proc.pid in found:
            continue
        try:
            for parent in proc.parents():
                if parent.pid in found:
                    found.add(proc.pid)
                    break
                if parent.pid == me:
                    break
        except psutil.Error:
            pass
    return found


def signal_pids(pids, sig):
    """Send ``sig`` to each pid; returns the pids that were still there."""
    alive = set()
    for pid in pids:
        try:
            os.kill(pid, sig)
            alive.add(pid)
        except ProcessLookupError:
            pass
        except PermissionError:
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


def reap_adopted(exclude=()):
    """Reap zombies re-parented to us (we are a subreaper), except the pids
    in ``exclude`` (running tests' main processes, reaped with rusage)."""
    try:
        children = psutil.Process(os.getpid()).children()
    except psutil.Error:
        return
    for proc in children:
        if proc.pid in exclude:
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(proc.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError):
            pass


def kill_now(pids):
    signal_pids(pids, signal.SIGKILL)
