"""Where mozlog events become TAP: the ``--reporter tap`` / ``--log-tap``
formatter.

One test point per file, numbered in completion order, the plan at the end
(as prove accepts), unexpected results as ``not ok`` with a YAML block,
expected failures as ``not ok ... # TODO``, skipped files as ``# SKIP``.
Our own TAP parser reads it back to the same verdicts.
"""

import re

from mozlog.formatters.base import BaseFormatter

from ..contract import is_unexpected
from .escape import escape_name

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x80-\x9f]")
_YAML_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def escape(text):
    """A description or directive reason: control characters as escapes
    (escape.py: no forged line, nothing reaches the terminal raw), then
    TAP's own ``\\`` and ``\\#``."""
    return escape_name(text).replace("\\", "\\\\").replace("#", "\\#")


def _yaml_scalar(value):
    """A YAML double-quoted scalar: every control character escaped."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % _CONTROL.sub(lambda m: _YAML_NAMED.get(m.group(), "\\x%02x" % ord(m.group())), text)


class TapFormatter(BaseFormatter):
    # An expected subtest changes nothing here: the event path may skip us.
    ignores_expected_subtests = True

    def __init__(self):
        super().__init__()
        self.count = 0
        self.unexpected_subtests = {}
        self.totals = {"passed": 0, "unexpected": 0, "skipped": 0, "expected_fail": 0}

    def suite_start(self, data):
        return "TAP version 13\n"

    def test_start(self, data):
        self.unexpected_subtests[data["test"]] = None
        return None

    def test_status(self, data):
        if is_unexpected(data) and self.unexpected_subtests.get(data["test"]) is None:
            self.unexpected_subtests[data["test"]] = data
        return None

    def test_end(self, data):
        self.count += 1
        test, status = data["test"], data["status"]
        first_sub = self.unexpected_subtests.pop(test, None)
        desc = escape(test)
        if is_unexpected(data) or first_sub is not None:
            self.totals["unexpected"] += 1
            lines = ["not ok %d - %s" % (self.count, desc), "  ---",
                     "  status: %s" % status,
                     "  expected: %s" % data.get("expected", "OK")]
            if data.get("message"):
                lines.append("  message: %s" % _yaml_scalar(data["message"]))
            if first_sub is not None:
                lines.append("  subtest: %s" % _yaml_scalar(first_sub["subtest"]))
                if first_sub.get("message"):
                    lines.append("  subtest_message: %s" % _yaml_scalar(first_sub["message"]))
            lines.append("  ...")
            return "\n".join(lines) + "\n"
        if status == "SKIP":
            self.totals["skipped"] += 1
            return "ok %d - %s # SKIP %s\n" % (self.count, desc, escape(data.get("message") or ""))
        if status not in ("OK", "PASS"):  # an expected failure, crash, timeout
            self.totals["expected_fail"] += 1
            return "not ok %d - %s # TODO expected failure\n" % (self.count, desc)
        self.totals["passed"] += 1
        return "ok %d - %s\n" % (self.count, desc)

    def log(self, data):
        if data.get("level") in ("ERROR", "CRITICAL"):
            lines = (escape_name(line) for line in data["message"].split("\n"))
            return "# %s: %s\n" % (data["level"], "\n# ".join(lines))
        return None

    def suite_end(self, data):
        t = self.totals
        return "1..%d\n# %d passed, %d unexpected, %d skipped, %d expected failures\n" % (
            self.count, t["passed"], t["unexpected"], t["skipped"], t["expected_fail"])
