"""The HTML report (``--report-html FILE``, and report.html in the objdir
after every run): one self-contained file, no network, with a per-worker
timeline, a sortable table of tests and the suite's wall time over recent
runs. ``ReportCollector`` listens to the run's events; ``write_report``
writes the page. The page's look and behaviour live in report_page.py.
"""

import json
import os

from mozlog.reader import LogHandler

from .outputs import OutputKeeper, is_unexpected, status_line
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
        self.failed_sub = set()
        self.tests = []

    def suite_start(self, data):
        self.suite_time = data.get("time")
        self.run_info = data.get("run_info") or {}
        self.jobs = (data.get("extra") or {}).get("jobs")
        self.run_id = (data.get("extra") or {}).get("run_id")

    def test_start(self, data):
        self.starts[data["test"]] = data.get("time")

    def process_output(self, data):
        if data.get("test"):
            self.outputs.add(data["test"], data.get("data", ""))

    def test_status(self, data):
        self.outputs.add(data["test"], status_line(data))
        if is_unexpected(data):
            self.failed_sub.add(data["test"])

    def test_end(self, data):
        test, status = data["test"], data["status"]
        extra = data.get("extra") or {}
        output = self.outputs.pop(test)
        if is_unexpected(data) or test in self.failed_sub:
            outcome = "unexpected"
        elif status == "SKIP":
            outcome = "skip"
        elif status in ("FAIL", "ERROR", "CRASH", "TIMEOUT"):
            outcome = "expected-fail"
        else:
            outcome = "pass"
        self.failed_sub.discard(test)
        wall = extra.get("wall")
        start = self.starts.pop(test, None)
        if extra.get("resumed_from"):
            start = None        # ran in an earlier run (--resume): in the table, not the timeline
        if wall is None and start is not None and data.get("time") is not None:
            wall = (data["time"] - start) / 1000.0
        elif wall is not None and start is not None and data.get("time") is not None:
            # The process's real start: a test the head start began is
            # logged as started only when the runner adopts it.
            start = min(start, data["time"] - 1000.0 * wall)
        cpu = None
        if extra.get("cpu_user") is not None:
            cpu = extra.get("cpu_user", 0) + extra.get("cpu_system", 0)
        self.tests.append({
            "test": test,
            "status": status,
            "expected": data.get("expected"),
            "outcome": outcome,
            "message": data.get("message"),
            "start": start,           # ms for now; seconds from the run's start in report_data
            "wall": wall if status != "SKIP" or extra.get("slot") is not None else None,
            "cpu": cpu,
            "maxrss_kb": extra.get("maxrss_kb"),
            "slot": extra.get("slot"),
            "resumed_from": extra.get("resumed_from"),
            "output": output if outcome in ("unexpected", "expected-fail") else [],
        })

    def suite_end(self, data):
        self.end_time = data.get("time")

    def report_data(self, history=None, title="mozparallel run"):
        # The run starts at suite_start, or earlier if the head start began
        # tests before it.
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
            "run_info": self.run_info,
            "counts": counts,
            "tests": tests,
            "history": list(history or []),
        }


def render(data):
    """The page, with ``data`` embedded (``</script>`` cannot end it early)."""
    page = PAGE
    blob = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
    return page.replace(_DATA_MARK, blob, 1)


def write_report(path, data):
    """Write the page to ``path`` (creating its directory) atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render(data))
    os.replace(tmp, path)
    return path
