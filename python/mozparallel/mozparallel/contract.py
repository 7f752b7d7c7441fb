"""The runner's contract: what goes into the pool, what comes out of it,
and what it asks of a scheduler. Every layer speaks these types; this
module imports nothing of the package.

Into the pool
    ``TestSpec``: one test, everything needed to run it (command, limits,
    expectations), decided before the run starts.
Asked of the schedule
    ``Scheduler``: ``next_test(slot)`` whenever a slot is free,
    ``finished(test_id, seconds)`` when a test ends, ``retry_alone(spec)``
    for a test ended for memory, plus what the reports
    read (``planned_order()``, ``expected``, ``predicted``, ``remaining()``).
Out of the pool
    ``TestResult``: one finished test, frozen, handed to every consumer
    (tally, store recorder, flaky rounds, the fleet coordinator's caller)
    after its ``test_end`` event was logged.
The rule
    ``is_unexpected(event)``: mozlog's rule, written once.
"""

import os
from dataclasses import dataclass, field
from typing import Protocol

# A note in test_end's extra: the result was copied from an earlier attempt
# of the same run (``--resume``), not produced by this run.
COPIED_KEY = "resumed_from"

# How a test ended, when not on its own (TestResult.ended_by).
ENDED_TIMEOUT = "timeout"       # silent for --timeout, or over --max-time
ENDED_STOPPED = "stopped"       # ended by the runner (Ctrl-C, --max-failures, --bail): no complete result
ENDED_LEAK = "leak"             # exited, but what it left kept its output open
ENDED_MEMORY = "memory"         # over --max-test-memory, or killed by the kernel's OOM killer: re-run alone


def is_unexpected(event):
    """mozlog's rule: a result is unexpected when ``expected`` is present
    and differs from the status; SKIP never is. (mozlog's normal form drops
    ``expected`` when it matches the status.)"""
    return unexpected_status(event.get("status"), event.get("expected"))


def unexpected_status(status, expected):
    """The same rule for a stored result (store/records.py keeps both)."""
    return bool(expected) and expected != status and status != "SKIP"


@dataclass
class TestSpec:
    """One test to run: everything the pool needs, nothing it has to look up."""

    __test__ = False                    # not a pytest test class

    id: str                             # the test id in every log
    argv: list                          # the command, already split
    path: str | None = None             # the file, if it is one
    group: str = "default"              # suite_start group (the manifest)
    protocol: str = "tap"
    timeout: float | None = None        # silent timeout (seconds)
    max_time: float | None = None       # wall-clock cap (seconds)
    expected_fail: bool = False
    expected_outcome: str | None = None  # manifest expected = crash|timeout|bailout
    sequential: str | None = None       # why it runs alone (run-sequentially, a memory retry)
    resources: tuple = ()               # locks it holds while it runs: "name" or "name*N" (schedule/locks.py)
    memory_retry: dict | None = None    # set on the re-run alone of a test ended for memory: its first attempt
    cwd: str | None = None
    env: dict | None = None             # extra environment
    extra: dict = field(default_factory=dict)

    def is_path_arg(self, arg):
        """Whether ``arg`` of argv is the test file: its absolute path or the
        path as the user typed it (relative to the invocation directory)."""
        return self.path is not None and (arg == self.path or os.path.abspath(arg) == self.path)


@dataclass(frozen=True)
class TestResult:
    """One finished test, as every consumer sees it. ``end`` is the
    ``test_end`` event exactly as logged (status, expected, message, extra
    with wall, cpu, memory, slot); treat it as read-only."""

    __test__ = False

    spec: TestSpec
    end: dict
    unexpected: bool                    # the result or any of its subtests was unexpected
    started: float | None = None        # time.monotonic() at its start (None: not run here)
    ended_by: str | None = None         # None (on its own) or ENDED_*

    @property
    def id(self):
        return self.spec.id

    @property
    def status(self):
        return self.end.get("status", "")

    @property
    def expected(self):
        """The status it was expected to end with (mozlog drops ``expected``
        when it matches)."""
        return self.end.get("expected") or self.status

    @property
    def final_status(self):
        """The status the test as a whole is judged by: its own, except that
        a test that ended as expected with an unexpected subtest failed
        (FAIL). Its failing subtests carry the failure lines; its test_end
        says only that the file ran to its end, as mochitest's does."""
        status = self.status
        if self.unexpected and not unexpected_status(status, self.expected):
            return "FAIL"
        return status

    @property
    def message(self):
        return self.end.get("message") or ""

    @property
    def extra(self):
        return self.end.get("extra") or {}

    @property
    def complete(self):
        """A result worth keeping: not cut short by the runner itself."""
        return self.ended_by != ENDED_STOPPED


class Scheduler(Protocol):
    """What the pool (and the reports) ask of a schedule. A scheduler never
    starts a process."""

    name: str
    seed: "int | None"                  # a shuffle's seed, for the log line (None: not shuffled)
    expected: dict                      # test id -> expected seconds (for the ETA)
    predicted: dict                     # test id -> predicted peak bytes ({} without a gate)

    def next_test(self, slot: int) -> "TestSpec | None":
        """The next test for ``slot``; None: nothing now (the pool asks again
        after the next test ends; the run is over when nothing runs)."""

    def finished(self, test_id: str, seconds: float) -> None:
        """A test ended after ``seconds`` of wall time."""

    def retry_alone(self, spec: "TestSpec") -> None:
        """Hand ``spec`` out again, to run with nothing beside it (a test
        ended for memory: execution/pool.py)."""

    def remaining(self) -> int:
        """Tests not handed out yet."""

    def planned_order(self) -> list:
        """The TestSpecs still to hand out, in the order planned."""
