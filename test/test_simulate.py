"""paralleltest simulate: predicted makespans per policy from history (or a
synthetic suite), checked against hand-computed schedules and a real
recorded run; bad input is a one-line error."""

import json

import pytest

from conftest import paralleltest, write_test
from mozparallel.commands.simulate import simulate, synthetic_walls
from mozparallel.store.sqlite_store import SQLiteStore


def test_small_schedules_by_hand():
    walls = {"a": 4.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 1.0}
    got = simulate(walls, 2, overhead=0.0, dispatch=0.0)
    assert got["count"] == 6.0          # [a b c] [d e]
    assert got["duration"] == 4.0       # [a] [b c d e]
    assert got["dynamic"] == 4.0        # a on one machine, the rest on the other
    assert got["bound"] == 4.0
    assert simulate(walls, 1, overhead=0.5, dispatch=0.0)["dynamic"] == pytest.approx(8.0 + 5 * 0.5)
    # Two jobs per machine: one machine runs a alone while b..e share the other slot.
    assert simulate(walls, 1, jobs=2, overhead=0.0, dispatch=0.0)["dynamic"] == 4.0
    # A coordinator handing out one test a second: b..e start at 1, 2, 3 and 4 on ten free slots.
    assert simulate(walls, 10, overhead=0.0, dispatch=1.0)["dynamic"] == 5.0


def test_the_coordinator_bounds_a_large_fleet():
    """1,000 machines cannot run 100,000 tests faster than one coordinator hands them out."""
    walls = {"t%06d" % i: 0.1 for i in range(100000)}
    got = simulate(walls, 1000, jobs=4, overhead=0.004, policies=("dynamic",), dispatch=1 / 2000.0)
    assert got["dynamic"] == pytest.approx(100000 / 2000.0, rel=0.01)
    assert got["bound"] == pytest.approx(2.5)     # the machines alone would finish in 2.5 s
    free = simulate(walls, 1000, jobs=4, overhead=0.004, policies=("dynamic",), dispatch=0.0)
    assert free["dynamic"] < got["dynamic"]


def test_skewed_synthetic_suite():
    walls = synthetic_walls(3000, seed=2)
    for workers in (1, 8, 64):
        got = simulate(walls, workers, jobs=2, overhead=0.0, dispatch=0.0)
        assert all(got[p] >= got["bound"] - 1e-9 for p in ("count", "hash", "duration", "dynamic"))
        assert got["dynamic"] <= got["count"] + 1e-9 and got["duration"] <= got["hash"] + 1e-9
    got = simulate(walls, 64, jobs=2, overhead=0.0, dispatch=0.0)
    assert got["dynamic"] <= got["bound"] * 1.05


def test_from_a_recorded_run(tmp_path):
    for i, seconds in enumerate([0.05, 0.1, 0.3, 0.6]):
        write_test(tmp_path, "t%d.sh" % i, "echo 1..1\nsleep %s\necho ok 1\n" % seconds)
    names = ["t%d.sh" % i for i in range(4)]
    store = str(tmp_path / "history.sqlite")
    assert paralleltest(["-j", "4", "--store", store, "-r", "tbpl"] + names, cwd=tmp_path).returncode == 0
    proc = paralleltest(["simulate", "--workers", "1,2,4", "--store", store, "--format", "json",
                         "--overhead", "0", "--coordinator-rate", "0", "--broker-rate", "0"] + names, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # The recorded walls, summed: each at least its sleep (no upper limit: a
    # loaded machine stretches them).
    recorded = SQLiteStore(store).recent_results(1)
    assert data["tests"] == 4 and data["total"] == pytest.approx(sum(r.wall for r in recorded))
    assert data["total"] >= 1.05
    one, two, four = data["rows"]
    assert one["count"] == pytest.approx(data["total"]) == pytest.approx(one["dynamic"])
    assert four["dynamic"] == pytest.approx(four["bound"]) and four["bound"] >= 0.6
    assert one["dynamic"] > two["dynamic"] >= four["dynamic"]
    text = paralleltest(["simulate", "--workers", "2", "--store", store] + names, cwd=tmp_path)
    assert text.returncode == 0 and "history of 4 tests" in text.stdout and "dynamic" in text.stdout


@pytest.mark.parametrize("args,message", [
    (["--workers", "0", "--synthetic", "10"], "worker counts must be at least 1"),
    (["--workers", "2", "--synthetic", "10", "--schedule", "magic"], "unknown policy magic"),
    (["--workers", "2", "--store", "none"], "no recorded durations"),
])
def test_bad_input(tmp_path, args, message):
    proc = paralleltest(["simulate"] + args, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
