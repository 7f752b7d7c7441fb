"""``paralleltest bisect TEST [SUITE...]``: name the test that makes TEST
fail when they run at the same time. From the newest recorded failure of
TEST beside other tests (the tests that overlapped it, and when each
started, from the store's start and end offsets), TEST is run again beside
them, then beside halves of them, until one test (or a small set) makes it
fail every time (flaky/search.py). Each probe is recorded as a run of the
failing run's family, so ``history --flaky`` and ``annotate`` see the
evidence. Bounded by ``--max-rounds``; prints what is known when it stops.

The tests are run as SUITE (the run's files, directories or manifests:
their manifest keys apply) selects them, or, without SUITE, as the store
recorded them (the file, or the --exec command and the file).

Exit status: 0 when a culprit is named, 1 when not, 2 for bad input.
"""

import json
import os
import shlex
import sys

from ..errors import EXIT_USAGE, InputError, UsageError

DEFAULT_RUNS = 50


def build_parser(prog="paralleltest bisect"):
    from ..options import (Parser, _mozinfo_override, add_logging_arguments, add_store_location_arguments,
                           positive_count, positive_float)

    parser = Parser(prog=prog, description=(
        "Name the test that breaks TEST when they run at the same time: re-run TEST beside halves of "
        "the tests that overlapped its newest recorded failure until one test (or a small set) makes it "
        "fail every time. Exit status 0 when a culprit is named, 1 when not."))
    parser.add_argument("test", metavar="TEST", help="the test that failed beside others (its id as logged, "
                                                     "or its path)")
    parser.add_argument("suite", nargs="*", metavar="SUITE",
                        help="the files, directories or manifests the run was given, for each test's command "
                             "and manifest keys (default: each test run as the store recorded it)")
    group = parser.add_argument_group("Search")
    group.add_argument("--max-rounds", type=positive_count, default=None, metavar="N",
                       help="run at most N probes (default 20)")
    group.add_argument("--runs", type=positive_count, default=DEFAULT_RUNS, metavar="N",
                       help="look for the failure in the newest N recorded runs, re-runs and probes included "
                            "(default %d)" % DEFAULT_RUNS)
    group.add_argument("--format", choices=["text", "json"], default="text")
    group = parser.add_argument_group("Running tests")
    group.add_argument("-e", "--exec", dest="exec_cmd", default=None, metavar="CMD",
                       help="with SUITE: run CMD FILE for each test, as the run did")
    group.add_argument("--protocol", default="auto", choices=["tap", "tbpl", "mozlog", "auto"])
    group.add_argument("-t", "--timeout", type=positive_float, default=None, metavar="S",
                       help="kill a test that prints nothing for S seconds")
    group.add_argument("--max-time", type=positive_float, default=None, metavar="S",
                       help="kill a test that runs longer than S seconds")
    group.add_argument("--kill-grace", type=positive_float, default=5.0, metavar="S")
    group.add_argument("--mozinfo", action="append", default=[], metavar="KEY=VALUE", type=_mozinfo_override,
                       help="a value for SUITE's manifest conditions; repeatable")
    group.add_argument("--lenient-conditions", action="store_true")
    group = parser.add_argument_group("History")
    add_store_location_arguments(group)
    group.add_argument("--objdir", default=None, metavar="DIR",
                       help="where the default store lives (default: $MOZ_OBJDIR, else the current directory)")
    add_logging_arguments(parser)
    return parser


def main(argv=None, args=None):
    if args is None:
        args = build_parser().parse_args(argv)
    try:
        return bisect_command(vars(args), os.environ.get("MOZ_OBJDIR"))
    except (UsageError, InputError) as e:
        print("paralleltest bisect: error: %s" % e, file=sys.stderr)
        return EXIT_USAGE


def _open(options, topobjdir):
    from ..settings import store_location
    from ..store import StoreError, open_store

    where = store_location(options, topobjdir)
    try:
        store = open_store(where, warn=lambda text: print("paralleltest: warning: " + text, file=sys.stderr))
    except StoreError as e:
        raise UsageError(str(e))
    if store is None:
        raise UsageError("--store none keeps no history: bisect starts from a recorded failure")
    return store


def _victim_id(test, known):
    if test in known:
        return test
    from ..selection.model import test_id

    tid = test_id(os.path.abspath(test), os.getcwd())
    if tid in known:
        return tid
    return test


def _specs_from_suite(options, topobjdir):
    from ..execution.specs import build_specs
    from ..selection import select_tests
    from ..settings import selection_settings

    selection = dict(options, tests=options["suite"])
    selected, values = select_tests(selection_settings(selection, topobjdir))
    specs, _ = build_specs(selected, options.get("exec_cmd"), options.get("protocol") or "auto")
    return {s.id: s for s in specs}, values


def _spec_from_record(record):
    """A test as the store recorded it: the file, or the command and the file."""
    from ..contract import TestSpec

    path = os.path.abspath(record.test)
    argv = (shlex.split(record.command) if record.command else []) + [path]
    return TestSpec(id=record.test, argv=argv, path=path, expected_fail=record.expected == "FAIL")


