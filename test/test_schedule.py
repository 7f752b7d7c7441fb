"""Scheduler policies, the memory gate, the run plan and the history snapshot,
driven directly: no process is started."""

import random
import re

import pytest

from mozparallel.schedule import (Figures, ListOrder, LockGate, LongestFirst, MemoryGate, Shuffled, TestHistory,
                                  expected_makespan, make_policy, parse_policy, plan_run)
from mozparallel.schedule.history import failure_score, history_from_results, history_from_rows, merge_walls
from mozparallel.store.records import ResultRecord
from support import specs

GiB = 2 ** 30


def drain(policy, slots=1):
    """Ids in the order a pool with ``slots`` free slots would get them,
    finishing each test at once."""
    out = []
    while True:
        spec = policy.next_test(1)
        if spec is None:
            return out
        out.append(spec.id)
        policy.finished(spec.id, 0.0)


def history(**walls):
    return TestHistory({k: Figures(wall=v) for k, v in walls.items()}, "test")


def test_list_order_keeps_the_given_order():
    assert drain(ListOrder(specs("c", "a", "b"))) == ["c", "a", "b"]


def test_longest_first_unseen_first_then_longest_ties_by_path():
    h = history(a=1.0, b=5.0, c=1.0, d=3.0)
    policy = LongestFirst(specs("a", "b", "c", "d", "z_new", "m_new"), h)
    assert drain(policy) == ["m_new", "z_new", "b", "d", "a", "c"]
    assert policy.unseen == 2


def test_longest_first_does_not_depend_on_discovery_order():
    h = history(a=2.0, b=2.0, c=7.0)
    one = drain(LongestFirst(specs("a", "b", "c", "x"), h))
    two = drain(LongestFirst(specs("x", "c", "b", "a"), h))
    assert one == two == ["x", "c", "a", "b"]


def test_shuffle_is_reproducible_with_a_seed_and_independent_of_input_order():
    names = ["t%02d" % i for i in range(30)]
    a = drain(Shuffled(specs(*names), 7))
    b = drain(Shuffled(specs(*reversed(names)), 7))
    c = drain(Shuffled(specs(*names), 8))
    assert a == b
    assert a != c and sorted(a) == names
    assert a != names


def test_parse_policy():
    assert parse_policy("history") == ("history", None)
    assert parse_policy(None) == ("history", None)
    assert parse_policy("shuffle:42") == ("shuffle", 42)
    assert parse_policy("shuffle") == ("shuffle", None)
    for bad in ("fastest", "list:3", "shuffle:x"):
        with pytest.raises(ValueError, match=repr(bad)):
            parse_policy(bad)


def test_make_policy_shuffle_without_seed_uses_new_seed():
    policy = make_policy("shuffle", specs("a", "b", "c"), history(), new_seed=lambda: 1234)
    assert policy.seed == 1234


def test_expected_makespan_simulates_free_slots():
    walls = {"a": 6, "b": 4, "c": 3, "d": 3, "e": 2}
    assert expected_makespan(["a", "b", "c", "d", "e"], walls, 2) == 9     # a+c / b+d+e
    assert expected_makespan(["e", "d", "c", "b", "a"], walls, 2) == 11    # LPT matters
    assert expected_makespan(["a", "b"], walls, 8) == 6


def test_lpt_on_a_skewed_list_beats_list_order():
    # Long tests late in the list: list order pays for them, LPT does not.
    rng = random.Random(1)
    walls = {"t%03d" % i: round(rng.uniform(0.05, 1.0), 3) for i in range(100)}
    walls.update(t090=6.0, t095=4.0, t099=3.0)
    names = sorted(walls)
    h = history(**walls)
    lpt = expected_makespan(drain(LongestFirst(specs(*names), h)), walls, 8)
    listed = expected_makespan(names, walls, 8)
    bound = max(max(walls.values()), sum(walls.values()) / 8)
    assert lpt <= bound * 1.02 < listed


# -- the memory gate -----------------------------------------------------------

def test_memory_gate_holds_a_test_that_does_not_fit():
    predicted = {n: 3 * GiB for n in "abcdef"}
    gate = MemoryGate(ListOrder(specs(*"abcdef")), predicted, budget=10 * GiB)
    started = [gate.next_test(s).id for s in range(3)]
    assert started == ["a", "b", "c"]
    assert gate.next_test(4) is None            # d would make 12 GiB
    assert gate.next_test(4) is None            # still waiting, not skipped
    gate.finished("b", 1.0)
    assert gate.next_test(2).id == "d"
    assert gate.next_test(4) is None
    for t in ("a", "c", "d"):
        gate.finished(t, 1.0)
    assert [gate.next_test(s).id for s in range(2)] == ["e", "f"]
    assert gate.next_test(3) is None and gate.remaining() == 0


