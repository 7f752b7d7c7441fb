"""A probe: one test (the victim) run again beside chosen tests, each
started when it started in the failure being replayed, relative to the
victim. Tests that started within ``GAP`` seconds of the victim are moved
to ``GAP`` before it (``others-first``) or after it (``victim-first``):
their true order is lost in start-up jitter, and most interference needs
one of the two (a port or file taken by whoever comes first). Tests that
started further away keep their recorded offset.

``Staggered`` is the probe's Scheduler (contract.py): it hands each test
out once its time has come. The pool asks again after each loop turn, so
the pool running a probe needs an ``on_tick`` (it then turns at least
every 0.1 s). When nothing runs, the next test starts at once (nothing is
left to overlap) and the later ones keep their distance to it.

A probe is recorded as a run of kind ``beside`` or ``bisect`` (the
interference.py kinds) whose ``argv`` is ``["probe", VICTIM, ORDER]``; a
run of the victim alone, ``["probe", VICTIM, "alone"]``.
"""

import time
from collections import deque

from .interference import ALONE, OTHERS_FIRST

GAP = 0.5
PROBE_WORD = "probe"


def probe_argv(victim, order):
    return [PROBE_WORD, victim, order]


def probe_of(argv):
    """(victim, order) of a probe run's argv; (None, None) for another run."""
    if len(argv or ()) == 3 and argv[0] == PROBE_WORD:
        return argv[1], (None if argv[2] == ALONE else argv[2])
    return None, None


def start_plan(victim, offsets, order):
    """``[(delay, test)]``, earliest first, the first at 0: ``offsets`` is
    ``{test: seconds after the victim started}`` (None: not known, as
    close)."""
    times = {victim: 0.0}
    for test, offset in offsets.items():
        if offset is None or abs(offset) < GAP:
            offset = -GAP if order == OTHERS_FIRST else GAP
        times[test] = offset
    first = min(times.values())
    return sorted(((round(t - first, 6), test) for test, t in times.items()),
                  key=lambda p: (p[0], p[1] != victim, p[1]))


class Staggered:
    """Hands out ``plan`` (``[(delay, TestSpec)]``) at those delays after
    the first test."""

    name = "probe"
    seed = None

    def __init__(self, plan, clock=time.monotonic):
        self._pending = deque(sorted(plan, key=lambda p: p[0]))
        self._clock = clock
        self._zero = None
        self._running = 0
        self.expected = {}
        self.predicted = {}

    def next_test(self, slot):
        if not self._pending:
            return None
        now = self._clock()
        delay, spec = self._pending[0]
        if self._zero is None or self._running == 0:
            # The first test, or nothing left to overlap: start now, and
            # keep the later ones at their distance from this one.
            if self._zero is None or now - self._zero < delay:
                self._zero = now - delay
        elif now - self._zero < delay:
            return None
        self._pending.popleft()
        self._running += 1
        return spec

    def finished(self, test_id, seconds):
        self._running -= 1

    def retry_alone(self, spec):
        """A test ended for memory (execution/pool.py) goes next; a probe
        does not wait for its company to end."""
        self._pending.appendleft((0.0, spec))

    def remaining(self):
        return len(self._pending)

    def planned_order(self):
        return [spec for _, spec in self._pending]