def bisect_command(options, topobjdir=None, out=None):
    from ..flaky.families import families, newest_failure

    out = out or sys.stdout
    store = _open(options, topobjdir)
    try:
        runs, results = store.runs(options["runs"]), store.recent_results(options["runs"])
        victim = _victim_id(options["test"], {r.test for r in results})
        fams = families(runs, results)
        found = newest_failure(fams, victim)
        if found is None:
            raise UsageError("no recorded failure of %s beside other tests in the newest %d runs of %s; run the "
                             "suite first (with --retries to tell interference from an intermittent "
                             "failure)" % (victim, options["runs"], store.description))
        family, run_id, offsets = found
        if options.get("suite"):
            specs, values = _specs_from_suite(options, topobjdir)
        else:
            newest = {}
            for r in results:
                newest[r.test] = r
            specs = {t: _spec_from_record(newest[t]) for t in [victim] + list(offsets) if t in newest}
            values = _current_mozinfo(options, topobjdir)
        if victim not in specs:
            raise UsageError("%s is not among the tests of %s" % (victim, " ".join(options["suite"])))
        missing = sorted(t for t in offsets if t not in specs)
        if missing:
            print("paralleltest bisect: warning: not in the suite, left out: %s" % ", ".join(missing),
                  file=sys.stderr)
        offsets = {t: d for t, d in offsets.items() if t in specs}
        return _search(options, store, family, run_id, victim, offsets, specs, values, out)
    finally:
        store.close()


def _current_mozinfo(options, topobjdir):
    from ..selection.mozinfo_values import load_values
    from ..settings import objdir_of, state_dir_of

    return load_values(objdir_of(options, topobjdir), tuple(options.get("mozinfo") or ()),
                       cache_dir=state_dir_of(options, topobjdir))


def _search(options, store, family, run_id, victim, offsets, specs, values, out):
    from ..events import EventLog
    from ..flaky import FlakyRounds, FlakySettings
    from ..flaky.interference import classify
    from ..flaky.lab import RoundsLab, Stopped
    from ..flaky.search import MAX_ROUNDS, bisect
    from ..interrupt import Interrupts
    from ..reporting.logger import setup_logger
    from ..settings import log_options
    from ..store.recorder import Recorder

    text = options.get("format") != "json"
    limit = options.get("max_rounds") or MAX_ROUNDS
    logger = setup_logger(log_options(options), "mach")
    events = EventLog(logger)
    new_pool = _pool_factory(options)

    def record_round(kind, jobs, argv=None):
        rec = Recorder(store, kind=kind, parent_run=family.root,
                       warn=lambda t: print("paralleltest: warning: " + t, file=sys.stderr))
        rec.start(jobs, values, argv=argv)
        return rec

    class Lab(RoundsLab):
        def say(self, line):
            if text:
                print(line, file=out, flush=True)

    if text:
        known = classify(family.attempts.get(victim, []))
        left = len([t for t in offsets if t in known.culprits]) if known.culprits else len(offsets)
        print("%s failed beside %d test(s) in run %s (its newest recorded failure); %d of them overlapped "
              "every failure so far; at most %d rounds" % (victim, len(offsets), run_id, left, limit),
              file=out, flush=True)
    rounds = FlakyRounds(FlakySettings(), logger, events, list(specs.values()), new_pool, record_round)
    interrupts = Interrupts(rounds.stop)
    logger.suite_start({"mozparallel-bisect": sorted(specs)}, name="mozparallel", run_info=values)
    interrupts.install()
    try:
        finding = bisect(Lab(rounds, victim, specs.values()), victim, offsets, family.attempts.get(victim, []),
                         limit=limit)
    except Stopped as e:
        print("paralleltest bisect: stopped (%s) before a culprit was named" % e, file=sys.stderr)
        return interrupts.exit_status or 1
    finally:
        logger.suite_end()
        events.flush()
        logger.shutdown()
        interrupts.restore()
    if text:
        print(finding.describe(), file=out)
    else:
        v = finding.verdict
        json.dump({"victim": victim, "failed_in_run": run_id, "family": family.root, "status": finding.status,
                   "culprits": list(finding.culprits), "rounds": finding.rounds, "limit": finding.limit,
                   "candidates": finding.candidates, "steps": finding.steps,
                   "verdict": {"kind": v.kind, "attempts": v.attempts, "failures": v.failures,
                               "confirmed": v.confirmed, "order": v.order, "alone_runs": v.alone_runs,
                               "alone_passes": v.alone_passes}}, out, indent=2)
        out.write("\n")
    return 0 if finding.named else 1


def _pool_factory(options):
    from ..execution.pool import Pool, PoolOptions
    from ..protocols import make_parser

    def parser_for(spec):
        return make_parser(spec.protocol, spec.id, expected_fail=spec.expected_fail)

    def make(events, jobs, on_result):
        pool_options = PoolOptions(jobs=jobs, timeout=options.get("timeout"), max_time=options.get("max_time"),
                                   kill_grace=options.get("kill_grace") or 5.0)
        # A probe starts tests at set times: the pool turns at least every 0.1 s.
        return Pool(events, parser_for, pool_options, on_result=on_result, on_tick=lambda: None)

    return make
