"""Our reporters for one run, wired to its logger: the live ``mach`` view on
stdout (when it is the chosen reporter and no --log-* option writes to
stdout) and the HTML report's collector; at the end, the report files with
the suite's recent wall times from the store. run.py calls this with the
run's ReportSettings; the reporters themselves know nothing of options."""

import os
import sys
from dataclasses import dataclass, field

from ..contract import unexpected_status
from ..errors import UsageError
from .eta import RunEstimate, dispatch_order
from .html import ReportCollector, write_report
from .live import LiveOptions, LiveReporter

# A recent run counts as "this suite" when its tests and ours overlap this much
# (|A & B| / |A | B|): a few added or removed tests do not start a new history.
SAME_SUITE = 0.8
HISTORY_RUNS = 20


@dataclass(frozen=True)
class ReportSettings:
    """What reporting reads of one run's options (settings.py builds it)."""

    reporter: str = "mach"          # -r: what goes to stdout
    verbose: bool = False
    show_output: str | None = None  # failures|all|none (default by -v)
    progress_every: float = 30.0
    report_html: str | None = None  # --report-html FILE
    state_dir: str = ".mozparallel"  # report.html is always written here
    log_level: str = "INFO"         # mach reporter: least level of log messages shown (--log-mach-level)
    log_subtests: bool = False      # every passing point as a test_status event
    log_options: dict = field(default_factory=dict)  # the --log-* options, for mozlog
    command: str | None = None      # the command line as the report shows it, secrets masked
    cwd: str | None = None          # the directory it ran in


def stdout_taken(log_options):
    """Whether a --log-* option already writes to stdout (then the mach
    reporter stays off, as mozlog's setup_logging does for its default)."""
    for name, values in log_options.items():
        if name.startswith("log_") and isinstance(values, list):
            if any(v is sys.stdout or getattr(v, "name", None) == "<stdout>" for v in values):
                return True
    return False


def check_report_path(path):
    """--report-html FILE must be writable: fail before running, not after."""
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
    def __init__(self, logger, settings, jobs, specs, scheduler, store=None):
        """``scheduler``: the run's (contract.Scheduler), or None (a merge);
        ``store``: the run's open store, for the report's suite history."""
        self.settings = settings
        self.store = store
        self.live = None
        if settings.reporter == "mach" and not stdout_taken(settings.log_options):
            verbose = settings.verbose
            show = settings.show_output or ("none" if verbose else "failures")
            expected = dict(scheduler.expected) if scheduler is not None else {}
            estimate = RunEstimate(jobs, expected, dispatch_order(scheduler, specs))
            self.live = LiveReporter(sys.stdout, estimate, LiveOptions(
                show_output=show, verbose=verbose, progress_every=settings.progress_every,
                level=settings.log_level))
            logger.add_handler(self.live)
        self.collector = ReportCollector()
        logger.add_handler(self.collector)

    @property
    def on_tick(self):
        return self.live.tick if self.live is not None else None

    def new_round(self, label, test_ids, jobs):
        """A round of a repeat mode starts (flaky/rounds.py)."""
        if self.live is not None:
            self.live.new_round(label, test_ids, jobs)

    def end_of_run(self):
        if self.live is not None:
            self.live.end_of_run()

    def write_reports(self, interrupted=None, unfinished=(), runnable=None):
        """report.html in the state directory, and --report-html FILE.
        ``interrupted``: why the run was cut short (Ctrl-C, SIGTERM), if it
        was; then each report goes beside its file as NAME-interrupted.html,
        marked as such (``unfinished``: the tests that did not end on their
        own, of ``runnable``) and linking to the last complete run's report,
        which stays. Returns the paths written."""
        history = suite_history(self.store, self.collector)
        written, kept = [], []
        targets = [(os.path.join(self.settings.state_dir, "report.html"), True)]
        if self.settings.report_html:
            targets.append((self.settings.report_html, False))
        for path, private in targets:
            partial = interrupted_path(path)
            complete = None
            if interrupted and os.path.exists(path):
                complete = os.path.relpath(path, os.path.dirname(os.path.abspath(partial)))
                kept.append(path)
            data = self.collector.report_data(history=history, command=self.settings.command,
                                              cwd=self.settings.cwd, interrupted=interrupted,
                                              complete_report=complete,
                                              unfinished=len(unfinished) if interrupted else 0,
                                              runnable=runnable)
            try:
                written.append(write_report(partial if interrupted else path, data, private=private))
                if not interrupted and os.path.exists(partial):
                    os.unlink(partial)      # an earlier run's, now older than report.html
            except OSError as e:
                print("paralleltest: warning: cannot write %s: %s" % (path, e.strerror or e),
                      file=sys.stderr)
        if interrupted and written:
            print("mozparallel: report of the interrupted run: %s%s" % (
                ", ".join(written), "; the last complete run's stays in %s" % ", ".join(kept) if kept else ""),
                file=sys.stderr)
        return written


def interrupted_path(path):
    """Where the report of an interrupted run goes instead of ``path``."""
    stem, ext = os.path.splitext(path)
    return stem + "-interrupted" + (ext or ".html")


def suite_history(store, collector, limit=HISTORY_RUNS):
    """Wall times of the recent runs of this suite, oldest first, from the
    run's open store (this run included once the recorder has ended it; an
    interrupted run only if it is this one); [] when there is no store or
    it cannot be read."""
    from ..store import StoreError

    if store is None:
        return []
    try:
        runs = store.runs(limit=limit)
        rows = store.recent_rows(limit, ("run_id", "test", "status", "expected"))
    except (StoreError, OSError):
        return []
    ours = {t["test"] for t in collector.tests}
    tests, unexpected = {}, {}
    for run_id, test, status, expected in rows:
        tests.setdefault(run_id, set()).add(test)
        if unexpected_status(status, expected):
            unexpected[run_id] = unexpected.get(run_id, 0) + 1
    out = []
    for run in sorted(runs, key=lambda r: r.started):
        theirs = tests.get(run.run_id, set())
        current = run.run_id == collector.run_id
        if run.ended is None or not ours:
            continue
        if not current:
            if run.status == "INTERRUPTED" or not theirs:
                continue        # an interrupted run's wall time says nothing of the suite's
            if len(ours & theirs) / len(ours | theirs) < SAME_SUITE:
                continue
        out.append({"label": run.run_id, "wall": round(run.ended - run.started, 3),
                    "tests": len(theirs), "unexpected": unexpected.get(run.run_id, 0),
                    "interrupted": run.status == "INTERRUPTED",
                    "current": current})
    return out
