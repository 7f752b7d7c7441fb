"""The TAP parser (protocols/tap.py): verdicts against Perl's TAP::Parser on
generated documents, TAP 13 YAML and TAP 14 subtests from fixtures, and our
own ``--reporter tap`` output read back to the same verdicts."""

import os
import random
import shutil
import subprocess

import pytest

from conftest import FIXTURES, ends_by_test, paralleltest, read_raw, write_test
from mozparallel.contract import is_unexpected
from mozparallel.protocols import ExitInfo, parse_tap
from mozparallel.protocols.tap import TapParser, split_directive, yaml_fields

PROTOCOLS = os.path.join(FIXTURES, "protocols")

# TAP::Parser's own verdict for each document named on the command line:
# what prove reports for a file, less the exit status (``cat`` exits 0).
ORACLE = r"""
use TAP::Parser;
local $/;
for my $f (@ARGV) {
    open my $fh, '<', $f or die "$f: $!";
    my $p = TAP::Parser->new({ tap => scalar <$fh> });
    while (defined(my $r = $p->next)) {}
    print $f, "\t", ($p->has_problems ? "fail" : "pass"), "\n";
}
"""


def prove_verdicts(paths):
    out = subprocess.run(["perl", "-e", ORACLE] + list(paths), capture_output=True, text=True,
                         check=True).stdout
    return dict(line.split("\t") for line in out.splitlines())


def our_verdict(text, **kwargs):
    """pass or fail: a file fails by its test_end or by an unexpected point
    (a file whose only failures are points ends OK: one failure, one line)."""
    evs = list(parse_tap("t", text.split("\n"), ExitInfo(returncode=0), **kwargs))
    if any(e["action"] == "test_status" and is_unexpected(e) for e in evs):
        return "fail"
    return "pass" if evs[-1]["status"] in ("OK", "SKIP") else "fail"


def parse(lines, exit=None, **kwargs):
    return list(parse_tap("t", lines, exit or ExitInfo(returncode=0), **kwargs))


def fixture_lines(name):
    with open(os.path.join(PROTOCOLS, name), "rb") as f:
        return f.read().decode("utf-8", "replace").split("\n")


# -- documents for the differential test -----------------------------------
def random_document(rng):
    """A TAP document with a few of the things parsers disagree on."""
    n = rng.randint(0, 6)
    lines = []
    if rng.random() < 0.3:
        lines.append(rng.choice(["TAP version 13", "TAP version 13", "TAP version 12", "tap version 13"]))
    if rng.random() < 0.2:
        lines.append("# a comment first")
    plan_at = rng.choice(["start", "start", "end", "end", "none", "middle", "twice"])
    planned = n if rng.random() < 0.8 else n + rng.choice([-1, 1])
    if plan_at in ("start", "twice"):
        lines.append("1..%d" % max(planned, 0) + (" # SKIP nothing to do" if planned == 0 and rng.random() < 0.5 else ""))
    number = 0
    for i in range(n):
        number += 1
        if plan_at == "middle" and i == n // 2:
            lines.append("1..%d" % planned)
        ok = rng.random() < 0.75
        num = number
        r = rng.random()
        if r < 0.05:
            num = number + 1
        elif r < 0.08:
            num = max(number - 1, 0)
        numtext = "" if rng.random() < 0.15 else " %d" % num
        desc = rng.choice(["", " - works", " works", " - has \\# hash", " - two # three",
                           " - dash -", " -"])
        directive = rng.choice([""] * 6 + [" # SKIP no net", " # skip", " # TODO later",
                                           " # todo", " # Skipped: why", " # TODO: x"])
        lines.append("%sok%s%s%s" % ("" if ok else "not ", numtext, desc, directive))
        if rng.random() < 0.2:
            lines.extend(["  ---", "  message: 'it broke'", "  got:", "    - ok 7", "  ..."])
        if rng.random() < 0.15:
            lines.append(rng.choice(["# diag", "noise", "", "    indented noise", "Bail on nothing"]))
        if rng.random() < 0.1:
            # A Test::More subtest, its result consistent with its points.
            inner_ok = rng.random() < 0.7
            number += 1
            lines.extend(["    # Subtest: sub%d" % number, "    ok 1 - inner",
                          "    %sok 2 - inner two" % ("" if inner_ok else "not "), "    1..2",
                          "%sok %d - sub%d" % ("" if inner_ok else "not ", number, number)])
            n += 0
    if plan_at in ("end", "twice"):
        lines.append("1..%d" % planned)
    text = "\n".join(lines) + "\n"
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    return text


