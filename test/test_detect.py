"""``--protocol auto`` (protocols/detect.py): the first decisive line picks
the protocol and the log says which; the TAP hot path is the TAP parser's; and
output that is not clean text (binary bytes, a 5 MB line, no trailing
newline, stderr only) never stops a run."""

import gzip
import os

from conftest import FIXTURES, ends_by_test, paralleltest, read_raw, write_test
from mozparallel.execution.framing import MAX_LINE, READ_SIZE
from mozparallel.protocols import ExitInfo, make_parser
from mozparallel.protocols.detect import AutoParser, detect_line
from mozparallel.protocols.tap import TapParser

PROTOCOLS = os.path.join(FIXTURES, "protocols")


def test_decisive_lines():
    assert detect_line("TAP version 13") == "tap"
    assert detect_line("1..4") == "tap"
    assert detect_line("ok 1 - x") == "tap"
    assert detect_line("not ok") == "tap"
    assert detect_line("# Subtest: a") == "tap"
    assert detect_line("TEST-START | a.js") == "tbpl"
    assert detect_line("12 INFO TEST-PASS | a.html | fine") == "tbpl"
    assert detect_line("PROCESS-CRASH | application crashed [@ x] | a.html") == "tbpl"
    assert detect_line('{"action": "test_start", "test": "a"}') == "mozlog"
    for line in ["", "# plain comment", "hello", "{not json", '{"no": "action"}', "1..x",
                 "TEST-NOTHING here", "okay then"]:
        assert detect_line(line) is None, line


def test_auto_holds_lines_until_it_knows_then_logs_its_choice():
    parser = AutoParser("t")
    assert parser.feed("starting up") is None
    assert parser.feed("# a comment") is None
    evs = parser.feed("TEST-START | t")
    assert evs[0]["action"] == "log" and evs[0]["level"] == "DEBUG"
    assert evs[0]["message"] == "t: protocol tbpl (auto, from line 3: 'TEST-START | t')"
    assert [e["data"] for e in evs[1:]] == ["starting up", "# a comment", "TEST-START | t"]
    assert parser.chosen == "tbpl"
    point = parser.feed_lines(["TEST-UNEXPECTED-FAIL | t | broken"])
    assert point[0]["status"] == "FAIL" and point[0]["expected"] == "PASS"
    assert parser.finish(ExitInfo(returncode=0))[-1]["status"] == "OK"     # the point is the failure


def test_auto_with_no_decisive_line_reads_as_tap():
    parser = make_parser("auto", "t")
    assert parser.feed_lines(["just words"]) == []
    evs = parser.finish(ExitInfo(returncode=0))
    assert "protocol tap (auto, from no decisive line" in evs[0]["message"]
    assert evs[-1]["status"] == "ERROR" and "No plan" in evs[-1]["message"]
    assert make_parser("auto", "t").bailout is None


def test_auto_hands_the_tap_hot_path_to_the_tap_parser():
    """Once it has chosen TAP, auto calls the TAP parser directly: the same
    events as ``--protocol tap``, no wrapper left in between. (What a line
    costs either way: ``python -m mozparallel.bench.costs``.)"""
    lines = ["ok %d - point" % i for i in range(1, 20001)] + ["not ok 20001 - last", "1..20001"]
    tap, auto = TapParser("t"), AutoParser("t")
    tap.feed_lines(lines[:1])
    auto.feed_lines(lines[:1])
    assert auto.feed_lines.__self__ is auto.inner and isinstance(auto.inner, TapParser)
    got, want = [], []
    for k in range(1, len(lines), 5000):
        got += auto.feed_lines(lines[k:k + 5000])
        want += tap.feed_lines(lines[k:k + 5000])
    assert got == want and [e["status"] for e in got] == ["FAIL"]
    end = auto.finish(ExitInfo(returncode=0))
    assert end == tap.finish(ExitInfo(returncode=0))
    # The failing point is the failure line; the file ran to its end.
    assert end[-1]["extra"]["counts"]["passed"] == 20000 and end[-1]["status"] == "OK"
    parser = AutoParser("t")
    parser.feed_lines(["1..2"])
    assert parser.feed_lines.__self__ is parser.inner      # delegated, no wrapper left


