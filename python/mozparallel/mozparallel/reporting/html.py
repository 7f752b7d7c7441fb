"""The HTML report (``--report-html FILE``, and report.html in the objdir
after every run): one self-contained file, no network, with the run's
command line and run_info, a per-worker timeline, a table of tests
(failures first, filterable) and the suite's wall time over recent runs.
``ReportCollector`` listens to the run's events; ``write_report`` writes
the page. The page's look and behaviour live in report_page.py.

Memory is ``peak_rss_kb`` (the peak RSS of the test's process tree), the
figure ``paralleltest history`` shows, in MiB as there. Not ``maxrss_kb``:
on Linux a test's ``ru_maxrss`` starts at the runner's own high-water RSS
(execution/metrics.py), about 22 MiB whatever the test does.
"""

import json
import os

from mozlog.reader import LogHandler

from ..contract import is_unexpected
from ..redact import redact_text
from ..statedir import ensure_private_dir, write_private
from .outputs import OutputKeeper, status_line
from .report_page import PAGE
_DATA_MARK = "/*REPORT_DATA*/null"


class ReportCollector(LogHandler):
    """Keeps what the report shows of each test: times from the events,
    wall/CPU/memory/slot from test_end's ``extra``, output of failures."""

    # Passing subtests are not worth their cost here (a chatty run has a
    # million): events.py skips quiet handlers for them.
    ignores_expected_subtests = True

    def __init__(self):
        self.suite_time = None       # ms, suite_start
        self.end_time = None         # ms, suite_end
        self.jobs = None
        self.run_id = None
        self.run_info = {}
        self.starts = {}             # test -> ms
        self.outputs = OutputKeeper()
        self.failed_sub = {}         # test -> its first unexpected subtest, as a line
        self.tests = []
        self.planned = set()         # every test of suite_start

    def suite_start(self, data):
        self.suite_time = data.get("time")
        self.run_info = data.get("run_info") or {}
        self.jobs = (data.get("extra") or {}).get("jobs")
        self.run_id = (data.get("extra") or {}).get("run_id")
        planned = data.get("tests") or ()
        for group in (planned.values() if isinstance(planned, dict) else [planned]):
            self.planned.update(group)

    def test_start(self, data):
        self.starts[data["test"]] = data.get("time")

    def process_output(self, data):
        if data.get("test"):
            self.outputs.add(data["test"], data.get("data", ""))

    def test_status(self, data):
        line = status_line(data)
        self.outputs.add(data["test"], line)
        if is_unexpected(data):
            self.failed_sub.setdefault(data["test"], line)

    def test_end(self, data):
        test, status = data["test"], data["status"]
        extra = data.get("extra") or {}
        output = self.outputs.pop(test)
        if "note" in (extra.get("memory_retry") or {}):
            outcome = "memory-retry"        # ended for memory; its re-run alone is the result
        elif is_unexpected(data) or test in self.failed_sub:
            outcome = "unexpected"
        elif status == "SKIP":
            outcome = "skip"
        elif status in ("FAIL", "ERROR", "CRASH", "TIMEOUT"):
            outcome = "expected-fail"
        else:
            outcome = "pass"
        first_failure = self.failed_sub.pop(test, None)
        expected = data.get("expected")
        if first_failure is not None and not is_unexpected(data):
            # Failed by its points, its end OK (it ran to its end): FAIL, as
            # the history records it (TestResult.final_status).
            status, expected = "FAIL", status
        wall = extra.get("wall")
        start = self.starts.pop(test, None)
        if extra.get("resumed_from"):
            start = None        # ran in an earlier run (--resume): in the table, not the timeline
        if wall is None and start is not None and data.get("time") is not None:
            wall = (data["time"] - start) / 1000.0
        elif wall is not None and start is not None and data.get("time") is not None:
            # The process's real start: a test a fleet worker ran is logged
            # as started when the coordinator hears of it.
            start = min(start, data["time"] - 1000.0 * wall)
        cpu = None
        if extra.get("cpu_user") is not None:
            cpu = extra.get("cpu_user", 0) + extra.get("cpu_system", 0)
        self.tests.append({
            "test": test,
            "status": status,
            "expected": expected,
            "outcome": outcome,
            # The test's own message, else its first unexpected subtest.
            "message": data.get("message") or first_failure,
            "start": start,           # ms for now; seconds from the run's start in report_data
            "wall": wall if status != "SKIP" or extra.get("slot") is not None else None,
            "cpu": cpu,
            "peak_rss_kb": extra.get("peak_rss_kb"),
            "slot": extra.get("slot"),
            "worker": extra.get("worker"),      # a fleet run: the worker process ("name/pid") of the slot
            "resumed_from": extra.get("resumed_from"),
            "output": output if outcome in ("unexpected", "expected-fail", "memory-retry") else [],
        })

    def suite_end(self, data):
        self.end_time = data.get("time")

    def report_data(self, history=None, title="mozparallel run", command=None, cwd=None,
                    interrupted=None, complete_report=None, unfinished=0, runnable=None):
        """What the page shows. ``command``: the command line, secrets
        already masked; ``interrupted``: why the run was cut short, if it
        was, and ``unfinished`` how many tests (of ``runnable``, else of
        suite_start's) did not end on their own;
        ``complete_report``: the last complete run's report, as a link
        relative to this one."""
        # The run starts at suite_start, or earlier if a test's real start
        # (end - wall) was before it.
        origin = self.suite_time
        starts = [t["start"] for t in self.tests if t["start"] is not None]
        if origin is not None and starts:
            origin = min(origin, min(starts))
        tests = [dict(t, start=None if t["start"] is None or origin is None else (t["start"] - origin) / 1000.0)
                 for t in self.tests]
        wall = None
        if origin is not None and self.end_time is not None:
            wall = (self.end_time - origin) / 1000.0
        counts = {}
        for t in self.tests:
            counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
        return {
            "title": title,
            "started": origin,
            "wall": wall,
            "jobs": self.jobs,
            "run_id": self.run_id,
            "run_info": {k: redact_text(v) if isinstance(v, str) else v for k, v in self.run_info.items()},
            "command": command,
            "cwd": cwd,
            "interrupted": interrupted,
            "complete_report": complete_report,
            "planned": runnable if runnable is not None else len(self.planned | {t["test"] for t in self.tests}),
            "unfinished": unfinished,
            "counts": counts,
            "tests": tests,
            "history": list(history or []),
        }


def render(data):
    """The page, with ``data`` embedded (``</script>`` cannot end it early)."""
    page = PAGE
    blob = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
    return page.replace(_DATA_MARK, blob, 1)


def write_report(path, data, private=False):
    """Write the page to ``path`` (creating its directory) atomically.
    ``private``: the state directory's report, 0600 in a 0700 directory
    (statedir.py); else as the umask says (``--report-html FILE``)."""
    directory = os.path.dirname(os.path.abspath(path))
    if private:
        ensure_private_dir(directory)
        return write_private(path, render(data))
    os.makedirs(directory, exist_ok=True)
    text = render(data)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)      # (a full disk: nothing half-written is left behind)
        except OSError:
            pass
        raise
    return path
