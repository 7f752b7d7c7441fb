"""Wires one run: selection -> schedule -> pool -> mozlog. Returns the exit
status. How each step works lives in its own module."""

import os
import shlex
import signal
import sys
import time

from mozlog import commandline

from .cli import REPORTERS, UsageError
from .events import EventLog
from .interrupt import Interrupts, resume_hint
from .execution.pool import Pool, PoolOptions, TestSpec, is_unexpected
from .protocols import make_parser
from .reporting.run_reporters import RunReporters, check_report_path
from .reporting.status import RunStatus
from .resume import load_resumed, replay
from .schedule import (available_memory, load_history, mark_other_chunks, parse_policy, plan_chunks, plan_run,
                       resolve_chunk)
from .selection import select_tests
from .selection.discover import command_path
from .selection.listing import write_listing
from .store.recorder import start_recording
from .flaky import FlakyRounds, flaky_settings

EXIT_OK, EXIT_UNEXPECTED = 0, 1
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


def build_specs(selected, options):
    """TestSpecs for the tests that will run, and the skipped ones."""
    exec_argv = None
    if options.get("exec_cmd"):
        try:
            exec_argv = shlex.split(options["exec_cmd"])
        except ValueError as e:
            raise UsageError("cannot split --exec %r: %s" % (options["exec_cmd"], e))
        if not exec_argv:
            raise UsageError("--exec is empty")
    specs, skipped = [], []
    for t in selected:
        if t.disabled:
            skipped.append(t)
            continue
        keys = t.keys
        command = keys.get("exec") or keys.get("command")
        if command:
            argv = shlex.split(command) + [t.argv_path]
        elif exec_argv:
            argv = exec_argv + [t.argv_path]
        else:
            argv = [command_path(t.argv_path)]
        specs.append(TestSpec(
            id=t.id, argv=argv, path=t.path, group=t.group,
            protocol=_protocol_key(keys, options),
            timeout=_float_key(keys, "timeout"),
            max_time=_float_key(keys, "max-time"),
            expected_fail=str(keys.get("expected", "pass")).lower() == "fail",
            expected_outcome=_expected_outcome(keys),
            sequential=keys.get("run-sequentially"),
            cwd=os.path.dirname(t.path) if keys.get("cwd") == "here" else None,
        ))
    return specs, skipped


def _protocol_key(keys, options):
    from .protocols import PARSERS

    name = keys.get("protocol") or options.get("protocol") or "auto"
    if name not in PARSERS:
        raise UsageError("manifest key protocol = %r is not one of %s" % (name, ", ".join(sorted(PARSERS))))
    return name


def _expected_outcome(keys):
    from .protocols.base import OUTCOME_STATUS
    value = str(keys.get("expected", "")).lower()
    return value if value in OUTCOME_STATUS else None


def _float_key(keys, name):
    value = keys.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError("manifest key %s = %r is not a number" % (name, value))


def setup_logger(options):
    reporter = options.get("reporter") or "mach"
    fmt = REPORTERS[reporter]
    # The mach reporter on stdout is ours (reporting/live.py), added by RunReporters.
    defaults = {} if reporter == "mach" else {fmt: sys.stdout}
    logger = commandline.setup_logging("mozparallel", options, defaults=defaults)
    return logger


def _warn(text):
    print("paralleltest: warning: %s" % text, file=sys.stderr)


def choose_chunk(selected, history, options):
    """Mark the tests of other chunks (``--this-chunk``/``--total-chunks`` or
    the CI variables); returns (text for the log or None, ids of other chunks)."""
    try:
        this, total = resolve_chunk(options.get("total_chunks"), options.get("this_chunk"), os.environ)
    except ValueError as e:
        raise UsageError(str(e))
    if total is None:
        return None, set()
    plan = plan_chunks([t.id for t in selected if not t.disabled], total, history)
    others = mark_other_chunks(selected, plan, this)
    expected = plan.expected[this - 1]
    text = "mozparallel: chunk %d of %d by %s: %d tests%s" % (
        this, total, "expected duration" if plan.method == "duration" else "hash of the test id",
        len(plan.chunks[this - 1]), "" if expected is None else ", expected %.1fs of work" % expected)
    return text, others


