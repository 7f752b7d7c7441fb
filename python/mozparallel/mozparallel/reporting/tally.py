"""Counts of a run's results for its closing line ("40 tests in 8.1s: 38
passed, 1 unexpected, ..."). Reads TestResults (contract.py); in a repeat
mode, each test's final verdict over all its rounds (``judge``)."""

from ..contract import is_unexpected


class Tally:
    def __init__(self):
        self.passed = self.unexpected = self.skipped = self.expected_fail = 0
        self.intermittents = 0
        self.memory_retries = 0         # results of a re-run alone after a memory end
        self.parallel_unsafe = 0
        self._kind = {}             # test id -> the counter it is in

    def add(self, end, unexpected=False):
        """One test_end event; ``unexpected``: a subtest of it was."""
        if is_unexpected(end) or unexpected:
            kind = "unexpected"
        elif end["status"] == "SKIP":
            kind = "skipped"
        elif end["status"] not in ("OK", "PASS"):     # expected FAIL, CRASH, TIMEOUT
            kind = "expected_fail"
        else:
            kind = "passed"
        setattr(self, kind, getattr(self, kind) + 1)
        self._kind[end.get("test")] = kind

    def add_result(self, result):
        """A TestResult from the pool."""
        self.add(result.end, result.unexpected)
        if result.spec.memory_retry is not None:
            self.memory_retries += 1

    def _move(self, test, kind):
        old = self._kind.get(test)
        if old is None or old == kind:
            return False
        setattr(self, old, getattr(self, old) - 1)
        setattr(self, kind, getattr(self, kind) + 1)
        self._kind[test] = kind
        return True

    def intermittent(self, test_ids, parallel_unsafe=()):
        """Main-run failures that passed on another attempt count as passed
        (and intermittent, or parallel-unsafe: failed beside others, passed
        alone), as the exit status has it."""
        unsafe = set(parallel_unsafe)
        for test in test_ids:
            if self._kind.get(test) == "unexpected" and self._move(test, "passed"):
                if test in unsafe:
                    self.parallel_unsafe += 1
                else:
                    self.intermittents += 1

    def judge(self, unexpected_ids, intermittent_ids, parallel_unsafe=()):
        """Each test's verdict over all the rounds of a repeat mode (flaky/):
        a test unexpected in any round that decides (unstable under
        --verify, a failing --repeat run) is unexpected; one that failed and
        passed another attempt (--retries) passed, intermittent."""
        unexpected_ids = set(unexpected_ids)
        for test in unexpected_ids:
            self._move(test, "unexpected")
        self.intermittent([t for t in intermittent_ids if t not in unexpected_ids], parallel_unsafe)

    def summary(self, seconds):
        total = self.passed + self.unexpected + self.skipped + self.expected_fail
        passed = "%d passed" % self.passed
        notes = []
        if self.intermittents:
            notes.append("%d intermittent" % self.intermittents)
        if self.parallel_unsafe:
            notes.append("%d parallel-unsafe" % self.parallel_unsafe)
        if notes:
            passed += " (%s)" % ", ".join(notes)
        text = ("mozparallel: %d tests in %.1fs: %s, %d unexpected, %d skipped, "
                "%d expected failures" % (total, seconds, passed, self.unexpected,
                                          self.skipped, self.expected_fail))
        if self.memory_retries:
            text += "; %d ended for memory and judged by a re-run alone" % self.memory_retries
        return text
