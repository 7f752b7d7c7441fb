"""Counts of a run's results for its closing line ("40 tests in 8.1s: 38
passed, 1 unexpected, ..."). Reads TestResults (contract.py)."""

from ..contract import is_unexpected


class Tally:
    def __init__(self):
        self.passed = self.unexpected = self.skipped = self.expected_fail = 0
        self.intermittents = 0
        self.memory_retries = 0         # results of a re-run alone after a memory end
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
        if result.spec.memory_retry is not None:
            self.memory_retries += 1

    def intermittent(self, test_ids):
        """Main-run failures that passed when re-run count as passed (and
        intermittent), as the exit status has it."""
        for test in test_ids:
            if test in self._unexpected_ids:
                self._unexpected_ids.discard(test)
                self.unexpected -= 1
                self.passed += 1
                self.intermittents += 1

    def summary(self, seconds):
        total = self.passed + self.unexpected + self.skipped + self.expected_fail
        passed = "%d passed" % self.passed
        if self.intermittents:
            passed += " (%d intermittent)" % self.intermittents
        text = ("mozparallel: %d tests in %.1fs: %s, %d unexpected, %d skipped, "
                "%d expected failures" % (total, seconds, passed, self.unexpected,
                                          self.skipped, self.expected_fail))
        if self.memory_retries:
            text += "; %d ended for memory and judged by a re-run alone" % self.memory_retries
        return text
