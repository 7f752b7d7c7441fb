"""store/recorder.py with support.py's InMemoryStore: what one run writes
(the run, each result from a contract.TestResult, the end), and a store
that fails: warned about once, then left alone while the run goes on."""

import os
import re
import socket
import time

from mozparallel.contract import TestResult, TestSpec
from mozparallel.store.recorder import Recorder, new_run_id
from support import InMemoryStore


def result(test="t.py", status="OK", expected=None, started=None, extra=None, argv=None):
    spec = TestSpec(id=test, argv=argv or ["/usr/bin/python3", "-X", "dev", "/src/" + test], path="/src/" + test)
    end = {"action": "test_end", "test": test, "status": status, "extra": dict(extra or {})}
    if expected:
        end["expected"] = expected
    return TestResult(spec, end, bool(expected), started)


def test_run_ids_sort_by_time_and_differ():
    first = new_run_id(time.mktime((2025, 1, 31, 14, 25, 1, 0, 0, -1)))
    assert re.fullmatch(r"20250131-142501-[0-9a-f]{6}", first)
    assert new_run_id(time.mktime((2025, 2, 1, 0, 0, 0, 0, 0, -1))) > first
    assert len({new_run_id(0) for _ in range(50)}) == 50


def test_start_records_the_run_and_the_machine():
    store = InMemoryStore("memory://here")
    before = time.time()
    rec = Recorder(store, kind="retry", parent_run="20250101-000000-abcdef")
    after = time.time()
    mozinfo = {"os": "linux"}
    rec.start(4, mozinfo, argv=["paralleltest", "-j", "4"])
    mozinfo["os"] = "changed later"
    [run] = store.runs()
    assert run.run_id == rec.run_id and before <= run.started <= after
    assert (run.jobs, run.mozinfo, run.argv) == (4, {"os": "linux"}, ["paralleltest", "-j", "4"])
    assert (run.kind, run.parent_run) == ("retry", "20250101-000000-abcdef")
    assert run.cores == os.cpu_count() and run.memory > 0 and run.hostname == socket.gethostname()
    assert (run.ended, run.status) == (None, None)
    assert rec.where == "memory://here"


def test_each_result_becomes_a_record_with_its_figures_and_offsets():
    store = InMemoryStore()
    rec = Recorder(store, run_id="r1")
    rec.start(2, {})
    started = rec.started + 0.25
    extra = {"wall": 1.5, "cpu_user": 0.75, "cpu_system": 0.125, "peak_rss_kb": 2048, "maxrss_kb": 1024,
             "processes": 3, "slot": 2, "samples": 7}
    rec.on_result(result("a.py", "ERROR", expected="OK", started=started, extra=extra))
    rec.on_result(result("b.sh", argv=["/src/b.sh"]))       # the file itself ran: no command
    assert rec.recorded == 2
    a, b = store.results_of_run("r1")
    assert (a.test, a.command, a.status, a.expected) == ("a.py", "/usr/bin/python3 -X dev", "ERROR", "OK")
    assert (a.wall, a.cpu_user, a.cpu_system, a.peak_rss_kb, a.maxrss_kb, a.processes, a.slot) == \
        (1.5, 0.75, 0.125, 2048, 1024, 3, 2)
    assert a.start_offset == 0.25 and a.end_offset >= 0
    assert (b.test, b.command, b.status, b.expected) == ("b.sh", "", "OK", "OK")    # expected: as ended
    assert b.start_offset is None and b.wall is None and b.end_offset >= a.end_offset


def test_end_records_the_outcome():
    store = InMemoryStore()
    rec = Recorder(store)
    rec.start(1, {})
    before = time.time()
    rec.end("INTERRUPTED")
    [run] = store.runs()
    assert run.status == "INTERRUPTED" and run.ended >= before
    assert [name for name, _ in store.writes] == ["record_run_start", "record_run_end"]


def test_without_a_store_nothing_is_recorded_and_nothing_fails():
    warnings = []
    rec = Recorder(None, warn=warnings.append)
    rec.start(1, {})
    rec.on_result(result())
    rec.end("OK")
    assert rec.recorded == 0 and rec.where is None and warnings == []


def test_a_failing_store_is_warned_about_once_and_then_left_alone():
    store = InMemoryStore("memory://shared", fail_on={"record_result"})
    warnings = []
    rec = Recorder(store, warn=warnings.append)
    rec.start(2, {})
    for name in ("a", "b", "c"):
        rec.on_result(result(name))
    rec.end("OK")
    assert warnings == ["cannot write to the history store memory://shared: record_result failed (as told); "
                        "not recording this run any further"]
    assert rec.recorded == 0
    assert [name for name, _ in store.writes] == ["record_run_start"]     # nothing tried after the failure
    [run] = store.runs()
    assert run.status is None                                             # the end was not written either
