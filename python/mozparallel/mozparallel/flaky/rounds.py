"""The rounds of one run that tell intermittent failures from real ones:
--repeat, --run-until-failure, --verify and --retries (failures run
again alone after the main run). Each round runs its tests once through a
fresh pool from the run's pool factory (the same kind as the main run's:
local, or the fleet's coordinator) and is recorded as a run of its own
(``kind`` and ``parent_run`` in the store). Verdicts go to the log
(verdicts.py); the exit status stays with run.py (read from the event
stream).

With --retries, a test that failed beside other tests and passed
alone is probed (search.py, through lab.py) until interference.py can call
it parallel-unsafe or intermittent; --find-interference then names the
test that breaks it. A test history marks as always failing
(``always_failing``) is not re-run.
"""

import time
from dataclasses import dataclass, field

from ..schedule import ListOrder, LockGate
from . import verdicts
from .interference import PARALLEL_UNSAFE, classify
from .lab import RoundsLab, Stopped, attempts_in_rounds, newest_failure_offsets
from .probe import probe_argv
from .relog import RerunLog
from .search import bisect, confirm


@dataclass
class Outcome:
    status: str
    expected: str
    unexpected: bool
    message: str = ""
    started: float | None = None    # time.monotonic() at its start and end (overlap.py)
    ended: float | None = None


def outcome_of(result):
    """The Outcome of a contract.TestResult, ending now."""
    return Outcome(result.final_status, result.expected, result.unexpected, result.message,
                   result.started, time.monotonic())


@dataclass
class Round:
    kind: str                       # RunRecord.kind: "" (the main run), repeat, retry, verify-*, beside...
    label: str                      # for people: "run 3", "re-run 1", "alone 2"
    jobs: int
    outcomes: dict = field(default_factory=dict)    # test id -> Outcome
    stopped: str | None = None      # why the round ended early
    victim: str | None = None       # a probe's (search.py): the test it is about
    order: str | None = None        # a probe's start order

    @property
    def any_unexpected(self):
        return any(o.unexpected for o in self.outcomes.values())