def run(options, topobjdir=None, head_start=None):
    head = head_start if _head_start_allowed(options, topobjdir, head_start) else None
    if head_start is not None and head is None:
        head_start.abandon()
    selected, run_info = select_tests(options, topobjdir)
    chunked = options.get("total_chunks") or options.get("this_chunk")
    history = None
    if not options.get("list") or chunked:
        history = load_history(options, [t.id for t in selected if not t.disabled], topobjdir,
                               warn=_warn, tests=selected)
    chunk_text, other_chunks = choose_chunk(selected, history, options) if history is not None else (None, set())
    if options.get("list"):
        write_listing(sys.stdout, selected, run_info, options.get("format") or "text")
        return EXIT_OK
    selected = [t for t in selected if t.id not in other_chunks]
    specs, skipped = build_specs(selected, options)
    resumed = load_resumed(options, topobjdir)      # --resume: tests done before are not run
    specs = [s for s in specs if s.id not in resumed]
    run_plan = plan_run(specs, history, options.get("schedule") or "history", options.get("jobs"),
                        available=available_memory(), limit=options.get("max_memory"))
    jobs = run_plan.jobs
    check_report_path(options)
    flaky = flaky_settings(options)    # --rerun-failures, --repeat, ...: checked before anything starts
    if options.get("verbose") and options.get("log_subtests") is None:
        options["log_subtests"] = "all"     # -v shows every test point

    logger = setup_logger(options)
    scheduler = run_plan.scheduler
    reporters = RunReporters(logger, options, jobs, specs, scheduler, topobjdir)
    status = RunStatus()
    logger.add_handler(status)
    events = EventLog(logger)

    groups = {}
    for t in selected:
        groups.setdefault(t.group, []).append(t.id)
    recorder = start_recording(options, topobjdir, logger.warning)
    if options.get("resume"):
        recorder.run_id = options["resume"]
    logger.suite_start(groups, name="mozparallel", run_info=run_info,
                       extra={"jobs": jobs, "run_id": recorder.run_id})
    recorder.start(jobs, run_info)
    rounds = FlakyRounds(flaky, logger, specs, recorder.run_id, run_info, options, topobjdir)
    if recorder.where:
        logger.info("mozparallel: run %s, recorded in %s" % (recorder.run_id, recorder.where))
    if chunk_text:
        logger.info(chunk_text)
    logger.info(run_plan.describe())
    tally = Tally()
    for t in skipped:
        logger.test_start(t.id)
        logger.test_end(t.id, "SKIP", message=t.disabled)
        tally.skipped += 1
    replay(logger, [t.id for t in selected], resumed, recorder.run_id,
           on_result=lambda end: tally.add(None, end, _NOT_UNEXPECTED))

    planned = [s.id for s in scheduler.planned_order()]
    walls = {}

    def on_result(spec, end, running):
        tally.add(spec, end, running)
        extra = end.get("extra") or {}
        walls[spec.id] = (extra.get("wall"), max(extra.get("peak_rss_kb") or 0, extra.get("maxrss_kb") or 0) * 1024)
        # A test ended by the runner (interrupt, --max-failures) has no
        # complete result: not recorded, so --resume runs it again.
        if getattr(running, "end_kind", None) != "stopped":
            recorder.on_result(spec, end, running)

    make_pool = Pool
    if options.get("broker"):      # dynamic mode on Celery + Redis: same events, remote workers
        from .distributed.coordinator import coordinator_factory
        make_pool = coordinator_factory(options, recorder.run_id)
    pool = make_pool(
        events,
        lambda spec: make_parser(spec.protocol, spec.id,
                                 log_subtests=options.get("log_subtests") == "all",
                                 expected_fail=spec.expected_fail),
        PoolOptions(
            jobs=jobs,
            timeout=options.get("timeout"),
            max_time=options.get("max_time"),
            kill_grace=options.get("kill_grace", 5.0),
            log_subtests=options.get("log_subtests") == "all",
            bail=bool(options.get("bail")),
            max_failures=options.get("max_failures"),
            allow_leaks=bool(options.get("allow_leaks")),
        ),
        on_result=on_result,
        on_tick=reporters.on_tick,
        # (never with --broker, whose coordinator takes no head start)
        **({"head_start": head} if head is not None else {}),
    )
    # First SIGINT/SIGTERM: graceful stop; second: at once (interrupt.py).
    # The handlers stay until the logs are closed.
    interrupts = Interrupts(rounds.stop)   # stops the pool running now
    interrupted = interrupts.received
    interrupts.install()
    started = time.monotonic()
    try:
        rounds.run(pool, scheduler)     # the main run, and any re-runs/repeats (flaky/)
        tally.intermittent(rounds.intermittent_ids())
    finally:
        recorder.end("INTERRUPTED" if interrupted else "UNEXPECTED" if status.any_unexpected else "OK")
        recorder.close()
        reporters.end_of_run()
        logger.info(tally.summary(time.monotonic() - started))
        logger.suite_end()
        events.flush()
        logger.shutdown()
        reporters.write_reports()
        interrupts.restore()
    if head is not None and not interrupted and getattr(pool, "stop_reason", None) is None:
        _save_head_start(head, options, selected, specs, planned, walls, run_plan)
    if interrupted:
        finished = getattr(pool, "finished_ids", set())
        print(resume_hint(recorder.run_id, bool(recorder.where), [s for s in specs if s.id not in finished],
                          len(specs)), file=sys.stderr)
        return interrupts.exit_status
    return EXIT_UNEXPECTED if status.any_unexpected else EXIT_OK


