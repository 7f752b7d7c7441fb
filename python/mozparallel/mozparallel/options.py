"""The options of ``paralleltest``, ``python -m mozparallel`` and ``mach
parallel-test``: the parser class, argument types and option groups, one
group per layer that reads it (settings.py turns the parsed options into
that layer's settings). Shared by the run and the subcommands (commands/);
cli.py only dispatches. Bad input ends with a one-line error naming it and
exit status 2, never a traceback.
"""

import argparse
import math

from .errors import EXIT_USAGE, UsageError
from .reporting.logger import REPORTERS

__all__ = ["EXIT_USAGE", "REPORTERS", "Parser", "UsageError", "build_parser", "objdir_arg"]


class Parser(argparse.ArgumentParser):
    """argparse's parser, with what the command line needs on top:

    * TEST arguments may come before and after options
      (``paralleltest a.t -j 2 b.t``): positionals are parsed intermixed;
    * an option it does not know is an error here, in ``parse_known_args``,
      one line naming it and the option it resembles, exit 2. mach's
      dispatcher calls ``parse_known_args`` and turns what is left over into
      its own three-line "unrecognized argument" message with exit 1, so
      the check cannot wait for ``parse_args``. Abbreviations stay
      (``allow_abbrev``: ``--log-errorsum`` is ``--log-errorsummary``); an
      ambiguous one is argparse's own one-line error.
    """

    # A function giving the text after the options, called only when the
    # help is shown (cli.py lists the subcommands there).
    late_epilog = None
    _intermixing = False

    def error(self, message):
        # One line naming the problem, then exit 2 (argparse's convention).
        self.exit(EXIT_USAGE, "%s: error: %s\n" % (self.prog, message))

    def parse_known_args(self, args=None, namespace=None):
        import sys

        args = list(sys.argv[1:] if args is None else args)
        if self._intermixing or "--" in args:
            # The two passes of parse_known_intermixed_args; and after "--"
            # everything is a TEST already (Python 3.11 intermixed loses a
            # TEST right after a leading "--").
            return self._checked(args, *super().parse_known_args(args, namespace))
        self._intermixing = True
        try:
            namespace, extras = self.parse_known_intermixed_args(args, namespace)
        except TypeError:           # a parser intermixing cannot serve (REMAINDER, sub-parsers)
            namespace, extras = super().parse_known_args(args, namespace)
        finally:
            self._intermixing = False
        return self._checked(args, namespace, extras)

    def _checked(self, args, namespace, extras):
        unknown = [] if self._intermixing else unknown_options(args, extras)
        if unknown:
            self.error(self.describe_unknown(unknown))
        return namespace, extras

    def describe_unknown(self, unknown):
        """``unrecognized option --x (did you mean --y?)``, for each."""
        import difflib

        known = [o for o in self._option_string_actions if o.startswith("--")]
        parts = []
        for option in unknown:
            name = option.split("=", 1)[0]
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            parts.append(name + (" (did you mean %s?)" % close[0] if close else ""))
        return "unrecognized option%s %s" % ("s" if len(parts) > 1 else "", ", ".join(parts))

    def format_help(self):
        if self.late_epilog is not None and self.epilog is None:
            self.epilog = self.late_epilog()
        return super().format_help()


def unknown_options(args, extras):
    """The left-over arguments that are options (``-x``, ``--name[=v]``),
    not a TEST: those before a ``--`` that look like an option."""
    before = args[:args.index("--")] if "--" in args else args
    return [a for a in extras if a in before and a.startswith("-") and len(a) > 1 and a != "--"]


