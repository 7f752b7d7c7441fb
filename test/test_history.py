"""history.py and runtimes.py: summaries over recorded runs, the
``history``/``runtimes`` subcommands, ``--history`` and ``--runtimes``."""

import json

from conftest import paralleltest, write_test
from mozparallel.commands.history import format_text, summarize
from mozparallel.schedule.runtimes_file import known_durations, load_runtimes, match_runtimes
from mozparallel.selection import InputError
from mozparallel.store.records import ResultRecord, RunRecord
from support import InMemoryStore


def _r(run, test, status="OK", wall=1.0, cpu=0.5, rss=1024):
    return ResultRecord(test=test, status=status, wall=wall, cpu_user=cpu, cpu_system=0.0,
                        peak_rss_kb=rss, run_id=run)


def test_summarize_medians_spread_and_stability():
    results = []
    for i, (slow_wall, flaky) in enumerate([(3.0, "OK"), (9.0, "FAIL"), (4.0, "OK"), (5.0, "OK")]):
        run = "r%d" % i
        results += [_r(run, "slow", wall=slow_wall, cpu=2.0, rss=10240),
                    _r(run, "flaky", status=flaky, wall=0.5, rss=204800),
                    _r(run, "steady", wall=0.1, cpu=0.05)]
    s = summarize(results, top=2)
    assert s["runs"] == 4 and s["tests"] == 3
    assert s["slowest"][0] == {"test": "slow", "command": "", "runs": 4, "median": 4.5, "min": 3.0,
                               "max": 9.0, "spread": 6.0}
    assert len(s["slowest"]) == 2
    assert s["biggest_memory"][0]["test"] == "flaky" and s["biggest_memory"][0]["median"] == 200.0
    assert s["most_cpu"][0]["test"] == "slow"
    [unstable] = s["least_stable"]
    assert unstable == {"test": "flaky", "command": "", "runs": 4, "changes": 2,
                        "statuses": {"OK": 3, "FAIL": 1}, "last": "OK"}
    text = format_text(s)
    assert "Slowest (wall seconds):" in text and "2 change(s) in 4 runs (FAIL 1, OK 3; last OK)  flaky" in text


# Passes, fails, passes: a counter file beside it.
FLIPS = """
n=$(cat "$0.count" 2>/dev/null || echo 0)
echo $((n + 1)) > "$0.count"
echo 1..1
if [ $((n % 2)) = 1 ]; then echo "not ok 1"; else echo "ok 1"; fi
"""


def test_history_subcommand_and_flag(tmp_path):
    (tmp_path / "s").mkdir()
    write_test(tmp_path / "s", "flips.sh", FLIPS)
    write_test(tmp_path / "s", "slow.sh", "sleep 0.3\necho 1..1\necho ok 1\n")
    (tmp_path / "obj").mkdir()
    objdir = ["--objdir", str(tmp_path / "obj")]
    for _ in range(3):
        paralleltest(objdir + ["-j", "2", str(tmp_path / "s")], cwd=str(tmp_path))

    proc = paralleltest(["history", "--format", "json"] + objdir, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["runs"] == 3 and summary["tests"] == 2
    assert summary["slowest"][0]["test"] == "s/slow.sh" and summary["slowest"][0]["median"] >= 0.3
    [flaky] = summary["least_stable"]
    assert flaky["test"] == "s/flips.sh" and flaky["changes"] == 2 and flaky["last"] == "OK"

    proc = paralleltest(["--history"] + objdir, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "History of the last 3 run(s): 2 test(s)" in proc.stdout
    assert "Least stable" in proc.stdout and "s/flips.sh" in proc.stdout

    proc = paralleltest(["history", "--runs", "1", "--format", "json"] + objdir, cwd=str(tmp_path))
    assert json.loads(proc.stdout)["runs"] == 1

    proc = paralleltest(["history", "--runs", "zero"], cwd=str(tmp_path))
    assert proc.returncode == 2 and "not a count" in proc.stderr and "Traceback" not in proc.stderr


def test_runtimes_export_and_import(tmp_path):
    (tmp_path / "s").mkdir()
    write_test(tmp_path / "s", "slow.sh", "sleep 0.2\necho 1..1\necho ok 1\n")
    write_test(tmp_path / "s", "quick.sh", "echo 1..1\necho ok 1\n")
    (tmp_path / "obj").mkdir()
    objdir = ["--objdir", str(tmp_path / "obj")]
    paralleltest(objdir + [str(tmp_path / "s")], cwd=str(tmp_path))
    out = tmp_path / "runtimes.json"
    proc = paralleltest(["runtimes", "--export", str(out)] + objdir, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert sorted(data) == ["s/quick.sh", "s/slow.sh"] and 0.2 <= data["s/slow.sh"] < 2
    assert load_runtimes(str(out)) == data

    # Accepted by a run (for tests history does not know)...
    proc = paralleltest(["--runtimes", str(out), "--store", "none", str(tmp_path / "s" / "quick.sh")],
                        cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    # ...and refused, in one line, when it is not a runtimes file.
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": "slow"}')
    proc = paralleltest(["--runtimes", str(bad), str(tmp_path / "s")], cwd=str(tmp_path))
    assert proc.returncode == 2 and "is not {\"path/to/test\": seconds" in proc.stderr
    proc = paralleltest(["runtimes", "--export", str(tmp_path / "no" / "dir.json")] + objdir, cwd=str(tmp_path))
    assert proc.returncode == 2 and "cannot write" in proc.stderr


def test_known_durations_prefer_history_then_runtimes_file():
    runtimes = {"dom/a/test_x.sh": 7.0, "s/quick.sh": 3.0}
    tests = [("s/quick.sh", "/src/s/quick.sh"), ("other id", "/src/dom/a/test_x.sh"), ("new", "/src/new")]
    assert match_runtimes(runtimes, tests) == {"s/quick.sh": 3.0, "other id": 7.0}

    # The history: quick.sh ran twice (median 0.5 s) and was skipped once (not counted).
    store = InMemoryStore()
    for k, (status, wall) in enumerate([("OK", 0.4), ("OK", 0.6), ("SKIP", 9.0)]):
        store.record_run_start(RunRecord(run_id="r%d" % k, started=float(k)))
        store.record_result("r%d" % k, ResultRecord(test="s/quick.sh", status=status, wall=wall))
    assert known_durations(store, tests, runtimes=runtimes) == {"s/quick.sh": 0.5, "other id": 7.0}
    assert known_durations(None, tests, runtimes=runtimes) == {"s/quick.sh": 3.0, "other id": 7.0}


def test_load_runtimes_errors(tmp_path):
    for text, message in (("[1]", "is not {"), ("{", "is not JSON"), ('{"a": true}', "is not {")):
        path = tmp_path / "r.json"
        path.write_text(text)
        try:
            load_runtimes(str(path))
        except InputError as e:
            assert message in str(e) and str(path) in str(e)
        else:
            raise AssertionError(text)
