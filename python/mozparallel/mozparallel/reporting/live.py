"""The ``mach`` reporter on stdout: one line per finished test (failures
with their output) above a live footer on a terminal (counts, the tests
running now, an ETA), and a summary at the end. Not on a terminal: plain
lines and a progress line every 30 s, no control characters at all.

A mozlog handler, one method per action. Its only clock is ``tick()``,
which the pool's loop calls; it never reads the pool's state.
"""

import os
import re
import time
from dataclasses import dataclass

from mozlog.reader import LogHandler

from .escape import escape_name
from .eta import RunEstimate, format_seconds
from ..contract import is_unexpected
from .outputs import OutputKeeper, status_line

LEVELS = {"CRITICAL": 50, "ERROR": 40, "WARNING": 30, "INFO": 20, "DEBUG": 10}
REDRAW_EVERY = 0.2      # the footer's clocks move 5 times a second
LINES_EVERY = 0.05      # finished-test lines wait at most this long, then go in one write
SLOWEST = 5
SHOWN_SECONDS = 0.005   # below this a wall time prints as 0.00s
# Control characters in a test's output would move our cursor; tabs stay.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x9b]")

# ANSI sequences, only ever written to a terminal.
_ERASE_DOWN = "\x1b[J"
_SYNC_BEGIN, _SYNC_END = "\x1b[?2026h", "\x1b[?2026l"   # ignored where unsupported
_COLORS = {"green": "\x1b[32m", "red": "\x1b[1;31m", "yellow": "\x1b[33m", "dim": "\x1b[2m"}
_RESET = "\x1b[0m"


@dataclass
class LiveOptions:
    show_output: str = "failures"   # failures | all | none: printed after a test ends
    verbose: bool = False           # stream each test's lines as they arrive
    progress_every: float = 30.0    # without a terminal: a progress line this often
    level: str = "INFO"             # least level of log messages shown (--log-mach-level)
    terminal: bool | None = None    # None: ask the stream


def is_terminal(stream):
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