def positive_float(text):
    """A finite number >= 0 ("nan", "inf" and negatives are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("not a finite number: %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative: %r" % text)
    return value


def seconds_or_none(text):
    """--timeout/--max-time/--kill-grace S: finite seconds >= 0, where 0
    means none (no timeout, no limit, no grace: SIGKILL at once)."""
    return positive_float(text)


def failure_count(text):
    """--max-failures N: a count >= 0, where 0 means no limit (as pytest's --maxfail)."""
    return _count(text, least=0)


def jobs_arg(text):
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a job count: %r (a number or 'auto')" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("job count must be at least 1: %r" % text)
    return value


def _reporter(text):
    if text not in REPORTERS:
        raise argparse.ArgumentTypeError(
            "unknown reporter %r (choose from %s)" % (text, ", ".join(REPORTERS)))
    return text


def add_run_arguments(parser):
    group = parser.add_argument_group("Running tests")
    group.add_argument("tests", nargs="*", metavar="TEST",
                       help="test files, directories or manifests (.ini, .toml). A directory means the tests "
                            "its manifests list (without a manifest: its executable and .t files); a file "
                            "a manifest lists keeps that manifest's keys; no TEST: every manifest under "
                            "the current directory")
    group.add_argument("-j", "--jobs", type=jobs_arg, default=None,
                       help="tests to run at once, or 'auto' (the default): about one per core for "
                            "CPU-bound tests, more for tests that mostly wait, capped by the memory "
                            "their history says they need")
    group.add_argument("-e", "--exec", dest="exec_cmd", default=None, metavar="CMD",
                       help="run CMD FILE for each test; CMD is split like a shell would, never run by one "
                            "(default: execute the file)")
    group.add_argument("-t", "--timeout", type=seconds_or_none, default=None, metavar="S",
                       help="kill a test (and its process tree) that prints nothing for S seconds "
                            "(0: no timeout, the default)")
    group.add_argument("--max-time", type=seconds_or_none, default=None, metavar="S",
                       help="kill a test that runs longer than S seconds, output or not (0: no limit, the default)")
    group.add_argument("--max-test-memory", type=_memory_size, default=None, metavar="SIZE",
                       help="end a test whose processes together use more than SIZE (e.g. 2G) and run it "
                            "again alone, without the cap, as a test the kernel's OOM killer ended is; "
                            "reported as a memory retry, judged by the re-run")
    group.add_argument("--kill-grace", type=seconds_or_none, default=5.0, metavar="S",
                       help="seconds between SIGTERM and SIGKILL when ending a test (default 5; 0: SIGKILL "
                            "right after SIGTERM)")
    group.add_argument("--protocol", default="auto", choices=["tap", "tbpl", "mozlog", "auto"],
                       help="what the tests print; 'auto' decides per file from its first lines "
                            "that only one protocol has (default: auto)")
    group.add_argument("--bail", action="store_true",
                       help="stop the whole run at the first 'Bail out!'")
    group.add_argument("--max-failures", type=failure_count, default=None, metavar="N",
                       help="stop after N unexpected results (0: no limit, the default)")
    group.add_argument("--allow-leaks", action="store_true",
                       help="processes left behind by a test are reported and killed but do not fail it")
    # The harnesses' names (xpcshell's, mochitest's), with their meaning.
    group.add_argument("--sequential", action="store_true",
                       help="run all tests one at a time (as xpcshell's --sequential; the same as -j 1)")
    group.add_argument("--keep-going", action="store_true",
                       help="a first Ctrl-C ends the tests running now (each an unexpected ERROR) and the "
                            "run goes on with the rest, as xpcshell's --keep-going; a second Ctrl-C stops it")
    group.add_argument("--headless", action="store_true",
                       help="run the tests with MOZ_HEADLESS=1 in their environment (what Firefox and the "
                            "harnesses read)")
    group.add_argument("--setenv", action="append", default=[], metavar="NAME=VALUE", type=_setenv,
                       help="set NAME=VALUE in every test's environment (repeatable; as xpcshell's --setenv)")
    group.add_argument("--debugger", default=None, metavar="CMD",
                       help="start each test under CMD (e.g. 'gdb --batch -ex run --args', 'rr record'): "
                            "CMD [--debugger-args] TESTCOMMAND; implies --sequential and no --timeout")
    group.add_argument("--debugger-args", default=None, metavar="ARGS",
                       help="arguments for --debugger, put between it and the test's command")


def _setenv(text):
    name, sep, _ = text.partition("=")
    if not sep or not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise argparse.ArgumentTypeError("not NAME=VALUE: %r" % text)
    return text


def add_report_arguments(parser):
    group = parser.add_argument_group("Reporting")
    group.add_argument("-r", "--reporter", type=_reporter, default="mach",
                       help="what goes to stdout: %s (default: mach)" % "|".join(REPORTERS))
    group.add_argument("--log-subtests", choices=["unexpected", "all"], default=None,
                       help="'all' logs every passing test point as a test_status event "
                            "(default: only points that are not a plain pass; 'all' with -v)")
    # Read by reporting/live.py (the mach reporter) and reporting/html.py.
    group.add_argument("-v", "--verbose", action="store_true",
                       help="mach reporter: stream each test's output as it arrives, "
                            "each line prefixed with the test's name")
    group.add_argument("--show-output", choices=["failures", "all", "none"], default=None,
                       help="mach reporter: whose output to print after a test ends "
                            "(default: failures; none with -v)")
    group.add_argument("--progress-every", type=positive_float, default=30.0, metavar="S",
                       help="mach reporter, not on a terminal: a progress line every S seconds (default 30)")
    group.add_argument("--report-html", default=None, metavar="FILE",
                       help="also write the HTML report (timeline, table, history) to FILE; "
                            "report.html in the state directory is always written")


def add_logging_arguments(parser):
    from mozlog import commandline

    from .reporting.logger import register_formatters

    # mozlog builds --log-<name> from this table: ours first (--log-tap;
    # tbpl, unittest and html that read a parallel run).
    register_formatters(commandline.log_formatters)
    commandline.add_logging_group(parser)
    # mozlog registers --log-errorsummary with help=SUPPRESS (its harnesses
    # set it themselves); here it is a formatter like the others.
    errorsummary = parser._option_string_actions.get("--log-errorsummary")
    if errorsummary is not None:
        errorsummary.help = ("Error summary: one JSON line per failure, crash or error, as "
                             "Treeherder reads it (provided by mozlog)")
    # Our opener instead of mozlog's log_file: a missing directory is an
    # error naming the file (log_file creates it), and any error names the
    # option and the file (argparse: "argument --log-raw: ...").
    for action in parser._actions:
        if action.type is commandline.log_file:
            action.type = log_file_arg


def log_file_arg(name):
    """``--log-FORMAT FILE``: the file, opened for writing ("-": stdout)."""
    import os

    from .reporting.logger import open_log_file

    directory = os.path.dirname(os.path.abspath(name)) if name != "-" else "."
    if not os.path.isdir(directory):
        raise argparse.ArgumentTypeError("cannot open log file %s: no such directory %s" % (name, directory))
    try:
        return open_log_file(name)
    except OSError as e:
        raise argparse.ArgumentTypeError("cannot open log file %s: %s" % (name, e.strerror or e))


def objdir_arg(text):
    """``--objdir DIR``: an existing directory (checked before anything runs)."""
    from .settings import check_objdir

    try:
        return check_objdir(text, name=None)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e))


