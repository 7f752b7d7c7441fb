"""Where a test's own mozlog raw JSON lines are read: its events are passed
through (not re-parsed), with the test id remapped to the file.

The file's ``test_start`` and ``test_end`` belong to the runner, so the
producer's own suite and test boundaries become results of the file: an
inner test's end is a ``test_status`` named after it, unless the producer
ran exactly one test, whose status then is the file's.
"""

import json

from mozlog.logtypes import convertor_registry

from .base import Parser, end_event
from .tap import signal_name

# Fields the outer logger stamps itself.
_STAMPS = ("time", "thread", "pid", "source", "component")
# Producer actions that describe its own run, not results: dropped.
_DROPPED = {"suite_start", "suite_end", "add_subsuite", "group_start", "group_end",
            "shutdown"}
_SUBSTATUS = {"PASS", "FAIL", "ERROR", "TIMEOUT", "ASSERT", "PRECONDITION_FAILED", "NOTRUN", "SKIP"}
# A test_end status as a subtest status (OK is a pass; CRASH has none).
_END_AS_SUB = {"OK": "PASS", "CRASH": "ERROR"}


def parse_json_event(line):
    """The event dict of a mozlog raw line, or None when it is not one."""
    if not line.startswith("{"):
        return None
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    if not isinstance(ev, dict) or not isinstance(ev.get("action"), str):
        return None
    return ev


