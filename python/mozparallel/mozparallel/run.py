"""Wires one run, one way: selection -> schedule -> execution -> events ->
reports. Settings are built once (settings.py), the store is opened once
and handed to the layers that read or write history, and every finished
test reaches the tally, the recorder and the flaky rounds as one frozen
TestResult (contract.py). Returns the exit status. How each step works
lives in its own module."""

import dataclasses
import os
import sys
import time

from .commands.resume import load_resumed, replay
from .errors import EXIT_LOG_LOST, EXIT_OK, EXIT_UNEXPECTED, UsageError
from .events import EventLog
from .execution.environment import test_environment
from .execution.pool import Pool
from .execution.specs import build_specs
from .flaky import FlakyRounds
from .interrupt import Interrupts, resume_hint, signal_name
from .protocols import make_parser
from .reporting.logger import setup_logger
from .reporting.run_reporters import RunReporters, check_report_path
from .reporting.status import RunStatus
from .reporting.tally import Tally
from .schedule import (available_memory, frozen_plan, load_history, mark_other_chunks, plan_record, plan_run,
                       resolve_chunk)
from .selection import select_tests
from .settings import run_settings
from .store import StoreError, open_store
from .store.recorder import Recorder


def _warn(text):
    print("paralleltest: warning: %s" % text, file=sys.stderr)


def choose_chunk(selected, schedule):
    """Mark the tests of other chunks (``--this-chunk``/``--total-chunks`` or
    the CI variables); returns (text for the log or None, ids of other
    chunks, the plan's record for the log or None). The plan comes from the
    test ids and --runtimes only, so every chunk plans the same."""
    try:
        this, total = resolve_chunk(schedule.total_chunks, schedule.this_chunk, os.environ)
    except ValueError as e:
        raise UsageError(str(e))
    if total is None:
        return None, set(), None
    plan = frozen_plan([t.id for t in selected if not t.disabled], total, schedule.runtimes, selected)
    others = mark_other_chunks(selected, plan, this)
    expected = plan.expected[this - 1]
    text = "mozparallel: chunk %d of %d by %s: %d tests%s" % (
        this, total, "expected duration (--runtimes)" if plan.method == "duration" else
        "hash of the test id" + ("" if schedule.runtimes else " (no --runtimes file)"),
        len(plan.chunks[this - 1]), "" if expected is None else ", expected %.1fs of work" % expected)
    return text, others, plan_record(plan, this)


def _open_store(settings):
    """The run's store, opened once (None: --store none, or it cannot be
    opened, which is one warning and no history)."""
    try:
        return open_store(settings.store, warn=_warn)
    except StoreError as e:
        if settings.resume:
            raise UsageError("--resume %s: %s" % (settings.resume, e))
        _warn("%s; this run is not recorded" % e)
        return None


def run(options, topobjdir=None):
    settings = run_settings(options, topobjdir)
    selected, run_info = select_tests(settings.selection)
    sched = settings.schedule
    try:    # chunked by the options or by a CI variable (JOB_COMPLETION_INDEX, TEST_SHARD_INDEX, ...)
        chunked = resolve_chunk(sched.total_chunks, sched.this_chunk, os.environ)[1] is not None
    except ValueError as e:
        raise UsageError(str(e))
    if settings.list and not chunked:
        from .selection.listing import write_listing
        write_listing(sys.stdout, selected, run_info, settings.list_format)
        return EXIT_OK
    store = _open_store(settings)
    interrupts = Interrupts()
    ending = _Ending()
    try:
        try:
            return _run(settings, store, selected, run_info, interrupts, ending)
        finally:
            if store is not None:
                try:
                    store.close()
                except StoreError:
                    pass
    except KeyboardInterrupt:
        if not interrupts.finished:
            raise       # (before the tests: cli.py says "interrupted while starting")
        return ending.cut_short(interrupts)
    finally:
        interrupts.restore()        # the last step: a signal before it is ours


# What a run does once its tests have ended, in order, and what a second
# signal then leaves incomplete.
RECORDING, LOGS, REPORTS, CLOSING = range(4)
_PHASES = {
    RECORDING: ("recording the run in the history", "the logs and the reports are incomplete"),
    LOGS: ("writing the logs", "the logs and the reports are incomplete"),
    REPORTS: ("writing the reports", "the reports are incomplete (the logs are complete)"),
    CLOSING: ("finishing", "the logs and the reports are complete"),
}


class _Ending:
    """How far the end of the run got (a second signal after the tests
    ended cuts it short: interrupt.py)."""

    def __init__(self):
        self.phase = None
        self.hint = None        # the resume hint of an interrupted run

    def cut_short(self, interrupts):
        doing, left = _PHASES.get(self.phase, _PHASES[RECORDING])
        name = signal_name((interrupts.late or interrupts.received)[-1])
        print("paralleltest: interrupted by %s while %s, after the tests had ended: %s"
              % (name, doing, left), file=sys.stderr)
        if self.hint:
            print(self.hint, file=sys.stderr)
        return interrupts.late_exit_status

    def print_hint(self):
        hint, self.hint = self.hint, None
        print(hint, file=sys.stderr)


