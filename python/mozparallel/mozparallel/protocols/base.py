"""What every protocol parser shares: the exit facts the pool hands over, the
event shapes, and the rule that turns a verdict into a ``test_end``.

Events are plain dicts shaped like mozlog actions (``action`` plus the
action's fields); the pool adds nothing but delivery.
"""

from dataclasses import dataclass


@dataclass
class ExitInfo:
    """How a test process ended, as far as the parser needs to know."""

    returncode: int | None = 0      # exit status; None if it never ran or was not reaped
    signal: int | None = None       # the signal that killed it, unless we killed it
    spawn_error: str | None = None  # it could not be started (OS error text)
    timeout: str | None = None      # we killed it for a timeout: why
    stopped: str | None = None      # we ended it for another reason (interrupt, fail-fast)

    def early_verdict(self):
        """Verdicts that do not depend on what the test printed."""
        if self.spawn_error is not None:
            return "ERROR", "cannot start: " + self.spawn_error
        if self.timeout is not None:
            return "TIMEOUT", self.timeout
        if self.stopped is not None:
            return "ERROR", self.stopped
        return None


def end_event(test, status, message, extra, expected_fail=False):
    """The closing ``test_end``; ``expected`` follows mozlog's conventions
    (it is dropped by mozlog when it equals the status, or for SKIP)."""
    ev = {"action": "test_end", "test": test, "status": status, "extra": extra}
    if expected_fail:
        if status == "ERROR":
            ev["status"] = "FAIL"
        ev["expected"] = "FAIL"
    elif status != "OK":
        ev["expected"] = "OK"
    if message:
        ev["message"] = message
    return ev


# Manifest ``expected =`` outcomes that are a file status rather than fail.
OUTCOME_STATUS = {"crash": "CRASH", "timeout": "TIMEOUT", "bailout": "ERROR"}


def apply_expected_outcome(end, outcome):
    """Make a ``test_end`` as expected when the file was expected to crash,
    time out or bail out (manifest ``expected = crash|timeout|bailout``)
    and did; unexpected (``expected`` = that status) when it did not."""
    want = OUTCOME_STATUS[outcome]
    status = end["status"]
    matched = status == want and (
        outcome != "bailout" or (end.get("message") or "").startswith("Bail out!"))
    if matched:
        end["expected"] = status     # mozlog drops it: as expected
    elif status != "SKIP":
        end["expected"] = want


class Parser:
    """Base of the line parsers: feed(line) -> events or None; finish(exit).
    ``bailout``: the reason of a "Bail out!" seen, else None (--bail reads it)."""

    name = "base"
    bailout = None

    def __init__(self, test, log_subtests=False, expected_fail=False):
        self.test = test
        self.log_subtests = log_subtests
        self.expected_fail = expected_fail

    def output(self, line):
        return {"action": "process_output", "process": "", "data": line, "test": self.test}

    def _status(self, subtest, status, message=None, expected=None):
        ev = {"action": "test_status", "test": self.test, "subtest": subtest, "status": status}
        if expected is not None:
            # Always passed on: mozlog's default for a subtest is PASS, and it
            # drops ``expected`` itself when it equals the status.
            ev["expected"] = expected
        if message:
            ev["message"] = message
        return ev

    @classmethod
    def parse(cls, test, lines, exit=None, **kwargs):
        """Parse a whole document: every event, ``test_end`` last."""
        parser = cls(test, **kwargs)
        for line in lines:
            events = parser.feed(line)
            if events:
                yield from events
        yield from parser.finish(exit or ExitInfo(returncode=0))

    def feed(self, line):
        raise NotImplementedError

    def feed_lines(self, lines):
        """Feed a batch of lines; the events of all of them (a list, maybe
        empty). Parsers override it when a tighter loop pays."""
        out = []
        feed = self.feed
        for line in lines:
            evs = feed(line)
            if evs:
                out.extend(evs)
        return out

    def flush(self):
        return []

    def finish(self, exit):
        raise NotImplementedError