class MozlogParser(Parser):
    """The mozlog raw output of one test file, fed line by line."""

    name = "mozlog"

    def __init__(self, test, log_subtests=False, expected_fail=False):
        super().__init__(test, log_subtests=log_subtests, expected_fail=expected_fail)
        self.events = 0
        self.inner_tests = 0
        self.inner_running = None       # the producer's running test id
        self._held_end = None           # its first test_end, until we know it was the only one
        self.unexpected = 0
        self.first_unexpected = None
        self.crashes = []
        self.errors = 0                 # ERROR/CRITICAL logs
        self._single = None             # the only test the producer logged

    def feed(self, line):
        if line and line[-1] == "\r":
            line = line[:-1]
        ev = parse_json_event(line)
        if ev is None:
            return [self.output(line)]
        self.events += 1
        action = ev.pop("action")
        for key in _STAMPS:
            ev.pop(key, None)
        if action in _DROPPED:
            return None
        handler = getattr(self, "_on_" + action, None)
        if handler is not None:
            return handler(ev, line)
        return self._pass_through(action, ev, line)

    # -- the producer's test boundaries ------------------------------------
    def _on_test_start(self, ev, line):
        self.inner_tests += 1
        self.inner_running = str(ev.get("test"))
        out = []
        if self._held_end is not None:
            out.append(self._end_as_status(self._held_end))
            self._held_end = None
        return out or None

    def _on_test_end(self, ev, line):
        self.inner_running = None
        if self.inner_tests <= 1 and self._held_end is None:
            self._held_end = ev
            return None
        return [self._end_as_status(ev)]

    def _end_as_status(self, ev):
        status = str(ev.get("status", "OK")).upper()
        expected = str(ev.get("expected", status)).upper()
        sub = _END_AS_SUB.get(status, status)
        exp = _END_AS_SUB.get(expected, expected)
        if sub not in _SUBSTATUS:
            sub = "FAIL"
        if exp not in _SUBSTATUS:
            exp = "PASS"
        if status == "CRASH":
            self.crashes.append("%s crashed" % ev.get("test"))
        message = ev.get("message")
        if status != "CRASH" and exp != sub and sub != "SKIP" \
                and sub not in (ev.get("known_intermittent") or ()):
            self._count_unexpected("%s %s" % (status, ev.get("test")))
        return self._status(str(ev.get("test")), sub, message=message, expected=exp)

    def _on_test_status(self, ev, line):
        ev = dict(ev, test=self.test, subtest=self._subtest_name(ev))
        ev["action"] = "test_status"
        status = str(ev.get("status", "")).upper()
        # mozlog writes ``expected`` only when it differs from the status.
        expected = str(ev.get("expected", status)).upper()
        ev["expected"] = expected
        if expected != status and status != "SKIP" \
                and status not in (ev.get("known_intermittent") or ()):
            self._count_unexpected("%s %s" % (status, ev["subtest"]))
        elif status == "PASS" and not self.log_subtests:
            return None
        return [self._checked("test_status", ev, line)]

    def _on_crash(self, ev, line):
        self.crashes.append(ev.get("signature") or "crash")
        ev = dict(ev, test=self.test)
        return [self._checked("crash", ev, line)]

    def _on_log(self, ev, line):
        level = str(ev.get("level", "INFO")).upper()
        if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            return [self.output(line)]
        if level in ("ERROR", "CRITICAL"):
            self.errors += 1
        return [{"action": "log", "level": level, "test": self.test, "message": str(ev.get("message", ""))}]

    def _pass_through(self, action, ev, line):
        if action not in convertor_registry:
            return [self.output(line)]
        if "test" in ev:
            ev["test"] = self.test
        if action == "process_output":
            ev.pop("process", None)
            ev["process"] = ""
        return [self._checked(action, ev, line)]

    # -- helpers -----------------------------------------------------------
    def _subtest_name(self, ev):
        sub = str(ev.get("subtest", ""))
        inner = str(ev.get("test", ""))
        if not inner or _same_test(inner, self.test):
            return sub
        return "%s | %s" % (inner, sub)

    def _checked(self, action, ev, line):
        """``ev`` as an event the run's logger accepts, or the raw line as
        output when mozlog's schema refuses it."""
        convertor = convertor_registry[action]
        fields = {k: v for k, v in ev.items() if k in convertor.args and k != "action"}
        try:
            convertor.convert(**fields)
        except (TypeError, ValueError, KeyError):
            return self.output(line)
        fields["action"] = action
        return fields

    def _count_unexpected(self, text):
        self.unexpected += 1
        if self.first_unexpected is None:
            self.first_unexpected = text

    def counts(self):
        return {"events": self.events, "tests": self.inner_tests, "unexpected": self.unexpected,
                "crashes": len(self.crashes)}

    def verdict(self, exit):
        """``(status, message, expected)`` of the file; ``expected`` is None
        unless the producer's single test said what it expected."""
        early = exit.early_verdict()
        if early is not None:
            return early + (None,)
        if exit.signal:
            return "CRASH", "killed by %s" % signal_name(exit.signal), None
        if self.crashes:
            return "CRASH", "crash: %s" % self.crashes[0], None
        found = []
        if self.unexpected:
            found.append("%d unexpected results; first: %s" % (self.unexpected, self.first_unexpected))
        if exit.returncode:
            found.append("Non-zero exit status: %d" % exit.returncode)
        if self.events == 0:
            found.append("no mozlog events in output")
        if found:
            return "ERROR", "; ".join(found), None
        single = self._single
        if single is not None:
            # The producer logged one test: its result is the file's.
            status = str(single.get("status", "OK")).upper()
            expected = str(single.get("expected", status)).upper()
            if status in ("PASS", "OK"):
                status = "OK"
            if expected == "PASS":
                expected = "OK"
            if status in _SUBSTATUS or status in ("OK", "CRASH"):
                if status == expected or status == "SKIP" \
                        or status in (single.get("known_intermittent") or ()):
                    expected = status
                return status, single.get("message"), expected
        return "OK", None, None

    def finish(self, exit):
        out = []
        self._single = None
        if self._held_end is not None:
            if self.inner_tests <= 1:
                self._single = self._held_end
            else:
                out.append(self._end_as_status(self._held_end))
            self._held_end = None
        extra = {"protocol": "mozlog", "counts": self.counts()}
        if exit.returncode is not None:
            extra["exitcode"] = exit.returncode
        status, message, expected = self.verdict(exit)
        if expected is not None and not self.expected_fail:
            end = {"action": "test_end", "test": self.test, "status": status,
                   "expected": expected, "extra": extra}
            if message:
                end["message"] = message
        else:
            end = end_event(self.test, status, message, extra, self.expected_fail)
        out.append(end)
        return out


def _same_test(inner, test):
    return inner == test or test.endswith("/" + inner) or inner.endswith("/" + test) \
        or inner.rsplit("/", 1)[-1] == test.rsplit("/", 1)[-1]


def parse_mozlog(test, lines, exit=None, **kwargs):
    """Parse a whole document: every event, ``test_end`` last."""
    return MozlogParser.parse(test, lines, exit, **kwargs)


__all__ = ["MozlogParser", "parse_mozlog", "parse_json_event"]
