"""One run's settings, built once from the parsed options (a dict: what
argparse or mach hands over), one small typed object per layer, each
holding only what that layer reads. run.py and the subcommands build them
here; no layer below receives the options dict.

    selection   selection.SelectionSettings
    schedule    schedule.ScheduleSettings
    specs       how tests become commands (--exec, --protocol)
    execution   execution.pool.PoolOptions
    reporting   reporting.run_reporters.ReportSettings (with the --log-* options for mozlog)
    store       store.StoreLocation
    flaky       flaky.FlakySettings
    fleet       distributed.FleetSettings, or None without --broker
"""

import os
from dataclasses import dataclass

from .errors import UsageError


def check_objdir(path, name="--objdir"):
    """``path`` if it is an existing directory, else UsageError naming it
    (after ``name``, the option or variable that gave it, if any)."""
    said = "%s %s" % (name, path) if name else path
    if not os.path.exists(path):
        raise UsageError("%s: no such directory" % said)
    if not os.path.isdir(path):
        raise UsageError("%s: not a directory" % said)
    return path


def objdir_of(options, topobjdir=None):
    """``--objdir``, else the caller's topobjdir (mach), else $MOZ_OBJDIR;
    neither of those two may be a file (a missing one is made when the run
    keeps its state there, as before a first build)."""
    if options.get("objdir"):
        return options["objdir"]    # checked up front (options.objdir_arg, run_settings)
    env = os.environ.get("MOZ_OBJDIR")
    objdir = topobjdir or env
    name = "$MOZ_OBJDIR" if objdir == env else "the objdir"
    if objdir and os.path.exists(objdir) and not os.path.isdir(objdir):
        raise UsageError("%s %s: not a directory" % (name, objdir))
    return objdir or None


def state_dir_of(options, topobjdir=None):
    """``<objdir>/.mozparallel`` (or ``./.mozparallel``): where a run keeps
    its state by default."""
    base = objdir_of(options, topobjdir) or os.getcwd()
    return os.path.join(os.path.abspath(base), ".mozparallel")


def store_location(options, topobjdir=None):
    from .store import location

    return location(options.get("store"), state_dir_of(options, topobjdir))


class open_history_store:
    """``with open_history_store(options, topobjdir, warn) as store``: the
    store of the options (None: --store none, or unreadable, with one
    warning), closed at the end. For the subcommands that only read it."""

    def __init__(self, options, topobjdir=None, warn=None):
        self.where = store_location(options, topobjdir)
        self.warn = warn
        self.store = None

    def __enter__(self):
        from .store import StoreError, open_store

        try:
            self.store = open_store(self.where, warn=self.warn)
        except StoreError as e:
            if self.warn:
                self.warn("history not read: %s" % e)
        return self.store

    def __exit__(self, *exc):
        from .store import StoreError

        if self.store is not None:
            try:
                self.store.close()
            except StoreError:
                pass


def _resume(run_id):
    if run_id is not None and not run_id.strip():
        raise UsageError("--resume needs the id of a run (printed at its start and in its resume hint)")
    return run_id


def _tests(options):
    """TEST arguments, with one that ``--rerun-failures`` (a flag with an
    optional value, see options._no_count) took as its value."""
    tests = tuple(options.get("tests") or ())
    rerun = options.get("rerun_failures")
    if isinstance(rerun, str):
        tests = (rerun,) + tests
    return tests


def selection_settings(options, topobjdir=None):
    from .selection import SelectionSettings

    return SelectionSettings(
        tests=_tests(options),
        objdir=objdir_of(options, topobjdir),
        mozinfo=tuple(options.get("mozinfo") or ()),
        mozinfo_cache=state_dir_of(options, topobjdir),
        strict_conditions=bool(options.get("strict_conditions")),
        manifest_reader=options.get("manifest_reader") or "auto",
        allow_missing=bool(options.get("allow_missing")),
        tags=tuple(options.get("tag") or ()),
        subsuite=options.get("subsuite"),
        path_prefixes=tuple(options.get("path_prefix") or ()),
    )


def _jobs(options):
    """-j, or 1 for --sequential and --debugger (an explicit -j N > 1 with
    them is a usage error)."""
    jobs = options.get("jobs")
    alone = "--sequential" if options.get("sequential") else "--debugger" if options.get("debugger") else None
    if alone is None:
        return jobs
    if isinstance(jobs, int) and jobs > 1:
        raise UsageError("%s runs one test at a time; it cannot be combined with -j %d" % (alone, jobs))
    return 1


def schedule_settings(options):
    from .schedule import ScheduleSettings

    return ScheduleSettings(
        policy=options.get("schedule") or "history",
        jobs=_jobs(options),
        max_memory=options.get("max_memory"),
        total_chunks=options.get("total_chunks"),
        this_chunk=options.get("this_chunk"),
        runtimes=options.get("runtimes"),
    )


def log_options(options):
    """The options mozlog's ``setup_logging`` reads (``log_*``)."""
    return {k: v for k, v in options.items() if k.startswith("log_")}