class FlakyRounds:
    """``new_pool(events, jobs, on_result)`` makes a pool (``run(scheduler)``,
    ``stop(reason, hard)``, ``stop_reason``); ``record_round(kind, jobs,
    argv)`` starts the recording of a follow-up round (``argv``: what a
    probe ran, probe.py) and returns its recorder (``on_result(result)``,
    ``end(status)``, ``run_id``, ``where``; ``argv`` is given for probes
    only). ``probe_pool``: the factory
    for probes, whose pools must turn at least every 0.1 s (an
    ``on_tick``); default ``new_pool``. ``always_failing``: test ids not
    to re-run."""

    def __init__(self, settings, logger, events, specs, new_pool, record_round, on_round=None, probe_pool=None,
                 always_failing=()):
        """``on_round(label, test_ids, jobs)``, if given, is told before
        each round of a repeat mode starts (the live view counts per round)."""
        self.settings = settings
        self.on_round = on_round
        self.logger = logger
        self.specs = specs
        self.new_pool = new_pool
        self.probe_pool = probe_pool or new_pool
        self.record_round = record_round
        self.always_failing = frozenset(always_failing)
        self.rounds = []
        self.current = None         # the pool running now
        self.stop_reason = None
        self.main_stop_reason = None
        self.jobs = 1
        self.interference = {}      # test id -> interference.Verdict of the tests probed
        self.findings = {}          # test id -> search.Finding (--find-interference)
        # Re-run attempts are logged as xpcshell logs them (relog.py).
        self.relog = RerunLog(events) if settings.retries else None
        if self.relog is not None:
            self.relog.no_rerun = self.always_failing
        self.events = self.relog or events

    def stop(self, reason, hard=False):
        """Stop the round running now and start no other (signal-safe)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        pool = self.current
        if pool is not None:
            pool.stop(reason, hard=hard)

    def end_running(self, reason):
        """End the tests running now and go on (--keep-going; signal-safe)."""
        pool = self.current
        if pool is not None:
            pool.end_running(reason)

    # -- the rounds ----------------------------------------------------------
    def run(self, scheduler, jobs, on_result):
        """The main run (``scheduler``, ``jobs`` at once, each result to
        ``on_result`` too) and the rounds around it."""
        s = self.settings
        self.jobs = jobs
        runs = s.runs
        if s.verify:
            for k in range(1, runs + 1):
                if not self._go_on():
                    break
                self._round("verify-alone", "alone %d" % k, self.specs, 1)
        self._main_round(scheduler, jobs, on_result)
        for k in range(2, runs + 1):
            if not self._go_on() or (s.run_until_failure and self.rounds[-1].any_unexpected):
                break
            self._round("verify-load" if s.verify else "repeat", "run %d" % k, self.specs, jobs)
        if s.retries:
            self._retry_failures()
        self._report()

    def _go_on(self):
        return self.stop_reason is None and not any(r.stopped for r in self.rounds)

    def _main_round(self, scheduler, jobs, on_result):
        rnd = Round("", "run 1", jobs)
        self.rounds.append(rnd)
        if self.settings.runs > 1:
            self._announce(rnd, [s.id for s in self.specs])
        if self.relog is not None:
            self.relog.start_round(rnd.label)

        def main_result(result):
            rnd.outcomes[result.id] = outcome_of(result)
            on_result(result)

        self._run_pool(self.new_pool(self.events, jobs, main_result), scheduler, rnd)
        self.main_stop_reason = rnd.stopped
        return rnd

    def _round(self, kind, label, specs, jobs, scheduler=None, victim=None, order=None):
        rnd = Round(kind, label, jobs, victim=victim, order=order)
        self.rounds.append(rnd)
        if victim is None:
            recorder = self.record_round(kind, jobs)
        else:       # a probe: what it ran, for families.py
            recorder = self.record_round(kind, jobs, probe_argv(victim, order or kind))
        count = scheduler.remaining() if scheduler is not None else len(specs)
        self.logger.info("mozparallel: %s (%s): %d test(s), %s%s" % (
            label, kind, count, "one at a time" if jobs == 1 else "J=%d" % jobs,
            "; recorded as run %s" % recorder.run_id if recorder.where else ""))
        if self.relog is not None:
            self.relog.start_round(label, probe=victim)
        self._announce(rnd, [s.id for s in (scheduler.planned_order() if scheduler is not None else specs)])

        def on_result(result):
            rnd.outcomes[result.id] = outcome_of(result)
            if result.complete:
                recorder.on_result(result)

        new_pool = self.new_pool if victim is None else self.probe_pool
        try:
            scheduler = scheduler or LockGate(ListOrder(list(specs)))
            self._run_pool(new_pool(self.events, jobs, on_result), scheduler, rnd)
        finally:
            recorder.end("INTERRUPTED" if rnd.stopped else "UNEXPECTED" if rnd.any_unexpected else "OK")
        return rnd

    def _announce(self, rnd, test_ids):
        if self.on_round is not None:
            self.on_round(rnd.label, test_ids, rnd.jobs)

    def probe_round(self, kind, label, scheduler, jobs, victim, order, decisive=False):
        """One probe (lab.py): ``victim`` beside what ``scheduler`` hands out.
        ``decisive``: a pass makes it parallel-unsafe (its log says so)."""
        if not self._go_on():
            raise Stopped(self._stopped() or "the run stopped")
        if decisive and self.relog is not None:
            culprits = classify(attempts_in_rounds(self.rounds, victim)).culprits
            self.relog.verdicts[victim] = (PARALLEL_UNSAFE, "fails beside %s, passes alone" % ", ".join(
                sorted(culprits)))
        try:
            return self._round(kind, label, (), jobs, scheduler=scheduler, victim=victim, order=order)
        finally:
            if self.relog is not None:
                self.relog.verdicts.pop(victim, None)

    def _run_pool(self, pool, scheduler, rnd):
        self.current = pool
        try:
            if self.stop_reason is None:
                pool.run(scheduler)
        finally:
            self.current = None
            rnd.stopped = pool.stop_reason or self.stop_reason

    def _retry_failures(self):
        n = self.settings.retries
        main_rounds = verdicts.kind_rounds(self.rounds, "", "repeat")
        failing = [s for s in self.specs
                   if any(r.outcomes.get(s.id) and r.outcomes[s.id].unexpected for r in main_rounds)
                   and not any(r.outcomes.get(s.id) and not r.outcomes[s.id].unexpected for r in main_rounds)]
        known = [s.id for s in failing if s.id in self.always_failing]
        if known:
            self.logger.info("mozparallel: not re-run, failed every attempt of its last recorded runs: %s"
                             % ", ".join(known))
            failing = [s for s in failing if s.id not in self.always_failing]
        retried = list(failing)
        for k in range(1, n + 1):
            if not failing or not self._go_on():
                break
            self.relog.will_rerun = k < n
            rnd = self._round("retry", "re-run %d of %d" % (k, n), failing, 1)
            failing = [s for s in failing if s.id not in rnd.outcomes or rnd.outcomes[s.id].unexpected]
        if failing and not self._go_on():
            self._not_rerun(failing)
            return
        still = {s.id for s in failing}
        self._probe_interference([s for s in retried if s.id not in still])

    def _probe_interference(self, passed):
        """The tests that failed beside others and passed alone: probe them
        (search.confirm), then with --find-interference name the culprit."""
        for spec in passed:
            attempts = attempts_in_rounds(self.rounds, spec.id)
            if not any(a.failed and a.company for a in attempts) or any(a.failed and a.alone for a in attempts):
                continue
            offsets = newest_failure_offsets(self.rounds, spec.id)
            lab = RoundsLab(self, spec.id, self.specs)
            try:
                verdict = confirm(lab, offsets, attempts)
                self.interference[spec.id] = verdict
                if verdict.kind == PARALLEL_UNSAFE and self.settings.find_interference:
                    finding = bisect(lab, spec.id, offsets, attempts_in_rounds(self.rounds, spec.id),
                                     limit=self.settings.max_rounds)
                    self.findings[spec.id] = finding
                    self.interference[spec.id] = finding.verdict
                    lab.say("interference: " + finding.describe())
            except Stopped:
                break

    def _not_rerun(self, specs):
        """Tests whose last failure was logged as "to be re-run" when the run
        stopped first: log that failure again, unexpected, as their result."""
        reason = self._stopped() or "the run stopped"
        events = self.relog.inner
        for spec in specs:
            last = next((r.outcomes[spec.id] for r in reversed(self.rounds) if spec.id in r.outcomes), None)
            if last is None or not last.unexpected:
                continue
            events.emit({"action": "test_start", "test": spec.id})
            events.emit({"action": "test_end", "test": spec.id, "status": last.status, "expected": last.expected,
                         "message": "%s (not re-run: %s)" % (last.message, reason)})

    def _stopped(self):
        return self.stop_reason or next((r.stopped for r in self.rounds if r.stopped), None)

    # -- verdicts --------------------------------------------------------------
    def history_of(self, test, kinds):
        return verdicts.history_of(self.rounds, test, kinds)

    def intermittent_ids(self):
        """Tests whose main-run failure was followed by a passing re-run
        (--retries): not unexpected in the end (parallel-unsafe ones
        included)."""
        if not self.settings.retries:
            return []
        return verdicts.intermittent_ids(self.rounds, self.specs)

    def final_verdicts(self):
        """``(unexpected ids, intermittent ids)``: each test's verdict over
        all its rounds, as the verdict lines and the exit status have it."""
        return (verdicts.unexpected_ids(self.rounds, self.specs, bool(self.settings.retries)),
                self.intermittent_ids())

    def parallel_unsafe_ids(self):
        return [t for t, v in self.interference.items() if v.kind == PARALLEL_UNSAFE]

    def _report(self):
        s = self.settings
        if s.verify:
            lines = verdicts.verify_lines(self.rounds, self.specs, self.jobs)
        elif s.run_until_failure:
            lines = verdicts.until_failure_lines(self.rounds, s.runs)
        elif s.repeat:
            lines = verdicts.repeat_lines(self.rounds, self.specs, s.repeat)
        else:
            lines = []
        if s.retries:
            lines += verdicts.rerun_lines(self.rounds, self.specs, s.retries, self._stopped(),
                                          self.interference)
        for line in lines:
            self.logger.info(line)