def test_memory_gate_lets_a_too_big_test_run_alone():
    gate = MemoryGate(ListOrder(specs("small", "huge", "after")), {"huge": 50 * GiB, "small": GiB}, 10 * GiB)
    assert gate.next_test(1).id == "small"
    assert gate.next_test(2) is None
    gate.finished("small", 1.0)
    assert gate.next_test(1).id == "huge"        # nothing else runs: it may start
    assert gate.next_test(2) is None             # and nothing joins it
    gate.finished("huge", 1.0)
    assert gate.next_test(1).id == "after"


def test_memory_gate_unknown_tests_reserve_nothing():
    gate = MemoryGate(ListOrder(specs("a", "b", "c")), {"a": 9 * GiB}, 10 * GiB)
    assert [gate.next_test(s).id for s in range(3)] == ["a", "b", "c"]


# -- the run plan ----------------------------------------------------------------

def test_plan_run_logs_policy_jobs_and_makespan():
    h = TestHistory({"a": Figures(4.0, 0.01), "b": Figures(2.0, 0.01), "c": Figures(2.0, 0.01)}, "the store")
    plan = plan_run(specs("a", "b", "c"), h, "history", jobs=2, cores=2)
    assert plan.jobs == 2 and plan.expected_makespan == 4.0
    assert plan.describe() == "mozparallel: 3 tests, 2 at a time (-j 2); about 4.0s by history"
    text = plan.describe(verbose=True)
    assert text == plan.reasoning()
    assert "schedule history" in text and "J=2 (-j 2 given)" in text
    assert "expected makespan 4.0s (3 of 3 tests known; history: the store)" in text
    assert plan.scheduler.name == "history" and plan.gate_budget is None


def test_plan_run_without_history_says_so_and_gates_nothing():
    plan = plan_run(specs("a", "b"), TestHistory(), "list", jobs=None, cores=2, available=8 * GiB)
    assert plan.expected_makespan is None and "no history" in plan.reasoning()
    assert plan.describe() == "mozparallel: 2 tests, 2 at a time (-j auto), list order"
    assert plan.jobs == 2 and isinstance(plan.scheduler, LockGate) and isinstance(plan.scheduler.policy, ListOrder)


def test_plan_run_gates_memory_when_peaks_are_known():
    h = TestHistory({n: Figures(1.0, 0.5, 3 * GiB) for n in "abcdef"})
    plan = plan_run(specs(*"abcdef"), h, "history", jobs=6, cores=2, available=10 * GiB)
    assert isinstance(plan.scheduler, MemoryGate)
    assert "memory gate at 9.5 GiB" in plan.reasoning() and "memory" not in plan.describe()
    assert [plan.scheduler.next_test(s) is not None for s in range(4)] == [True, True, True, False]


def test_plan_run_shuffle_logs_its_seed():
    plan = plan_run(specs("a", "b"), TestHistory(), "shuffle:99", jobs=1, cores=1)
    assert plan.reasoning().startswith("mozparallel: schedule shuffle:99;")
    assert plan.describe() == "mozparallel: 2 tests, 1 at a time (-j 1), shuffle:99 order"


# -- the snapshot ----------------------------------------------------------------

def test_history_from_results_medians_and_peak():
    rs = [ResultRecord(test="a", status="OK", wall=w, cpu_user=c, cpu_system=0.0, peak_rss_kb=p, maxrss_kb=1)
          for w, c, p in [(1.0, 0.5, 100), (3.0, 0.7, 300), (2.0, 0.6, 200)]]
    rs.append(ResultRecord(test="a", status="SKIP", wall=99.0))
    rs.append(ResultRecord(test="b", status="OK", wall=None))
    figures = history_from_results(rs)
    assert figures == {"a": Figures(wall=2.0, cpu=0.6, peak_rss=300 * 1024)}


def test_expected_walls_fill_unknown_with_median():
    h = history(a=1.0, b=3.0, c=10.0)
    assert h.expected_walls(["a", "b", "c", "new"])["new"] == 3.0
    assert h.expected_walls(["a", "new"]) == {"a": 1.0, "new": 1.0}     # median of this run's tests
    assert TestHistory().expected_walls(["x"]) == {"x": 0.0}


