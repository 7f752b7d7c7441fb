"""The TBPL output (``--reporter tbpl`` / ``--log-tbpl``): mozlog's own
formatter, with control characters in test and subtest names escaped and
each test's "took" from its measured wall time.

TBPL is read line by line (Treeherder, mozharness). A test file named
``"a\\nTEST-PASS | b.sh"`` would otherwise print a forged ``TEST-PASS``
line of its own; here it is ``a\\nTEST-PASS | b.sh`` on one line. The raw
log keeps the name as it is.
"""

from mozlog.formatters import TbplFormatter as MozlogTbplFormatter

from .escape import escape_name

__all__ = ["TbplFormatter", "escape_name"]


class TbplFormatter(MozlogTbplFormatter):
    def test_end(self, data):
        # "took Nms" from the test's own wall time (test_end's extra): a test
        # run by a fleet worker is logged as started when the coordinator
        # hears of it, so the time since its test_start event can be short.
        wall = (data.get("extra") or {}).get("wall")
        test_id = self.test_id(data["test"])
        if wall is not None and test_id in self.test_start_times and data.get("time") is not None:
            self.test_start_times[test_id] = data["time"] - int(round(wall * 1000))
        return super().test_end(data)

    def __call__(self, data):
        test, subtest = data.get("test"), data.get("subtest")
        safe_test, safe_subtest = escape_name(test), escape_name(subtest)
        if safe_test is not test or safe_subtest is not subtest:
            data = dict(data)
            if test is not None:
                data["test"] = safe_test
            if subtest is not None:
                data["subtest"] = safe_subtest
        return super().__call__(data)
