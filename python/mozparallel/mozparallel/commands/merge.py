"""One global report from the raw logs of many chunks, machines or attempts
(``paralleltest merge RAWLOG... [--log-* ...] [--report-html FILE]``): one
``suite_start``/``suite_end``, every test once, then the same summary, exit
status and HTML report as a single-machine run.

A test found more than once (a retried chunk, a resumed run) keeps its last
complete result, and the log says so. A test started but never finished
anywhere (its machine vanished) is reported as an unexpected ERROR.

Chunks (``--total-chunks``) carry their plan in their suite_start: the
merge checks that the chunks together ran every planned test exactly once.
A test no chunk ran (a chunk's log missing, a chunk cut short) is an
unexpected ERROR naming why; a test two chunks ran is an ERROR line; both
make the exit status 1.
"""

import json
import os
import sys

from ..contract import COPIED_KEY, is_unexpected
from ..errors import EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, UsageError
from ..reporting.status import RunStatus

# How a candidate result ranks against another one of the same test.
INCOMPLETE, PLACEHOLDER, COPIED, COMPLETE = range(4)
PLACEHOLDER_PREFIX = "another chunk"


class MergeError(Exception):
    """A RAWLOG that cannot be read (the message names it)."""


class _Attempt:
    """One test's events in one log, from test_start to test_end."""

    __slots__ = ("test", "events", "source", "index", "end")

    def __init__(self, test, source, index):
        self.test = test
        self.events = []
        self.source = source
        self.index = index          # position over all logs, for ties
        self.end = None

    def rank(self):
        if self.end is None:
            return INCOMPLETE
        if self.end.get("status") == "SKIP" and str(self.end.get("message") or "").startswith(PLACEHOLDER_PREFIX):
            return PLACEHOLDER
        if COPIED_KEY in (self.end.get("extra") or {}):
            return COPIED
        return COMPLETE

    def key(self):
        last = self.end if self.end is not None else (self.events[-1] if self.events else {})
        return (self.rank(), last.get("time") or 0, self.index)


class MergedRun:
    """Everything read from the logs, before anything is written."""

    def __init__(self):
        self.starts = []            # suite_start events, in log order
        self.suite_ends = []
        self.groups = {}            # group -> [test ids] (first seen order)
        self.attempts = {}          # test -> [_Attempt]
        self.order = []             # tests by first appearance
        self.logs = []              # events outside any test worth keeping (WARNING+)
        self.bad_lines = 0
        self.plans = []             # (log, chunk plan record) of chunked runs (schedule/chunks.py)
        self.chunk_errors = []      # what chunk_problems found (ERROR lines)
        self._count = 0

    def read(self, path):
        try:
            f = open(path, encoding="utf-8", errors="replace")
        except OSError as e:
            raise MergeError("cannot read raw log %s: %s" % (path, e.strerror or e))
        open_attempts = {}
        seen_any = False
        with f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    ev = json.loads(line)
                    action = ev["action"]
                except (ValueError, KeyError, TypeError):
                    self.bad_lines += 1     # a half-written last line of a killed run
                    continue
                seen_any = True
                self._add(ev, action, path, open_attempts)
        if not seen_any:
            raise MergeError("%s is not a mozlog raw log (no JSON events in it)" % path)
        for attempt in open_attempts.values():
            self._keep(attempt)

    def _add(self, ev, action, path, open_attempts):
        test = ev.get("test")
        if action == "suite_start":
            self.starts.append(ev)
            plan = (ev.get("extra") or {}).get("chunk_plan")
            if plan:
                self.plans.append((path, plan))
            for group, tests in (ev.get("tests") or {}).items():
                known = self.groups.setdefault(group, [])
                for t in tests:
                    if t not in known:
                        known.append(t)
        elif action == "suite_end":
            self.suite_ends.append(ev)
        elif action == "test_start":
            old = open_attempts.pop(test, None)
            if old is not None:
                self._keep(old)
            self._count += 1
            attempt = open_attempts[test] = _Attempt(test, path, self._count)
            attempt.events.append(ev)
        elif test is not None and test in open_attempts:
            attempt = open_attempts[test]
            attempt.events.append(ev)
            if action == "test_end":
                attempt.end = ev
                self._keep(open_attempts.pop(test))
        elif action == "log" and ev.get("level") in ("WARNING", "ERROR", "CRITICAL"):
            self.logs.append(ev)

    def _keep(self, attempt):
        if attempt.test not in self.attempts:
            self.attempts[attempt.test] = []
            self.order.append(attempt.test)
        self.attempts[attempt.test].append(attempt)

    def chosen(self):
        """(test, kept attempt, all its attempts) for every test, by start time."""
        out = []
        for test in self.order:
            attempts = self.attempts[test]
            best = max(attempts, key=_Attempt.key)
            out.append((test, best, attempts))
        out.sort(key=lambda item: (item[1].events[0].get("time") or 0, item[1].index))
        return out


