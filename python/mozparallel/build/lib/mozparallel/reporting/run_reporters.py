"""Our reporters for one run, wired to its logger: the live ``mach`` view on
stdout (when it is the chosen reporter and no --log-* option writes to
stdout) and the HTML report's collector; at the end, the report files with
the suite's recent wall times from the store. run.py calls this; the
reporters themselves know nothing of options."""

import os
import sys

from ..cli import UsageError
from .eta import RunEstimate, dispatch_order
from .html import ReportCollector, write_report
from .live import LiveOptions, LiveReporter

# A recent run counts as "this suite" when its tests and ours overlap this much
# (|A & B| / |A | B|): a few added or removed tests do not start a new history.
SAME_SUITE = 0.8
HISTORY_RUNS = 20


def stdout_taken(options):
    """Whether a --log-* option already writes to stdout (then the mach
    reporter stays off, as mozlog's setup_logging does for its default)."""
    for name, values in options.items():
        if name.startswith("log_") and isinstance(values, list):
            if any(v is sys.stdout or getattr(v, "name", None) == "<stdout>" for v in values):
                return True
    return False


def expected_durations(scheduler):
    """Expected seconds per test id, as the scheduler knows them from
    history; {} when it knows none."""
    expected = getattr(scheduler, "expected", None)
    if callable(expected):
        expected = expected()
    return dict(expected or {})


def check_report_path(options):
    """--report-html FILE must be writable: fail before running, not after."""
    path = options.get("report_html")
    if not path:
        return
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise UsageError("--report-html %s is a directory" % path)
    if not os.path.isdir(directory):
        raise UsageError("--report-html %s: no such directory %s" % (path, directory))
    if not os.access(directory, os.W_OK):
        raise UsageError("--report-html %s: directory not writable" % path)


class RunReporters:
    def __init__(self, logger, options, jobs, specs, scheduler, topobjdir=None):
        from ..store import state_dir

        self.options = options
        self.topobjdir = topobjdir
        self.state_dir = state_dir(options, topobjdir)
        self.live = None
        if (options.get("reporter") or "mach") == "mach" and not stdout_taken(options):
            verbose = bool(options.get("verbose"))
            show = options.get("show_output") or ("none" if verbose else "failures")
            estimate = RunEstimate(jobs, expected_durations(scheduler), dispatch_order(scheduler, specs))
            self.live = LiveReporter(sys.stdout, estimate, LiveOptions(
                show_output=show, verbose=verbose,
                progress_every=options.get("progress_every") or 30.0))
            logger.add_handler(self.live)
        self.collector = ReportCollector()
        logger.add_handler(self.collector)

    @property
    def on_tick(self):
        return self.live.tick if self.live is not None else None

    def end_of_run(self):
        if self.live is not None:
            self.live.end_of_run()

    def write_reports(self):
        """report.html in the state directory, and --report-html FILE.
        Returns the paths written."""
        history = suite_history(self.options, self.topobjdir, self.collector)
        data = self.collector.report_data(history=history)
        written = []
        targets = [os.path.join(self.state_dir, "report.html")]
        if self.options.get("report_html"):
            targets.append(self.options["report_html"])
        for path in targets:
            try:
                written.append(write_report(path, data))
            except OSError as e:
                print("paralleltest: warning: cannot write %s: %s" % (path, e.strerror or e),
                      file=sys.stderr)
        return written


def suite_history(options, topobjdir, collector, limit=HISTORY_RUNS):
    """Wall times of the recent runs of this suite, oldest first, from the
    store (this run included once the recorder has ended it); [] when there
    is no store or it cannot be read."""
    from ..store import StoreError, open_store

    try:
        store = open_store(options, topobjdir)
    except (StoreError, OSError):
        return []
    if store is None:
        return []
    try:
        runs = store.runs(limit=limit)
        rows = store.recent_rows(limit, ("run_id", "test", "status", "expected"))
    except (StoreError, OSError):
        return []
    finally:
        try:
            store.close()
        except (StoreError, OSError):
            pass
    ours = {t["test"] for t in collector.tests}
    tests, unexpected = {}, {}
    for run_id, test, status, expected in rows:
        tests.setdefault(run_id, set()).add(test)
        if expected and status != expected and status != "SKIP":
            unexpected[run_id] = unexpected.get(run_id, 0) + 1
    out = []
    for run in sorted(runs, key=lambda r: r.started):
        theirs = tests.get(run.run_id, set())
        if run.ended is None or not theirs or not ours:
            continue
        if len(ours & theirs) / len(ours | theirs) < SAME_SUITE:
            continue
        out.append({"label": run.run_id, "wall": round(run.ended - run.started, 3),
                    "tests": len(theirs), "unexpected": unexpected.get(run.run_id, 0),
                    "current": run.run_id == collector.run_id})
    return out
