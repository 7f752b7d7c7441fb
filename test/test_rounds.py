"""flaky/rounds.py driven directly: the pools come from support.py's
ScriptedPools (each test ends with the status scripted for that attempt),
each follow-up round is recorded by a real Recorder into an InMemoryStore,
events go to an EventSink. What is checked: which rounds run, with which
tests and J, how each is recorded, the verdicts logged, and stop()."""

import pytest

from mozparallel.flaky import FlakyRounds
from mozparallel.flaky.settings import FlakySettings
from mozparallel.store.recorder import Recorder
from support import EventSink, FakeScheduler, InMemoryStore, LogLines, ScriptedPools, specs

JOBS = 3


class Harness:
    """One run's FlakyRounds with everything around it in memory."""

    def __init__(self, names="abc", script=None, during=None, **settings):
        self.specs = specs(*names)
        self.store = InMemoryStore()
        self.main = Recorder(self.store, warn=self.warn)
        self.main.start(JOBS, {}, argv=["paralleltest"])
        self.log = LogLines()
        self.events = EventSink()
        self.pools = ScriptedPools(script, during)
        self.warnings = []
        self.main_results = []
        self.rounds = FlakyRounds(FlakySettings(**settings).checked(), self.log.logger, self.events, self.specs,
                                  self.pools, self.record_round)

    def warn(self, text):
        self.warnings.append(text)

    def record_round(self, kind, jobs, argv=None):
        rec = Recorder(self.store, warn=self.warn, kind=kind, parent_run=self.main.run_id)
        rec.start(jobs, {}, argv=argv or ["paralleltest"])
        return rec

    def run(self):
        self.scheduler = FakeScheduler(self.specs)
        self.rounds.run(self.scheduler, JOBS, self.main_results.append)
        return self

    def follow_ups(self):
        """(kind, jobs, status, parent) of each recorded follow-up round, in order."""
        runs = [r for r in reversed(self.store.runs(100)) if r.run_id != self.main.run_id]
        return [(r.kind, r.jobs, r.status, r.parent_run == self.main.run_id) for r in runs]

    def recorded(self, kind):
        """Test ids recorded by the follow-up rounds of ``kind``, round by round."""
        runs = [r for r in reversed(self.store.runs(100)) if r.kind == kind]
        return [[res.test for res in self.store.results_of_run(r.run_id)] for r in runs]

    def lines(self, start="mozparallel: "):
        return [line for line in self.log.lines if line.startswith(start)]


def test_no_flaky_option_is_one_round_through_one_pool():
    h = Harness().run()
    assert h.pools.ran() == [["a", "b", "c"]]
    assert [p.jobs for p in h.pools.pools] == [JOBS]
    assert h.scheduler.handed == ["a", "b", "c"]                    # the main run's own scheduler
    assert [r.id for r in h.main_results] == ["a", "b", "c"]
    assert h.follow_ups() == [] and h.log.lines == []
    assert h.rounds.intermittent_ids() == []


def test_retries_tells_intermittent_from_real():
    h = Harness(script={"a": ["ERROR", "OK"], "b": ["ERROR"]}, retries=2).run()
    # The main run, then the failures alone: a passes its first re-run, b never does.
    assert h.pools.ran() == [["a", "b", "c"], ["a", "b"], ["b"]]
    assert [p.jobs for p in h.pools.pools] == [JOBS, 1, 1]
    assert h.rounds.intermittent_ids() == ["a"]
    assert h.follow_ups() == [("retry", 1, "UNEXPECTED", True), ("retry", 1, "UNEXPECTED", True)]
    assert h.recorded("retry") == [["a", "b"], ["b"]]
    assert [r.id for r in h.main_results] == ["a", "b", "c"]       # re-runs are not the main run's results
    assert h.lines("mozparallel: intermittent") == [
        "mozparallel: intermittent (passed on another attempt): a (failed 1 of 2 attempts: ERROR)"]
    assert h.lines("mozparallel: real failures") == [
        "mozparallel: real failures (failed every attempt): b (failed 3 of 3 attempts: ERROR)"]
    assert any(line.startswith("mozparallel: re-run 1 of 2 (retry): 2 test(s), one at a time; recorded as run ")
               for line in h.log.lines)
    # The log: a failure to be re-run is not unexpected yet; a's pass says it was
    # intermittent; b's last failure stays unexpected.
    a_first, a_pass = h.events.ends("a")
    assert a_first["expected"] == "ERROR" and a_first["extra"]["rerun"]["expected"] == "OK"
    assert a_pass["status"] == "OK" and a_pass["known_intermittent"] == ["ERROR"]
    *b_pending, b_last = h.events.ends("b")
    assert all(e["expected"] == "ERROR" for e in b_pending) and len(b_pending) == 2
    assert b_last["expected"] == "OK" and b_last["extra"]["rerun"]["verdict"] == "failed every attempt"


def test_retries_with_nothing_failing_runs_nothing_more():
    h = Harness(retries=3).run()
    assert len(h.pools.pools) == 1 and h.follow_ups() == []
    assert h.lines() == []


@pytest.mark.parametrize("repeat", [1, 3])
def test_repeat_runs_the_whole_suite_again_under_load(repeat):
    h = Harness(script={"b": ["OK", "ERROR"]}, repeat=repeat).run()
    assert h.pools.ran() == [["a", "b", "c"]] * (1 + repeat)
    assert [p.jobs for p in h.pools.pools] == [JOBS] * (1 + repeat)
    assert [k for k, *_ in h.follow_ups()] == ["repeat"] * repeat
    assert h.recorded("repeat") == [["a", "b", "c"]] * repeat
    assert h.lines()[-2:] == [
        "mozparallel: --repeat %d: each test ran %d time(s)" % (repeat, 1 + repeat),
        "mozparallel: unexpected results: b (unexpected in %d of %d: ERROR)" % (repeat, 1 + repeat)]


