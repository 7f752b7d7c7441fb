"""TBPL as input (protocols/tbpl.py): captured xpcshell and mochitest shapes
through the parser, and a real process printing TBPL through the pool."""

import os

from conftest import FIXTURES, PYTHON, ends_by_test, paralleltest, read_raw, write_test
from mozparallel.protocols import ExitInfo, parse_tbpl
from mozparallel.protocols.tbpl import split_line, strip_prefix

PROTOCOLS = os.path.join(FIXTURES, "protocols")


def fixture(name):
    with open(os.path.join(PROTOCOLS, name)) as f:
        return f.read().split("\n")


def statuses(evs):
    return [(e["subtest"], e["status"], e.get("expected", e["status"]))
            for e in evs if e["action"] == "test_status"]


def test_line_splitting_and_prefixes():
    assert split_line("TEST-PASS | a.js | x | y") == ("TEST-PASS", "a.js", "x | y")
    assert split_line("TEST-INFO took 3ms") == ("TEST-INFO", "took 3ms", "")
    assert strip_prefix("[task 2024-05-02T10:11:12.345Z] 10:11:12     INFO - 7 INFO TEST-PASS | a") \
        == "TEST-PASS | a"
    assert strip_prefix("12 INFO TEST-START | a") == "TEST-START | a"


def test_xpcshell_shape():
    evs = list(parse_tbpl("netwerk/test/unit/test_cookies.js", fixture("tbpl_xpcshell.log")))
    assert statuses(evs) == [
        ("[check_expiry : 41] 2 == 3 - See following stack:", "FAIL", "PASS"),
        ("[todo_check : 55] partitioned cookies not yet supported", "FAIL", "FAIL"),
        ("[run_next : 60] needs network", "SKIP", "SKIP"),
        ("[slow_check : 70] timed out (bug 1234567)", "TIMEOUT", "TIMEOUT"),
        ("xpcshell return code: 0", "FAIL", "PASS"),
    ]
    warning = [e for e in evs if e["action"] == "log"]
    assert warning and warning[0]["level"] == "WARNING" and "TEST-UNEXPECTED" not in warning[0]["message"]
    # Raw TEST-UNEXPECTED text never goes out as output (mozharness would match it).
    outputs = [e["data"] for e in evs if e["action"] == "process_output"]
    assert not [o for o in outputs if "TEST-UNEXPECTED" in o]
    assert "JS frame :: netwerk/test/unit/test_cookies.js :: check_expiry :: line 41" in outputs
    end = evs[-1]
    # The unexpected results are the failure lines; the file ran to its end.
    assert end["status"] == "OK" and "expected" not in end
    assert end["extra"]["counts"] == {"results": 7, "passed": 2, "unexpected": 2, "expected_fail": 2,
                                      "skipped": 1, "crashes": 0}
    assert end["message"].startswith("2 unexpected results; first: FAIL [check_expiry : 41]")


def test_mochitest_shape_with_a_crash():
    evs = list(parse_tbpl("dom/base/test/mochitest.ini", fixture("tbpl_mochitest.log")))
    assert statuses(evs) == [
        ("dom/base/test/test_a.html | todo: shadow parts not implemented", "FAIL", "FAIL"),
        ("dom/base/test/test_b.html | value matches - got 2, expected 3", "FAIL", "PASS"),
        ("dom/base/test/test_b.html | Test timed out.", "TIMEOUT", "PASS"),
    ]
    crash = [e for e in evs if e["action"] == "crash"]
    assert crash and crash[0]["signature"] == "@ mozilla::dom::Element::SetAttr"
    end = evs[-1]
    assert end["status"] == "CRASH"
    assert "while running dom/base/test/test_b.html" in end["message"]


def test_mozlog_tbpl_formatter_shape_passes():
    evs = list(parse_tbpl("test_prefs.py", fixture("tbpl_mozlog_formatter.log")))
    assert statuses(evs) == [("writes locked pref", "FAIL", "FAIL")]
    assert evs[-1]["status"] == "OK" and "expected" not in evs[-1]


def test_nothing_tbpl_is_an_error_and_exit_status_counts():
    assert list(parse_tbpl("t", ["hello"]))[-1]["status"] == "ERROR"
    end = list(parse_tbpl("t", ["TEST-PASS | t | fine"], ExitInfo(returncode=2)))[-1]
    assert end["status"] == "ERROR" and "Non-zero exit status: 2" in end["message"]


def test_expected_fail_file():
    evs = list(parse_tbpl("t", ["TEST-UNEXPECTED-FAIL | t | broken"], expected_fail=True))
    assert statuses(evs) == [("broken", "FAIL", "FAIL")]
    assert evs[-1]["status"] == "FAIL" and evs[-1]["expected"] == "FAIL"


def test_real_processes_printing_tbpl(tmp_path):
    """Through the pool: the fixtures printed by real processes, with
    --protocol tbpl and with auto; a file whose TBPL shows an unexpected
    result is unexpected, one with only expected results passes."""
    for name in ("tbpl_xpcshell.log", "tbpl_mochitest.log", "tbpl_mozlog_formatter.log"):
        write_test(tmp_path, "test_" + name.replace(".log", ".sh"),
                   "cat %s\n" % os.path.join(PROTOCOLS, name))
    for protocol in ("tbpl", "auto"):
        raw = tmp_path / ("raw-%s.log" % protocol)
        proc = paralleltest(["-j", "3", "--protocol", protocol, "--log-raw", str(raw), "-r", "tbpl",
                             str(tmp_path)], cwd=str(tmp_path))
        assert proc.returncode == 1, proc.stderr
        events = read_raw(raw)
        ends = ends_by_test(events)
        assert ends["test_tbpl_xpcshell.sh"]["status"] == "OK"      # its two unexpected results fail it
        assert ends["test_tbpl_mochitest.sh"]["status"] == "CRASH"
        assert ends["test_tbpl_mozlog_formatter.sh"]["status"] == "OK"
        crashes = [e for e in events if e["action"] == "crash"]
        assert [c["test"] for c in crashes] == ["test_tbpl_mochitest.sh"]
        # Our TBPL output: one TEST-UNEXPECTED line per unexpected result, on
        # our test id, never the child's raw line passed through.
        lines = proc.stdout.splitlines()
        assert not [l for l in lines if "TEST-UNEXPECTED" in l and "| test_tbpl_" not in l]
        if protocol == "auto":
            chosen = [e["message"] for e in events if e["action"] == "log"
                      and "protocol tbpl (auto" in e["message"]]
            assert len(chosen) == 3
