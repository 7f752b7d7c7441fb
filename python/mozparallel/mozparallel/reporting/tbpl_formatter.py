"""The TBPL output (``--reporter tbpl`` / ``--log-tbpl``): mozlog's own
formatter, with each test's lines kept together, control characters in
test and subtest names escaped, and each test's "took" from its measured
wall time.

Kept together: tests run at once, but TBPL is read as one test after
another (``TEST-START`` ... ``TEST-OK``/``TEST-UNEXPECTED-*``), by people
and by log parsers. The first test to start writes its lines as they come;
the lines of a test that starts while another is being written are held
and written as one block once the written one has ended (held blocks of
tests already ended first, then the oldest still running, which from then
on writes as it goes). So a single test streams, and no two tests' lines
ever interleave. ``--log-tbpl-compact`` keeps its count of passing
subtests per test, too. Lines that belong to no test (the runner's own
messages) are written at once.

Escaped: a test file named ``"a\\nTEST-PASS | b.sh"`` would otherwise
print a forged ``TEST-PASS`` line of its own; here it is
``a\\nTEST-PASS | b.sh`` on one line. The raw log keeps the name as it is.

At the end (after ``SUITE-END``, with ``summary_on_shutdown``, set for
TBPL on stdout as ``./mach test`` sets it): every unexpected result again,
one ``TEST-UNEXPECTED-*`` line each, as the harnesses list their failures
at the end.
"""

from collections import deque

from mozlog.formatters import TbplFormatter as MozlogTbplFormatter
from mozlog.formatters.base import BaseFormatter

from .escape import escape_name

# A held test's text is joined into one string every this many pieces (a
# chatty test held behind a long one keeps one string, not a million).
_JOIN_EVERY = 1024
# What ends every held block: the whole run's end.
_RUN_END = ("suite_end", "shutdown")

__all__ = ["TbplFormatter", "escape_name"]


class TbplFormatter(MozlogTbplFormatter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._open = None           # the test whose lines are written as they come
        self._held = {}             # running test -> pieces of its text, held back (in start order)
        self._ended = []            # text of tests that ended while another was open
        self._compact_state = {}    # test -> (subtests_count, buffer): compact mode, per test
        self._failures = []         # the first line of each unexpected result
        self._tests = set()

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
        action = data.get("action")
        test = data.get("test") if action != "suite_start" else None
        subtest = data.get("subtest")
        safe_test, safe_subtest = escape_name(test), escape_name(subtest)
        if safe_test is not test or safe_subtest is not subtest:
            data = dict(data)
            if test is not None:
                data["test"] = safe_test
            if subtest is not None:
                data["subtest"] = safe_subtest
        if action in ("test_status", "test_end") and "expected" in data:
            line = failure_line(data)
            if line is not None:
                self._failures.append(line)
        elif action == "test_start":
            self._tests.add(test)
        text = self._format(test, data) or ""
        if test is None or not isinstance(test, str):
            if action in _RUN_END:
                return self._release_all() + text
            return text
        return self._route(test, action, text)

    def _format(self, test, data):
        """mozlog's text for ``data``; in compact mode with ``test``'s own
        count of passing subtests."""
        # mozlog's own __call__ would also feed its SummaryHandler (for its
        # summary, which ours replaces).
        if not self.compact:
            return BaseFormatter.__call__(self, data)
        state = self._compact_state.get(test)
        self.subtests_count, self.buffer = state if state is not None else (0, deque([], 10))
        try:
            return BaseFormatter.__call__(self, data)
        finally:
            if data.get("action") == "test_end":
                self._compact_state.pop(test, None)
            else:
                self._compact_state[test] = (self.subtests_count, self.buffer)

    def suite_end(self, data):
        return super().suite_end(data) + (self._summary() if self.summary_on_shutdown else "")

    def shutdown(self, data):
        return None             # the summary went out with suite_end (the raw log's last event)

    def _summary(self):
        if not self._failures:
            return "\nSummary: %d test(s), no unexpected results\n" % len(self._tests)
        return "\nSummary: %d test(s), %d unexpected result(s):\n%s\n" % (
            len(self._tests), len(self._failures), "\n".join(self._failures))

    def _route(self, test, action, text):
        """What to write now of ``test``'s ``text``: itself, nothing (held),
        or whole blocks."""
        if action == "test_start" and self._open is None and test not in self._held:
            self._open = test
            return text
        if test == self._open:
            if action != "test_end":
                return text
            out = [text] + self._ended
            self._open, self._ended = None, []
            if self._held:
                # The oldest running test is written from now on.
                self._open = next(iter(self._held))
                out.append("".join(self._held.pop(self._open)))
            return "".join(out)
        held = self._held.get(test)
        if held is None:
            if action != "test_start":
                return text             # a test we never saw start: as it comes
            held = self._held[test] = []
        if text:
            held.append(text)
            if len(held) > _JOIN_EVERY:
                held[:] = ["".join(held)]
        if action == "test_end":
            self._ended.append("".join(self._held.pop(test)))
        return ""

    def _release_all(self):
        """Everything held, in order (the run is ending)."""
        out = self._ended + ["".join(pieces) for pieces in self._held.values()]
        self._open, self._ended, self._held = None, [], {}
        return "".join(out)


def failure_line(data):
    """The ``TEST-UNEXPECTED-*`` line of an unexpected test_status or
    test_end (its message's first line), as mozlog's TBPL formatter starts
    it; None for a known intermittent."""
    status = data["status"]
    if status in (data.get("known_intermittent") or ()):
        return None
    message = (data.get("message") or "").split("\n", 1)[0] or "expected %s" % data["expected"]
    subtest = data.get("subtest")
    if subtest:
        message = "%s - %s" % (subtest, message)
    return "TEST-UNEXPECTED-%s | %s | %s" % (status, data["test"], message)