def test_verdicts_match_tap_parser_on_generated_documents(tmp_path):
    if not shutil.which("perl"):
        pytest.skip("perl is not installed")
    rng = random.Random(4)
    docs = {}
    for i in range(600):
        path = tmp_path / ("d%03d.tap" % i)
        text = random_document(rng)
        path.write_bytes(text.encode())
        docs[str(path)] = text
    theirs = prove_verdicts(docs)
    differ = [p for p, text in docs.items() if our_verdict(text) != theirs[p]]
    assert not differ, "first: %s\n%s" % (differ[0], docs[differ[0]])
    assert 100 < list(theirs.values()).count("fail") < 500


# -- single rules -------------------------------------------------------------
def test_escaped_hash_is_not_a_directive():
    assert split_directive("- has \\# SKIP no") == ("has # SKIP no", None, "")
    assert split_directive("- a \\\\# SKIP why") == ("a \\", "SKIP", "why")
    assert our_verdict("1..1\nnot ok 1 - x \\# TODO not really\n") == "fail"


def test_crlf_line_ends():
    assert our_verdict("TAP version 13\r\n1..2\r\nok 1\r\nnot ok 2 # TODO x\r\n") == "pass"


def test_version_and_pragma_lines():
    assert our_verdict("TAP version 14\npragma +strict\n1..1\nok 1\n") == "pass"
    assert our_verdict("1..1\nTAP version 13\nok 1\n") == "fail"
    assert our_verdict("TAP version 12\n1..1\nok 1\n") == "fail"
    parser = TapParser("t")
    for line in ["TAP version 14", "pragma -bail", "1..0 # SKIP later"]:
        parser.feed(line)
    assert parser.version == 14 and parser.pragmas == {"bail": False}
    assert parser.finish(ExitInfo(returncode=0))[-1]["status"] == "SKIP"


def test_out_of_order_and_duplicate_numbers_fail_like_prove():
    end = parse(["1..3", "ok 1", "ok 3", "ok 2"])[-1]
    assert end["status"] == "ERROR" and "out of sequence" in end["message"]
    assert our_verdict("1..2\nok 1\nok 1\n") == "fail"


def test_plain_pass_on_the_hot_path_logs_nothing():
    parser = TapParser("t")
    assert parser.feed("ok 1 - fine") is None
    assert parser.feed_lines(["ok 2", "ok 3 - x"]) == []
    assert parser.count == 3 and parser.passed == 3


# -- TAP 13 YAML and TAP 14 subtests, from fixtures ---------------------------
def test_tap13_yaml_goes_to_message_and_extra():
    evs = parse(fixture_lines("tap13_yaml.tap"))
    fails = [e for e in evs if e["action"] == "test_status" and e["status"] == "FAIL"]
    assert [e["subtest"] for e in fails] == ["parses the header", "writes the file"]
    first = fails[0]
    assert first["message"] == "expected 3 fields, got 2"
    assert first["extra"]["diagnostic"]["severity"] == "fail"
    assert "wanted: 3" in first["extra"]["yaml"]
    assert fails[1]["message"].startswith("Permission denied\nwhile opening")
    assert fails[1]["expected"] == "FAIL"          # the TODO point
    # YAML after a passing point is not output; its lines never reach the log.
    assert not [e for e in evs if e["action"] == "process_output" and "duration" in e["data"]]
    end = evs[-1]
    # Its failures are its points' lines: the file itself ran to its end.
    assert end["status"] == "OK" and "expected" not in end
    assert end["message"].startswith("not ok 2 - parses the header: expected 3 fields, got 2")


def test_tap14_nested_subtests():
    evs = parse(fixture_lines("tap14_subtests.tap"), ExitInfo(returncode=1))
    failing = {e["subtest"]: e for e in evs if e["action"] == "test_status"
               and e.get("expected") == "PASS"}
    # The failing leaf three levels down, and each parent it fails.
    assert "io > files > write" in failing
    assert failing["io > files > write"]["message"] == "disk full"
    assert "io > files" in failing and "io" in failing
    # "claims ok" passes its correlated point although its subtest failed: TAP 14 fails it.
    assert "claims ok" in failing
    assert "net" not in failing and "net > dns" not in failing
    skips = [e["subtest"] for e in evs if e["action"] == "test_status" and e["status"] == "SKIP"]
    assert skips == ["net > ipv6"]
    end = evs[-1]
    assert end["status"] == "OK" and end["extra"]["counts"]["points"] == 4
    assert end["message"].endswith("exit status 1")


def test_a_subtest_that_passes_leaves_the_file_passing():
    lines = ["TAP version 14", "# Subtest: a", "    1..2", "    ok 1", "    # Subtest: b",
             "        1..1", "        ok 1", "    ok 2 - b", "ok 1 - a", "1..1"]
    assert parse(lines)[-1]["status"] == "OK"
    # node writes "# Subtest: x" before a leaf test: an empty subtest is not a failure.
    assert parse(["TAP version 13", "# Subtest: leaf", "ok 1 - leaf", "1..1"])[-1]["status"] == "OK"


