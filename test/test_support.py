"""support.py's stand-ins keep to the contracts of what they replace: a
unit test that passes against a stand-in must mean something for the real
thing. The in-memory store answers what SQLiteStore answers for the same
writes; the fake scheduler and the scripted pool meet the real Pool (run
on real processes) in the same way."""

import inspect
import json
import os
import random
import subprocess

import pytest

from conftest import TOP, VENV_PYTHON, write_test
from mozparallel.contract import Scheduler
from mozparallel.store.records import ROW_FIELDS, ResultRecord, RunRecord, Store
from mozparallel.store.sqlite_store import SQLiteStore, StoreError
from support import (EventSink, FakeScheduler, InMemoryStore, ScriptedPools, assert_implements, specs)


def public_methods(cls):
    return {n: inspect.signature(f) for n, f in inspect.getmembers(cls, inspect.isfunction)
            if not n.startswith("_")}


def test_in_memory_store_has_the_whole_surface_of_the_sqlite_store():
    assert_implements(InMemoryStore(), Store)
    real, fake = public_methods(SQLiteStore), public_methods(InMemoryStore)
    missing = {n: s for n, s in real.items() if fake.get(n) != s}
    assert missing == {}
    assert hasattr(InMemoryStore(), "description")


def writes(seed):
    """A history of 26 runs written in a shuffled order of start times, some
    results without an end offset, some written twice, two commands, skips,
    a run started twice, a few runs never ended: what both stores are fed."""
    rng = random.Random(seed)
    out = []
    starts = list(range(26))
    rng.shuffle(starts)
    for k, start in enumerate(starts):
        run_id = "run-%02d" % k
        out.append(("record_run_start", RunRecord(run_id=run_id, started=1000.0 + start, jobs=rng.randint(1, 8),
                                                  mozinfo={"os": "linux", "k": k}, argv=["paralleltest", str(k)],
                                                  kind=rng.choice(["", "", "retry"]), parent_run=None)))
        if k == 3:
            out.append(("record_run_start", RunRecord(run_id=run_id, started=1000.0 + start, jobs=99)))
        offset = 0.0
        for test in rng.sample(["a", "b", "c", "d", "e", "f"], rng.randint(0, 6)):
            offset += rng.choice([0.5, 1.0, 0.0])
            record = ResultRecord(
                test=test, command=rng.choice(["", "", "python3 -X dev"]),
                status=rng.choice(["OK", "OK", "ERROR", "SKIP"]), expected="OK",
                wall=rng.choice([None, round(rng.uniform(0.1, 9), 3)]), cpu_user=0.25, cpu_system=None,
                peak_rss_kb=rng.randint(1, 9999), maxrss_kb=100, processes=2, slot=rng.randint(1, 4),
                start_offset=offset / 2, end_offset=rng.choice([offset, offset, None]))
            out.append(("record_result", run_id, record))
            if rng.random() < 0.1:
                out.append(("record_result", run_id, ResultRecord(test=test, status="CRASH", wall=7.0,
                                                                 end_offset=offset + 0.25)))
        if rng.random() < 0.8:
            out.append(("record_run_end", run_id, 2000.0 + start, rng.choice(["OK", "UNEXPECTED"])))
        if rng.random() < 0.3:
            out.append(("mark_synced", run_id, "redis://one"))
    return out


def answers(store):
    out = {}
    for command in (None, "", "python3 -X dev"):
        out["durations", command] = store.durations(["a", "b", "c", "d", "e", "f", "nope"], command)
        for runs in (1, 5, 30):
            out["recent_results", runs, command] = store.recent_results(runs, command)
    for runs in (0, 3, 30):
        out["recent_rows", runs] = store.recent_rows(runs, ROW_FIELDS)
        out["runs", runs] = store.runs(runs)
    out["recent_rows default"] = store.recent_rows()
    for k in range(27):
        out["results_of_run", k] = store.results_of_run("run-%02d" % k)
    for remote in ("redis://one", "redis://two"):
        for limit in (5, 50):
            out["unsynced_runs", remote, limit] = store.unsynced_runs(remote, limit)
    return out


def end_order(record):
    """The order both stores promise: by run start, then end offset (none first)."""
    return (record.run_started, record.end_offset is not None, record.end_offset or 0.0)


def same_answer(got, want):
    """Equal, except for the order of results the stores leave unordered
    (equal start and end offsets): there each answer may have its own."""
    if got and isinstance(got, list) and isinstance(got[0], ResultRecord):
        for answer in (got, want):
            assert [end_order(r) for r in answer] == sorted(end_order(r) for r in answer)
        return sorted(got, key=lambda r: (end_order(r), r.test)) == sorted(want, key=lambda r: (end_order(r), r.test))
    if got and isinstance(got, list) and isinstance(got[0], tuple):
        if len(got[0]) == len(ROW_FIELDS):                  # the runs, oldest first, each in one piece
            run_of = ROW_FIELDS.index("run_id")
            if [r[run_of] for r in got] != [r[run_of] for r in want]:
                return False
        return sorted(got, key=repr) == sorted(want, key=repr)
    return got == want


