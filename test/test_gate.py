"""schedule/gate.py: the memory gate around a FakeScheduler (support.py),
so what is checked is the gate alone: the budget, a test that waits and
then starts, and a lone test that may use more than the budget."""

import random

import pytest

from mozparallel.contract import Scheduler
from mozparallel.schedule.gate import BUDGET_SHARE, MemoryGate, available_memory, parse_size
from support import FakeScheduler, assert_implements, specs

GiB = 2 ** 30


def gate_over(names, predicted, budget, **kwargs):
    policy = FakeScheduler(specs(*names), **kwargs)
    return MemoryGate(policy, predicted, budget), policy


def test_the_gate_is_a_scheduler_and_passes_on_what_the_policy_says():
    gate, policy = gate_over("ab", {"a": GiB}, 4 * GiB, expected={"a": 2.5}, name="shuffle", seed=7)
    assert_implements(gate, Scheduler)
    assert gate.name == "shuffle" and gate.seed == 7
    assert gate.expected == {"a": 2.5}
    assert gate.predicted == {"a": GiB}
    assert gate.remaining() == 2 and [s.id for s in gate.planned_order()] == ["a", "b"]
    gate.next_test(1)
    gate.finished("a", 1.25)
    assert policy.finished_calls == [("a", 1.25)]


@pytest.mark.parametrize("seed", range(5))
def test_budget_respected_whatever_ends_first(seed):
    """Random sizes (some over the budget) and random end order: while two
    or more run, the predicted sum never exceeds the budget; every test runs
    once, in the policy's order; the policy is asked once per test."""
    rng = random.Random(seed)
    names = ["t%02d" % i for i in range(40)]
    predicted = {n: rng.choice([0, 1, 2, 3, 5, 12]) * GiB for n in names}
    budget = 10 * GiB
    gate, policy = gate_over(names, predicted, budget)
    running, started = set(), []
    while len(started) < len(names) or running:
        while True:                                     # fill the free slots, as the pool does
            spec = gate.next_test(len(running) + 1) if len(running) < 6 else None
            if spec is None:
                break
            running.add(spec.id)
            started.append(spec.id)
            if len(running) > 1:
                assert sum(predicted[t] for t in running) <= budget, running
        assert running, "nothing runs and nothing may start: the gate is stuck"
        done = rng.choice(sorted(running))
        running.discard(done)
        gate.finished(done, 0.1)
    assert started == names
    assert policy.handed == names                       # a waiting test is kept, not asked for again
    assert sorted(t for t, _ in policy.finished_calls) == names
    assert gate.reserved == {} and gate.remaining() == 0
    assert gate.waits > 0


def test_a_test_that_does_not_fit_waits_then_starts():
    gate, policy = gate_over("abc", {"a": 6 * GiB, "b": 6 * GiB, "c": GiB}, 10 * GiB)
    assert gate.next_test(1).id == "a"
    assert gate.next_test(2) is None                    # b would make 12 GiB
    asked = len(policy.asked)
    assert gate.next_test(2) is None and gate.next_test(3) is None
    assert len(policy.asked) == asked                   # b is held by the gate, c not taken
    assert gate.waits == 3
    assert gate.remaining() == 2 and [s.id for s in gate.planned_order()] == ["b", "c"]
    gate.finished("a", 1.0)
    assert gate.next_test(1).id == "b"
    assert gate.next_test(2).id == "c"                  # 7 GiB: fits beside b
    assert gate.reserved == {"b": 6 * GiB, "c": GiB}


def test_with_nothing_running_anything_starts_and_nothing_joins_it():
    gate, _ = gate_over(["huge", "tiny", "unknown"], {"huge": 50 * GiB, "tiny": 1}, 10 * GiB)
    assert gate.next_test(1).id == "huge"               # alone it may use more than the budget
    assert gate.next_test(2) is None                    # even one byte more does not fit beside it
    gate.finished("huge", 3.0)
    assert gate.next_test(1).id == "tiny"
    assert gate.next_test(2).id == "unknown"            # no prediction: reserves nothing


def test_nothing_from_the_policy_is_not_a_wait():
    gate, policy = gate_over("ab", {}, GiB)
    policy.hold()
    assert gate.next_test(1) is None and gate.waits == 0
    policy.release()
    assert gate.next_test(1).id == "a"
    assert gate.next_test(2).id == "b"
    assert gate.next_test(3) is None and gate.waits == 0


def test_finished_for_a_test_it_did_not_gate_is_passed_on():
    gate, policy = gate_over("a", {"a": GiB}, GiB)
    gate.finished("elsewhere", 2.0)
    assert policy.finished_calls == [("elsewhere", 2.0)] and gate.reserved == {}


@pytest.mark.parametrize("text, size", [
    ("4096", 4096), ("512M", 512 * 2 ** 20), ("2G", 2 * GiB), ("1.5GiB", 3 * GiB // 2), ("2gb", 2 * GiB),
    ("1T", 2 ** 40), ("8k", 8192), (" 3G ", 3 * GiB),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text, message", [
    ("lots", "not a memory size: 'lots'"), ("2X", "not a memory size: '2X'"), ("", "not a memory size: ''"),
    ("0", "must be positive: '0'"), ("-1G", "must be positive: '-1G'"),
])
def test_parse_size_errors_name_the_text(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_size(text)


def test_available_memory_and_the_share():
    assert available_memory() > 0
    assert 0 < BUDGET_SHARE < 1
