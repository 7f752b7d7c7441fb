"""Where a TBPL line is parsed: ``TEST-PASS | id | message`` style lines in,
mozlog action dicts out.

A result line becomes a ``test_status`` of the file (the subtest named after
the line's id and message), ``PROCESS-CRASH`` a ``crash``; the file is
unexpected when any result is. Raw ``TEST-UNEXPECTED-*`` text is never passed
on as output: Treeherder and mozharness would count it a second time.
"""

import re

from .base import Parser, end_event
from .tap import signal_name

# Prefixes harnesses put before the token: mochitest's "12 INFO ",
# mozharness's "12:34:56     INFO -  ", Taskcluster's "[task 2024-...Z] ".
_PREFIX = re.compile(
    r"^(?:\[task [^\]]*\]\s*)?(?:\d\d:\d\d:\d\d\s+[A-Z]+\s+-\s+)?(?:\d+ (?:INFO|ERROR|WARNING) )?")
# Results whose expected status is FAIL (legacy "known" failures).
_EXPECTED_FAIL = {"TEST-KNOWN-FAIL", "TEST-FAIL", "TEST-EXPECTED-FAIL", "TEST-TODO"}
_PASS = {"TEST-PASS", "TEST-OK"}
_MARKERS = {"TEST-START", "TEST-END", "TEST-INFO", "SUITE-START", "SUITE-END"}
_SUBSTATUS = {"PASS", "FAIL", "ERROR", "TIMEOUT", "ASSERT", "PRECONDITION_FAILED", "NOTRUN", "SKIP"}
# The subtest expected when a status is unexpected; PASS for the rest.
_UNEXPECTED_EXPECTED = {"PASS": "FAIL"}
MAX_NAME = 500
_EXPECTED_SUFFIX = re.compile(r"(?:^| - )expected [A-Z_]+$")


def strip_prefix(line):
    """The line without a harness/mozharness/Taskcluster prefix."""
    if line[:1] in "[0123456789":
        return line[_PREFIX.match(line).end():]
    return line


def split_line(line):
    """``(token, subject, message)`` of a TBPL line (fields split on ``" | "``,
    at most twice); the token may end at a space (``TEST-INFO took 3ms``)."""
    parts = line.split(" | ", 2)
    token = parts[0].strip()
    if " " in token:
        token, rest = token.split(" ", 1)
        parts[1:1] = [rest] if len(parts) == 1 else []
    subject = parts[1].strip() if len(parts) > 1 else ""
    message = parts[2].strip() if len(parts) > 2 else ""
    return token, subject, message


def is_tbpl_line(line):
    """True for a line that only TBPL output has (for protocol detection)."""
    line = strip_prefix(line)
    if line.startswith("TEST-"):
        token = line.split(" ", 1)[0].split("|", 1)[0]
        return token in _PASS or token in _EXPECTED_FAIL or token in _MARKERS \
            or token.startswith(("TEST-UNEXPECTED-", "TEST-KNOWN-INTERMITTENT-")) \
            or token == "TEST-SKIP"
    return line.startswith("PROCESS-CRASH |")


