"""Counts of a run's results for its closing line ("40 tests in 8.1s: 38
passed, 1 unexpected, ..."). Reads TestResults (contract.py)."""

from ..contract import is_unexpected


class Tally:
    def __init__(self):
        self.passed = self.unexpected = self.skipped = self.expected_fail = 0
        self.intermittents = 0
        self.parallel_unsafe = 0
        self._unexpected_ids = set()

    def add(self, end, unexpected=False):
        """One test_end event; ``unexpected``: a subtest of it was."""
        if is_unexpected(end) or unexpected:
            self.unexpected += 1
            self._unexpected_ids.add(end.get("test"))
        elif end["status"] == "SKIP":
            self.skipped += 1
        elif end["status"] not in ("OK", "PASS"):     # expected FAIL, CRASH, TIMEOUT
            self.expected_fail += 1
        else:
            self.passed += 1

    def add_result(self, result):
        """A TestResult from the pool."""
        self.add(result.end, result.unexpected)

    def intermittent(self, test_ids, parallel_unsafe=()):
        """Main-run failures that passed when re-run count as passed (and
        intermittent, or parallel-unsafe: failed beside others, passed
        alone), as the exit status has it."""
        unsafe = set(parallel_unsafe)
        for test in test_ids:
            if test in self._unexpected_ids:
                self._unexpected_ids.discard(test)
                self.unexpected -= 1
                self.passed += 1
                if test in unsafe:
                    self.parallel_unsafe += 1
                else:
                    self.intermittents += 1

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
        return ("mozparallel: %d tests in %.1fs: %s, %d unexpected, %d skipped, "
                "%d expected failures" % (total, seconds, passed, self.unexpected,
                                          self.skipped, self.expected_fail))