def report_settings(options, state_dir):
    from .reporting.logger import split_log_options
    from .reporting.run_reporters import ReportSettings

    reporter = options.get("reporter") or "mach"
    # --log-mach-verbose / --log-mach-level without --log-mach: the live view's.
    for_mozlog, for_live = split_log_options(log_options(options), reporter)
    verbose = bool(options.get("verbose") or for_live.get("verbose"))
    subtests = options.get("log_subtests") or ("all" if verbose else "unexpected")   # -v shows every point
    return ReportSettings(
        reporter=reporter,
        verbose=verbose,
        log_level=str(for_live.get("level") or "info").upper(),
        show_output=options.get("show_output"),
        progress_every=options.get("progress_every") or 30.0,
        report_html=options.get("report_html"),
        state_dir=state_dir,
        log_subtests=subtests == "all",
        log_options=for_mozlog,
        command=shown_command(),
        cwd=os.getcwd(),
    )


def shown_command(argv=None):
    """The command line (``sys.argv``) as a report shows it: secrets masked."""
    import shlex

    from .interrupt import command_words
    from .redact import redact_argv

    words, args = command_words(argv)
    return shlex.join(redact_argv(words + args))


@dataclass(frozen=True)
class SpecSettings:
    """How a selected test becomes a command (execution/specs.py)."""

    exec_cmd: str | None = None     # --exec CMD
    protocol: str = "auto"          # --protocol
    env: tuple = ()                 # (NAME, VALUE) for every test: --headless, --setenv
    wrapper: str | None = None      # --debugger CMD [--debugger-args ARGS], before each test's command
    resources: tuple = ()           # --resource: (glob, names) pairs


def spec_settings(options):
    env = [("MOZ_HEADLESS", "1")] if options.get("headless") else []
    env += [tuple(item.split("=", 1)) for item in options.get("setenv") or ()]
    wrapper = options.get("debugger")
    if wrapper and options.get("debugger_args"):
        wrapper += " " + options["debugger_args"]
    elif options.get("debugger_args"):
        raise UsageError("--debugger-args given without --debugger")
    return SpecSettings(exec_cmd=options.get("exec_cmd"), protocol=options.get("protocol") or "auto",
                        env=tuple(env), wrapper=wrapper, resources=tuple(options.get("resource") or ()))


def execution_settings(options, jobs, log_subtests):
    from .execution.pool import PoolOptions

    debugging = bool(options.get("debugger"))     # a person at the debugger: no silence timeout
    return PoolOptions(
        jobs=jobs,
        timeout=None if debugging else options.get("timeout") or None,     # 0: none (options.py)
        max_time=None if debugging else options.get("max_time") or None,
        kill_grace=options.get("kill_grace", 5.0),
        log_subtests=log_subtests,
        bail=bool(options.get("bail")),
        max_failures=options.get("max_failures") or None,
        allow_leaks=bool(options.get("allow_leaks")),
        max_test_memory=options.get("max_test_memory"),
    )


def flaky_settings(options):
    from .flaky import FlakySettings

    find = bool(options.get("find_interference"))
    # --find-interference needs a re-run alone to tell interference apart.
    reruns = options.get("retries") or (1 if find and not options.get("verify")
                                               and not options.get("run_until_failure") else 0)
    return FlakySettings(retries=reruns, repeat=options.get("repeat"),
                         run_until_failure=bool(options.get("run_until_failure")),
                         verify=bool(options.get("verify")), find_interference=find).checked()


def fleet_settings(options):
    if not options.get("broker"):
        return None
    from .distributed.coordinator import FleetSettings

    return FleetSettings(
        broker=options["broker"],
        source_root=os.path.abspath(options.get("source_root") or os.getcwd()),
        resume=bool(options.get("resume")),
        patience=options.get("broker_patience") or 120.0,
    )


@dataclass(frozen=True)
class RunSettings:
    selection: object
    schedule: object
    specs: SpecSettings
    reporting: object
    store: object
    flaky: object
    fleet: object
    execution: object           # PoolOptions; its ``jobs`` is decided by the schedule
    list: bool = False
    list_format: str = "text"
    resume: str | None = None
    keep_going: bool = False    # a first Ctrl-C ends the running tests only
    rerun_failures: bool = False  # only the last recorded run's failures (xpcshell's --rerun-failures)


def run_settings(options, topobjdir=None):
    """Every layer's settings for one run. UsageError for a combination
    that means nothing, or an --objdir that is not a directory."""
    if options.get("objdir"):
        check_objdir(options["objdir"])
    state_dir = state_dir_of(options, topobjdir)
    return RunSettings(
        selection=selection_settings(options, topobjdir),
        schedule=schedule_settings(options),
        specs=spec_settings(options),
        reporting=report_settings(options, state_dir),
        store=store_location(options, topobjdir),
        flaky=flaky_settings(options),
        fleet=fleet_settings(options),
        execution=execution_settings(options, 1, report_settings(options, state_dir).log_subtests),
        list=bool(options.get("list")),
        list_format=options.get("format") or "text",
        resume=_resume(options.get("resume")),
        keep_going=bool(options.get("keep_going")),
        rerun_failures=bool(options.get("rerun_failures")),
    )


__all__ = ["RunSettings", "SpecSettings", "UsageError", "run_settings", "state_dir_of", "store_location"]