@pytest.mark.parametrize("seed", range(4))
def test_in_memory_store_answers_as_sqlite_does(tmp_path, seed):
    real, fake = SQLiteStore(str(tmp_path / "h.sqlite")), InMemoryStore()
    for name, *args in writes(seed):
        getattr(real, name)(*args)
        getattr(fake, name)(*args)
    got, want = answers(fake), answers(real)
    assert got.keys() == want.keys()
    for key in want:
        assert same_answer(got[key], want[key]), key
    assert any(want[k] for k in want if k[0] == "durations")        # the history is not empty
    real.close()


def test_in_memory_store_fails_as_told_and_after_close():
    store = InMemoryStore(fail_on={"runs"})
    store.record_run_start(RunRecord(run_id="r", started=1.0))
    with pytest.raises(StoreError, match="runs failed"):
        store.runs()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.record_result("r", ResultRecord(test="a"))
    assert store.closed == 1
    with pytest.raises(ValueError, match="not a result field: nope"):
        InMemoryStore().recent_rows(1, ("test", "nope"))


def test_fake_scheduler_keeps_the_contract_and_records_what_it_was_asked():
    fake = FakeScheduler(specs("a", "b"), expected={"a": 1.0})
    assert_implements(fake, Scheduler)
    assert fake.next_test(2).id == "a"
    fake.hold()
    assert fake.next_test(1) is None and fake.remaining() == 1
    fake.release()
    assert fake.next_test(1).id == "b" and fake.next_test(1) is None
    fake.finished("a", 0.5)
    assert (fake.asked, fake.handed, fake.finished_calls) == ([2, 1, 1, 1], ["a", "b"], [("a", 0.5)])


# The real Pool on real processes, asking a FakeScheduler, in a child
# interpreter (the pool makes its process a subreaper).
REAL_POOL = """
import json, sys
sys.path.insert(0, sys.argv[1])
from support import EventSink, FakeScheduler
from mozparallel.contract import TestSpec
from mozparallel.execution.pool import Pool, PoolOptions
from mozparallel.protocols import make_parser

tests = json.loads(sys.argv[2])
scheduler = FakeScheduler([TestSpec(id=t, argv=[p], path=p) for t, p in tests])
events, results = EventSink(), []
pool = Pool(events, lambda spec: make_parser(spec.protocol, spec.id), PoolOptions(jobs=2), on_result=results.append)
pool.run(scheduler)
print(json.dumps({
    "asked": scheduler.asked, "handed": scheduler.handed, "finished": scheduler.finished_calls,
    "results": [[r.id, r.status, r.expected, r.unexpected, r.ended_by, r.complete, sorted(r.extra),
                 r.started is not None] for r in results],
    "actions": [[e["action"], e.get("test")] for e in events.events if e["action"] in ("test_start", "test_end")],
}))
"""


def shape(got):
    """What a pool's caller can rely on, whichever pool it is."""
    results = {r[0]: r for r in got["results"]}
    return {
        "results": {t: r[1:6] + [r[7], {"wall", "slot"} <= set(r[6])] for t, r in results.items()},
        "handed": sorted(got["handed"]),
        "finished once each, after running": sorted(t for t, s in got["finished"] if s >= 0),
        # Each test: test_start, then its test_end, then its result.
        "events in order": all(got["actions"].index(["test_start", t]) < got["actions"].index(["test_end", t])
                               for t in results),
        "slots within jobs": set(got["asked"]) <= {1, 2},
        "asked until nothing": got["asked"] and len(got["asked"]) > len(got["handed"]),
    }


def test_scripted_pool_and_fake_scheduler_meet_the_real_pool_the_same_way(tmp_path):
    tests = [["ok.sh", write_test(tmp_path, "ok.sh", "echo 1..1; echo ok 1\n")],
             # A file-level failure (a short plan): its test_end is ERROR, as the script's.
             ["fail.sh", write_test(tmp_path, "fail.sh", "echo 1..2; echo 'ok 1 - only one'\n")],
             ["also.sh", write_test(tmp_path, "also.sh", "echo 1..2; echo ok 1; echo ok 2\n")]]
    proc = subprocess.run([VENV_PYTHON, "-c", REAL_POOL, os.path.join(TOP, "test"), json.dumps(tests)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    real = json.loads(proc.stdout)
    assert [r[1:4] for r in real["results"] if r[0] == "fail.sh"] == [["ERROR", "OK", True]]

    scheduler, events, results = FakeScheduler(specs(*(t for t, _ in tests))), EventSink(), []
    pools = ScriptedPools({"fail.sh": ["ERROR"]})
    pools(events, 2, results.append).run(scheduler)
    scripted = {
        "asked": scheduler.asked, "handed": scheduler.handed, "finished": scheduler.finished_calls,
        "results": [[r.id, r.status, r.expected, r.unexpected, r.ended_by, r.complete, sorted(r.extra),
                     r.started is not None] for r in results],
        "actions": [[e["action"], e.get("test")] for e in events.events],
    }
    assert shape(scripted) == shape(real)
