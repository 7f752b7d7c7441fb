"""Chunks: balanced on expected duration with a runtimes file, a stable
hash without; the partition depends only on ids, the runtimes file and N
(never on the store, which grows as chunks run); each chunk's log carries
the plan and merge checks it; CI variables."""

import json
import os
import random

import pytest

from conftest import SHARED_BENCH, paralleltest, read_raw, write_test
from mozparallel.schedule import Figures, TestHistory, mark_other_chunks, plan_chunks, resolve_chunk
from mozparallel.schedule.chunks import hash_chunk
from mozparallel.selection import SelectedTest


def skewed_walls():
    """A skewed suite like ../shared/bench's: lognormal durations and long tails."""
    rng = random.Random(3)
    walls = {"t%04d.sh" % i: round(rng.lognormvariate(-1.2, 0.8), 3) for i in range(1, 118)}
    walls.update({"t0118.sh": 3.0, "t0119.sh": 4.0, "t0120.sh": 6.0})
    return walls


def test_balanced_chunks_within_five_percent():
    walls = skewed_walls()
    h = TestHistory({t: Figures(w) for t, w in walls.items()})
    plan = plan_chunks(list(walls), 4, h)
    assert plan.method == "duration"
    assert plan.balance() <= 1.05, plan.expected
    assert sorted(t for c in plan.chunks for t in c) == sorted(walls)
    assert abs(sum(plan.expected) - sum(walls.values())) < 1e-6


def test_partition_ignores_discovery_order():
    walls = skewed_walls()
    h = TestHistory({t: Figures(w) for t, w in walls.items()})
    names = list(walls)
    shuffled = names[:]
    random.Random(5).shuffle(shuffled)
    assert plan_chunks(names, 3, h).chunks == plan_chunks(shuffled, 3, h).chunks


def test_hash_chunks_without_history_are_stable():
    names = ["dir/test_%d.js" % i for i in range(200)]
    plan = plan_chunks(names, 4, TestHistory())
    assert plan.method == "hash" and plan.balance() is None
    assert all(hash_chunk(t, 4) == i for i, c in enumerate(plan.chunks) for t in c)
    # Adding tests does not move the others (machines with different lists agree on the rest).
    bigger = plan_chunks(names + ["dir/new.js"], 4, TestHistory())
    assert {t: k for t, k in bigger.chunk_of().items() if t != "dir/new.js"} == plan.chunk_of()
    assert all(20 <= len(c) <= 80 for c in plan.chunks)


def test_a_long_test_alone_bounds_balance():
    h = TestHistory({"long": Figures(10.0), "a": Figures(1.0), "b": Figures(1.0)})
    plan = plan_chunks(["long", "a", "b"], 2, h)
    assert plan.chunks == [["long"], ["a", "b"]]


def test_mark_other_chunks_keeps_reasons():
    tests = [SelectedTest(path="/s/%s" % n, id=n) for n in ("a", "b", "c", "d")]
    tests[3].disabled = "skip-if: os == 'win'"
    h = TestHistory({"a": Figures(3.0), "b": Figures(2.0), "c": Figures(1.0)})
    plan = plan_chunks(["a", "b", "c"], 2, h)
    assert plan.chunks == [["a"], ["b", "c"]]
    others = mark_other_chunks(tests, plan, 2)
    assert tests[0].disabled == "another chunk (1 of 2)" and "a" in others
    assert tests[1].disabled is None and tests[2].disabled is None
    d_chunk = hash_chunk("d", 2) + 1
    assert (tests[3].disabled == "skip-if: os == 'win'") == (d_chunk == 2)


@pytest.mark.parametrize("env,expected", [
    ({"JOB_COMPLETION_INDEX": "2"}, (3, 4)),
    ({"TEST_SHARD_INDEX": "0", "TEST_TOTAL_SHARDS": "5"}, (1, 5)),
    ({"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"}, (2, 3)),
    ({}, (None, None)),
])
def test_chunk_from_ci_environment(env, expected):
    total = 4 if "JOB_COMPLETION_INDEX" in env else None
    assert resolve_chunk(total, None, env) == expected


def test_this_chunk_defaults_to_one_as_in_the_harnesses():
    assert resolve_chunk(4, None, {}) == (1, 4)


