"""The rounds of one run that tell intermittent failures from real ones:
--repeat, --run-until-failure, --verify and --rerun-failures (failures run
again alone after the main run). A round runs each of its tests once
through a Pool configured like the main one and is recorded as a run of
its own (``kind`` and ``parent_run`` in the store). Verdicts go to the
log; the exit status stays with run.py (read from the event stream).
"""

import dataclasses
from dataclasses import dataclass, field

from ..cli import UsageError
from ..execution.pool import Pool
from ..schedule import ListOrder
from ..store.recorder import start_recording
from .relog import RerunLog

# mochitest's --run-until-failure: at most 30 runs unless --repeat says otherwise.
UNTIL_FAILURE_RUNS = 30
VERIFY_RUNS = 10


@dataclass
class FlakySettings:
    rerun_failures: int = 0         # re-runs of a failing test, after the main run
    repeat: int | None = None
    run_until_failure: bool = False
    verify: bool = False

    @property
    def active(self):
        return bool(self.rerun_failures or self.repeat or self.run_until_failure or self.verify)


def flaky_settings(options):
    """The settings of parsed options; UsageError for a combination that
    means nothing."""
    s = FlakySettings(rerun_failures=options.get("rerun_failures") or 0, repeat=options.get("repeat"),
                      run_until_failure=bool(options.get("run_until_failure")),
                      verify=bool(options.get("verify")))
    if s.verify and s.run_until_failure:
        raise UsageError("--verify and --run-until-failure cannot be combined")
    if s.rerun_failures and (s.verify or s.run_until_failure):
        raise UsageError("--rerun-failures cannot be combined with %s (it wants to see every failure)"
                         % ("--verify" if s.verify else "--run-until-failure"))
    if s.repeat == 0 and (s.verify or s.run_until_failure):
        raise UsageError("--repeat 0 leaves %s nothing to run" %
                         ("--verify" if s.verify else "--run-until-failure"))
    return s


@dataclass
class Outcome:
    status: str
    expected: str
    unexpected: bool
    message: str = ""


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


def outcome_of(end, running):
    status = end.get("status", "")
    expected = end.get("expected") or "OK"
    unexpected = bool(getattr(running, "unexpected", False)) or (status != expected and status != "SKIP")
    return Outcome(status, expected, unexpected, end.get("message") or "")


