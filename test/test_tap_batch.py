"""TapParser.feed_lines (the batched hot path) gives exactly the events of
feeding the same lines one by one, wherever the batches are cut."""

import pytest

from mozparallel.protocols.base import ExitInfo
from mozparallel.protocols.tap import TapParser

DOCUMENTS = [
    ["1..3", "ok 1 - a", "ok 2", "ok 3"],
    ["ok 1", "ok 2", "1..2"],
    ["ok 1", "1..3", "ok 2", "ok 3"],
    ["1..2", "ok 1", "ok 3"],
    ["1..3", "ok 1", "ok 1", "ok 3"],
    ["1..2", "ok 1", "not ok 2 - x", "  ---", "  message: m", "  ...", "ok 3 # SKIP"],
    ["ok 1 - a\r", "ok 2 - b\r", "1..2\r"],
    ["ok 1", "ok 2", "1..2", "ok 3"],
    ["1..1", "ok", "ok"],
    ["1..2", "ok 1  -  spaced ", "ok 2 -", "# note"],
]


@pytest.mark.parametrize("lines", DOCUMENTS)
@pytest.mark.parametrize("log_subtests", [False, True])
def test_batches_equal_single_lines(lines, log_subtests):
    one = TapParser("t", log_subtests=log_subtests)
    want = []
    for line in lines:
        want.extend(one.feed(line) or [])
    want.extend(one.finish(ExitInfo()))
    for cut in range(len(lines) + 1):
        batched = TapParser("t", log_subtests=log_subtests)
        got = batched.feed_lines(lines[:cut]) + batched.feed_lines(lines[cut:])
        got += batched.finish(ExitInfo())
        assert got == want, cut