def _last_failures(settings, store, selected, run_info):
    """--rerun-failures: the selected tests that failed in the last recorded
    run of them, others dropped; UsageError when there is nothing to say it."""
    from .store.queries import last_failures

    if store is None:
        raise UsageError("--rerun-failures needs the history (not --store none)")
    run_id, failed = last_failures(store, [t.id for t in selected if not t.disabled])
    if run_id is None:
        raise UsageError("--rerun-failures: no recorded run of these tests")
    kept = [t for t in selected if t.id in failed]
    _warn("--rerun-failures: %d test(s) had an unexpected result in run %s%s" % (
        len(kept), run_id, "" if kept else "; nothing to run"))
    known = set(_always_failing(store, run_info, kept))
    if known:
        _warn("--rerun-failures: not run, failed every attempt of its last recorded runs here: %s"
              % ", ".join(t.id for t in kept if t.id in known))
        kept = [t for t in kept if t.id not in known]
    return kept


def _run(settings, store, selected, run_info, interrupts, ending):
    if settings.rerun_failures:
        selected = _last_failures(settings, store, selected, run_info)
    sched = settings.schedule
    history = load_history(store, [t.id for t in selected if not t.disabled], runtimes=sched.runtimes,
                           warn=_warn, tests=selected)
    chunk_text, other_chunks, chunk_plan = choose_chunk(selected, sched)
    if settings.list:
        from .selection.listing import write_listing
        write_listing(sys.stdout, selected, run_info, settings.list_format)
        return EXIT_OK
    selected = [t for t in selected if t.id not in other_chunks]
    specs, skipped = build_specs(selected, settings.specs.exec_cmd, settings.specs.protocol, settings.specs.env,
                                 settings.specs.wrapper, settings.specs.resources)
    resumed = load_resumed(store, settings.resume)      # --resume: tests done before are not run
    foreign = sorted(set(resumed) - {t.id for t in selected})
    if foreign:
        raise UsageError("--resume %s: that run has results for %d test(s) not given now (%s%s): give the "
                         "interrupted run's tests and options again (its resume hint has them)" % (
                             settings.resume, len(foreign), ", ".join(foreign[:3]), ", ..." if len(foreign) > 3 else ""))
    specs = [s for s in specs if s.id not in resumed]
    # (no memory gate with --broker: the tests run on other machines)
    available = available_memory() if settings.fleet is None else None
    run_plan = plan_run(specs, history, sched.policy, sched.jobs, available=available,
                        limit=sched.max_memory)
    jobs = run_plan.jobs
    reporting = settings.reporting
    check_report_path(reporting.report_html)
    pool_options = dataclasses.replace(settings.execution, jobs=jobs)

    logger = setup_logger(reporting.log_options, reporting.reporter)
    scheduler = run_plan.scheduler
    reporters = RunReporters(logger, reporting, jobs, specs, scheduler, store)
    status = RunStatus()
    logger.add_handler(status)
    events = EventLog(logger)

    groups = {}
    for t in selected:
        groups.setdefault(t.group, []).append(t.id)
    recorder = Recorder(store, run_id=settings.resume, warn=logger.warning)
    extra = {"jobs": jobs, "run_id": recorder.run_id}
    if chunk_plan is not None:
        extra["chunk_plan"] = chunk_plan       # merge checks the chunks against it
    logger.suite_start(groups, name="mozparallel", run_info=run_info, extra=extra)
    recorder.start(jobs, run_info)
    if recorder.where:
        logger.info("mozparallel: run %s, recorded in %s" % (recorder.run_id, recorder.where))
    if chunk_text:
        logger.info(chunk_text)
    if settings.fleet is None:
        logger.info(run_plan.describe(verbose=reporting.verbose))     # the reasoning at -v
        if not reporting.verbose:
            logger.debug(run_plan.reasoning())                          # and always in the raw log
    else:       # J and the makespan are the workers' own
        from .store.redis_store import describe

        logger.info("mozparallel: schedule %s; on the workers of %s, each test to the first free slot; "
                    "%d of %d tests known (history: %s)" % (run_plan.scheduler.name,
                                                           describe(settings.fleet.broker), run_plan.known,
                                                           run_plan.total, run_plan.history_source))
    tally = Tally()
    for t in skipped:
        logger.test_start(t.id)
        logger.test_end(t.id, "SKIP", message=t.disabled)
        tally.skipped += 1
    replay(logger, [t.id for t in selected], resumed, recorder.run_id, on_result=tally.add)

    finished = set()

    def on_result(result):
        tally.add_result(result)
        # A test ended by the runner (interrupt, --max-failures) has no
        # complete result: not recorded, so --resume runs it again.
        if result.complete:
            finished.add(result.id)
            recorder.on_result(result)

    def parser_for(spec):
        return make_parser(spec.protocol, spec.id, log_subtests=reporting.log_subtests,
                           expected_fail=spec.expected_fail)

    new_pool = _pool_factory(settings, recorder.run_id, parser_for, pool_options, reporters.on_tick)
    # Probes start tests at set times (flaky/probe.py): their pools turn at
    # least every 0.1 s, live view or not. A probe's failures are what it
    # looks for: --max-failures and --bail do not stop it.
    probe_pool = _pool_factory(settings, recorder.run_id, parser_for,
                               dataclasses.replace(pool_options, max_failures=None, bail=False),
                               reporters.on_tick or _no_tick)

    def record_round(kind, round_jobs, argv=None):
        rec = Recorder(store, warn=logger.warning, kind=kind, parent_run=recorder.run_id)
        rec.start(round_jobs, run_info, argv=argv)
        return rec

    rounds = FlakyRounds(settings.flaky, logger, events, specs, new_pool, record_round,
                         on_round=reporters.new_round, probe_pool=probe_pool,
                         always_failing=_always_failing(store, run_info, specs) if settings.flaky.retries else ())
    # First SIGINT/SIGTERM/SIGHUP: graceful stop; second: at once
    # (interrupt.py). Once the tests have ended, one is only noted; the
    # handlers stay until run() has closed everything.
    interrupts.stop = rounds.stop
    interrupts.end_running = rounds.end_running if settings.keep_going else None
    interrupts.install()
    started = time.monotonic()
    try:
        rounds.run(scheduler, jobs, on_result)     # the main run, and any re-runs/repeats (flaky/)
        # Each test over all its rounds (repeat modes), parallel-unsafe ones named.
        tally.judge(*rounds.final_verdicts(), parallel_unsafe=rounds.parallel_unsafe_ids())
    finally:
        interrupts.finishing()
        elapsed = time.monotonic() - started
        interrupted = list(interrupts.received)
        ending.phase = RECORDING
        recorder.end("INTERRUPTED" if interrupted else "UNEXPECTED" if status.any_unexpected else "OK")
        unfinished = [s for s in specs if s.id not in finished]
        if interrupted:
            ending.hint = resume_hint(recorder.run_id, recorder.run_recorded, unfinished, len(specs))
        ending.phase = LOGS
        reporters.end_of_run()
        logger.info(tally.summary(elapsed))
        logger.suite_end()
        events.flush()
        logger.shutdown()
        ending.phase = REPORTS
        reporters.write_reports(interrupted=(rounds.stop_reason or "interrupted") if interrupted else None,
                                unfinished=unfinished, runnable=len(specs))
        ending.phase = CLOSING
    if interrupts.late:
        print("paralleltest: %s after the tests had ended: the logs, the history and the reports were "
              "written all the same (a second one cuts them short)" % signal_name(interrupts.late[0]),
              file=sys.stderr)
    if interrupted:
        ending.print_hint()
        return interrupts.exit_status
    if status.any_unexpected:
        return EXIT_UNEXPECTED
    # Every result as expected, but a log the run was asked for is
    # incomplete (events.py warned, naming it): CI lost its structured log.
    return EXIT_LOG_LOST if events.failed else EXIT_OK