def test_run_until_failure_stops_at_the_first_failing_round():
    h = Harness(script={"c": ["OK", "OK", "OK", "TIMEOUT", "OK"]}, run_until_failure=True).run()
    assert len(h.pools.pools) == 4                          # run 4 failed: no run 5
    assert [k for k, *_ in h.follow_ups()] == ["repeat"] * 3
    assert h.follow_ups()[-1][2] == "UNEXPECTED"
    assert h.lines()[-1] == ("mozparallel: --run-until-failure: first unexpected result in run 4 of at most 30 "
                             "(took 4 runs): c TIMEOUT")


def test_run_until_failure_without_a_failure_stops_at_its_cap():
    h = Harness(run_until_failure=True, repeat=5).run()
    assert len(h.pools.pools) == 5
    assert h.lines()[-1] == "mozparallel: --run-until-failure: no unexpected result in 5 run(s)"


def test_verify_runs_alone_first_then_under_load():
    # a: stable alone, fails once under load. b: fails once alone.
    script = {"a": ["OK"] * 4 + ["ERROR", "OK"], "b": ["OK", "CRASH", "OK"]}
    h = Harness(names="ab", script=script, verify=True, repeat=3).run()
    assert [p.jobs for p in h.pools.pools] == [1, 1, 1, JOBS, JOBS, JOBS]
    assert h.pools.ran() == [["a", "b"]] * 6
    assert [k for k, *_ in h.follow_ups()] == ["verify-alone"] * 3 + ["verify-load"] * 2
    assert h.scheduler.handed == ["a", "b"]                 # the main run is the first under load
    assert h.lines() == [line for line in h.lines() if "verify" in line]
    assert h.lines("mozparallel: verify ") == [
        "mozparallel: verify a: alone stable (3 run(s)); under load unstable (1 of 3 unexpected: ERROR)",
        "mozparallel: verify b: alone unstable (1 of 3 unexpected: CRASH); under load stable (3 run(s))"]
    assert h.lines()[-1] == "mozparallel: --verify: 2 of 2 test(s) unstable"
    assert "each test 3 time(s) alone, 3 time(s) under load (J=%d)" % JOBS in h.lines()[-4]


def test_verify_default_is_ten_runs_each_way():
    h = Harness(names="a", verify=True).run()
    assert [p.jobs for p in h.pools.pools] == [1] * 10 + [JOBS] * 10


def stop_at(rounds_of, pool_index, test, reason="interrupted by SIGINT", hard=False):
    """A ``during`` hook: stop the rounds while ``test`` runs in pool ``pool_index``."""
    def during(pool, spec):
        if spec.id == test and rounds_of().pools.pools.index(pool) == pool_index:
            rounds_of().rounds.stop(reason, hard=hard)
    return during


def test_stop_during_a_repeat_ends_that_round_and_starts_no_other():
    h = None
    h = Harness(during=stop_at(lambda: h, 1, "b", hard=True), repeat=3)
    h.run()
    assert h.pools.ran() == [["a", "b", "c"], ["a", "b"]]   # c never started; no round 3 or 4
    assert h.pools.pools[1].stop_hard is True                 # hard reaches the pool running then
    assert h.rounds.stop_reason == "interrupted by SIGINT"
    # The round is recorded as interrupted, without b: a stopped test has no result.
    assert h.follow_ups() == [("repeat", JOBS, "INTERRUPTED", True)]
    assert h.recorded("repeat") == [["a"]]
    [b_stopped] = h.events.ends("b")[1:]
    assert b_stopped["message"] == "ended by the runner: interrupted by SIGINT"
    assert "mozparallel: --repeat 3: each test ran 2 time(s)" in h.lines()


def test_stop_in_the_main_run_reports_failures_it_did_not_rerun():
    h = None
    h = Harness(script={"a": ["ERROR"]}, during=stop_at(lambda: h, 0, "b"), retries=2)
    h.run()
    assert h.pools.ran() == [["a", "b"]] and h.follow_ups() == []
    assert h.rounds.main_stop_reason == "interrupted by SIGINT"
    # a's failure was logged as "to be re-run"; the re-run never came: it is
    # logged again, unexpected, saying why.
    pending, final = h.events.ends("a")
    assert pending["expected"] == "ERROR"
    assert final["expected"] == "OK" and final["status"] == "ERROR"
    assert final["message"] == "scripted ERROR (not re-run: interrupted by SIGINT)"
    assert any("the run stopped early, interrupted by SIGINT: the verdicts below are incomplete" in line
               for line in h.lines())
    assert h.rounds.intermittent_ids() == []


def test_stop_before_the_run_starts_no_test():
    h = Harness(repeat=2)
    h.rounds.stop("interrupted by SIGTERM")
    h.run()
    assert h.pools.ran() == [[]] and h.scheduler.asked == []
    assert h.follow_ups() == []


def test_a_failing_store_warns_once_and_the_rounds_go_on():
    h = Harness(script={"a": ["ERROR", "ERROR", "OK"]}, retries=2)
    h.store.fail_on.add("record_result")
    h.run()
    assert h.pools.ran() == [["a", "b", "c"], ["a"], ["a"]]
    assert h.rounds.intermittent_ids() == ["a"]
    assert len(h.warnings) == 2                     # one for each round's recorder, then silence
    assert all("not recording this run any further" in w for w in h.warnings)