def test_command_line_chunk_wins_over_environment():
    assert resolve_chunk(4, 1, {"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "4"}) == (1, 4)


@pytest.mark.parametrize("total,this,env,message", [
    (None, None, {"JOB_COMPLETION_INDEX": "1"}, "JOB_COMPLETION_INDEX 2 given without --total-chunks"),
    (4, 5, {}, "chunk 5 (from --this-chunk) is not between 1 and --total-chunks 4"),
    (None, None, {"CI_NODE_INDEX": "x", "CI_NODE_TOTAL": "2"}, "CI_NODE_INDEX is not a whole number"),
])
def test_bad_chunk_settings(total, this, env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_chunk(total, this, env)


# -- real runs ---------------------------------------------------------------------

def _gen_skewed(out):
    import subprocess
    import sys
    subprocess.run([sys.executable, os.path.join(SHARED_BENCH, "gen_suite.py"), "--profile", "skewed",
                    "--total", "14", "--n", "60", "--out", str(out)], check=True, capture_output=True)
    with open(os.path.join(str(out), "tests.txt")) as f:
        return [os.path.join(str(out), line.strip()) for line in f if line.strip()]


def test_four_chunk_runs_with_runtimes_run_every_test_once(tmp_path):
    """A skewed suite (60 tests, 14 s of sleep, long tails): after one run
    has recorded history, exported as a runtimes file, --total-chunks 4
    --runtimes FILE gives chunks within 5% of each other, and the four
    chunk runs (at once, as four CI machines would) together run every test
    exactly once."""
    import subprocess

    from conftest import VENV_PYTHON

    files = _gen_skewed(tmp_path / "suite")
    objdir = tmp_path / "obj"
    objdir.mkdir()
    first = paralleltest(["-j", "14", "-r", "tap", "--objdir", str(objdir)] + files, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr

    runtimes = tmp_path / "runtimes.json"
    exported = paralleltest(["runtimes", "--objdir", str(objdir), "--export", str(runtimes)], cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    plan = paralleltest(["plan", "--objdir", str(objdir), "--total-chunks", "4", "--format", "json",
                         "--runtimes", str(runtimes)] + files, cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    doc = json.loads(plan.stdout)
    assert doc["method"] == "duration" and doc["known"] == 60
    seconds = [c["expected_seconds"] for c in doc["chunks"]]
    assert max(seconds) / min(seconds) <= 1.05, seconds

    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    procs = []
    for k in range(1, 5):
        raw = tmp_path / ("chunk%d.raw" % k)
        procs.append((k, raw, subprocess.Popen(
            [VENV_PYTHON, "-m", "mozparallel", "-r", "tap", "--objdir", str(objdir), "--log-raw", str(raw),
             "--total-chunks", "4", "--this-chunk", str(k), "--runtimes", str(runtimes)] + files,
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    ran = []
    for k, raw, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out[-2000:] + err
        events = read_raw(raw)
        ids = [e["test"] for e in events if e["action"] == "test_end"]
        assert all(e["status"] == "OK" for e in events if e["action"] == "test_end")
        assert sorted(ids) == sorted(doc["chunks"][k - 1]["tests"])      # what plan said
        logs = [e["message"] for e in events if e["action"] == "log"]
        assert any(m.startswith("mozparallel: chunk %d of 4 by expected duration" % k) for m in logs)
        ran += ids
    assert sorted(ran) == sorted(os.path.relpath(f, str(tmp_path)) for f in files)


def test_chunks_one_after_another_in_one_objdir_partition_exactly(tmp_path):
    """Four chunks run one after another in one objdir, each recording its
    results in the store the next one reads: together every test exactly
    once (the plan does not read the store). merge of the four logs exits
    0; of three, non-zero, naming the tests of the missing chunk; logs of
    two chunks that ran the same test, non-zero, naming it."""
    files = []
    for i in range(16):
        files.append(write_test(tmp_path, "t%02d.sh" % i, "echo 1..1\necho 'ok 1'\n"))
    names = sorted(os.path.basename(f) for f in files)
    objdir = tmp_path / "obj"
    objdir.mkdir()
    logs, chunk_tests = [], {}
    for k in range(1, 5):
        raw = tmp_path / ("chunk%d.log" % k)
        proc = paralleltest(["-r", "tap", "--objdir", str(objdir), "--log-raw", str(raw), "--total-chunks", "4",
                             "--this-chunk", str(k)] + names, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
        events = read_raw(raw)
        chunk_tests[k] = [e["test"] for e in events if e["action"] == "test_end"]
        plan = events[0]["extra"]["chunk_plan"]
        assert plan["total"] == 4 and plan["this"] == k and plan["method"] == "hash"
        assert sorted(plan["chunks"][k - 1]) == sorted(chunk_tests[k])
        logs.append(str(raw))
    ran = [t for k in chunk_tests for t in chunk_tests[k]]
    assert sorted(ran) == names

    merged = paralleltest(["merge", "-r", "tbpl"] + logs, cwd=tmp_path)
    assert merged.returncode == 0, merged.stdout + merged.stderr

    gone = max(chunk_tests, key=lambda k: len(chunk_tests[k]))
    three = [log for k, log in enumerate(logs, 1) if k != gone]
    raw = tmp_path / "three.log"
    merged = paralleltest(["merge", "-r", "tbpl", "--log-raw", str(raw)] + three, cwd=tmp_path)
    assert merged.returncode == 1, merged.stdout + merged.stderr
    ends = {e["test"]: e for e in read_raw(raw) if e["action"] == "test_end"}
    assert sorted(ends) == names
    missing = sorted(t for t, e in ends.items() if e["status"] == "ERROR")
    assert missing == sorted(chunk_tests[gone])
    assert all(ends[t]["message"] == "no chunk ran it: chunk %d of 4 has no log" % gone for t in missing)
    line = "merge: %d planned tests no chunk ran (chunks %d of 4 have no log): %s" % (
        len(missing), gone, ", ".join(missing))
    assert line in merged.stdout

    # A chunk's log given again under another chunk's number: its tests ran twice.
    other = 1 if gone != 1 else 2
    forged = tmp_path / "forged.log"
    events = read_raw(logs[other - 1])
    events[0]["extra"]["chunk_plan"]["this"] = gone
    forged.write_text("".join(json.dumps(e) + "\n" for e in events))
    merged = paralleltest(["merge", "-r", "tbpl"] + logs + [str(forged)], cwd=tmp_path)
    assert merged.returncode == 1, merged.stdout
    test = sorted(chunk_tests[other])[0]
    assert "merge: %s ran in chunks %s (the plan puts it in chunk %d of 4)" % (
        test, " and ".join(map(str, sorted([other, gone]))), other) in merged.stdout


def test_list_shows_the_chunk_of_the_others(tmp_path):
    files = [os.path.basename(f) for f in _gen_skewed(tmp_path)][:8]
    proc = paralleltest(["--list", "--total-chunks", "3", "--this-chunk", "2", "--store", "none"] + files,
                        cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    others = [line for line in proc.stdout.splitlines() if "another chunk" in line]
    here = [line for line in proc.stdout.splitlines() if line.startswith("RUN")]
    assert len(others) + len(here) == 8
    for line in others:
        name = line.split()[1]
        assert line.endswith("another chunk (%d of 3)" % (hash_chunk(name, 3) + 1))


def test_chunk_index_from_kubernetes_and_bad_values(tmp_path):
    files = [os.path.basename(f) for f in _gen_skewed(tmp_path)][:6]
    proc = paralleltest(["--list", "--total-chunks", "2", "--store", "none"] + files, cwd=tmp_path,
                        env={"JOB_COMPLETION_INDEX": "1"})
    assert proc.returncode == 0, proc.stderr
    assert all(line.endswith("another chunk (1 of 2)") for line in proc.stdout.splitlines() if "chunk" in line)
    bad = paralleltest(["--total-chunks", "2", "--this-chunk", "3"] + files, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "paralleltest: error: chunk 3 (from --this-chunk) is not between 1 and " \
                                 "--total-chunks 2"


def test_list_follows_the_ci_chunk_variables(tmp_path):
    """--list with only TEST_SHARD_INDEX/TEST_TOTAL_SHARDS set lists the
    shard's tests, as the run would run them."""
    from conftest import paralleltest, write_test

    for i in range(8):
        write_test(tmp_path, "t%d.sh" % i, "echo 1..1; echo ok 1\n")
    counts = []
    for shard in ("0", "1"):
        proc = paralleltest(["--list", "--store", "none", "."], cwd=str(tmp_path),
                            env={"TEST_SHARD_INDEX": shard, "TEST_TOTAL_SHARDS": "2"})
        assert proc.returncode == 0, proc.stderr
        counts.append(sum(1 for line in proc.stdout.splitlines() if line.startswith("RUN")))
    assert sum(counts) == 8 and all(counts)
