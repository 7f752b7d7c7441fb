"""store/: the SQLite history in the objdir, written as results come, safe
with two runs at once and after a SIGKILLed runner."""

import os
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import VENV_PYTHON, paralleltest, wait_gone, write_test
from mozparallel.settings import store_location
from mozparallel.store import open_store
from mozparallel.store.records import ResultRecord, RunRecord
from mozparallel.store.recorder import command_of
from mozparallel.store.sqlite_store import SQLiteStore


def _tests(directory, n, body="echo 1..1\necho ok 1\n", prefix="t"):
    os.makedirs(directory, exist_ok=True)
    return [write_test(directory, "%s%02d.sh" % (prefix, i), body) for i in range(n)]


def _db(path):
    return SQLiteStore(str(path))


def test_results_and_run_recorded_in_objdir(tmp_path):
    objdir = tmp_path / "obj"
    objdir.mkdir()
    _tests(tmp_path / "suite", 3)
    write_test(tmp_path / "suite", "fails.sh", "echo 1..1\necho not ok 1\n")
    proc = paralleltest(["-j", "2", "--objdir", str(objdir), str(tmp_path / "suite")], cwd=str(tmp_path))
    assert proc.returncode == 1
    assert "recorded in %s" % (objdir / ".mozparallel" / "history.sqlite") in proc.stdout
    store = _db(objdir / ".mozparallel" / "history.sqlite")
    [run] = store.runs()
    assert run.run_id in proc.stdout
    assert run.status == "UNEXPECTED" and run.ended >= run.started and run.jobs == 2
    assert run.cores == os.cpu_count() and run.memory > 0 and run.mozinfo.get("os") == "linux"
    results = {r.test: r for r in store.results_of_run(run.run_id)}
    assert sorted(results) == ["suite/fails.sh", "suite/t00.sh", "suite/t01.sh", "suite/t02.sh"]
    fails = results["suite/fails.sh"]
    assert (fails.status, fails.expected) == ("FAIL", "OK")     # its point failed
    ok = results["suite/t00.sh"]
    assert ok.status == ok.expected == "OK"
    assert ok.command == "" and ok.slot in (1, 2) and ok.wall > 0 and ok.cpu is not None
    assert 0 <= ok.start_offset <= ok.end_offset
    assert not (tmp_path / ".mozparallel" / "history.sqlite").exists()