def test_garbage_through_the_pool(tmp_path):
    big = tmp_path / "big.out"
    with gzip.open(os.path.join(PROTOCOLS, "garbage_5mb_line.out.gz")) as f:
        big.write_bytes(f.read())
    write_test(tmp_path, "t_binary.sh", "cat %s\n" % os.path.join(PROTOCOLS, "garbage_binary.out"))
    write_test(tmp_path, "t_big_line.sh", "cat %s\n" % big)
    write_test(tmp_path, "t_no_newline.sh", "cat %s\n" % os.path.join(PROTOCOLS, "garbage_no_newline.out"))
    # Only stderr, and more of it than a pipe holds: read, marked, not lost.
    write_test(tmp_path, "t_stderr_only.sh",
               "i=0; while [ $i -lt 3000 ]; do echo \"line $i of stderr padding padding padding\" >&2; "
               "i=$((i+1)); done; echo 'TEST-PASS | t | fine' >&2\n")
    raw = tmp_path / "raw.log"
    proc = paralleltest(["-j", "4", "-t", "30", "--log-raw", str(raw), "-r", "tap",
                         str(tmp_path / "t_binary.sh"), str(tmp_path / "t_big_line.sh"),
                         str(tmp_path / "t_no_newline.sh"), str(tmp_path / "t_stderr_only.sh")],
                        cwd=str(tmp_path))
    events = read_raw(raw)
    ends = ends_by_test(events)
    assert ends["t_binary.sh"]["status"] == "OK"
    assert ends["t_big_line.sh"]["status"] == "OK"
    assert ends["t_no_newline.sh"]["status"] == "OK"
    # stderr never decides a protocol or a verdict: no TAP on stdout.
    assert ends["t_stderr_only.sh"]["status"] == "ERROR"
    assert proc.returncode == 1
    binary = [e["data"] for e in events if e["action"] == "process_output" and e["test"] == "t_binary.sh"]
    assert any("\ufffd" in d for d in binary)
    long = [e["data"] for e in events if e["action"] == "process_output" and e["test"] == "t_big_line.sh"]
    # A 5 MB line reaches the log whole, in pieces of about framing.MAX_LINE
    # (at most one read more).
    assert len(long) >= 5 and MAX_LINE <= max(len(d) for d in long) <= MAX_LINE + READ_SIZE
    assert sum(len(d) for d in long) >= 5 * 1024 * 1024
    stderr = [e for e in events if e["action"] == "process_output" and e["test"] == "t_stderr_only.sh"]
    assert len(stderr) == 3001 and all(e["process"].endswith(" stderr") for e in stderr)


def test_manifest_names_the_protocol_per_test(tmp_path):
    write_test(tmp_path, "a_tap.sh", "echo 1..1; echo ok 1\n")
    write_test(tmp_path, "b_tbpl.sh", "echo 'TEST-PASS | b | fine'; echo 'TEST-OK | b | took 1ms'\n")
    # Looks like TAP to auto, but the manifest says TBPL: no TBPL results -> ERROR.
    write_test(tmp_path, "c_forced.sh", "echo 1..1; echo ok 1\n")
    (tmp_path / "manifest.ini").write_text(
        "[a_tap.sh]\n[b_tbpl.sh]\nprotocol = tbpl\n[c_forced.sh]\nprotocol = tbpl\n")
    raw = tmp_path / "raw.log"
    proc = paralleltest(["--log-raw", str(raw), str(tmp_path / "manifest.ini")], cwd=str(tmp_path))
    ends = ends_by_test(read_raw(raw))
    assert ends["a_tap.sh"]["status"] == "OK"
    assert ends["b_tbpl.sh"]["status"] == "OK" and ends["b_tbpl.sh"]["extra"]["protocol"] == "tbpl"
    assert ends["c_forced.sh"]["status"] == "ERROR"
    assert proc.returncode == 1
    (tmp_path / "manifest.ini").write_text("[a_tap.sh]\nprotocol = yaml\n")
    proc = paralleltest([str(tmp_path / "manifest.ini")], cwd=str(tmp_path))
    assert proc.returncode == 2 and "protocol = 'yaml'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
