"""execution/framing.py and the pool: a line longer than MAX_LINE is cut in
pieces; only its first piece is a line to parse, the later pieces reach
the log as output (a piece beginning "not ok" or "Bail out!" decides
nothing)."""

import random

import pytest

from conftest import PYTHON, ends_by_test, paralleltest, read_raw, write_test
from mozparallel.execution import framing
from mozparallel.execution.framing import MAX_LINE, Framer


def frame(chunks):
    """Feed ``chunks``; the lines put back together: each string to parse
    starts one, each later piece is added to the one before."""
    framer = Framer()
    lines = []

    def take(got):
        lead, tail = framer.pieces or (0, 0)
        for i, text in enumerate(got):
            if i < lead or i >= len(got) - tail:
                assert lines, "a later piece with no line before it"
                lines[-1] += text
            else:
                lines.append(text)

    for chunk in chunks:
        got = framer.feed(chunk)
        if got:
            take(got)
    tail = framer.end()
    if tail:
        take([tail])
    return lines


@pytest.mark.parametrize("seed", range(60))
def test_only_the_first_piece_of_a_long_line_is_a_line(monkeypatch, seed):
    monkeypatch.setattr(framing, "MAX_LINE", 8)
    rnd = random.Random(seed)
    # Short lines, lines of exactly 8 and 16 characters, long ones; with or
    # without a last newline; in reads shorter and longer than MAX_LINE.
    lines = ["".join(rnd.choice("ab") for _ in range(rnd.choice((0, 1, 3, 7, 8, 9, 15, 16, 17, 30))))
             for _ in range(rnd.randint(1, 12))]
    newline = rnd.choice((True, False))
    data = ("\n".join(lines) + ("\n" if newline else "")).encode()
    chunks, i = [], 0
    while i < len(data):
        n = rnd.randint(1, 20)
        chunks.append(data[i:i + n])
        i += n
    expected = lines if newline or lines[-1] else lines[:-1]
    assert frame(chunks) == expected


def test_a_long_line_is_handed_on_in_pieces_as_it_comes():
    framer = Framer()
    assert framer.feed(b"ok 1\n" + b"x" * (MAX_LINE - 10)) == ["ok 1"] and framer.pieces is None
    first = framer.feed(b"x" * 20)
    assert [len(p) for p in first] == [MAX_LINE] and framer.pieces == (0, 0)
    later = framer.feed(b"x" * MAX_LINE)
    assert [len(p) for p in later] == [MAX_LINE] and framer.pieces == (1, 0)
    rest = framer.feed(b"not ok 1\nok 2\n")
    assert rest == ["x" * 10 + "not ok 1", "ok 2"] and framer.pieces == (1, 0)
    assert framer.feed(b"ok 3\n") == ["ok 3"] and framer.pieces is None


def test_an_ordinary_read_marks_nothing():
    framer = Framer()
    assert framer.feed(b"ok 1\nok 2\nok") == ["ok 1", "ok 2"] and framer.pieces is None
    assert framer.feed(b" 3\n") == ["ok 3"] and framer.pieces is None
    assert framer.end() == "" and framer.pieces is None


LONG_LINES = """
import sys
out = sys.stdout
out.write("1..1\\n")
# A diagnostic whose second piece begins like a failure, and one whose
# second piece is a bail-out.
out.write("# " + "x" * (%(max)d - 2) + "not ok 1 - part of a diagnostic\\n")
out.write("# " + "y" * (%(max)d - 2) + "Bail out! part of a diagnostic too\\n")
out.write("ok 1 - the real result\\n")
# The last line, without a newline, ends in a piece of its own at EOF.
out.write("# " + "z" * (%(max)d - 2) + "not ok 2 - still a diagnostic")
"""


def test_later_pieces_of_a_long_line_are_output_not_results(tmp_path):
    write_test(tmp_path, "t.py", LONG_LINES % {"max": MAX_LINE}, shebang="#!" + PYTHON)
    raw = tmp_path / "raw.log"
    proc = paralleltest(["--store", "none", "--bail", "--log-raw", str(raw), "t.py"], cwd=str(tmp_path))
    events = read_raw(raw)
    end = ends_by_test(events)["t.py"]
    assert proc.returncode == 0 and end["status"] == "OK", (end, proc.stderr[-2000:])
    assert not [e for e in events if e["action"] == "test_status" and e["status"] != "PASS"]
    # Every piece reaches the log whole, as the test's output.
    output = "".join(e["data"] for e in events if e["action"] == "process_output")
    for tail in ("not ok 1 - part of a diagnostic", "Bail out! part of a diagnostic too",
                 "not ok 2 - still a diagnostic"):
        assert tail in output
    assert output.count("x") == MAX_LINE - 2 and output.count("z") == MAX_LINE - 2
