"""Resource locks: tests that name the same resource never run at the same
time, or at most N at a time for a counted one, and a ``run-sequentially``
test (or a memory retry) runs with nothing beside it. A Scheduler wrapper
around the policy, like gate.py: the pool only asks ``next_test`` and
reports ``finished``; nothing here starts a process.

A free slot gets the first test, in the policy's order, whose resources
are free: a test blocked by a held lock is passed over, never waited for,
so no slot idles while a runnable test waits behind a lock. Tests blocked
on the same lock get it in the policy's order. A test that must run alone
goes when nothing runs: first, before anything else starts, or once the
tests that can run have ended.

Names (the manifest key ``resources``, ``--resource``)::

    profile-dir          one test at a time holds it
    port:8080            any name: letters, digits and - _ . : / @
    gpu*2                a counted lock: at most 2 tests hold it at once
    global:db            in the fleet mode, held across workers
"""

import re
from collections import deque

# A counted lock: NAME*N.
COUNT_SEP = "*"
GLOBAL_PREFIX = "global:"
_NAME = re.compile(r"^[A-Za-z0-9_.:/@-]+$")
_SPLIT = re.compile(r"[\s,]+")


def parse_resources(text):
    """``((name, count), ...)`` from a resources value: names separated by
    whitespace or commas (an .ini value, a TOML array's lines, the part of
    ``--resource`` after ``=``). Raises ValueError naming the bad name."""
    out = []
    seen = set()
    for token in _SPLIT.split(str(text or "").strip()):
        if not token:
            continue
        name, sep, count = token.partition(COUNT_SEP)
        if not _NAME.match(name):
            raise ValueError("not a resource name: %r (letters, digits and - _ . : / @; NAME*N for "
                             "N at once)" % token)
        n = 1
        if sep:
            try:
                n = int(count)
            except ValueError:
                raise ValueError("not a resource count: %r (NAME*N, N a whole number)" % token)
            if n < 1:
                raise ValueError("a resource count must be at least 1: %r" % token)
        if name in seen:
            raise ValueError("resource %r named twice" % name)
        seen.add(name)
        out.append((name, n))
    return tuple(out)


def format_resource(name, count):
    return name if count == 1 else "%s%s%d" % (name, COUNT_SEP, count)


def check_counts(named):
    """``named``: (test id, ((name, count), ...)) pairs. Each resource must
    have one count in the whole run; ValueError naming two tests that
    disagree. Returns {name: count}."""
    counts, first = {}, {}
    for test, resources in named:
        for name, n in resources:
            if name not in counts:
                counts[name], first[name] = n, test
            elif counts[name] != n:
                raise ValueError("resource %s is %s in %s but %s in %s: give every test the same count"
                                 % (name, format_resource(name, counts[name]), first[name],
                                    format_resource(name, n), test))
    return counts


class LockGate:
    """A Scheduler around ``policy`` (a fixed order, schedule/policies.py)."""

    def __init__(self, policy):
        self.policy = policy
        self.name = policy.name
        self._backlog = None        # deque of the specs not handed out, in order (filled at first use)
        self._needs = {}            # test id -> ((name, count), ...) it holds while it runs
        self._running = {}          # test id -> its needs, while handed out
        self._alone = None          # id of the test running alone, if one is
        self._alone_waiting = 0     # tests in the backlog that must run alone
        self._holders = {}          # resource -> tests holding it now
        self.skips = 0              # times a blocked test was passed over (for the log and tests)
        self.retries = 0            # tests re-queued to run alone

    # -- the Scheduler protocol --------------------------------------------------
    def next_test(self, slot):
        backlog = self._fill()
        if self._alone is not None or not backlog:
            return None
        if self._alone_waiting and not self._running:
            # Nothing runs: the one moment a test that must run alone can go.
            for i, spec in enumerate(backlog):
                if self._must_be_alone(spec):
                    del backlog[i]
                    self._alone_waiting -= 1
                    return self._take(spec, alone=True)
        for i, spec in enumerate(backlog):
            if self._alone_waiting and self._must_be_alone(spec):
                continue
            needs = self._needs_of(spec)
            if needs and not self._free(needs):
                continue
            if i:
                self.skips += 1
            del backlog[i]
            return self._take(spec, needs=needs)
        return None

    def finished(self, test_id, seconds):
        needs = self._running.pop(test_id, None)
        if self._alone == test_id:
            self._alone = None
        for name, _ in needs or ():
            self._holders[name] -= 1
        self.policy.finished(test_id, seconds)

    def retry_alone(self, spec):
        """Run ``spec`` again with nothing beside it (a memory retry), as
        soon as nothing runs."""
        self._fill().appendleft(spec)
        self._alone_waiting += self._must_be_alone(spec)
        self.retries += 1

    def remaining(self):
        return len(self._backlog) if self._backlog is not None else self.policy.remaining()

    def planned_order(self):
        if self._backlog is None:
            return self.policy.planned_order()
        return list(self._backlog)

    @property
    def expected(self):
        return self.policy.expected

    @property
    def predicted(self):
        return self.policy.predicted

    @property
    def seed(self):
        return self.policy.seed

    # -- the locks -------------------------------------------------------------
    def _fill(self):
        if self._backlog is None:
            self._backlog = deque(self.policy.planned_order())
            while self.policy.next_test(0) is not None:    # the policy's queue is ours now
                pass
            self._alone_waiting = sum(1 for spec in self._backlog if self._must_be_alone(spec))
        return self._backlog

    @staticmethod
    def _must_be_alone(spec):
        return bool(spec.sequential)

    def _needs_of(self, spec):
        if not spec.resources:
            return ()
        needs = self._needs.get(spec.id)
        if needs is None:
            needs = self._needs[spec.id] = parse_resources(" ".join(spec.resources))
        return needs

    def _free(self, needs):
        holders = self._holders
        return all(holders.get(name, 0) < count for name, count in needs)

    def _take(self, spec, needs=(), alone=False):
        self._running[spec.id] = needs
        if alone:
            self._alone = spec.id
        for name, _ in needs:
            self._holders[name] = self._holders.get(name, 0) + 1
        return spec
