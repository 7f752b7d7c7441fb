"""The rounds of one run that tell intermittent failures from real ones:
--repeat, --run-until-failure, --verify and --retries (failures run
again alone after the main run). Each round runs its tests once through a
fresh pool from the run's pool factory (the same kind as the main run's:
local, or the fleet's coordinator) and is recorded as a run of its own
(``kind`` and ``parent_run`` in the store). Verdicts go to the log
(verdicts.py); the exit status stays with run.py (read from the event
stream).
"""

from dataclasses import dataclass, field

from ..schedule import ListOrder
from . import verdicts
from .relog import RerunLog


@dataclass
class Outcome:
    status: str
    expected: str
    unexpected: bool
    message: str = ""


def outcome_of(result):
    """The Outcome of a contract.TestResult."""
    return Outcome(result.status, result.expected, result.unexpected, result.message)


@dataclass
class Round:
    kind: str                       # RunRecord.kind: "" (the main run), repeat, retry, verify-*
    label: str                      # for people: "run 3", "re-run 1", "alone 2"
    jobs: int
    outcomes: dict = field(default_factory=dict)    # test id -> Outcome
    stopped: str | None = None      # why the round ended early

    @property
    def any_unexpected(self):
        return any(o.unexpected for o in self.outcomes.values())


class FlakyRounds:
    """``new_pool(events, jobs, on_result)`` makes a pool (``run(scheduler)``,
    ``stop(reason, hard)``, ``stop_reason``); ``record_round(kind, jobs,
    label)`` starts the recording of a follow-up round and returns its
    recorder (``on_result(result)``, ``end(status)``, ``run_id``,
    ``where``)."""

    def __init__(self, settings, logger, events, specs, new_pool, record_round):
        self.settings = settings
        self.logger = logger
        self.specs = specs
        self.new_pool = new_pool
        self.record_round = record_round
        self.rounds = []
        self.current = None         # the pool running now
        self.stop_reason = None
        self.main_stop_reason = None
        self.jobs = 1
        # Re-run attempts are logged as xpcshell logs them (relog.py).
        self.relog = RerunLog(events) if settings.retries else None
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
        if self.relog is not None:
            self.relog.label = rnd.label

        def main_result(result):
            rnd.outcomes[result.id] = outcome_of(result)
            on_result(result)

        self._run_pool(self.new_pool(self.events, jobs, main_result), scheduler, rnd)
        self.main_stop_reason = rnd.stopped
        return rnd

    def _round(self, kind, label, specs, jobs):
        rnd = Round(kind, label, jobs)
        self.rounds.append(rnd)
        recorder = self.record_round(kind, jobs)
        self.logger.info("mozparallel: %s (%s): %d test(s), %s%s" % (
            label, kind, len(specs), "one at a time" if jobs == 1 else "J=%d" % jobs,
            "; recorded as run %s" % recorder.run_id if recorder.where else ""))
        if self.relog is not None:
            self.relog.label = label

        def on_result(result):
            rnd.outcomes[result.id] = outcome_of(result)
            if result.complete:
                recorder.on_result(result)

        try:
            self._run_pool(self.new_pool(self.events, jobs, on_result), ListOrder(list(specs)), rnd)
        finally:
            recorder.end("INTERRUPTED" if rnd.stopped else "UNEXPECTED" if rnd.any_unexpected else "OK")
        return rnd

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
        for k in range(1, n + 1):
            if not failing or not self._go_on():
                break
            self.relog.will_rerun = k < n
            rnd = self._round("retry", "re-run %d of %d" % (k, n), failing, 1)
            failing = [s for s in failing if s.id not in rnd.outcomes or rnd.outcomes[s.id].unexpected]
        if failing and not self._go_on():
            self._not_rerun(failing)

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
        (--retries): not unexpected in the end."""
        if not self.settings.retries:
            return []
        return verdicts.intermittent_ids(self.rounds, self.specs)

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
            lines += verdicts.rerun_lines(self.rounds, self.specs, s.retries, self._stopped())
        for line in lines:
            self.logger.info(line)
