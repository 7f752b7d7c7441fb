"""mozlog's ``unittest`` and ``html`` formatters, made to read what a
parallel run logs (``--log-unittest``, ``--log-html``).

Both read only ``test_end``. A file whose failures are its points ends OK
with unexpected ``test_status`` events (one failure, one line, as mochitest
logs it): to them the test is folded into one failed ``test_end`` (FAIL,
expected its own status, the first failing point as message). And
mozlog's unittest formatter knows four unexpected statuses only (a CRASH
or TIMEOUT raised ``KeyError``) and a failure without a message raised
``KeyError`` at the end: those are written as errors, with an empty
message.
"""

from mozlog.formatters import HTMLFormatter as MozlogHTMLFormatter
from mozlog.formatters import UnittestFormatter as MozlogUnittestFormatter

from ..contract import is_unexpected


class FoldSubtests:
    """A formatter mixin: ``test_end`` as one result per test, failed when
    a subtest of it was unexpected."""

    def _first_failures(self):
        """test id -> its first unexpected subtest (mozlog's formatters
        have their own __init__: made on first use)."""
        table = getattr(self, "_failing", None)
        if table is None:
            table = self._failing = {}
        return table

    def test_status(self, data):
        if "expected" in data and is_unexpected(data):
            self._first_failures().setdefault(data["test"], data)
        inner = getattr(super(), "test_status", None)
        return inner(data) if inner is not None else None

    def test_end(self, data):
        first = self._first_failures().pop(data["test"], None)
        if first is not None and not is_unexpected(data):
            message = first.get("subtest") or ""
            if first.get("message"):
                message += " - " + first["message"]
            data = dict(data, status="FAIL", expected=data["status"],
                        message="%s %s" % (first["status"], message))
        return super().test_end(data)


# The statuses mozlog's unittest formatter has a letter for.
_UNITTEST_KNOWN = ("FAIL", "PRECONDITION_FAILED", "ERROR", "PASS")


class _AnyStatusUnittest(MozlogUnittestFormatter):
    def test_end(self, data):
        """mozlog's, for any status: CRASH, TIMEOUT... are errors, an
        unexpected OK an unexpected pass ("X"); a result without a message
        gets an empty one (its summary formats ``%(message)s``)."""
        if data.get("message") is None:
            data = dict(data, message="")
        status = data["status"]
        if "expected" in data and status not in _UNITTEST_KNOWN:
            if status == "OK":
                return "X"
            self.errors.append(data)
            return "E"
        return super().test_end(data)


class UnittestFormatter(FoldSubtests, _AnyStatusUnittest):
    """mozlog's unittest formatter, for every status and for subtests."""


class HTMLFormatter(FoldSubtests, MozlogHTMLFormatter):
    """mozlog's HTML formatter, with a test failed by its subtests shown failed."""
