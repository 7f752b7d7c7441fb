"""Our reporters for one run, wired to its logger: the live ``mach`` view on
stdout (when it is the chosen reporter and no --log-* option writes to
stdout) and the HTML report's collector; at the end, the report files.
run.py calls this; the reporters themselves know nothing of options."""

import os
import sys

from ..cli import UsageError
from .eta import RunEstimate, dispatch_order
from .html import ReportCollector, write_report
from .live import LiveOptions, LiveReporter

STATE_DIR = ".mozparallel"      # used until the store names the objdir's


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
    def __init__(self, logger, options, jobs, specs, scheduler, state_dir=None):
        self.options = options
        self.state_dir = state_dir or os.path.abspath(STATE_DIR)
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

    def write_reports(self, history=None):
        """report.html in the state directory, and --report-html FILE.
        Returns the paths written."""
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