class TbplParser(Parser):
    """The TBPL output of one test file, fed line by line."""

    name = "tbpl"

    def __init__(self, test, log_subtests=False, expected_fail=False):
        super().__init__(test, log_subtests=log_subtests, expected_fail=expected_fail)
        self.results = 0
        self.passed = 0
        self.unexpected = 0
        self.expected_failures = 0
        self.skipped = 0
        self.crashes = []           # PROCESS-CRASH reasons
        self.first_unexpected = None
        self.inner_running = None   # id after the last unmatched TEST-START
        self.started = 0

    def feed(self, line):
        if line and line[-1] == "\r":
            line = line[:-1]
        if "TEST-" not in line and "PROCESS-CRASH" not in line:
            return [self.output(line)]
        body = strip_prefix(line)
        if body.startswith("PROCESS-CRASH"):
            return self._crash(body)
        if not body.startswith("TEST-"):
            at = body.find("TEST-UNEXPECTED-")
            if at < 0 or "I/TestRunner" in body:
                return [self.output(line)]
            # Treeherder counts the token anywhere on the line.
            body = body[at:]
        token, subject, message = split_line(body)
        if token in _MARKERS:
            return self._marker(token, subject, line)
        return self._result(token, subject, message, line)

    def _marker(self, token, subject, line):
        if token == "TEST-START":
            self.started += 1
            self.inner_running = subject
        elif token == "TEST-END":
            self.inner_running = None
        return [self.output(line)]

    def _result(self, token, subject, message, line):
        note = None
        if token in _PASS:
            status, expected = "PASS", None
        elif token in _EXPECTED_FAIL:
            status, expected = "FAIL", "FAIL"
        elif token == "TEST-SKIP":
            status, expected = "SKIP", None
        elif token.startswith("TEST-KNOWN-INTERMITTENT-"):
            status = _substatus(token[len("TEST-KNOWN-INTERMITTENT-"):])
            expected = None     # listed as a known intermittent: expected
            note = "known intermittent"
        elif token.startswith("TEST-UNEXPECTED-"):
            word = token[len("TEST-UNEXPECTED-"):]
            if word == "WARNING":
                # Treeherder leaves TEST-UNEXPECTED-WARNING out of failure lines.
                return [{"action": "log", "level": "WARNING", "test": self.test,
                         "message": "%s: warning: %s" % (self.test, " | ".join(
                             p for p in (subject, message) if p))}]
            status = _substatus(word)
            if status != word:
                note = token
            expected = _UNEXPECTED_EXPECTED.get(status, "PASS")
            if word == "CRASH":
                self.crashes.append(message or "crashed")
        else:
            # TEST-something we do not know: keep it as output.
            return [self.output(line)]
        # The test that ended: a result for the inner test itself closes it.
        if subject and subject == self.inner_running and message.startswith("took "):
            self.inner_running = None
        ev = self._record(subject, message, status, expected, note)
        return [ev] if ev is not None else None

    def _record(self, subject, message, status, expected, note=None):
        self.results += 1
        name = _subtest_name(subject, message, self.test)
        if expected is not None and expected != status and status != "SKIP":
            # Counted for the file's verdict even when the file is expected
            # to fail (then the result itself is logged as expected).
            self.unexpected += 1
            if self.first_unexpected is None:
                self.first_unexpected = "%s %s" % (status, name)
            if self.expected_fail:
                expected = status
        elif status == "SKIP":
            self.skipped += 1
        elif status == "PASS":
            self.passed += 1
            if not self.log_subtests:
                return None
        else:
            self.expected_failures += 1
        return self._status(name, status, message=note,
                            expected=expected if expected is not None else status)

    def _crash(self, body):
        _, reason, subject = split_line(body)
        self.crashes.append(reason or "crashed")
        signature = None
        m = re.search(r"\[(@[^\]]*)\]", reason or "")
        if m:
            signature = m.group(1)
        ev = {"action": "crash", "test": self.test,
              "signature": signature or "[Unknown]"}
        if reason:
            ev["reason"] = reason
        return [ev]

    def counts(self):
        return {"results": self.results, "passed": self.passed, "unexpected": self.unexpected,
                "expected_fail": self.expected_failures, "skipped": self.skipped,
                "crashes": len(self.crashes)}

    def verdict(self, exit):
        early = exit.early_verdict()
        if early is not None:
            return early
        if exit.signal:
            return "CRASH", "killed by %s after %d results" % (signal_name(exit.signal), self.results)
        if self.crashes:
            where = " while running %s" % self.inner_running if self.inner_running else ""
            return "CRASH", "PROCESS-CRASH%s: %s" % (where, self.crashes[0])
        if self.unexpected and not self.expected_fail:
            # Each unexpected result is already its own unexpected
            # test_status: the file itself is OK (one failure, one line).
            text = "%d unexpected results; first: %s" % (self.unexpected, self.first_unexpected)
            if exit.returncode:
                text += "; exit status %d" % exit.returncode
            return "OK", text
        found = []
        if self.unexpected:
            found.append("%d unexpected results; first: %s" % (self.unexpected, self.first_unexpected))
        if exit.returncode:
            found.append("Non-zero exit status: %d" % exit.returncode)
        if self.results == 0 and self.started == 0:
            found.append("no TBPL results in output")
        if found:
            return "ERROR", "; ".join(found)
        return "OK", None

    def finish(self, exit):
        extra = {"protocol": "tbpl", "counts": self.counts()}
        if exit.returncode is not None:
            extra["exitcode"] = exit.returncode
        status, message = self.verdict(exit)
        return [end_event(self.test, status, message, extra, self.expected_fail)]


def _substatus(word):
    """A TBPL status word as a mozlog subtest status (CRASH and the rest
    that mozlog has no subtest status for become ERROR / FAIL)."""
    if word in _SUBSTATUS:
        return word
    if word in ("CRASH", "OK"):
        return "ERROR" if word == "CRASH" else "PASS"
    return "FAIL"


def _subtest_name(subject, message, test):
    """The subtest a result line is about: its message (with ``took Nms``
    timings dropped), after the subject when that names another test."""
    if message.startswith("took ") or message.startswith("finished in "):
        message = ""
    # mozlog's TBPL formatter adds " - expected PASS" to an unexpected result.
    m = _EXPECTED_SUFFIX.search(message)
    if m:
        message = message[:m.start()]
    if subject and (not message or not _same_test(subject, test)):
        name = "%s | %s" % (subject, message) if message else subject
    else:
        name = message or subject or "(unnamed)"
    return name[:MAX_NAME]


def _same_test(subject, test):
    return subject == test or subject.endswith("/" + test) or test.endswith("/" + subject) \
        or subject.rsplit("/", 1)[-1] == test.rsplit("/", 1)[-1]


def parse_tbpl(test, lines, exit=None, **kwargs):
    """Parse a whole document: every event, ``test_end`` last."""
    return TbplParser.parse(test, lines, exit, **kwargs)


__all__ = ["TbplParser", "parse_tbpl", "is_tbpl_line", "split_line", "strip_prefix"]