def chunk_problems(run):
    """Against the chunk plan the logs carry: ({test: why no chunk ran it},
    [lines for tests two chunks ran]); ({}, []) when no log was a chunk."""
    if not run.plans:
        return {}, []
    first_log, first = run.plans[0]
    for log, plan in run.plans[1:]:
        if plan.get("total") != first.get("total") or plan.get("chunks") != first.get("chunks"):
            raise MergeError("%s and %s were planned differently (chunks of one run must plan from the same "
                             "tests, --total-chunks and --runtimes)" % (first_log, log))
    total = first["total"]
    chunk_of_log = {log: plan.get("this") for log, plan in run.plans}
    absent = [k for k in range(1, total + 1) if k not in set(chunk_of_log.values())]
    ran = {}
    for test, attempts in run.attempts.items():
        for a in attempts:
            k = chunk_of_log.get(a.source)
            if k is not None and a.rank() != PLACEHOLDER:
                ran.setdefault(test, set()).add(k)
    planned = {t: i + 1 for i, ids in enumerate(first["chunks"]) for t in ids}
    missing = {}
    for test, k in planned.items():
        if test not in ran:
            missing[test] = "no chunk ran it: chunk %d of %d %s" % (
                k, total, "has no log" if k in absent else "did not run it")
    overlap = ["merge: %s ran in chunks %s (the plan puts it in chunk %s of %d)"
               % (t, " and ".join(str(k) for k in sorted(ks)), planned.get(t, "none"), total)
               for t, ks in sorted(ran.items()) if len(ks) > 1]
    if missing:
        overlap.insert(0, "merge: %d planned tests no chunk ran%s: %s" % (
            len(missing), " (chunks %s of %d have no log)" % (", ".join(map(str, absent)), total) if absent else "",
            ", ".join(sorted(missing))))
    return missing, overlap


def _event(action, when, **fields):
    return dict(action=action, time=when, thread="MainThread", pid=os.getpid(), source="mozparallel", **fields)