def _mozinfo_override(text):
    from .selection.mozinfo_values import parse_override

    try:
        parse_override(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    return text


def add_selection_arguments(parser):
    """Which tests of the manifests run here (read by selection/select.py)."""
    group = parser.add_argument_group("Selecting tests")
    group.add_argument("--objdir", type=objdir_arg, default=None, metavar="DIR",
                       help="build directory whose mozinfo.json gives condition values "
                            "(default: mach's objdir, else $MOZ_OBJDIR)")
    group.add_argument("--mozinfo", action="append", default=[], metavar="KEY=VALUE", type=_mozinfo_override,
                       help="set a value for manifest conditions (true/false/numbers are typed); repeatable")
    strictness = group.add_mutually_exclusive_group()
    strictness.add_argument("--strict-conditions", action="store_true",
                            help="an unknown name in a manifest condition is an error (exit 2) instead of "
                                 "\"\" with a warning")
    strictness.add_argument("--lenient-conditions", action="store_true",
                            help="an unknown name in a condition is \"\", with one warning per name, as "
                                 "Mozilla's manifestparser reads it (the default; accepted for old command lines)")
    group.add_argument("--manifest-reader", choices=["own", "mozilla", "auto"], default="auto",
                       help="who reads .ini/.toml manifests: mozparallel's own reader, Mozilla's "
                            "manifestparser, or auto: Mozilla's when the importable manifestparser is a "
                            "gecko checkout's own (under mach in mozilla-central), else our own (default: auto)")
    group.add_argument("--allow-missing", action="store_true",
                       help="a manifest entry whose file does not exist is listed as not run, "
                            "not an error; support-files are not checked")
    group.add_argument("--tag", action="append", default=[], metavar="TAG",
                       help="only tests with this manifest tag (repeat: any of them)")
    group.add_argument("--subsuite", default=None, metavar="NAME",
                       help="only tests of this manifest subsuite ('default': tests without one)")
    group.add_argument("--path-prefix", action="append", default=[], metavar="PATH",
                       help="only tests under PATH (a directory or a file); repeatable")
    group.add_argument("--list", action="store_true",
                       help="print what would run and why the rest would not; start nothing")
    group.add_argument("--format", choices=["text", "json"], default="text",
                       help="format of --list (default: text)")


def _store(text):
    from .extras import MissingPackage
    from .store import check_store_arg

    try:
        return check_store_arg(text, what=None)
    except (ValueError, MissingPackage) as e:
        raise argparse.ArgumentTypeError(str(e))


def _runtimes_file(path):
    from .schedule.runtimes_file import load_runtimes

    try:
        load_runtimes(path)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e))
    return path