class LiveReporter(LogHandler):
    def __init__(self, stream, estimate=None, options=None, clock=time.monotonic):
        options = options or LiveOptions()
        self.stream = stream
        self.terminal = is_terminal(stream) if options.terminal is None else options.terminal
        self.color = self.terminal and "NO_COLOR" not in os.environ
        self.estimate = estimate
        self.options = options
        # events.py skips handlers that say so for plain passing points (a
        # chatty run has a million); -v and --show-output all print them.
        self.ignores_expected_subtests = not options.verbose and options.show_output != "all"
        self.clock = clock
        self.started = clock()
        self.cwd = os.getcwd()
        self.running = {}            # test -> clock() at its start
        self.workers = {}            # a fleet run (--broker): running test -> its worker process (its thread)
        self.outputs = OutputKeeper()
        self.first_sub = {}          # test -> its first unexpected test_status
        self.total = 0
        self.done = 0
        self.ended = set()          # tests counted in done
        self.counts = {"passed": 0, "unexpected": 0, "skipped": 0, "expected_fail": 0}
        self.unexpected = []         # (test, test_end data, first unexpected subtest)
        self.walls = {}              # test -> its longest wall time (over the rounds of a repeat mode)
        self.round_label = None      # the round of a repeat mode running now ("run 2", "alone 1")
        self._pending = []
        self._footer_rows = 0
        self._last_draw = None
        self._last_progress = self.started
        self._closed = False

    # -- mozlog actions ----------------------------------------------------
    def suite_start(self, data):
        tests = data.get("tests") or {}
        self.total = sum(len(v) for v in tests.values()) if isinstance(tests, dict) else len(tests)
        self.started = self._last_progress = self.clock()

    def test_start(self, data):
        self.running[data["test"]] = self.clock()
        thread = data.get("thread") or ""
        if "/" in thread:           # a fleet's worker slot, "name/pid" (locally "slot-N")
            self.workers[data["test"]] = _CONTROL.sub("?", thread)
        if self.estimate is not None:
            self.estimate.started(data["test"])

    def process_output(self, data):
        test = data.get("test")
        line = _CONTROL.sub("?", data.get("data", ""))
        if self.options.verbose:
            self._line("%s | %s" % (self._name(test), line) if test else line)
        if test and self.options.show_output != "none":
            self.outputs.add(test, line)

    def test_status(self, data):
        test = data["test"]
        line = _CONTROL.sub("?", status_line(data))
        if is_unexpected(data):
            self.first_sub.setdefault(test, data)
        if self.options.verbose:
            self._line("%s | %s" % (self._name(test), line))
        if self.options.show_output != "none":
            self.outputs.add(test, line)

    def test_end(self, data):
        test, status = data["test"], data["status"]
        start = self.running.pop(test, None)
        self.workers.pop(test, None)
        extra = data.get("extra") or {}
        wall = extra.get("wall")
        if wall is None and start is not None and status != "SKIP":
            wall = self.clock() - start
        # A re-run attempt (--retries; flaky/relog.py marks them) of a
        # test counted once already: counted in its verdict, not in done.
        again = test in self.ended and ("rerun" in extra or "intermittent" in extra)
        # The attempt of a test ended for memory (execution/pool.py): it
        # runs again alone, and that attempt is the one counted.
        memory_first = "note" in (extra.get("memory_retry") or {})
        if self.estimate is not None and not again and not memory_first:
            self.estimate.ended(test, wall if start is not None and status != "SKIP" else None)
        if not again and not memory_first:
            self.done += 1
            self.ended.add(test)
        first_sub = self.first_sub.pop(test, None)
        output = self.outputs.pop(test)
        if memory_first:
            label, color, show = "RETRY", "yellow", False
            first_sub = None
        elif "note" in (extra.get("rerun") or {}):
            # A failure the re-runs will judge: neither passed nor unexpected yet.
            label, color, show = "RERUN", "yellow", False
        elif is_unexpected(data) or first_sub is not None:
            self.counts["unexpected"] += 1
            self.unexpected.append((test, data, first_sub))
            label, color, show = _unexpected_label(data, first_sub), "red", True
        elif status == "SKIP":
            self.counts["skipped"] += 1
            label, color, show = "SKIP", "yellow", False
        elif status in ("FAIL", "ERROR", "CRASH", "TIMEOUT"):
            self.counts["expected_fail"] += 1
            label, color, show = "XFAIL", "yellow", False
        else:
            self.counts["passed"] += 1
            label, color, show = "PASS", "green", False
        if wall is not None and status != "SKIP" and wall > self.walls.get(test, -1.0):
            self.walls[test] = wall
        text = "%s %s %s" % (self._progress_tag(), self._paint(label.ljust(5), color), self._name(test))
        if wall is not None and status != "SKIP":
            text += " (%s)" % _seconds(wall)
        if extra.get("worker"):         # a fleet run (--broker): the worker process that ran it
            text += " on " + _CONTROL.sub("?", str(extra["worker"]))
        if show:
            if first_sub is None:
                text += " " + _expectation(data)
            message = first_failing_message(data, first_sub)
        else:
            message = data.get("message")
            message = message.splitlines()[0] if message else None
        retried = extra.get("memory_retry")
        if retried and not memory_first:
            text += " [memory retry, alone]"
        if message:
            text += ": " + _CONTROL.sub("?", message)
        self._line(text)
        mode = self.options.show_output
        if output and (mode == "all" or (mode == "failures" and show)):
            for line in output:
                self._line("    " + line)

    def log(self, data):
        level = data.get("level", "INFO")
        if LEVELS.get(level, 20) < LEVELS.get(self.options.level, 20):
            return
        text = _CONTROL.sub("?", data.get("message", ""))
        if level != "INFO":
            text = self._paint(level, "red" if LEVELS.get(level, 20) >= 40 else "yellow") + " " + text
        for line in text.split("\n"):
            self._line(line)

    def suite_end(self, data):
        self.close()

    def new_round(self, label, test_ids, jobs):
        """A round of a repeat mode starts (--repeat, --verify,
        --run-until-failure, a re-run of failures): the counter, the counts
        and the ETA are this round's; the tag names the round."""
        self.round_label = label
        self.total = len(test_ids)
        self.done = 0
        self.ended = set()
        self.counts = dict.fromkeys(self.counts, 0)
        self.started = self._last_progress = self.clock()
        if self.estimate is not None:
            self.estimate = RunEstimate(jobs, self.estimate.expected, test_ids)

    # -- the clock ---------------------------------------------------------
    def tick(self):
        """Called by the pool's loop (several times a second): write what
        has arrived, redraw the footer or print a progress line."""
        if self._closed:
            return
        now = self.clock()
        if self.terminal:
            since = None if self._last_draw is None else now - self._last_draw
            if since is None or since >= REDRAW_EVERY or (self._pending and since >= LINES_EVERY):
                self._draw(now)
            return
        if now - self._last_progress >= self.options.progress_every and self.running:
            self._last_progress = now
            self._line("progress: " + self._status_text(now, with_running=True))
        self._write_pending()

    def end_of_run(self):
        """The summary: unexpected results by test with their first failing
        message, the slowest tests. (The totals line follows from run.py.)"""
        if self.unexpected:
            # Each test once, with how many of its runs were unexpected (the
            # rounds of a repeat mode), its first failure shown.
            times = {}
            for test, _, _ in self.unexpected:
                times[test] = times.get(test, 0) + 1
            firsts = [(t, d, f) for i, (t, d, f) in enumerate(self.unexpected)
                      if t not in {x[0] for x in self.unexpected[:i]}]
            self._line("")
            self._line(self._paint("Unexpected results: %d" % len(firsts), "red"))
            for test, data, first_sub in firsts:
                message = first_failing_message(data, first_sub)
                if times[test] > 1:
                    message = "%s (unexpected in %d runs)" % (message or "", times[test])
                if first_sub is not None and not is_unexpected(data):
                    line = "  %s  %s" % (self._name(test), message)     # FAIL subtest - message
                else:
                    line = "  %s  %s" % (self._name(test), _expectation(data))
                    if message:
                        line += ": " + message
                self._line(_CONTROL.sub("?", line))
        # Each test once (its slowest run); a test that took no measurable
        # time is not among the slowest.
        ran = sorted(((w, t) for t, w in self.walls.items() if w >= SHOWN_SECONDS), reverse=True)[:SLOWEST]
        if len(ran) > 1:
            self._line("")
            self._line("Slowest tests:")
            for seconds, test in ran:
                self._line("  %8s  %s" % (_seconds(seconds), self._name(test)))

    def close(self):
        if self._closed:
            return
        if self.terminal:
            self._draw(self.clock(), final=True)
        else:
            self._write_pending()
        self._closed = True

    # -- text --------------------------------------------------------------
    def _line(self, text):
        self._pending.append(text + "\n")

    def _name(self, test):
        """A test's name as printed: relative to the current directory when
        under it, control characters escaped (escape.py)."""
        if test and os.path.isabs(test):
            rel = os.path.relpath(test, self.cwd)
            if not rel.startswith(".."):
                return escape_name(rel)
        return escape_name(test or "")

    def _paint(self, text, color):
        if not self.color:
            return text
        return _COLORS[color] + text + _RESET

    def _progress_tag(self):
        width = len(str(self.total)) if self.total else 1
        if self.round_label:
            return "[%s: %*d/%d]" % (self.round_label, width, self.done, self.total)
        return "[%*d/%d]" % (width, self.done, self.total)

    def eta(self, now=None):
        """Expected seconds left (None while nothing is known)."""
        if self.estimate is None:
            return None
        now = self.clock() if now is None else now
        return self.estimate.remaining({t: now - s for t, s in self.running.items()})

    def _status_text(self, now, with_running=False):
        c = self.counts
        text = "%s%d/%d done: %d passed, %d unexpected, %d skipped | %d running | %s elapsed | ETA %s" % (
            self.round_label + ": " if self.round_label else "", self.done, self.total, c["passed"], c["unexpected"], c["skipped"],
            len(self.running), format_seconds(now - self.started), format_seconds(self.eta(now)))
        if with_running and self.running:
            oldest = sorted(self.running.items(), key=lambda kv: kv[1])[:8]
            text += " | " + ", ".join("%s (%s)" % (self._name(t), format_seconds(now - s)) for t, s in oldest)
            if len(self.running) > len(oldest):
                text += ", +%d more" % (len(self.running) - len(oldest))
        return text

    def _footer(self, now):
        columns, rows = _terminal_size(self.stream)
        lines = [self._status_text(now)]
        shown = sorted(self.running.items(), key=lambda kv: kv[1])
        room = max(1, rows // 2 - 2)
        more = 0
        if len(shown) > room:
            shown, more = shown[:room - 1], len(shown) - (room - 1)
        for test, start in shown:
            where = self.workers.get(test)
            lines.append("  %8s  %s%s" % (_seconds(now - start), self._name(test), "  on " + where if where else ""))
        if more:
            lines.append("  ... and %d more" % more)
        # A line as wide as the terminal would wrap and break the erase count.
        return [line[:max(1, columns - 1)] for line in lines]

    # -- writing -----------------------------------------------------------
    def _draw(self, now, final=False):
        parts = [_SYNC_BEGIN]
        if self._footer_rows:
            parts.append("\r")
            if self._footer_rows > 1:
                parts.append("\x1b[%dA" % (self._footer_rows - 1))
            parts.append(_ERASE_DOWN)
        parts.extend(self._pending)
        self._pending.clear()
        if final:
            self._footer_rows = 0
        else:
            footer = self._footer(now)
            parts.append(footer[0])
            parts.extend("\n" + line for line in footer[1:])
            self._footer_rows = len(footer)
        parts.append(_SYNC_END)
        self._last_draw = now
        self._write("".join(parts))

    def _write_pending(self):
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self._write(text)

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self._closed = True     # stdout went away: stop drawing, keep running


def first_failing_message(data, first_sub):
    """The test's first failing message: its first unexpected subtest's,
    else the test_end message."""
    if first_sub is not None:
        text = "%s %s" % (first_sub["status"], first_sub.get("subtest", ""))
        if first_sub.get("message"):
            text += " - " + first_sub["message"]
        return text.splitlines()[0] if text else text
    message = data.get("message")
    return message.splitlines()[0] if message else None


def _unexpected_label(data, first_sub):
    status = data["status"]
    if status in ("OK", "PASS"):
        return "FAIL" if first_sub is not None else "XPASS"
    return status


def _expectation(data):
    expected = data.get("expected")
    if expected is None:
        return data["status"]
    return "%s (expected %s)" % (data["status"], expected)


def _seconds(seconds):
    return "%.2fs" % seconds if seconds < 10 else "%.1fs" % seconds


def _terminal_size(stream):
    try:
        size = os.get_terminal_size(stream.fileno())
        return size.columns or 80, size.lines or 24
    except (AttributeError, OSError, ValueError):
        return 80, 24
