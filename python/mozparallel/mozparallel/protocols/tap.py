"""Where a TAP line is parsed: TAP 12/13/14 lines in, mozlog action dicts out.

``TapParser`` is fed one decoded line at a time (no trailing newline) and
returns ``None`` or a list of events; ``finish(exit)`` returns the file's
closing events, ending with ``test_end``. It knows nothing of processes,
clocks or files: the pool feeds it, and a test can feed it a list.

Verdicts follow prove's (Perl TAP::Harness) rules; see docs/raw-log.rst for
the mapping to mozlog statuses. Passing points are only counted unless
``log_subtests`` is set: a file with 50,000 passing points must not cost
50,000 log events.
"""

import re
import signal

from .base import ExitInfo, Parser, end_event
from .tap_yaml import indent_of as _indent_of
from .tap_yaml import yaml_fields

_PLAN = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
_POINT = re.compile(r"^(not )?ok\b(?:\s*(\d+))?\s*(.*)$")
_DIRECTIVE = re.compile(r"^\s*(SKIP|TODO)\S*\s*(.*)$", re.IGNORECASE | re.DOTALL)
_BAIL = re.compile(r"^Bail out!\s*(.*)$", re.IGNORECASE)
_VERSION = re.compile(r"^TAP version (\d+)\s*$", re.IGNORECASE)
_PRAGMA = re.compile(r"^pragma ([+-])([A-Za-z0-9_-]+)\s*$")
_SUBTEST = re.compile(r"^# Subtest(?::\s*(.*))?$")
# The first word after "ok " of every line (a point number, if numbered).
_OK_NUMBER = re.compile(r"^ok ([^ \n]*)", re.MULTILINE)


def split_directive(text):
    """Split a point's text at the first unescaped ``#``.

    Returns ``(description, directive, reason)`` with TAP 14 escapes
    (``\\#``, ``\\\\``) resolved; directive is ``"SKIP"``, ``"TODO"`` or None.
    """
    if "#" not in text and "\\" not in text:
        return _strip_dash(text), None, ""
    desc, rest, i, n = [], None, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "#\\":
            desc.append(text[i + 1])
            i += 2
            continue
        if c == "#":
            rest = text[i + 1:]
            break
        desc.append(c)
        i += 1
    description = _strip_dash("".join(desc).rstrip())
    if rest is None:
        return description, None, ""
    m = _DIRECTIVE.match(rest)
    if not m:
        return description, None, ""
    reason = m.group(2).strip().replace("\\#", "#").replace("\\\\", "\\")
    return description, m.group(1).upper(), reason


def _strip_dash(text):
    if text.startswith("- "):
        return text[2:]
    if text == "-":
        return ""
    return text


def signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal %d" % signum