def add_store_location_arguments(group):
    """--store: where history is kept (read by store/__init__.py)."""
    group.add_argument("--store", type=_store, default=None, metavar="WHERE",
                       help="history store: a SQLite file, redis://[:PASSWORD@]HOST:PORT/DB, rediss://..., "
                            "or 'none' (default: $MOZPARALLEL_STORE, else <objdir>/.mozparallel/history.sqlite, "
                            "else ./.mozparallel/history.sqlite); a Redis password may also come from "
                            "$MOZPARALLEL_REDIS_PASSWORD or $REDISCLI_AUTH")


def add_store_arguments(parser):
    """Recording and reading run history (store/, history.py, runtimes.py)."""
    group = parser.add_argument_group("History")
    add_store_location_arguments(group)
    group.add_argument("--history", action="store_true",
                       help="print the slowest, biggest, most CPU-hungry and least stable tests of recent "
                            "runs (as 'paralleltest history'; --format json) and run nothing")
    group.add_argument("--runtimes", type=_runtimes_file, default=None, metavar="FILE",
                       help="a runtimes JSON ({\"path/to/test\": seconds}) giving durations of tests "
                            "the history does not know")
    group.add_argument("--resume", default=None, metavar="RUN_ID",
                       help="carry on run RUN_ID (printed at its start): run only its tests that have no "
                            "complete result in the store, report the earlier ones again, record under "
                            "the same id")