def _head_start_allowed(options, topobjdir, head):
    """Whether this run may adopt (and save) a head start: a plain local run
    that keeps state (not ``--store none``) in the directory the head start
    read."""
    if head is None:
        return False
    from .store import state_dir, store_arg

    store = store_arg(options) or ""
    name, seed = parse_policy(options.get("schedule") or "history")
    return (state_dir(options, topobjdir) == head.state_dir and not options.get("broker")
            and not options.get("resume") and not options.get("verify") and options.get("repeat") is None
            and not options.get("run_until_failure") and "://" not in store and store != "none"
            and not (name == "shuffle" and seed is None))


def _save_head_start(head, options, selected, specs, planned, walls, run_plan):
    """What the next run of this command starts first (execution/head_start.py)."""
    from .execution.head_start import as_saved, next_first

    measured = {t: wall for t, (wall, _) in walls.items() if wall is not None}
    first = next_first(specs, planned, measured, run_plan.scheduler.name == "history", run_plan.jobs)
    inputs = [os.path.abspath(t) for t in options.get("tests") or ()]
    inputs += {os.path.abspath(t.group) for t in selected if t.group not in ("default", None)}
    objdir = options.get("objdir") or os.environ.get("MOZ_OBJDIR")
    if objdir:
        inputs.append(os.path.join(objdir, "mozinfo.json"))
    inputs += [s.path for s in first if s.path]
    predicted = getattr(run_plan.scheduler, "predicted", {})
    memory = sum(max(predicted.get(s.id) or 0, walls.get(s.id, (None, 0))[1]) for s in first)
    head.save_next([as_saved(s) for s in first], inputs, run_plan.jobs, options.get("kill_grace", 5.0),
                   memory=memory, max_memory=options.get("max_memory"))


class _Replayed:
    unexpected = False          # a replayed result carries its own status only


_NOT_UNEXPECTED = _Replayed()


class Tally:
    """Counts of the run's results, for the closing summary line."""

    def __init__(self):
        self.passed = self.unexpected = self.skipped = self.expected_fail = 0
        self.intermittents = 0
        self._unexpected_ids = set()

    def add(self, spec, end, running):
        if is_unexpected(end) or running.unexpected:
            self.unexpected += 1
            self._unexpected_ids.add(end.get("test"))
        elif end["status"] == "SKIP":
            self.skipped += 1
        elif end["status"] not in ("OK", "PASS"):     # expected FAIL, CRASH, TIMEOUT
            self.expected_fail += 1
        else:
            self.passed += 1

    def intermittent(self, test_ids):
        """Main-run failures that passed when re-run count as passed (and
        intermittent), as the exit status has it."""
        for test in test_ids:
            if test in self._unexpected_ids:
                self._unexpected_ids.discard(test)
                self.unexpected -= 1
                self.passed += 1
                self.intermittents += 1

    def summary(self, seconds):
        total = self.passed + self.unexpected + self.skipped + self.expected_fail
        passed = "%d passed" % self.passed
        if self.intermittents:
            passed += " (%d intermittent)" % self.intermittents
        return ("mozparallel: %d tests in %.1fs: %s, %d unexpected, %d skipped, "
                "%d expected failures" % (total, seconds, passed, self.unexpected,
                                          self.skipped, self.expected_fail))