class FlakyRounds:
    def __init__(self, settings, logger, specs, parent_run, run_info, options, topobjdir=None):
        self.settings = settings
        self.logger = logger
        self.specs = specs
        self.parent_run = parent_run
        self.run_info = run_info
        self.options = options
        self.topobjdir = topobjdir
        self.rounds = []
        self.main = None
        self.current = None         # the pool running now
        self.stop_reason = None
        self.relog = None

    def stop(self, reason, hard=False):
        """Stop the round running now and start no other (signal-safe)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        pool = self.current
        if pool is not None:
            pool.stop(reason, hard=hard)

    # -- the rounds ----------------------------------------------------------
    def run(self, pool, scheduler):
        """Run the main pool (with ``scheduler``) and the rounds around it."""
        s = self.settings
        self.main = pool
        if s.rerun_failures:
            self.relog = pool.events = RerunLog(pool.events)
        runs = self._runs()
        if s.verify:
            for k in range(1, runs + 1):
                if not self._go_on():
                    break
                self._round("verify-alone", "alone %d" % k, self.specs, 1)
        main = self._main_round(pool, scheduler)
        for k in range(2, runs + 1):
            if not self._go_on() or (s.run_until_failure and self.rounds[-1].any_unexpected):
                break
            self._round("verify-load" if s.verify else "repeat", "run %d" % k, self.specs, main.jobs)
        if s.rerun_failures:
            self._rerun_failures()
        self._report()

    def _runs(self):
        s = self.settings
        if s.verify:
            return s.repeat or VERIFY_RUNS
        if s.run_until_failure:
            return s.repeat or UNTIL_FAILURE_RUNS
        return 1 + (s.repeat or 0)

    def _go_on(self):
        return self.stop_reason is None and not any(r.stopped for r in self.rounds)

    def _kind_rounds(self, *kinds):
        return [r for r in self.rounds if r.kind in kinds]

    def _main_round(self, pool, scheduler):
        rnd = Round("", "run 1", getattr(pool.options, "jobs", 1))
        self.rounds.append(rnd)
        if self.relog is not None:
            self.relog.label = rnd.label
        recorded = pool.on_result

        def on_result(spec, end, running):
            # The main pool's own on_result (tally, recorder) stays; we only listen.
            rnd.outcomes[spec.id] = outcome_of(end, running)
            if recorded is not None:
                recorded(spec, end, running)

        pool.on_result = on_result
        self.current = pool
        try:
            pool.run(scheduler)
        finally:
            self.current = None
            rnd.stopped = getattr(pool, "stop_reason", None)
        return rnd

    def _round(self, kind, label, specs, jobs):
        rnd = Round(kind, label, jobs)
        self.rounds.append(rnd)
        main = self.main
        recorder = start_recording(self.options, self.topobjdir, self.logger.warning, kind=kind,
                                   parent_run=self.parent_run)
        recorder.start(jobs, self.run_info)
        self.logger.info("mozparallel: %s (%s): %d test(s), %s%s" % (
            label, kind, len(specs), "one at a time" if jobs == 1 else "J=%d" % jobs,
            "; recorded as run %s" % recorder.run_id if recorder.where else ""))
        if self.relog is not None:
            self.relog.label = label

        def on_result(spec, end, running):
            rnd.outcomes[spec.id] = outcome_of(end, running)
            recorder.on_result(spec, end, running)

        pool = Pool(main.events, main.make_parser, dataclasses.replace(main.options, jobs=jobs),
                    env=main.base_env, on_result=on_result, on_tick=main.on_tick)
        self.current = pool
        try:
            if self.stop_reason is None:
                pool.run(ListOrder(list(specs)))
        finally:
            self.current = None
            rnd.stopped = pool.stop_reason or self.stop_reason
            recorder.end("INTERRUPTED" if rnd.stopped else "UNEXPECTED" if rnd.any_unexpected else "OK")
            recorder.close()
        return rnd

    def _rerun_failures(self):
        n = self.settings.rerun_failures
        main_rounds = self._kind_rounds("", "repeat")
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
        reason = self.stop_reason or next((r.stopped for r in self.rounds if r.stopped), "the run stopped")
        events = self.relog.inner
        for spec in specs:
            last = next((r.outcomes[spec.id] for r in reversed(self.rounds) if spec.id in r.outcomes), None)
            if last is None or not last.unexpected:
                continue
            events.emit({"action": "test_start", "test": spec.id})
            events.emit({"action": "test_end", "test": spec.id, "status": last.status, "expected": last.expected,
                         "message": "%s (not re-run: %s)" % (last.message, reason)})

    # -- verdicts --------------------------------------------------------------
    def history_of(self, test, kinds):
        return [r.outcomes[test] for r in self.rounds if r.kind in kinds and test in r.outcomes]

    def _report(self):
        s = self.settings
        info = self.logger.info
        for line in (self._verify_lines() if s.verify else self._until_failure_lines() if s.run_until_failure
                     else self._repeat_lines() if s.repeat else []):
            info(line)
        if s.rerun_failures:
            for line in self._rerun_lines():
                info(line)

    def intermittent_ids(self):
        """Tests whose main-run failure was followed by a passing re-run
        (--rerun-failures): not unexpected in the end."""
        if not self.settings.rerun_failures:
            return []
        out = []
        for spec in self.specs:
            outcomes = self.history_of(spec.id, ("", "repeat", "retry"))
            failed = [o for o in outcomes if o.unexpected]
            if failed and len(failed) < len(outcomes) and self.history_of(spec.id, ("retry",)):
                out.append(spec.id)
        return out

    def _rerun_lines(self):
        n = self.settings.rerun_failures
        retried = [s.id for s in self.specs if self.history_of(s.id, ("retry",))]
        intermittent, real = [], []
        for spec in self.specs:
            outcomes = self.history_of(spec.id, ("", "repeat", "retry"))
            failed = [o for o in outcomes if o.unexpected]
            if not failed:
                continue
            note = "%s (failed %d of %d attempts: %s)" % (spec.id, len(failed), len(outcomes),
                                                          ", ".join(sorted({o.status for o in failed})))
            (intermittent if len(failed) < len(outcomes) else real).append(note)
        if not intermittent and not real:
            return []
        lines = ["mozparallel: --rerun-failures %d: %d test(s) failed and were re-run one at a time"
                 % (n, len(retried))]
        stopped = self.stop_reason or next((r.stopped for r in self.rounds if r.stopped), None)
        if stopped:
            lines[0] += " (the run stopped early, %s: the verdicts below are incomplete)" % stopped
        lines.append("mozparallel: intermittent (passed on another attempt): %s" % ("; ".join(intermittent) or "none"))
        lines.append("mozparallel: real failures (failed every attempt): %s" % ("; ".join(real) or "none"))
        return lines

    def _until_failure_lines(self):
        runs = self._kind_rounds("", "repeat")
        cap = self._runs()
        failing = [r for r in runs if r.any_unexpected]
        if not failing:
            return ["mozparallel: --run-until-failure: no unexpected result in %d run(s)" % len(runs)]
        rnd = failing[0]
        number = runs.index(rnd) + 1
        tests = ", ".join("%s %s" % (t, o.status) for t, o in rnd.outcomes.items() if o.unexpected)
        return ["mozparallel: --run-until-failure: first unexpected result in run %d of at most %d "
                "(took %d runs): %s" % (number, cap, number, tests)]

    def _repeat_lines(self):
        runs = self._kind_rounds("", "repeat")
        lines = ["mozparallel: --repeat %d: each test ran %d time(s)" % (self.settings.repeat, len(runs))]
        changed = []
        for spec in self.specs:
            outcomes = self.history_of(spec.id, ("", "repeat"))
            failed = [o for o in outcomes if o.unexpected]
            if failed:
                changed.append("%s (unexpected in %d of %d: %s)" % (
                    spec.id, len(failed), len(outcomes), ", ".join(sorted({o.status for o in failed}))))
        lines.append("mozparallel: unexpected results: %s" % ("; ".join(changed) or "none"))
        return lines

    def _verify_lines(self):
        alone_n = len(self._kind_rounds("verify-alone"))
        load_n = len(self._kind_rounds("", "verify-load"))
        lines = ["mozparallel: --verify: each test %d time(s) alone, %d time(s) under load (J=%d)"
                 % (alone_n, load_n, self.main.options.jobs)]
        unstable = 0
        for spec in self.specs:
            parts, bad = [], False
            for mode, kinds in (("alone", ("verify-alone",)), ("under load", ("", "verify-load"))):
                outcomes = self.history_of(spec.id, kinds)
                failed = [o for o in outcomes if o.unexpected]
                if failed:
                    bad = True
                    parts.append("%s unstable (%d of %d unexpected: %s)" % (
                        mode, len(failed), len(outcomes), ", ".join(sorted({o.status for o in failed}))))
                else:
                    parts.append("%s stable (%d run(s))" % (mode, len(outcomes)))
            unstable += bad
            lines.append("mozparallel: verify %s: %s" % (spec.id, "; ".join(parts)))
        lines.append("mozparallel: --verify: %d of %d test(s) unstable" % (unstable, len(self.specs)))
        return lines
