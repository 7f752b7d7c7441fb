"""schedule/policies.py alone: each policy is a complete Scheduler, hands
out every test once in its order (ListOrder as given, LongestFirst by
history with ties by path, Shuffled by its seed), and ``--schedule`` text
is parsed or refused with a message naming it. (test_schedule.py drives
the policies through the plan.)"""

import pytest

from mozparallel.contract import Scheduler, TestSpec
from mozparallel.schedule import (FailuresFirst, Figures, ListOrder, LockGate, LongestFirst, Shuffled, TestHistory,
                                  make_policy, parse_policy)
from mozparallel.schedule.policies import DEFAULT_POLICY
from support import FakeScheduler, assert_implements, specs


def history(**walls):
    return TestHistory({k: Figures(wall=v) for k, v in walls.items()}, "test")


def drain(policy):
    out = []
    while (spec := policy.next_test(1)) is not None:
        out.append(spec.id)
        policy.finished(spec.id, 1.0)
    return out


@pytest.mark.parametrize("make", [
    lambda s: ListOrder(s),
    lambda s: LongestFirst(s, history(a=1.0)),
    lambda s: Shuffled(s, 3),
    lambda s: FailuresFirst(s, TestHistory({"b": Figures(wall=1.0, failures=1.0)}, "test")),
    lambda s: LockGate(ListOrder(s)),   # schedule/locks.py, around every policy of a run
    lambda s: FakeScheduler(s),         # support.py's stand-in keeps the same contract
])
def test_every_policy_is_a_complete_scheduler(make):
    policy = make(specs("a", "b", "c"))
    assert_implements(policy, Scheduler)
    assert policy.remaining() == 3
    planned = [s.id for s in policy.planned_order()]
    first = policy.next_test(1)
    assert first.id == planned[0]
    assert policy.remaining() == 2 and [s.id for s in policy.planned_order()] == planned[1:]
    policy.finished(first.id, 0.5)
    assert sorted([first.id] + drain(policy)) == ["a", "b", "c"]
    assert policy.remaining() == 0 and policy.planned_order() == []
    assert policy.next_test(2) is None and policy.next_test(1) is None     # empty stays empty


def test_policy_names_are_the_schedule_names_and_only_shuffle_has_a_seed():
    policies = (ListOrder([]), LongestFirst([], history()), Shuffled([], 1))
    assert [(p.name, p.seed) for p in policies] == [("list", None), ("history", None), ("shuffle", 1)]
    assert DEFAULT_POLICY == "history"


def test_list_order_carries_the_expected_durations_given():
    policy = ListOrder(specs("b", "a"), {"a": 2.0})
    assert policy.expected == {"a": 2.0} and policy.predicted == {}
    assert policy.order() == ["b", "a"]


def test_longest_first_ties_and_unseen_tests_by_path_not_by_id():
    # The ids sort one way, the paths the other.
    tests = [TestSpec(id="a", argv=["x"], path="/s/z.sh"), TestSpec(id="b", argv=["x"], path="/s/y.sh"),
             TestSpec(id="c", argv=["x"], path="/s/x.sh"), TestSpec(id="new1", argv=["x"], path="/s/w2.sh"),
             TestSpec(id="new2", argv=["x"], path="/s/w1.sh"), TestSpec(id="long", argv=["x"], path="/s/v.sh")]
    policy = LongestFirst(tests, history(a=2.0, b=2.0, c=2.0, long=9.0))
    assert drain(policy) == ["new2", "new1", "long", "c", "b", "a"]
    assert policy.expected == {"a": 2.0, "b": 2.0, "c": 2.0, "long": 9.0}      # the unseen have none
    assert policy.unseen == 2


def test_longest_first_without_a_path_sorts_by_id():
    tests = [TestSpec(id=n, argv=[n]) for n in ("b", "c", "a")]
    assert drain(LongestFirst(tests, history())) == ["a", "b", "c"]


def test_shuffled_is_seeded_and_reproducible():
    names = ["t%02d" % i for i in range(50)]
    runs = [drain(Shuffled(specs(*names), 11)) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]                            # the same seed: the same order
    assert runs[0] != names and sorted(runs[0]) == names
    others = {tuple(drain(Shuffled(specs(*names), seed))) for seed in range(12, 20)}
    assert len(others) == 8 and tuple(runs[0]) not in others        # other seeds: other orders
    policy = Shuffled(specs("a"), 11, {"a": 1.5})
    assert policy.seed == 11 and policy.expected == {"a": 1.5}


@pytest.mark.parametrize("text, parsed", [
    (None, ("history", None)), ("", ("history", None)), ("history", ("history", None)), ("list", ("list", None)),
    ("shuffle", ("shuffle", None)), ("shuffle:0", ("shuffle", 0)), ("shuffle:123456", ("shuffle", 123456)),
])
def test_parse_policy(text, parsed):
    assert parse_policy(text) == parsed


@pytest.mark.parametrize("text, message", [
    ("fastest", "unknown schedule 'fastest' (choose from history, failures-first, list, shuffle[:SEED])"),
    ("History", "unknown schedule 'History'"),
    ("list:3", "only shuffle takes a seed: 'list:3'"),
    ("history:1", "only shuffle takes a seed: 'history:1'"),
    ("shuffle:x", "shuffle seed is not a whole number: 'shuffle:x'"),
    ("shuffle:1.5", "shuffle seed is not a whole number: 'shuffle:1.5'"),
])
def test_parse_policy_errors_name_the_text(text, message):
    with pytest.raises(ValueError) as e:
        parse_policy(text)
    assert str(e.value).startswith(message)


def test_make_policy_builds_each_kind_with_the_known_durations():
    tests = specs("a", "b", "c")
    h = history(a=3.0, c=1.0)
    listed = make_policy("list", tests, h)
    assert isinstance(listed, ListOrder) and listed.order() == ["a", "b", "c"]
    assert listed.expected == {"a": 3.0, "c": 1.0}
    longest = make_policy(None, tests, h)
    assert isinstance(longest, LongestFirst) and drain(longest) == ["b", "a", "c"]
    seeded = make_policy("shuffle:5", tests, h)
    assert isinstance(seeded, Shuffled) and seeded.seed == 5 and seeded.expected == {"a": 3.0, "c": 1.0}
    assert drain(seeded) == drain(Shuffled(specs("c", "b", "a"), 5))
    drawn = make_policy("shuffle", tests, h)
    assert 1 <= drawn.seed < 10 ** 6                                # a new seed, to be logged
    with pytest.raises(ValueError, match="unknown schedule"):
        make_policy("fastest", tests, h)