def _schedule(text):
    from .schedule.policies import parse_policy

    try:
        parse_policy(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    return text


def _memory_size(text):
    from .schedule.gate import parse_size

    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def resource_rule(text):
    """``PATTERN=NAME[,NAME...]`` of --resource: (pattern, names text)."""
    from .schedule.locks import parse_resources

    pattern, sep, names = text.partition("=")
    if not sep or not pattern.strip():
        raise argparse.ArgumentTypeError("not PATTERN=NAME[,NAME...]: %r" % text)
    try:
        if not parse_resources(names):
            raise ValueError("no resource named after '='")
    except ValueError as e:
        raise argparse.ArgumentTypeError("%s in %r" % (e, text))
    return (pattern.strip(), names)


def _chunk_number(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a chunk number: %r" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("chunk numbers start at 1: %r" % text)
    return value


def add_chunk_arguments(group):
    """--total-chunks / --this-chunk (read by schedule/chunks.py)."""
    group.add_argument("--total-chunks", type=_chunk_number, default=None, metavar="N",
                       help="split the tests into N chunks of equal expected duration (by the --runtimes "
                            "file only, so every chunk plans the same; else by a hash of each test's id)")
    group.add_argument("--this-chunk", type=_chunk_number, default=None, metavar="K",
                       help="run chunk K of --total-chunks (1-based; default from $JOB_COMPLETION_INDEX, "
                            "$TEST_SHARD_INDEX/$TEST_TOTAL_SHARDS or $CI_NODE_INDEX/$CI_NODE_TOTAL, "
                            "else 1, as the harnesses default)")


def add_schedule_arguments(parser):
    """Order, chunks (read by schedule/)."""
    group = parser.add_argument_group("Scheduling")
    group.add_argument("--schedule", type=_schedule, default="history", metavar="POLICY",
                       help="order of the tests: history (longest first by recorded durations, tests "
                            "never seen first; the default), failures-first (tests that failed in recent runs "
                            "first, then as history), list (the order given), or shuffle[:SEED]")
    group.add_argument("--max-memory", type=_memory_size, default=None, metavar="SIZE",
                       help="memory the tests may use together, e.g. 8G (default: 95%% of what the machine "
                            "has available at the start); a test whose recorded peak does not fit waits")
    group.add_argument("--resource", type=resource_rule, action="append", default=[], metavar="PATTERN=NAMES",
                       help="tests whose id, path or file name matches the glob PATTERN hold the locks NAMES "
                            "(comma-separated; NAME*N: N tests at once) while they run, as the manifest key "
                            "'resources' does; tests holding the same lock never overlap; repeatable")
    add_chunk_arguments(group)


def _count(text, least=0):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a count: %r" % text)
    if value < least:
        raise argparse.ArgumentTypeError("must be at least %d: %r" % (least, text))
    return value


def positive_count(text):
    return _count(text, least=1)


def _no_count(text):
    """--rerun-failures takes no value: xpcshell's flag. A count is what
    --retries takes; anything else was a TEST that followed it."""
    if text.isdigit():
        raise argparse.ArgumentTypeError(
            "takes no count: it runs the last run's failures, as xpcshell's --rerun-failures does; "
            "to retry failing tests %s time(s) within this run, use --retries %s" % (text, text))
    return text


def add_flaky_arguments(parser):
    """Intermittent failures: re-runs, repeats, verify (read by flaky/rounds.py)."""
    group = parser.add_argument_group("Intermittent failures")
    group.add_argument("--retries", type=positive_count, default=0, metavar="N",
                       help="after the run, run each test with an unexpected result again, one at a time, "
                            "up to N times: passing on a retry makes it intermittent, failing every "
                            "time a real failure; a test that failed beside others and passes alone is "
                            "probed until it is judged parallel-unsafe or intermittent; a test that failed "
                            "every attempt of its last 3 recorded runs is not retried")
    group.add_argument("--rerun-failures", nargs="?", const=True, default=False, type=_no_count,
                       metavar="", help="run only the tests that had an unexpected result in the last "
                                        "recorded run of these tests (xpcshell's --rerun-failures); to "
                                        "retry failures within this run, use --retries N")
    group.add_argument("--repeat", type=_count, default=None, metavar="N",
                       help="run every test N more times (with --run-until-failure: at most N runs, "
                            "default 30; with --verify: N runs in each mode, default 10)")
    group.add_argument("--run-until-failure", action="store_true",
                       help="run the tests again and again until a run has an unexpected result, and "
                            "say which run it was")
    group.add_argument("--verify", action="store_true",
                       help="run each test alone N times, then N times in parallel with the others, and "
                            "report whether it is stable in each mode")
    group.add_argument("--find-interference", action="store_true",
                       help="after the run, for each test that failed beside other tests and passed alone "
                            "(parallel-unsafe), find the test that breaks it by re-running it beside halves "
                            "of the tests that overlapped its failure (as 'paralleltest bisect'); implies "
                            "--retries 1")


def _broker(text):
    from .extras import MissingPackage, require
    from .store.redis_store import check_url

    try:
        check_url(text)
        require(None, "distributed")
    except (ValueError, MissingPackage) as e:
        raise argparse.ArgumentTypeError(str(e))
    return text


def add_distributed_arguments(parser):
    """Dynamic mode on Celery + Redis (read by distributed/coordinator.py)."""
    group = parser.add_argument_group("Running on many machines")
    group.add_argument("--broker", type=_broker, default=None, metavar="URL",
                       help="send each test to the workers ('paralleltest worker --broker URL') of this "
                            "Redis broker, redis://[:PASSWORD@]HOST:PORT/DB, instead of running it here")
    group.add_argument("--source-root", default=None, metavar="DIR",
                       help="with --broker: test paths are sent relative to DIR (default: the current "
                            "directory); each worker finds them under its own --root")
    group.add_argument("--broker-patience", type=positive_float, default=120.0, metavar="S",
                       help="with --broker: how long the run waits for a broker it lost (reconnecting with "
                            "backoff) before it gives up, reporting every test not reported as an ERROR "
                            "(default 120)")


def build_parser(prog="paralleltest"):
    parser = Parser(prog=prog, description="Run test files in parallel; report through mozlog.")
    add_run_arguments(parser)
    add_selection_arguments(parser)
    add_schedule_arguments(parser)
    add_report_arguments(parser)
    add_store_arguments(parser)
    add_flaky_arguments(parser)
    add_distributed_arguments(parser)
    add_logging_arguments(parser)
    return parser
