"""Scheduler policies behind the ``Scheduler`` protocol (contract.py): which
test a free slot runs next. The pool asks ``next_test(slot)`` whenever a
slot is free and reports ``finished(test_id, seconds)``; a policy never
starts a process.

``None`` from ``next_test`` means "nothing for now": the pool asks again
after the next test ends, and the run is over when nothing is running.
"""

import random
from collections import deque

from ..contract import Scheduler

__all__ = ["DEFAULT_POLICY", "FailuresFirst", "ListOrder", "LongestFirst", "POLICIES", "Scheduler", "Shuffled",
           "make_policy", "parse_policy"]

DEFAULT_POLICY = "history"
POLICIES = ("history", "failures-first", "list", "shuffle")


class _Ordered:
    """A fixed order decided up front; the policies differ only in the order."""

    name = "?"
    seed = None                 # Shuffled's, for the log line

    def __init__(self, specs, expected=None):
        self._queue = deque(specs)
        self.expected = dict(expected or {})    # id -> seconds, for the ETA
        self.predicted = {}                     # no memory predictions (schedule/gate.py has them)

    def next_test(self, slot):
        return self._queue.popleft() if self._queue else None

    def finished(self, test_id, seconds):
        pass

    def retry_alone(self, spec):
        """Next in line; running it alone is locks.LockGate's part (the
        pool's scheduler wraps every policy in one)."""
        self._queue.appendleft(spec)

    def remaining(self):
        return len(self._queue)

    def order(self):
        """The ids still to hand out, in order (for plans and tests)."""
        return [s.id for s in self._queue]

    def planned_order(self):
        return list(self._queue)


class ListOrder(_Ordered):
    """Tests in the order given (manifest / argument order)."""

    name = "list"


class LongestFirst(_Ordered):
    """LPT: tests never seen before first (they may be long; their order is
    by path), then known tests by expected duration, longest first; ties by
    path so the order never depends on discovery order."""

    name = "history"

    def __init__(self, specs, history):
        super().__init__(longest_first(specs, history), _walls(specs, history))
        self.unseen = sum(1 for s in specs if history.wall(s.id) is None)


class FailuresFirst(_Ordered):
    """Tests that failed lately first, most recent and most frequent first
    (history.failure_score), ties by the quickest to end, so a broken
    tree shows its first failure soon (``--max-failures 1`` stops there);
    then the rest as LongestFirst orders them."""

    name = "failures-first"

    def __init__(self, specs, history):
        failing = [s for s in specs if history.failures(s.id) > 0]
        failing.sort(key=lambda s: (-history.failures(s.id), history.wall(s.id) or 0.0, _path_key(s)))
        rest = [s for s in specs if history.failures(s.id) <= 0]
        super().__init__(failing + longest_first(rest, history), _walls(specs, history))
        self.failing = len(failing)


def longest_first(specs, history):
    """Tests never seen first (by path: they may be long), then the known
    ones longest first, ties by path."""
    unseen = sorted((s for s in specs if history.wall(s.id) is None), key=_path_key)
    known = sorted((s for s in specs if history.wall(s.id) is not None),
                   key=lambda s: (-history.wall(s.id), _path_key(s)))
    return unseen + known


def _walls(specs, history):
    return {s.id: history.wall(s.id) for s in specs if history.wall(s.id) is not None}


class Shuffled(_Ordered):
    """A random order, the same for the same seed (finds order dependencies)."""

    name = "shuffle"

    def __init__(self, specs, seed, expected=None):
        self.seed = seed
        specs = sorted(specs, key=_path_key)
        random.Random(seed).shuffle(specs)
        super().__init__(specs, expected)


def _path_key(spec):
    return (spec.path or spec.id, spec.id)


def parse_policy(text):
    """(name, seed) from ``--schedule`` text: history, failures-first, list,
    shuffle[:SEED]. Raises ValueError naming the problem."""
    name, _, seed = (text or DEFAULT_POLICY).partition(":")
    if name not in POLICIES:
        raise ValueError("unknown schedule %r (choose from history, failures-first, list, shuffle[:SEED])" % text)
    if seed and name != "shuffle":
        raise ValueError("only shuffle takes a seed: %r" % text)
    if name == "shuffle":
        if not seed:
            return name, None
        try:
            return name, int(seed)
        except ValueError:
            raise ValueError("shuffle seed is not a whole number: %r" % text)
    return name, None


def make_policy(text, specs, history, new_seed=None):
    """The policy object for ``--schedule`` text. ``shuffle`` without a seed
    gets ``new_seed()`` (random by default), logged so a run can be repeated."""
    name, seed = parse_policy(text)
    expected = {s.id: history.wall(s.id) for s in specs if history.wall(s.id) is not None}
    if name == "list":
        return ListOrder(specs, expected)
    if name == "shuffle":
        if seed is None:
            seed = (new_seed or (lambda: random.SystemRandom().randrange(1, 10 ** 6)))()
        return Shuffled(specs, seed, expected)
    if name == "failures-first":
        return FailuresFirst(specs, history)
    return LongestFirst(specs, history)
