"""mozlog raw JSON as input (protocols/mozlog_raw.py): a wpt-style raw log
passed through with its test ids remapped to the file, and a real process
printing mozlog JSON through the pool."""

import os

from conftest import FIXTURES, VENV_PYTHON, ends_by_test, paralleltest, read_raw, write_test
from mozparallel.protocols import ExitInfo, parse_mozlog

PROTOCOLS = os.path.join(FIXTURES, "protocols")


def fixture(name):
    with open(os.path.join(PROTOCOLS, name)) as f:
        return f.read().split("\n")


def test_wpt_style_raw_log_is_passed_through():
    evs = list(parse_mozlog("run_wpt.sh", fixture("mozlog_wpt.raw.log")))
    # Every event is about our file; the producer's own time/pid stamps are gone.
    assert {e["test"] for e in evs if "test" in e} == {"run_wpt.sh"}
    assert not [e for e in evs if "pid" in e or "time" in e]
    subs = [(e["subtest"], e["status"], e.get("expected")) for e in evs if e["action"] == "test_status"]
    assert subs == [
        ("/dom/nodes/a.html | querySelector :has()", "FAIL", "PASS"),
        ("/dom/nodes/a.html | known bug", "FAIL", "FAIL"),
        ("/dom/nodes/a.html", "PASS", "PASS"),
        ("/dom/nodes/b.html | slow thing", "TIMEOUT", "PASS"),
        ("/dom/nodes/b.html", "TIMEOUT", "PASS"),
        ("/dom/nodes/c.html", "ERROR", "ERROR"),
    ]
    failing = [e for e in evs if e["action"] == "test_status" and e["status"] == "FAIL"][0]
    assert failing["message"] == "assert_equals: expected 1 but got 0"
    assert failing["stack"].startswith("@http://web-platform.test")
    slow = [e for e in evs if e.get("subtest") == "/dom/nodes/b.html | slow thing"][0]
    assert slow["known_intermittent"] == ["TIMEOUT"]
    out = [e for e in evs if e["action"] == "process_output"]
    assert [o["data"] for o in out] == ["Starting runner (this line is not JSON)", "console.log: loading b.html",
                                        '{"action": "test_status", "this is": "malformed: no test"', ""]
    assert [e["message"] for e in evs if e["action"] == "log"] == ["Closing window"]
    end = evs[-1]
    assert end["status"] == "ERROR" and end["expected"] == "OK"
    assert end["message"] == ("2 unexpected results; first: FAIL /dom/nodes/a.html | querySelector :has()")
    assert end["extra"]["counts"]["tests"] == 3


def test_a_producer_with_one_test_gives_the_file_its_status():
    lines = ['{"action": "test_start", "test": "test_prefs.py"}',
             '{"action": "test_status", "test": "test_prefs.py", "subtest": "a", "status": "PASS"}',
             '{"action": "test_end", "test": "test_prefs.py", "status": "FAIL", "expected": "FAIL"}']
    end = list(parse_mozlog("dir/test_prefs.py", lines))[-1]
    assert end["status"] == "FAIL" and end["expected"] == "FAIL"
    lines[-1] = '{"action": "test_end", "test": "test_prefs.py", "status": "OK"}'
    end = list(parse_mozlog("dir/test_prefs.py", lines))[-1]
    assert end["status"] == "OK" and end.get("expected", "OK") == "OK"
    end = list(parse_mozlog("dir/test_prefs.py", lines, ExitInfo(returncode=1)))[-1]
    assert end["status"] == "ERROR"


def test_crash_and_no_events():
    evs = list(parse_mozlog("t", ['{"action": "crash", "test": "x", "signature": "@ Foo", "process": "1"}']))
    assert evs[0]["action"] == "crash" and evs[0]["test"] == "t"
    assert evs[-1]["status"] == "CRASH"
    assert list(parse_mozlog("t", ["plain text"]))[-1]["status"] == "ERROR"


def test_real_processes_printing_mozlog(tmp_path):
    write_test(tmp_path, "test_wpt.sh", "cat %s\n" % os.path.join(PROTOCOLS, "mozlog_wpt.raw.log"))
    # A Python test logging through mozlog's own JSON formatter (the venv's
    # interpreter: it has mozlog).
    write_test(tmp_path, "test_self_logging.py", shebang="#!" + VENV_PYTHON, body="""
import sys
from mozlog import structuredlog, handlers, formatters
logger = structuredlog.StructuredLogger("inner")
logger.add_handler(handlers.StreamHandler(sys.stdout, formatters.JSONFormatter()))
logger.suite_start(["test_self_logging.py"])
logger.test_start("test_self_logging.py")
logger.test_status("test_self_logging.py", "adds", "PASS")
logger.test_status("test_self_logging.py", "known", "FAIL", expected="FAIL")
logger.test_end("test_self_logging.py", "OK")
logger.suite_end()
""")
    raw = tmp_path / "raw.log"
    proc = paralleltest(["-j", "2", "--protocol", "mozlog", "--log-raw", str(raw), "-r", "tap",
                         str(tmp_path)], cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    events = read_raw(raw)
    ends = ends_by_test(events)
    assert ends["test_self_logging.py"]["status"] == "OK", ends
    assert ends["test_wpt.sh"]["status"] == "ERROR"
    known = [e for e in events if e["action"] == "test_status" and e.get("subtest") == "known"]
    # An expected FAIL: mozlog writes no ``expected`` when it equals the status.
    assert known and known[0]["test"] == "test_self_logging.py" and known[0]["status"] == "FAIL"
    assert "expected" not in known[0]
    # Exactly one suite: the producer's suite_start/suite_end were not passed on.
    assert [e["action"] for e in events].count("suite_start") == 1
