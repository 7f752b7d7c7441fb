"""Each running test's output, kept (capped) until its test_end decides
whether a reporter shows it: failures' output in the terminal summary and
in the HTML report. Nothing here writes anywhere."""

# A chatty test prints a million lines; a failure report needs its start
# and its end, not all of it.
HEAD_LINES, TAIL_LINES = 100, 100
# And a line can be a megabyte (a dump without newlines, cut in pieces by
# execution/framing.py): a kept line is cut to this many characters, so
# what is kept of one test stays under a few MB whatever it prints.
KEEP_CHARS = 4096


class TestOutput:
    """The first HEAD and last TAIL lines of one test, and how many were
    dropped in between."""

    __slots__ = ("head", "tail", "dropped")

    def __init__(self):
        self.head = []
        self.tail = []
        self.dropped = 0

    def add(self, line):
        if len(line) > KEEP_CHARS:
            line = "%s[... %d characters not kept]" % (line[:KEEP_CHARS], len(line) - KEEP_CHARS)
        if len(self.head) < HEAD_LINES:
            self.head.append(line)
            return
        self.tail.append(line)
        if len(self.tail) > 2 * TAIL_LINES:
            self.dropped += len(self.tail) - TAIL_LINES
            del self.tail[:-TAIL_LINES]

    def lines(self):
        tail = self.tail
        dropped = self.dropped
        if len(tail) > TAIL_LINES:
            dropped += len(tail) - TAIL_LINES
            tail = tail[-TAIL_LINES:]
        if dropped:
            return self.head + ["[... %d lines not kept ...]" % dropped] + tail
        return self.head + tail


class OutputKeeper:
    """Output of the tests running now, by test id."""

    def __init__(self):
        self._by_test = {}

    def add(self, test, line):
        out = self._by_test.get(test)
        if out is None:
            out = self._by_test[test] = TestOutput()
        out.add(line)

    def pop(self, test):
        """The test's kept lines (and forget them)."""
        out = self._by_test.pop(test, None)
        return out.lines() if out is not None else []


def status_line(data):
    """A test_status event as one line of a test's output."""
    text = "%s %s" % (data["status"], data.get("subtest", ""))
    if data.get("expected") is not None:
        text += " (expected %s)" % data["expected"]
    if data.get("message"):
        text += " - " + data["message"]
    return text
