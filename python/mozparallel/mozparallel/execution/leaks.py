"""Processes a test left behind: which test they belong to, the log line
that names them (pid and command line), and their end. The runner is a
child subreaper (kill.py), so whatever a test left becomes the runner's
child; one read of the runner's children list at each test's end finds
them, and each is attributed by the token in its environment, else by its
session. Only those processes are ever signalled.
"""

import os
import signal
import time

from . import kill
from .ending import KILL_SETTLE


class Leaks:
    """``events``: the run's EventLog; ``register(fd)``: the pool watches a
    stray's pidfd; ``allow``: --allow-leaks (reported, not a failure)."""

    def __init__(self, events, register, allow=False):
        self.events = events
        self.register = register
        self.allow = allow
        self.strays = kill.Strays()     # leaked processes being ended

    def report(self, test, pids, late=False):
        """The mozlog ``log`` naming each leaked pid and command line;
        returns the descriptions."""
        described = ["%d (%s)" % (pid, kill.cmdline(pid)) for pid in sorted(pids)]
        if described:
            self.events.emit({
                "action": "log", "level": "WARNING" if self.allow else "ERROR",
                "message": "%s leaked %d process(es)%s: %s" % (
                    test, len(described), " (found after its result)" if late else "",
                    ", ".join(described)),
            })
        return described

    def end(self, pids, grace):
        """SIGTERM now, SIGKILL after ``grace`` (kill.Strays)."""
        for fd in self.strays.add(pids, time.monotonic() + grace):
            self.register(fd)

    def sort_adopted(self, r, adopted, running, test_of_token, watch, grace):
        """Sort the runner's unexpected children at ``r``'s end: zombies are
        reaped, those of tests still running are left to them, the runner's
        own are ignored from now on, and the rest, with their descendants,
        are reported and ended. Returns what ``r`` leaked."""
        running_tokens = {x.token for x in running.values()}
        my_session = os.getsid(0)
        mine, earlier, dying = [], {}, []
        ending = self.strays.pids() if self.strays.by_fd else ()
        for pid in adopted:
            if kill.is_zombie(pid):
                kill.reap(pid)
                continue
            if pid in ending:
                # Reported with the test that left it and being ended: not
                # this test's (its environment may be unreadable by now, so
                # it would otherwise fall to whichever test ends next).
                continue
            if pid in r.killed or kill.is_exiting(pid):
                # Killed with the test, or stopped by the test itself and
                # still exiting (a D-Bus daemon at its teardown): not a leak.
                dying.append(pid)
                continue
            owner = kill.token_of(pid)
            if owner is None:
                sid = kill.session_of(pid)
                if sid is None:
                    continue
                if sid == my_session:
                    watch.ignored.add(pid)     # started by the runner itself
                    continue
                owner = next((x.token for x in running.values() if x.proc.pid == sid), r.token)
            if owner in running_tokens:
                continue
            if owner == r.token or owner not in test_of_token:
                mine.append(pid)
            else:
                earlier.setdefault(test_of_token[owner], []).append(pid)
        if dying:
            for fd in self.strays.add(dying, time.monotonic() + KILL_SETTLE, signal.SIGKILL):
                self.register(fd)
        for test, roots in sorted(earlier.items()):
            pids = kill.descendants(roots)
            self.report(test, pids, late=True)
            self.end(pids, grace)
        if not mine:
            return []
        pids = kill.descendants(mine)
        described = self.report(r.spec.id, pids)
        self.end(pids, grace)
        return described
