"""events.py: the fast path to mozlog's handlers must change nothing that a
log reader can see."""

import io
import json

from mozlog import commandline
from mozlog.formatters import JSONFormatter
from mozlog.structuredlog import StructuredLogger

from mozparallel.events import EventLog, JsonLine
from mozparallel.protocols.base import ExitInfo
from mozparallel.protocols.tap import TapParser


def make_log(extra_handler=None):
    raw, tbpl = io.StringIO(), io.StringIO()
    logger = commandline.setup_logging(
        StructuredLogger("events-test"), {}, defaults={"raw": raw, "tbpl": tbpl})
    if extra_handler is not None:
        logger.add_handler(extra_handler)
    return logger, EventLog(logger), raw, tbpl


def test_json_line_is_byte_identical_to_mozlog_json():
    mozlog_json, ours = JSONFormatter(), JsonLine()
    samples = [
        {"action": "test_status", "time": 1, "thread": "MainThread", "pid": 7, "source": "s",
         "test": "dir/é t.sh", "subtest": 'quote " and \\ and \u2603', "status": "PASS"},
        {"action": "test_status", "time": 2, "thread": "MainThread", "pid": 7, "source": "s",
         "test": "t", "subtest": "x", "status": "FAIL", "expected": "PASS", "message": "m"},
        {"action": "test_end", "time": 3, "thread": "T", "pid": 8, "source": "s", "test": "t",
         "status": "OK", "extra": {"counts": {"points": 2}, "wall": 0.5}},
    ]
    for data in samples:
        assert ours(data) == mozlog_json(data)
    assert ours.pass_line(1, "MainThread", 7, "s", "dir/é t.sh", 'quote " and \\ and \u2603') \
        == mozlog_json(samples[0])


def test_fast_path_reaches_every_handler_in_mozlog_form():
    seen = []
    logger, events, raw, tbpl = make_log(seen.append)
    logger.suite_start({"default": ["t"]})
    logger.test_start("t")
    parser = TapParser("t", log_subtests=True)
    events.emit_many(parser.feed_lines(["1..3", "ok 1 - a", "not ok 2 - b", "ok 3 # SKIP c", "hello"]))
    events.emit_many(parser.finish(ExitInfo(returncode=1)))
    logger.suite_end()
    events.flush()
    lines = [json.loads(l) for l in raw.getvalue().splitlines()]
    statuses = [(e["subtest"], e["status"], e.get("expected")) for e in lines if e["action"] == "test_status"]
    assert statuses == [("a", "PASS", None), ("b", "FAIL", "PASS"), ("#3", "SKIP", None)]
    assert [e["action"] for e in seen].count("test_status") == 3
    assert any(e["action"] == "process_output" and e["data"] == "hello" for e in lines)
    for e in lines:
        assert {"time", "thread", "pid", "source"} <= set(e)
    assert "TEST-UNEXPECTED-FAIL | t | b" in tbpl.getvalue()


def test_nothing_reaches_the_file_before_a_flush_and_everything_after():
    logger, events, raw, _ = make_log()
    logger.suite_start({"default": ["t"]})
    logger.test_start("t")
    events.emit_many([{"action": "test_status", "test": "t", "subtest": "a", "status": "PASS"}])
    events.flush()
    assert raw.getvalue().count("\n") == 3