def merged_events(run):
    """The merged stream: one suite_start, each test once, notes, one suite_end."""
    if not run.starts:
        raise MergeError("no suite_start in any raw log: nothing to merge")
    first = run.starts[0]
    started = min(s.get("time") or 0 for s in run.starts)
    extras = [s.get("extra") or {} for s in run.starts]
    run_ids = []
    for e in extras:
        if e.get("run_id") and e["run_id"] not in run_ids:
            run_ids.append(e["run_id"])
    jobs = sum(e.get("jobs") or 0 for e in extras) or None
    missing, run.chunk_errors = chunk_problems(run)
    groups = {g: list(ts) for g, ts in run.groups.items()}
    listed = {t for ts in groups.values() for t in ts}
    for test in run.order + sorted(t for t in missing if t not in run.attempts):
        if test not in listed:
            groups.setdefault("default", []).append(test)
    start = _event("suite_start", started, name=first.get("name", "mozparallel"),
                   run_info=first.get("run_info") or {}, tests=groups,
                   extra={"jobs": jobs, "run_ids": run_ids, "merged_logs": len(run.starts)})
    events = [start]
    ended = max([e.get("time") or 0 for e in run.suite_ends] + [started])
    notes = []
    for test, best, attempts in run.chosen():
        complete = [a for a in attempts if a.rank() == COMPLETE]
        if test in missing:
            when = best.events[0].get("time") or ended
            events.append(_event("test_start", when, test=test))
            events.append(_event("test_end", when, test=test, status="ERROR", expected="OK", message=missing.pop(test)))
            continue
        if best.end is None:
            events.extend(best.events)
            when = best.events[-1].get("time") or ended
            events.append(_event("test_end", when, test=test, status="ERROR", expected="OK",
                                 message="no complete result in any log (started in %s)" % best.source))
            ended = max(ended, when)
            continue
        end = dict(best.end)
        if len(complete) > 1:
            extra = dict(end.get("extra") or {})
            extra["attempts"] = len(complete)
            end["extra"] = extra
            notes.append("merge: %s has %d complete results (%s); kept the last one, from %s"
                         % (test, len(complete), ", ".join(a.source for a in complete), best.source))
        events.extend(best.events[:-1])
        events.append(end)
        ended = max(ended, end.get("time") or 0)
    for test, why in sorted(missing.items()):      # in no log at all
        events.append(_event("test_start", ended, test=test))
        events.append(_event("test_end", ended, test=test, status="ERROR", expected="OK", message=why))
    for text in notes:
        events.append(_event("log", ended, level="INFO", message=text))
    for text in run.chunk_errors:
        events.append(_event("log", ended, level="ERROR", message=text))
    events.extend(run.logs)
    if run.bad_lines:
        events.append(_event("log", ended, level="WARNING",
                             message="merge: %d lines that are not JSON events were skipped" % run.bad_lines))
    return events, (ended - started) / 1000.0


def merge(paths, options):
    """Merge ``paths`` and report through the loggers of ``options``; returns
    the exit status of the merged run."""
    from ..reporting.logger import setup_logger
    from ..reporting.run_reporters import RunReporters, check_report_path
    from ..reporting.tally import Tally
    from ..settings import report_settings, state_dir_of

    run = MergedRun()
    for path in paths:
        run.read(path)
    events, seconds = merged_events(run)
    settings = report_settings(options, state_dir_of(options))
    check_report_path(settings.report_html)
    logger = setup_logger(settings.log_options, settings.reporter)
    jobs = events[0]["extra"]["jobs"] or 1
    reporters = RunReporters(logger, settings, jobs, [], None)
    status = RunStatus()
    logger.add_handler(status)
    tally = Tally()
    handlers = list(logger.handlers)
    summary_at = events[-1]["time"]
    unexpected = set()          # tests with an unexpected result or subtest
    for ev in events:
        _deliver(handlers, ev)
        if "expected" in ev and is_unexpected(ev):
            unexpected.add(ev.get("test"))
        if ev["action"] == "test_end":
            tally.add(ev, ev["test"] in unexpected)
    _deliver(handlers, _event("log", summary_at, level="INFO", message=tally.summary(seconds)))
    reporters.end_of_run()
    _deliver(handlers, _event("suite_end", summary_at))
    logger.shutdown()
    reporters.write_reports()
    return EXIT_UNEXPECTED if status.any_unexpected or run.chunk_errors else EXIT_OK


def _deliver(handlers, ev):
    for handler in handlers:
        try:
            handler(dict(ev))
        except Exception as e:  # one failing formatter must not hide the rest
            print("mozparallel: log handler failed: %r" % (e,), file=sys.__stderr__)


def build_parser(prog="paralleltest merge"):
    from ..options import Parser, add_logging_arguments, add_report_arguments

    parser = Parser(prog=prog,
                     description="One report from the raw logs (--log-raw) of many chunks, machines or "
                                 "attempts: every test once, the last complete result kept.")
    parser.add_argument("rawlogs", nargs="+", metavar="RAWLOG", help="mozlog raw logs (JSON lines)")
    add_report_arguments(parser)
    add_logging_arguments(parser)
    return parser


def main(argv=None, args=None):
    parser = build_parser()
    try:
        if args is None:
            args = parser.parse_args(argv)
    except OSError as e:
        print("paralleltest merge: error: cannot open log file %s: %s" % (e.filename, e.strerror),
              file=sys.stderr)
        return EXIT_USAGE
    try:
        return merge(args.rawlogs, vars(args))
    except (MergeError, UsageError) as e:
        print("paralleltest merge: error: %s" % e, file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
