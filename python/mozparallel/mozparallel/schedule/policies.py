"""Scheduler policies behind one small protocol.

The pool asks ``next_test(slot)`` whenever a slot is free and reports
``finished(test_id, seconds)``; a policy never starts a process.
"""

from collections import deque
from typing import Protocol


class Scheduler(Protocol):
    def next_test(self, slot: int):
        """The next TestSpec for ``slot``, or None when nothing is left."""

    def finished(self, test_id: str, seconds: float) -> None:
        """A test ended after ``seconds`` of wall time."""


class ListOrder:
    """Tests in the order given (manifest / argument order)."""

    name = "list"

    def __init__(self, specs):
        self._queue = deque(specs)

    def next_test(self, slot):
        return self._queue.popleft() if self._queue else None

    def finished(self, test_id, seconds):
        pass

    def remaining(self):
        return len(self._queue)