def test_merge_walls_fills_only_unknown():
    merged = merge_walls({"a": Figures(1.0, 0.2, 5)}, {"a": 9.0, "b": 2.0})
    assert merged == {"a": Figures(1.0, 0.2, 5), "b": Figures(2.0)}


def test_the_default_line_says_how_much_of_the_history_is_known():
    h = TestHistory({"a": Figures(4.0, 0.01)}, "the store")
    plan = plan_run(specs("a", "b", "c"), h, "history", jobs=2, cores=2)
    assert plan.describe() == "mozparallel: 3 tests, 2 at a time (-j 2); about 8.0s by history (1 of them known)"


def test_the_default_line_is_short_and_j_auto_names_the_j_it_uses():
    """The line a run starts with fits a terminal; the reasoning (-v) names
    at each step the J it leaves, the last one being the J used (never
    "16 jobs on 2 cores" beside J=2)."""
    h = TestHistory({"t%02d" % i: Figures(4.0 if i == 0 else 0.5, 0.05) for i in range(40)}, "the store")
    plan = plan_run(specs(*["t%02d" % i for i in range(40)]), h, "history", jobs=None, cores=2)
    line = plan.describe()
    assert len(line) < 80 and "\n" not in line, line
    assert line.startswith("mozparallel: 40 tests, %d at a time (-j auto); about " % plan.jobs)
    reason = plan.reasoning().splitlines()[0]
    steps = re.findall(r"(?:up to|then) (\d+)", reason)
    assert steps and int(steps[-1]) == plan.jobs and "J=%d (" % plan.jobs in reason, reason
    assert int(steps[0]) > plan.jobs            # the CPU figure alone would allow more


# -- failures first ----------------------------------------------------------------

def rows(*runs):
    """ROW tuples of runs (oldest first), each {test: (status, wall)}."""
    out = []
    for k, run in enumerate(runs):
        for test, (status, wall) in run.items():
            out.append((test, status, wall, 0.1, 0.0, 1000, 1000, "OK", "run%d" % k))
    return out


def test_failure_score_weighs_recent_and_frequent_failures():
    figures = history_from_rows(rows(
        {"old": ("FAIL", 1.0), "often": ("FAIL", 1.0), "new": ("OK", 1.0), "fine": ("OK", 1.0)},
        {"old": ("OK", 1.0), "often": ("CRASH", 1.0), "new": ("OK", 1.0), "fine": ("OK", 1.0)},
        {"old": ("OK", 1.0), "often": ("OK", 1.0), "new": ("TIMEOUT", 1.0), "fine": ("OK", 1.0)},
        {"other": ("OK", 1.0)}))
    score = {t: f.failures for t, f in figures.items()}
    assert score["fine"] == 0.0
    assert score["new"] == failure_score([1]) and score["old"] == failure_score([3])
    assert score["often"] == failure_score([2, 3]) > score["new"] > score["old"] > 0
    assert failure_score([0]) == 1.0 and failure_score([3]) == 0.5       # a half-life of three runs
    # Expected failures are not failures; an old record without expected is judged by its status.
    figures = history_from_rows([("a", "FAIL", 1.0, None, None, None, None, "FAIL", "r"),
                                 ("b", "ERROR", 1.0, None, None, None, None, "", "r")])
    assert figures["a"].failures == 0.0 and figures["b"].failures == 1.0


def test_failures_first_then_longest_first():
    h = TestHistory({"slow": Figures(wall=9.0), "mid": Figures(wall=5.0), "quick": Figures(wall=1.0),
                     "broke_slow": Figures(wall=8.0, failures=1.0), "broke_quick": Figures(wall=0.5, failures=1.0),
                     "broke_often": Figures(wall=7.0, failures=2.2)}, "test")
    policy = make_policy("failures-first", specs("new", "slow", "mid", "quick", "broke_slow", "broke_quick",
                                                 "broke_often"), h)
    assert policy.name == "failures-first" and policy.failing == 3
    # Most failures first, equal scores quickest first; then unseen, then longest first.
    assert drain(policy) == ["broke_often", "broke_quick", "broke_slow", "new", "slow", "mid", "quick"]
    assert parse_policy("failures-first") == ("failures-first", None)
    with pytest.raises(ValueError, match="only shuffle takes a seed"):
        parse_policy("failures-first:3")
