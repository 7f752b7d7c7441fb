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


@pytest.mark.parametrize("numbers", [
    list(range(1, 41)),                      # in order
    list(range(1, 20)) + [25] + list(range(21, 41)),   # one out of sequence
    [None] * 40,                             # unnumbered
    [1, 2, 2] + list(range(4, 41)),          # duplicate
    ["01"] + list(range(2, 41)),             # a leading zero: still 1
])
@pytest.mark.parametrize("plan_first", [True, False])
def test_block_counting_equals_single_lines(numbers, plan_first):
    points = ["ok %s - point" % n if n is not None else "ok - point" for n in numbers]
    lines = (["1..40"] + points) if plan_first else (points + ["1..40"])
    one = TapParser("t")
    want = []
    for line in lines:
        want.extend(one.feed(line) or [])
    want.extend(one.finish(ExitInfo()))
    for size in (17, 40, 41):
        batched, got = TapParser("t"), []
        for i in range(0, len(lines), size):
            got += batched.feed_lines(lines[i:i + size])
        got += batched.finish(ExitInfo())
        assert got == want, size