class TapParser(Parser):
    """One TAP document (one test file), fed line by line.

    ``expected_fail``: the file is expected to fail (manifest ``fail-if`` /
    ``expected = fail``), so failing points and a failing verdict are as
    expected and a pass is unexpected.
    """

    name = "tap"

    def __init__(self, test, log_subtests=False, expected_fail=False, indent="", prefix=""):
        super().__init__(test, log_subtests=log_subtests, expected_fail=expected_fail)
        self.indent = indent
        self.prefix = prefix        # "parent > " for the points of a TAP 14 subtest
        self.parse_errors = []      # version line problems, as prove words them
        self.version = None
        self.pragmas = {}
        self.plan = None            # planned count, or None
        self.plan_reason = ""
        self.plan_after_points = False
        self.plans_seen = 0
        self._count_at_plan = 0
        self.points_after_plan = False
        self.count = 0              # points seen
        self.passed = 0
        self.failed = 0             # not ok without TODO
        self.skipped = 0
        self.todo = 0
        self.todo_passed = 0
        self.sequence_errors = []
        self.bailout = None
        self.first_failure = None
        self._pending = None        # a failing point waiting for its YAML block
        self._yaml = None           # lines of the YAML block being read
        self._yaml_indent = None
        self._subtest = None        # TapParser of the current TAP 14 subtest
        self._subtest_name = None
        self._subtest_announced = False
        self._subtest_lines = 0     # lines the open subtest was fed
        self._slow_count = 0        # self.count after the last slow-path line
        self._slow_was_point = False
        self._pending_is_first = False  # the held failing point set first_failure

    # -- the hot path ------------------------------------------------------
    def feed(self, line):
        """One line: ``feed_lines`` of one (the one fast path for plain
        passing points lives there)."""
        return self.feed_lines((line,)) or None

    def feed_lines(self, lines):
        """The hot path (a chatty test prints about 1M lines): a plain
        passing point ("ok N - desc", no directive, no escape) is counted
        and logs nothing unless asked; a batch made only of those is
        counted at once (``_count_block``). State lives in locals and is
        written back around the slow path, which takes every other line."""
        if len(lines) > 16 and not self.log_subtests and self._pending is None \
                and self._subtest is None and self._count_block(lines):
            return []
        out = []
        slow = self._feed_slow
        count, passed = self.count, self.passed
        log_subtests = self.log_subtests
        test = self.test
        plain = self._pending is None and self._subtest is None
        for line in lines:
            if plain and line[:3] == "ok " and "#" not in line and "\\" not in line:
                count += 1
                num, _, desc = line[3:].partition(" ")
                if num.isdigit():
                    if int(num) != count:
                        self._out_of_sequence(int(num), count)
                elif log_subtests:
                    desc = line[3:]
                if log_subtests:
                    desc = desc.strip()
                    if desc[:2] == "- ":
                        desc = desc[2:]
                    elif desc == "-":
                        desc = ""
                    out.append({"action": "test_status", "test": test,
                                "subtest": desc or "#%d" % count, "status": "PASS"})
                continue
            self.passed = passed + (count - self.count)
            self.count = count
            if self.plans_seen and count != self._count_at_plan:
                self.points_after_plan = True
            evs = slow(line[:-1] if line and line[-1] == "\r" else line)
            count, passed = self.count, self.passed
            plain = self._pending is None and self._subtest is None
            if evs:
                out.extend(evs)
        self.passed = passed + (count - self.count)
        self.count = count
        if self.plans_seen and count != self._count_at_plan:
            self.points_after_plan = True
        return out

    def _count_block(self, lines):
        """A batch made only of plain passing points (the usual read of a
        chatty test) is counted with C-level string operations instead of a
        loop; returns False, having changed nothing, for any other batch."""
        joined = "\n".join(lines)
        if "#" in joined or "\\" in joined or "\r" in joined:
            return False
        nums = _OK_NUMBER.findall(joined)
        n = len(nums)
        if n != len(lines):
            return False        # some line is not "ok ..."
        first = self.count + 1
        if nums != list(map(str, range(first, first + n))):
            for i, num in enumerate(nums):
                if num.isdigit() and int(num) != first + i:
                    self._out_of_sequence(int(num), first + i)
        self.count += n
        self.passed += n
        if self.plans_seen:
            self.points_after_plan = True
        return True

    # -- everything else ---------------------------------------------------
    def _feed_slow(self, line):
        # A YAML block may only follow a test point. A point counted on the
        # fast path since the last slow line counts too: the fast path keeps
        # no state for this, so it stays a few hundred ns a line.
        after_point = self.count != self._slow_count or self._slow_was_point
        self._slow_was_point = False
        out = self._slow_line(line, after_point)
        self._slow_count = self.count
        return out

    def _slow_line(self, line, after_point):
        out = []
        if self._yaml is not None:
            stripped = line.strip()
            if stripped == "..." and _indent_of(line) == self._yaml_indent:
                return self._close_yaml() or None
            if not stripped or _indent_of(line) >= self._yaml_indent:
                self._yaml.append(line)
                return None
            # Less indented than the block: it was never closed.
            out.extend(self._close_yaml())
        if self._subtest is None and after_point and line.strip() == "---" \
                and _indent_of(line) > len(self.indent):
            self._yaml = []
            self._yaml_indent = _indent_of(line)
            return None
        if self._pending is not None:
            out.append(self._flush_pending())

        if self._subtest is not None:
            routed = self._route_to_subtest(line, out)
            if routed:
                return out or None

        if self.indent:
            if not line.startswith(self.indent):
                return out or None
            line = line[len(self.indent):]

        if not line.strip():
            return out or None
        c = line[0]
        if c in "on":
            m = _POINT.match(line)
            if m:
                out.extend(self._point(m) or ())
                return out or None
        elif c == "1":
            m = _PLAN.match(line)
            if m:
                self._plan(m)
                return out or None
        elif c == "#":
            m = _SUBTEST.match(line)
            if m:
                self._open_subtest(m.group(1), announced=True)
                return out or None
        elif c in "Bb":
            m = _BAIL.match(line)
            if m:
                self.bailout = m.group(1).strip()
                return out or None
        elif c in "Tt":
            m = _VERSION.match(line)
            if m:
                self._version(int(m.group(1)))
                return out or None
        elif c == "p":
            m = _PRAGMA.match(line)
            if m:
                self.pragmas[m.group(2)] = m.group(1) == "+"
                return out or None
        elif c == " " and line.startswith("    "):
            # An indented TAP line opens a subtest that had no "# Subtest"
            # line at our level; Test::More writes that line indented.
            body = line[4:]
            m = _SUBTEST.match(body)
            if m:
                self._open_subtest(m.group(1), announced=True)
                return out or None
            if (body[:1] in "on" and _POINT.match(body)) or (body[:1] == "1" and _PLAN.match(body)):
                self._open_subtest(None, announced=False)
                self._route_to_subtest(self.indent + line, out)
                return out
        out.append(self.output(line))
        return out

    def _version(self, version):
        if self.count or self.plans_seen or self.version is not None:
            self.parse_errors.append("If TAP version is present it must be the first line of output")
        elif version < 13:
            self.parse_errors.append("Explicit TAP version must be at least 13. Got version %d" % version)
        elif version > 14:
            self.parse_errors.append("TAP specified version %d but we don't know about versions "
                                     "later than 14" % version)
        else:
            self.version = version

    def _route_to_subtest(self, line, out):
        """Feed ``line`` to the open subtest if it belongs there; else close
        the subtest (a parent-level point is its correlated result, which is
        then parsed too). True when ``line`` needs nothing more."""
        inner = self.indent + "    "
        if line.startswith(inner) or not line.strip():
            self._subtest_lines += 1
            sub = self._subtest
            evs = sub.feed(line[len(inner):] if line.startswith(inner) else "")
            if sub.bailout is not None:
                self.bailout = sub.bailout
            if evs:
                for ev in evs:
                    out.append(self.output(line) if ev["action"] == "process_output" else ev)
            return True
        body = line[len(self.indent):] if line.startswith(self.indent) else ""
        if body[:1] == "#" and not _SUBTEST.match(body):
            # A comment between the subtest and its result.
            out.append(self.output(line))
            return True
        m = _POINT.match(body) if body[:1] in "on" else None
        name, announced = self._subtest_name, self._subtest_announced
        failed = self._close_subtest(out)
        if m is not None:
            out.extend(self._point(m, subtest_failed=failed) or ())
            return True
        if failed and announced:
            self.failed += 1
            self._record_failure("subtest %r has no result line" % (name or ""))
        return False

    def _point(self, m, subtest_failed=False):
        self._slow_was_point = True
        ok = m.group(1) is None
        num = m.group(2)
        self.count += 1
        if num is not None and int(num) != self.count:
            self._out_of_sequence(int(num))
        if self.plans_seen:
            self.points_after_plan = True
        desc, directive, reason = split_directive(m.group(3))
        name = desc or "#%d" % self.count
        if subtest_failed and ok:
            # TAP 14: the subtest's own points decide; a failing subtest
            # fails its parent whatever the correlated point says.
            ok = False
            reason = reason or "subtest failed"
        if directive == "SKIP":
            self.skipped += 1
            if not ok:
                # Perl counts ``not ok # SKIP`` as a failure; TAP 14 forbids it.
                self.failed += 1
                self._record_failure("not ok %d - %s # SKIP" % (self.count, name))
                return [self._status(name, "FAIL", message=reason, expected="PASS")]
            return [self._status(name, "SKIP", message=reason)]
        if directive == "TODO":
            self.todo += 1
            if ok:
                self.todo_passed += 1
                self.passed += 1
                return [self._status(name, "PASS", message="TODO passed: " + reason
                                     if reason else "TODO passed")]
            self._pending = self._status(name, "FAIL", message=reason, expected="FAIL")
            return None
        if ok:
            self.passed += 1
            if self.log_subtests:
                return [self._status(name, "PASS")]
            return None
        self.failed += 1
        self._pending_is_first = self.first_failure is None
        self._record_failure("not ok %d - %s" % (self.count, name) if desc
                             else "not ok %d" % self.count)
        self._pending = self._status(name, "FAIL", expected="FAIL" if self.expected_fail else "PASS")
        return None

    def _plan(self, m):
        self.plans_seen += 1
        if self.plans_seen > 1:
            return
        self._count_at_plan = self.count
        self.plan = int(m.group(1))
        reason = (m.group(2) or "").strip()
        d = _DIRECTIVE.match(reason)
        self.plan_reason = d.group(2).strip() if d and d.group(1).upper() == "SKIP" else reason
        if self.count:
            self.plan_after_points = True

    def _out_of_sequence(self, found, expected=None):
        if len(self.sequence_errors) < 5:
            self.sequence_errors.append((found, self.count if expected is None else expected))

    def _record_failure(self, text):
        if self.first_failure is None:
            self.first_failure = text

    def _flush_pending(self):
        ev, self._pending = self._pending, None
        return ev

    def _close_yaml(self):
        """The YAML block ends: its ``message`` (or node's ``error``) and
        ``stack`` go to the failing point's event, the block to ``extra``.
        A passing point's block is dropped."""
        block, self._yaml = self._yaml, None
        if self._pending is None:
            return []
        ev = self._flush_pending()
        fields = yaml_fields(block, self._yaml_indent)
        message = fields.get("message") or fields.get("error") or ev.get("message") or ""
        if isinstance(message, str) and message:
            ev["message"] = message
        stack = fields.get("stack") or fields.get("at")
        if isinstance(stack, str) and stack:
            ev["stack"] = stack
        ev["extra"] = {"yaml": "\n".join(line[self._yaml_indent:] for line in block),
                       "diagnostic": fields}
        if message and self._pending_is_first and ev.get("expected") == "PASS":
            self.first_failure = "%s: %s" % (self.first_failure, str(message).split("\n", 1)[0])
        return [ev]

    def _status(self, subtest, status, message=None, expected=None):
        if self.prefix:
            subtest = self.prefix + subtest
        return Parser._status(self, subtest, status, message, expected)

    def _open_subtest(self, name, announced):
        label = name if name else "#%d" % (self.count + 1)
        self._subtest = TapParser(self.test, log_subtests=self.log_subtests,
                                  expected_fail=self.expected_fail,
                                  prefix="%s%s > " % (self.prefix, label))
        self._subtest_name = name
        self._subtest_announced = announced
        self._subtest_lines = 0

    def _close_subtest(self, out):
        """Close the open subtest, its held events into ``out``. Returns
        True when it failed (an empty one, a leaf test announced by node's
        ``# Subtest`` line, does not)."""
        sub, self._subtest = self._subtest, None
        out.extend(sub._end_document())
        if sub.bailout is not None:
            self.bailout = sub.bailout
        if self._subtest_lines == 0:
            return False
        found = sub.problems()
        if found:
            self._record_failure("subtest %s: %s" % (self._subtest_name or "", found[0]))
        return bool(found) or sub.bailout is not None

    def _end_document(self):
        """Events held back, and the open subtest closed, at the end of
        this document."""
        out = self.flush()
        if self._subtest is not None:
            name, announced = self._subtest_name, self._subtest_announced
            if self._close_subtest(out) and announced:
                self.failed += 1
                self._record_failure("subtest %r did not finish" % (name or ""))
        return out

    def flush(self):
        """Events held back waiting for more input (a pending point)."""
        out = []
        if self._yaml is not None:
            out.extend(self._close_yaml())
        if self._pending is not None:
            out.append(self._flush_pending())
        return out

    # -- the verdict -------------------------------------------------------
    def problems_of_points(self):
        """The part of ``problems()`` that failing points make."""
        return [self.first_failure or "%d failed test points" % self.failed] if self.failed else []

    def problems(self):
        """Why this document fails by prove's rules, ignoring the exit status."""
        found = self.problems_of_points()
        if self.plans_seen == 0:
            found.append("No plan found in TAP output")
        elif self.plans_seen > 1:
            found.append("More than one plan found in TAP output")
        else:
            if self.plan_after_points and self.points_after_plan:
                found.append("Plan (1..%d) must be at the beginning or end of the TAP output"
                             % self.plan)
            if self.plan != self.count:
                found.append("Bad plan. You planned %d tests but ran %d." % (self.plan, self.count))
        for got, expected in self.sequence_errors:
            found.append("Tests out of sequence. Found (%d) but expected (%d)" % (got, expected))
        found.extend(self.parse_errors)
        return found

    def counts(self):
        return {
            "planned": self.plan,
            "points": self.count,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "todo": self.todo,
            "todo_passed": self.todo_passed,
        }

    def finish(self, exit):
        out = self._end_document()
        extra = {"protocol": "tap", "counts": self.counts()}
        if exit.returncode is not None:
            extra["exitcode"] = exit.returncode
        status, message = self.verdict(exit)
        out.append(end_event(self.test, status, message, extra, self.expected_fail))
        return out

    def verdict(self, exit):
        """``(status, message)`` for the file, before ``expected`` is applied."""
        early = exit.early_verdict()
        if early is not None:
            return early
        if self.bailout is not None:
            return "ERROR", ("Bail out! " + self.bailout).rstrip()
        if exit.signal:
            return "CRASH", "killed by %s after %d test points" % (signal_name(exit.signal), self.count)
        if self.plans_seen == 1 and self.plan == 0 and self.count == 0 and not exit.returncode \
                and not self.parse_errors:
            return "SKIP", self.plan_reason or "skipped"
        found = self.problems()
        if self.failed and not self.expected_fail and found == self.problems_of_points():
            # The file ran to its end and its only failures are points, each
            # already logged as an unexpected test_status (one failure, one
            # TEST-UNEXPECTED line): the file itself is OK, as mochitest's
            # and wpt's test_end is. A non-zero exit goes with failing points.
            if exit.returncode:
                found.append("exit status %d" % exit.returncode)
            return "OK", "; ".join(found)
        if exit.returncode:
            found.append("Non-zero exit status: %d" % exit.returncode)
        if found:
            return "ERROR", "; ".join(found)
        return "OK", None


def parse_tap(test, lines, exit=None, **kwargs):
    """Parse a whole document: every event, ``test_end`` last."""
    return TapParser.parse(test, lines, exit, **kwargs)


__all__ = ["TapParser", "parse_tap", "split_directive", "signal_name"]
