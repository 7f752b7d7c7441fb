"""The run's verdict, from the event stream: the exit status listens to the
same events as every formatter (as mozlog's StatusHandler does), but at the
cost of one dict lookup for the common case, an expected subtest."""

from collections import Counter

from ..contract import is_unexpected


class RunStatus:
    """Counts unexpected results and ERROR/CRITICAL logs."""

    # An expected subtest changes nothing here: the event path may skip us.
    ignores_expected_subtests = True

    def __init__(self):
        self.unexpected = Counter()     # status -> count (tests and subtests)
        self.test_ends = Counter()      # status -> count of test_end
        self.error_logs = 0

    def __call__(self, data):
        if "expected" in data and is_unexpected(data):
            self.unexpected[data["status"]] += 1
        action = data["action"]
        if action == "test_end":
            self.test_ends[data["status"]] += 1
        elif action == "log" and data.get("level") in ("ERROR", "CRITICAL"):
            self.error_logs += 1

    @property
    def any_unexpected(self):
        return bool(self.unexpected)
