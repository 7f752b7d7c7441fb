"""``--protocol auto``: which protocol a file speaks, decided from the first
line that only one protocol has, and told in the log.

``AutoParser`` holds lines back until such a line comes, then hands them
all to the chosen parser and from then on *is* that parser: its ``feed`` and
``feed_lines`` are the chosen parser's bound methods, so a TAP ``ok`` line costs what it costs
with ``--protocol tap``.
"""

from .base import Parser
from .mozlog_raw import MozlogParser, parse_json_event
from .tap import TapParser
from .tbpl import TbplParser, is_tbpl_line

DEFAULT = "tap"
# Lines held back before giving up and using the default: a test that
# prints this much without a decisive line is not speaking TBPL or mozlog.
MAX_HELD = 1000
CLASSES = {"tap": TapParser, "tbpl": TbplParser, "mozlog": MozlogParser}


def _is_tap_line(line):
    if line[:3] == "ok " or line == "ok" or line[:7] == "not ok " or line == "not ok":
        return True
    if line[:3] == "1..":
        return line[3:].split("#", 1)[0].strip().isdigit()
    lower = line[:12].lower()
    return lower.startswith("tap version ") or lower.startswith("bail out!") \
        or line.startswith("# Subtest")


def detect_line(line):
    """The protocol that ``line`` can only belong to, or None."""
    if line[-1:] == "\r":
        line = line[:-1]
    if not line:
        return None
    c = line[0]
    if c == "{":
        return "mozlog" if parse_json_event(line) is not None else None
    if c in "on1TtBb#" and _is_tap_line(line):
        return "tap"
    if ("TEST-" in line or "PROCESS-CRASH" in line) and is_tbpl_line(line):
        return "tbpl"
    return None


class AutoParser(Parser):
    """Buffers lines until the protocol is known, then delegates."""

    name = "auto"

    def __init__(self, test, log_subtests=False, expected_fail=False):
        super().__init__(test, log_subtests=log_subtests, expected_fail=expected_fail)
        self.chosen = None
        self.inner = None
        self._held = []

    def feed_lines(self, lines):
        out = []
        for i, line in enumerate(lines):
            evs = self.feed(line)
            if evs:
                out.extend(evs)
            if self.inner is not None:
                out.extend(self.inner.feed_lines(lines[i + 1:]))
                break
        return out

    def feed(self, line):
        if self.inner is not None:
            return self.inner.feed(line)
        protocol = detect_line(line)
        if protocol is None:
            self._held.append(line)
            if len(self._held) < MAX_HELD:
                return None
            return self._choose(DEFAULT, "no decisive line in the first %d lines" % MAX_HELD)
        self._held.append(line)
        shown = line if len(line) <= 80 else line[:77] + "..."
        return self._choose(protocol, "line %d: %r" % (len(self._held), shown))

    def _choose(self, protocol, why):
        self.chosen = protocol
        self.inner = CLASSES[protocol](self.test, log_subtests=self.log_subtests,
                                       expected_fail=self.expected_fail)
        # From now on the chosen parser is fed directly.
        self.feed = self.inner.feed
        self.feed_lines = self.inner.feed_lines
        out = [{"action": "log", "level": "DEBUG", "test": self.test,
                "message": "%s: protocol %s (auto, from %s)" % (self.test, protocol, why)}]
        held, self._held = self._held, []
        for line in held:
            evs = self.inner.feed(line)
            if evs:
                out.extend(evs)
        return out

    def flush(self):
        return self.inner.flush() if self.inner is not None else []

    def finish(self, exit):
        out = []
        if self.inner is None:
            why = "no decisive line in its output" if self._held else "no output"
            out.extend(self._choose(DEFAULT, why))
        out.extend(self.inner.finish(exit))
        return out

    @property
    def bailout(self):
        """The chosen parser's (None before there is one)."""
        inner = self.__dict__.get("inner")
        return inner.bailout if inner is not None else None


__all__ = ["AutoParser", "detect_line", "CLASSES"]