def test_default_locations(tmp_path, monkeypatch):
    monkeypatch.delenv("MOZ_OBJDIR", raising=False)
    monkeypatch.delenv("MOZPARALLEL_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert store_location({}).local_path == str(tmp_path / ".mozparallel" / "history.sqlite")
    assert store_location({}, topobjdir="/mach/obj").local_path == "/mach/obj/.mozparallel/history.sqlite"
    monkeypatch.setenv("MOZ_OBJDIR", "/env/obj")
    assert store_location({}).local_path == "/env/obj/.mozparallel/history.sqlite"
    assert store_location({"objdir": "/opt/obj"}, topobjdir="/mach/obj").local_path == "/opt/obj/.mozparallel/history.sqlite"
    assert store_location({"store": "h.sqlite"}).local_path == str(tmp_path / "h.sqlite")
    assert open_store(store_location({"store": "none"})) is None


def test_default_store_in_cwd_and_none(tmp_path):
    _tests(tmp_path, 1)
    proc = paralleltest([str(tmp_path / "t00.sh")], cwd=str(tmp_path))
    assert proc.returncode == 0
    assert (tmp_path / ".mozparallel" / "history.sqlite").exists()
    other = tmp_path / "other"
    other.mkdir()
    proc = paralleltest(["--store", "none", str(tmp_path / "t00.sh")], cwd=str(other))
    assert proc.returncode == 0 and "recorded in" not in proc.stdout
    assert not (other / ".mozparallel" / "history.sqlite").exists()


def test_unusable_store_warns_and_the_run_goes_on(tmp_path):
    _tests(tmp_path, 1)
    proc = paralleltest(["--store", "/proc/no/such/history.sqlite", str(tmp_path / "t00.sh")], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    # Once by the recorder (the scheduler's history read may say it too).
    assert "cannot open the history store /proc/no/such/history.sqlite" in out
    assert "Traceback" not in out


def test_bad_store_url_is_a_usage_error(tmp_path):
    proc = paralleltest(["--store", "redis://:pw@host:port/0", "x"], cwd=str(tmp_path))
    assert proc.returncode == 2
    assert "bad port in redis://host" in proc.stderr and "pw" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_two_concurrent_runs_record_everything(tmp_path):
    objdir = tmp_path / "obj"
    objdir.mkdir()
    n = 40
    body = "sleep 0.0$(( $$ % 5 ))\necho 1..1\necho ok 1\n"
    _tests(tmp_path / "a", n, body, prefix="a")
    _tests(tmp_path / "b", n, body, prefix="b")
    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    procs = [subprocess.Popen([VENV_PYTHON, "-m", "mozparallel", "-j", "2", "--objdir", str(objdir),
                               "-r", "tap", str(tmp_path / name)], cwd=str(tmp_path), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err
        assert "warning" not in (out + err).lower()
    store = _db(objdir / ".mozparallel" / "history.sqlite")
    runs = store.runs()
    assert len(runs) == 2 and all(r.status == "OK" for r in runs)
    # The two runs overlapped in time.
    assert max(r.started for r in runs) < min(r.ended for r in runs)
    for run in runs:
        results = store.results_of_run(run.run_id)
        assert len(results) == n
        assert len({r.test[0] for r in results}) == 1


def test_killed_runner_leaves_finished_results(tmp_path, marker):
    objdir = tmp_path / "obj"
    objdir.mkdir()
    _tests(tmp_path / "s", 4)
    write_test(tmp_path / "s", "zz_hangs.sh", "echo 1..1\nexec sleep 60\n")
    env = dict(os.environ, MOZPARALLEL_TEST_MARKER=marker)
    env.pop("MOZ_OBJDIR", None)
    runner = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel", "-j", "2", "--objdir", str(objdir),
                               str(tmp_path / "s")], cwd=str(tmp_path), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = objdir / ".mozparallel" / "history.sqlite"
    try:
        deadline = time.monotonic() + 30
        count = 0
        while time.monotonic() < deadline:
            if path.exists():
                try:
                    count = sqlite3.connect(str(path)).execute("SELECT count(*) FROM results").fetchone()[0]
                except sqlite3.Error:
                    count = 0
                if count == 4:
                    break
            time.sleep(0.05)
        assert count == 4
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for proc in wait_gone(marker, 0.1):
            proc.kill()
    store = _db(path)
    [run] = store.runs()
    assert run.ended is None and run.status is None
    assert sorted(r.test for r in store.results_of_run(run.run_id)) == ["s/t%02d.sh" % i for i in range(4)]


def test_durations_are_medians_of_recent_results(tmp_path):
    store = _db(tmp_path / "h.sqlite")
    for i, wall in enumerate([1.0, 9.0, 2.0, 3.0, 2.5, 100.0]):
        rid = "run%d" % i
        store.record_run_start(RunRecord(run_id=rid, started=1000.0 + i))
        store.record_result(rid, ResultRecord(test="t", wall=wall, status="OK"))
        store.record_result(rid, ResultRecord(test="u", wall=5.0, status="OK", command="valgrind"))
        store.record_run_end(rid, 1000.5 + i, "OK")
    # The newest five: 100, 2.5, 3, 2, 9 -> 3.
    assert store.durations(["t", "u", "unknown"]) == {"t": 3.0, "u": 5.0}
    assert store.durations(["u"], command="") == {}
    assert [r.run_id for r in store.recent_results(runs=2) if r.test == "t"] == ["run4", "run5"]
    assert [r.run_id for r in store.runs(limit=3)] == ["run5", "run4", "run3"]
    # The narrow read the scheduler and the report use: the same results, only some fields.
    fields = ("run_id", "test", "wall", "command", "status")
    assert store.recent_rows(3, fields) == [tuple(getattr(r, f) for f in fields)
                                            for r in store.recent_results(runs=3)]
    assert len(store.recent_rows(3, fields)) == 6
    with pytest.raises(ValueError):
        store.recent_rows(3, ("wall; DROP TABLE results",))


def test_command_key():
    from mozparallel.contract import TestSpec

    assert command_of(TestSpec(id="a", argv=["/x/a.sh"], path="/x/a.sh")) == ""
    assert command_of(TestSpec(id="a", argv=["python3", "-X", "dev", "/x/a.py"], path="/x/a.py")) \
        == "python3 -X dev"


def test_each_result_is_committed_as_it_is_recorded(tmp_path):
    """A commit per result, kept cheap by WAL and synchronous=NORMAL: another
    reader (a second run, ``paralleltest history``) sees each result at once.
    What a result costs: ``python -m mozparallel.bench.costs``."""
    store = _db(tmp_path / "h.sqlite")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1        # NORMAL
    reader = _db(tmp_path / "h.sqlite")
    store.record_run_start(RunRecord(run_id="r", started=time.time()))
    for i in range(20):
        store.record_result("r", ResultRecord(test="t%d" % i, wall=0.1, status="OK", cpu_user=0.1))
        assert {r.test for r in reader.results_of_run("r")} == {"t%d" % k for k in range(i + 1)}
    store.close()
    reader.close()