def test_bail_out_inside_a_subtest_stops_everything():
    parser = TapParser("t")
    for line in ["1..2", "# Subtest: a", "    1..3", "    ok 1", "    Bail out! db gone"]:
        parser.feed(line)
    assert parser.bailout == "db gone"
    end = parser.finish(ExitInfo(returncode=0))[-1]
    assert end["status"] == "ERROR" and "Bail out! db gone" in end["message"]


def test_yaml_fields():
    block = ["  message: 'it''s broken'", "  data:", "    got: 1", "  error: |-", "    line one",
             "", "    line two", "  folded: >", "    a", "    b"]
    assert yaml_fields(block, 2) == {"message": "it's broken", "data": "got: 1",
                                     "error": "line one\n\nline two", "folded": "a b"}


# -- garbage ----------------------------------------------------------------------
def test_garbage_fixtures_do_not_break_the_parser():
    for name in ("garbage_binary.out", "garbage_no_newline.out"):
        evs = parse(fixture_lines(name))
        assert evs[-1]["action"] == "test_end"
    evs = parse(fixture_lines("garbage_no_newline.out"))
    assert evs[-1]["status"] == "OK"        # the last line "ok 2" has no newline


# -- our own TAP read back --------------------------------------------------------
def test_reporter_tap_round_trips(tmp_path):
    write_test(tmp_path, "t1_pass.sh", "echo 1..1; echo ok 1\n")
    write_test(tmp_path, "t2_fail.sh", "echo 1..1; echo 'not ok 1 - has # hash'\n")
    write_test(tmp_path, "t3_skip.sh", "echo '1..0 # SKIP no network'\n")
    write_test(tmp_path, "t4_exit.sh", "echo 1..1; echo ok 1; exit 3\n")
    write_test(tmp_path, "t5_tbpl.sh", "echo 'TEST-PASS | t5 | fine'; echo 'TEST-UNEXPECTED-FAIL | t5 | bad'\n")
    write_test(tmp_path, "t6_crash.sh", "echo 1..2; echo ok 1; kill -SEGV $$\n")
    raw = tmp_path / "raw.log"
    proc = paralleltest(["-j", "2", "-r", "tap", "--log-raw", str(raw), str(tmp_path)], cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    ends = ends_by_test(read_raw(raw))
    # Read our TAP back: one point per file, named after it.
    parser = TapParser("run", log_subtests=True)
    points = {}
    for line in proc.stdout.split("\n"):
        for ev in parser.feed(line) or ():
            if ev["action"] == "test_status":
                points[ev["subtest"]] = ev
    for ev in parser.flush():
        points[ev["subtest"]] = ev
    assert set(points) == set(ends)
    failing_points = {e["test"] for e in read_raw(raw) if e["action"] == "test_status" and is_unexpected(e)}
    assert failing_points
    for test, end in ends.items():
        unexpected = ("expected" in end and end["status"] != "SKIP") or test in failing_points
        got = points[test]
        if end["status"] == "SKIP":
            assert got["status"] == "SKIP"
        elif unexpected:
            assert got["status"] == "FAIL" and got["expected"] == "PASS", test
        else:
            assert got["status"] == "PASS", test
    # The whole document passes prove's rules only where the run passed:
    # it fails by its failing points (their lines; the document ran to its end).
    assert parser.finish(ExitInfo(returncode=0))[-1]["status"] == "OK"
    assert [p for p in points.values() if is_unexpected(p)]
    assert prove_verdicts_of_text(tmp_path, proc.stdout) == "fail"


def prove_verdicts_of_text(tmp_path, text):
    if not shutil.which("perl"):
        return "fail"
    path = tmp_path / "ours.tap"
    path.write_text(text)
    return prove_verdicts([str(path)])[str(path)]


GLIB = "/usr/libexec/installed-tests/glib"


@pytest.mark.skipif(not (shutil.which("prove") and os.path.isdir(GLIB)),
                    reason="prove and Debian's libglib2.0-tests are needed")
def test_real_suite_verdicts_match_prove():
    """GLib's installed tests print TAP nobody here wrote: passes, a
    ``Bail out!`` (fileutils, which stops prove's run), a file that exits
    77 without a plan. Per-file verdicts must be prove's."""
    from mozparallel.bench.prove_compare import compare

    files = [os.path.join(GLIB, name) for name in
             ("array-test", "list", "fileutils", "gdbus-threading", "strfuncs", "option-context")]
    result = compare(files, timeout=60)
    assert result["differ"] == [] and result["first_run"] == []
    assert result["matched"] == 6 and result["prove_fail"] == 2
