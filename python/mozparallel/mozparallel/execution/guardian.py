"""The guardian: ends a run's tests if the runner itself dies (SIGKILL, OOM
killer, a crash), which no handler in the runner can do.

Started once per run (never per test) as ``python -I -S guardian.py
TOKEN_PREFIX GRACE`` in its own session, ignoring SIGINT/SIGTERM/SIGHUP,
with a pipe on stdin whose only writer is the runner. The runner writes a
line per test session as it starts (``+SID``) and once it is over
(``-SID``: nothing of that test is left alive), and ``done`` before closing
the pipe; end of file without ``done`` means the runner died. The guardian
then ends the run's processes: every process whose environment carries a
test token of this run, every process in the session of a test that was
not over (each test runs in a session of its own, execution/process.py:
this finds a child that cleared its environment, ``env -i``), and every
descendant of those; SIGTERM, then SIGKILL after GRACE seconds to those
still there (the same processes: pid and start time). Only the runner's own
processes, by token, session and parentage; never by name. Only the
standard library, so it starts in about 10 ms.
"""

import os
import signal
import sys
import time

TOKEN_VAR = "MOZPARALLEL_TEST_TOKEN"   # as execution/process.py
# Messages that arrive while the guardian sleeps are read in one go: it
# wakes at most this often however fast tests start, and notices the
# runner's death this much later at most.
COALESCE = 0.05


def _stat(pid):
    """(session id, start time in clock ticks) of ``pid``, or None if it is
    gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # "pid (comm) S ppid pgrp session ... starttime": comm may hold spaces
    # and parentheses, so count from its closing one.
    fields = data[data.rfind(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[3]), int(fields[19])


def _children(pid):
    found = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return found
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid), "rb") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return found


def ours(prefix, sessions):
    """{pid: start time} of the run's live processes: a token of the run in
    the environment, or in one of ``sessions``, or below such a process."""
    needle = ("%s=%s" % (TOKEN_VAR, prefix)).encode()
    me = os.getpid()
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        stat = _stat(pid)
        if stat is None:
            continue
        if stat[0] in sessions:
            found[pid] = stat[1]
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if any(item.startswith(needle) for item in env.split(b"\0")):
            found[pid] = stat[1]
    stack = list(found)
    while stack:
        for child in _children(stack.pop()):
            if child not in found and child != me:
                stat = _stat(child)
                if stat is not None:
                    found[child] = stat[1]
                    stack.append(child)
    return found


def _alive(targets):
    """Those of ``targets`` ({pid: start time}) that are still the same process."""
    out = {}
    for pid, started in targets.items():
        stat = _stat(pid)
        if stat is not None and stat[1] == started:
            out[pid] = started
    return out


def end_all(prefix, grace, sessions=()):
    sessions = set(sessions)
    targets = ours(prefix, sessions)
    for pid in targets:
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while targets and time.monotonic() < deadline:
        time.sleep(0.05)
        targets = _alive(targets)
        targets.update(ours(prefix, sessions))
    for pid in _alive(targets):
        _kill(pid, signal.SIGKILL)


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


class Messages:
    """What the runner wrote: the sessions of tests not over yet, and
    whether it said ``done``."""

    def __init__(self):
        self.sessions = set()
        self.done = False
        self._partial = b""

    def feed(self, data):
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line)

    def end(self):
        if self._partial:
            self._line(self._partial)      # ("done" without a newline, as older runners wrote it)
            self._partial = b""

    def _line(self, line):
        self.done = line == b"done"
        if line[:1] in (b"+", b"-") and line[1:].isdigit():
            sid = int(line[1:])
            if sid <= 1:
                return
            if line[:1] == b"+":
                self.sessions.add(sid)
            else:
                self.sessions.discard(sid)


def main(argv):
    prefix, grace = argv[1], float(argv[2])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    messages = Messages()
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        messages.feed(chunk)
        time.sleep(COALESCE)
    messages.end()
    if not messages.done:
        messages.sessions.discard(os.getsid(0))
        end_all(prefix, grace, messages.sessions)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
