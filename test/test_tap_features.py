"""One fixture per TAP feature (test/fixtures/tap/*.tap), each with the
status and message prove's rules give it; the parser sees only lines."""

import os

import pytest

from mozparallel.protocols import ExitInfo
from mozparallel.protocols.tap import parse_tap

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "tap")

# fixture: (test_end status, text the message must contain or None,
#           unexpected test_status subtests)
EXPECTED = {
    "plan_first.tap": ("OK", None, []),
    "plan_last.tap": ("OK", None, []),
    "plan_in_middle.tap": ("ERROR", "must be at the beginning or end", []),
    "no_plan.tap": ("ERROR", "No plan found", []),
    "plan_short.tap": ("ERROR", "You planned 3 tests but ran 2", []),
    "skip_all.tap": ("SKIP", "no network here", []),
    "unnumbered.tap": ("OK", None, []),
    "out_of_sequence.tap": ("ERROR", "out of sequence", []),
    "skip_points.tap": ("OK", None, []),
    "todo_failing.tap": ("OK", None, []),
    "todo_passing.tap": ("OK", None, []),
    "not_ok.tap": ("OK", "not ok 2 - broken", ["broken"]),     # the point is the failure line
    "bail_out.tap": ("ERROR", "Bail out! database unreachable", []),
    "diagnostics.tap": ("OK", None, []),
    "yaml_block.tap": ("OK", "1 != 2", ["compares"]),
    "escaped_hash.tap": ("OK", None, []),
}


def test_every_fixture_has_an_expectation():
    assert set(EXPECTED) == {n for n in os.listdir(HERE) if n.endswith(".tap")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_feature(name):
    with open(os.path.join(HERE, name)) as f:
        lines = f.read().split("\n")[:-1]
    events = list(parse_tap(name, lines, exit=ExitInfo(returncode=0)))
    end = events[-1]
    status, message, unexpected = EXPECTED[name]
    assert end["action"] == "test_end"
    assert end["status"] == status, end
    if message:
        assert message in end.get("message", ""), end
    got = [e["subtest"] for e in events if e["action"] == "test_status"
           and e.get("expected") not in (None, e["status"])]
    assert got == unexpected
    # mozlog drops ``expected`` for SKIP and when it equals the status.
    unexpected_end = end.get("expected") not in (None, end["status"]) and status != "SKIP"
    assert unexpected_end == (status not in ("OK", "SKIP"))


def test_skip_and_todo_points_are_logged_but_not_unexpected():
    with open(os.path.join(HERE, "skip_points.tap")) as f:
        events = list(parse_tap("t", f.read().split("\n")[:-1]))
    assert [e["status"] for e in events if e["action"] == "test_status"] == ["SKIP", "SKIP"]
    with open(os.path.join(HERE, "escaped_hash.tap")) as f:
        events = list(parse_tap("t", f.read().split("\n")[:-1], log_subtests=True))
    assert [e["subtest"] for e in events if e["action"] == "test_status"] == ["a # hash in the name"]