def _no_tick():
    pass


# Recorded runs read for always-failing tests (re-runs and probes are runs too).
ALWAYS_FAILING_WINDOW = 50


def _always_failing(store, run_info, tests):
    """Of ``tests`` (anything with an ``id``), those that failed every
    attempt of each of their last recorded runs on this platform
    (flaky/families.py): not worth running again to see it once more."""
    if store is None or not tests:
        return ()
    from .flaky.families import families, always_failing

    try:
        fams = families(store.runs(ALWAYS_FAILING_WINDOW), store.recent_results(ALWAYS_FAILING_WINDOW))
    except StoreError as e:
        _warn("history not read: %s" % e)
        return ()
    ids = {t.id for t in tests}
    return [t for t in always_failing(fams, run_info) if t in ids]



def _pool_factory(settings, run_id, parser_for, pool_options, on_tick):
    """``new_pool(events, jobs, on_result)``: a local Pool, or with
    ``--broker`` the fleet's coordinator (same events, remote workers)."""
    if settings.fleet is not None:
        from .distributed.coordinator import coordinator_factory

        make = coordinator_factory(settings.fleet, run_id)
        return lambda events, jobs, on_result: make(
            events, dataclasses.replace(pool_options, jobs=jobs), on_result=on_result, on_tick=on_tick)
    env = test_environment()    # without the runner's own credentials
    return lambda events, jobs, on_result: Pool(
        events, parser_for, dataclasses.replace(pool_options, jobs=jobs), env=env, on_result=on_result,
        on_tick=on_tick)


__all__ = ["run"]
