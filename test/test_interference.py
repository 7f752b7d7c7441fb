"""Tests that break each other (flaky/interference.py, search.py,
families.py, commands/bisect.py, commands/annotate.py).

On real processes: a pair of tests that bind the same port for a second
(fixtures/interference/port.py, on a port chosen free when the test runs,
passed as $INTERFERE_PORT, so runs of this file at once do not collide),
in a suite of 30 at -j 4, and the seeded flaky fixture of test_flaky.py.
The rule and the search are also checked on their own, against simulated
probes (many seeds, 29 candidates), where real processes would take hours.
"""

import difflib
import importlib.util
import json
import math
import os
import re
import socket
import sqlite3

from conftest import FIXTURES, paralleltest, read_raw, write_python_test, write_test

from mozparallel.flaky.interference import (ALWAYS_FAILING, CONFIRM_ALONE, CONFIRM_BESIDE, INTERMITTENT,
                                            OTHERS_FIRST, PARALLEL_UNSAFE, VICTIM_FIRST, attempt, classify)
from mozparallel.flaky.search import FINAL_PROBES, FOUND, NOT_REPRODUCED, SET, bisect, confirm

PORT = os.path.join(FIXTURES, "interference", "port.py")
COIN = os.path.join(FIXTURES, "flaky", "coin.py")
_spec = importlib.util.spec_from_file_location("coin", COIN)
coin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(coin)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pair_suite(directory, tiny=28):
    """a_port.py and b_port.py (the pair) and ``tiny`` one-line TAP tests, in
    manifest.toml; (manifest, environment)."""
    with open(PORT) as f:
        source = f.read()
    names = ["a_port.py", "b_port.py"]
    for name in names:
        write_python_test(directory, name, source)
    for i in range(1, tiny + 1):
        names.append("t%02d.sh" % i)
        write_test(directory, names[-1], "echo 1..1; echo ok 1\n")
    manifest = os.path.join(str(directory), "manifest.toml")
    with open(manifest, "w") as f:
        f.write("[DEFAULT]\n" + "".join('\n["%s"]\n' % n for n in names))
    return manifest, {"INTERFERE_PORT": str(free_port())}


def logged(events):
    return [e["message"] for e in events if e["action"] == "log"]


# -- the rule -----------------------------------------------------------------

def _main_failure(company=("a", "b", "c")):
    return attempt("", True, "ERROR", frozenset(company), 4)


def _alone(failed=False):
    return attempt("alone", failed, "ERROR" if failed else "OK", frozenset(), 1)


def _beside(company, failed=True, order=OTHERS_FIRST):
    return attempt("beside", failed, "ERROR" if failed else "OK", frozenset(company), len(company) + 1, order)


def test_rule_wants_the_failure_reproduced_beside_the_culprit_and_passes_alone():
    attempts = [_main_failure(), _alone()]
    assert classify(attempts).kind == INTERMITTENT      # failed beside others, passed alone: not enough
    attempts += [_beside({"a", "b"}), _beside({"a"})] + [_alone()] * (CONFIRM_ALONE - 1)
    assert classify(attempts).kind == INTERMITTENT      # two probes of three
    attempts.append(_beside({"a", "c"}))
    v = classify(attempts)
    assert v.kind == PARALLEL_UNSAFE and v.culprits == {"a"} and v.confirmed == CONFIRM_BESIDE
    assert v.alone_passes == CONFIRM_ALONE and v.order == OTHERS_FIRST
    # Any contradiction undoes it: a pass beside "a" in that order, a failure without it, a failure alone.
    assert classify(attempts + [_beside({"a"}, failed=False)]).why == "passed beside a too"
    assert classify(attempts + [_beside({"b"})]).kind == INTERMITTENT       # culprits shrink to none
    assert classify(attempts + [_beside({"c"}, failed=False), _beside({"c"})]).kind == INTERMITTENT
    assert classify(attempts + [_alone(failed=True)]).why == "failed alone too"
    # A pass in the other start order is no contradiction.
    assert classify(attempts + [_beside({"a"}, failed=False, order=VICTIM_FIRST)]).kind == PARALLEL_UNSAFE
    assert classify([_main_failure(), attempt("retry", True, "ERROR", frozenset(), 1)]).kind == ALWAYS_FAILING


class SimulatedLab:
    """Probes answered by a rule instead of processes: the victim fails iff
    ``breaks(company)`` and the tests start others-first (or iff a coin
    falls so, ignoring the company)."""

    def __init__(self, breaks=None, coin_seed=None, first_draw=0):
        self.breaks = breaks
        self.seed, self.draw = coin_seed, first_draw
        self.probes = 0

    def _fails(self, company, order):
        if self.seed is not None:
            self.draw += 1
            return coin.fails(self.seed, self.draw - 1)
        return order == OTHERS_FIRST and self.breaks(company)

    def beside(self, kind, offsets, order):
        self.probes += 1
        company = frozenset(offsets)
        failed = self._fails(company, order)
        return attempt(kind, failed, "ERROR" if failed else "OK", company, len(company) + 1, order)

    def alone(self, decisive=False):
        self.probes += 1
        failed = self._fails(frozenset(), OTHERS_FIRST) if self.seed is not None else False
        return attempt("alone", failed, "ERROR" if failed else "OK", frozenset(), 1)

    def say(self, text):
        pass


def test_bisect_names_one_culprit_among_29_within_the_stated_bound():
    others = ["t%02d" % i for i in range(29)]
    offsets = {t: 0.01 * i for i, t in enumerate(others)}
    for culprit in ("t00", "t13", "t28"):
        lab = SimulatedLab(breaks=lambda company, c=culprit: c in company)
        f = bisect(lab, "victim", offsets, [_main_failure(others), _alone()])
        bound = 2 + 2 * math.ceil(math.log2(len(others))) + FINAL_PROBES + (CONFIRM_ALONE - 1)
        assert (f.status, f.culprits) == (FOUND, (culprit,)), f.steps
        assert f.rounds == lab.probes <= bound and f.verdict.kind == PARALLEL_UNSAFE
        assert f.rounds >= math.ceil(math.log2(len(others)))


def test_bisect_names_two_tests_that_break_it_only_together():
    others = ["t%02d" % i for i in range(16)]
    lab = SimulatedLab(breaks=lambda company: {"t02", "t11"} <= company)
    f = bisect(lab, "victim", {t: 0.0 for t in others}, [_main_failure(others), _alone()], limit=40)
    assert f.status == SET and sorted(f.culprits) == ["t02", "t11"], f.steps


def test_bisect_stops_at_the_round_limit_and_says_what_is_left():
    others = ["t%02d" % i for i in range(29)]
    lab = SimulatedLab(breaks=lambda company: "t20" in company)
    f = bisect(lab, "victim", {t: 0.0 for t in others}, [_main_failure(others), _alone()], limit=3)
    assert f.status == "round-limit" and f.rounds == 3 and "t20" in f.culprits and len(f.culprits) < 29
    assert "stopped at the round limit" in f.describe()


def test_random_failures_are_rarely_judged_parallel_unsafe():
    """The p = 0.3 coin of test_flaky.py, for 30000 seeds: among those whose
    first attempt fails (beside three other tests) and second passes (alone),
    the pattern a one-re-run rule calls parallel-unsafe, confirm() judges
    it so only as often as the coin can fool it: (1-(1-p)^2)·p^2·(1-p)^4 =
    1.1%."""
    judged = unsafe = 0
    for seed in range(30000):
        if not (coin.fails(seed, 0) and not coin.fails(seed, 1)):
            continue
        judged += 1
        lab = SimulatedLab(coin_seed=seed, first_draw=2)
        attempts = [_main_failure(("ok1", "ok2", "ok3")), attempt("retry", False, "OK", frozenset(), 1)]
        v = confirm(lab, {"ok1": 0.0, "ok2": 0.1, "ok3": -0.2}, attempts)
        unsafe += v.kind == PARALLEL_UNSAFE
    p = 0.3
    expected = (1 - (1 - p) ** 2) * p ** 2 * (1 - p) ** 4
    assert judged > 5000
    assert abs(unsafe / judged - expected) < 0.005, (unsafe, judged, expected)


# -- real processes -----------------------------------------------------------------

def test_a_pair_that_binds_one_port_is_found_named_and_annotated(tmp_path):
    """The issue's scenario: 30 tests at -j 4, two of which bind the same
    port for a second. The run (--retries 1 --find-interference) judges the
    one that failed parallel-unsafe and names the other; so does bisect
    afterwards; annotate proposes run-sequentially on both entries; after
    --write, ten runs in a row are green."""
    manifest, env = pair_suite(tmp_path)
    db, raw = str(tmp_path / "history.sqlite"), str(tmp_path / "run.raw")
    proc = paralleltest(["-j", "4", "--retries", "1", "--find-interference", "--store", db, "--log-raw", raw,
                         "manifest.toml"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = read_raw(raw)
    first = [e for e in events if e["action"] == "test_end" and "rerun" in (e.get("extra") or {})
             and e["test"] in ("a_port.py", "b_port.py")][0]
    victim = first["test"]
    other = "a_port.py" if victim == "b_port.py" else "b_port.py"
    assert "cannot bind port" in first["message"]
    assert other in first["extra"]["rerun"]["overlapped"]       # who ran beside it, in the log
    unsafe = [m for m in logged(events) if m.startswith("mozparallel: parallel-unsafe")]
    assert len(unsafe) == 1 and unsafe[0].startswith(
        "mozparallel: parallel-unsafe (failed beside other tests, passed alone): %s (" % victim), unsafe
    assert "each beside %s;" % other in unsafe[0]
    assert "mozparallel: intermittent (passed on another attempt): none" in logged(events)
    assert "1 parallel-unsafe" in proc.stdout
    # --find-interference named the other test within the run.
    [found] = [m for m in logged(events) if m.startswith("mozparallel: interference: ")]
    assert found.startswith("mozparallel: interference: %s: %s breaks it (named in" % (victim, other)), found
    assert found.endswith("verdict: parallel-unsafe")

    proc = paralleltest(["history", "--flaky", "--store", db, "--runs", "50", "--format", "json"], cwd=tmp_path)
    report = json.loads(proc.stdout)
    [row] = [r for r in report["flaky"] if r["test"] == victim]
    assert row["verdicts"]["parallel-unsafe"] == 1 and row["verdicts"]["intermittent"] == 0
    assert row["fails_beside"] == [other]
    text = paralleltest(["history", "--flaky", "--store", db, "--runs", "50"], cwd=tmp_path).stdout
    assert "parallel-unsafe in 1 run(s), intermittent in 0, fails beside %s" % other in text
    assert "verdicts (a run with its re-runs and probes): 1 parallel-unsafe" in text

    proc = paralleltest(["bisect", victim, "--store", db], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    m = re.match(r"%s: %s breaks it \(named in (\d+) round\(s\) of at most 20, from (\d+) candidate\(s\)\)"
                 % (re.escape(victim), re.escape(other)), last)
    assert m, proc.stdout
    rounds, candidates = int(m.group(1)), int(m.group(2))
    assert rounds <= 2 + 2 * math.ceil(math.log2(max(candidates, 2))) + FINAL_PROBES + CONFIRM_ALONE, proc.stdout
    assert last.endswith("verdict: parallel-unsafe")
    with sqlite3.connect(db) as c:      # the probes are runs of the failing run's family
        kinds = [k for (k,) in c.execute("SELECT kind FROM runs ORDER BY started")]
    assert kinds[0] == "" and kinds[1] == "retry" and set(kinds[2:]) <= {"beside", "bisect", "alone"}

    original = open(manifest).read()
    proc = paralleltest(["annotate", "manifest.toml", "--store", db], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    added = [line for line in proc.stdout.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert len(added) == 2, proc.stdout
    assert any(re.fullmatch(r'\+run-sequentially = "parallel-unsafe: fails beside %s" # paralleltest: failed in '
                            r'(\d+) of \1 probes beside %s, passed (\d+) of \2 alone \(run %s\)'
                            % (re.escape(other), re.escape(other), _root(db)), line) for line in added), added
    assert '+run-sequentially = "parallel-unsafe: breaks %s" # paralleltest: %s fails beside it (run %s)' % (
        victim, victim, _root(db)) in added
    assert open(manifest).read() == original            # a diff only, until --write
    proc = paralleltest(["annotate", "manifest.toml", "--store", db, "--write"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    import tomllib
    with open(manifest, "rb") as f:
        entries = tomllib.load(f)
    assert entries[victim]["run-sequentially"] == "parallel-unsafe: fails beside %s" % other
    assert entries[other]["run-sequentially"] == "parallel-unsafe: breaks %s" % victim
    assert [t for t, keys in entries.items() if "run-sequentially" in keys] == ["a_port.py", "b_port.py"]

    proc = paralleltest(["-j", "4", "--run-until-failure", "--repeat", "10", "-r", "tbpl",
                         "--store", str(tmp_path / "after.sqlite"), "manifest.toml"], cwd=tmp_path, env=env,
                        timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "mozparallel: --run-until-failure: no unexpected result in 10 run(s)" in proc.stdout
    assert proc.stdout.count("TEST-OK | a_port.py") == 10 and "UNEXPECTED" not in proc.stdout


def _root(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT run_id FROM runs WHERE kind = '' ORDER BY started").fetchone()[0]


def test_a_seeded_flaky_test_stays_intermittent(tmp_path):
    """The p = 0.3 fixture of test_flaky.py, beside three tests at -j 4:
    its first attempt fails, the second (alone) passes, the pattern a
    one-re-run rule would call parallel-unsafe, and the first probe beside
    the same tests fails again (the first seed that does all three). The
    probes that follow do not keep failing the way interference would:
    intermittent."""
    seed = next(str(s) for s in range(1000)
                if [coin.fails(str(s), n) for n in range(3)] == [True, False, True])
    with open(COIN) as f:
        flaky = write_python_test(tmp_path, "flaky.py", f.read())
    env = {"FLAKY_SEED": seed, "FLAKY_COUNTER": str(tmp_path / "flaky.count")}
    # 1 s: still running when a probe starts the flaky test 0.5 s after them.
    others = [write_test(tmp_path, "ok%d.sh" % i, "echo 1..1; sleep 1; echo ok 1\n") for i in range(3)]
    raw, db = str(tmp_path / "run.raw"), str(tmp_path / "history.sqlite")
    proc = paralleltest(["-j", "4", "--retries", "1", "--store", db, "--log-raw", raw, flaky] + others,
                        env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    messages = logged(read_raw(raw))
    line = [m for m in messages if m.startswith("mozparallel: intermittent (passed on another attempt)")][0]
    assert line.startswith("mozparallel: intermittent (passed on another attempt): %s (failed" % flaky), line
    assert "; probed: failed 2 of 4 attempts (FAIL); passed beside %s" % others[0] in line, line
    assert not [m for m in messages if m.startswith("mozparallel: parallel-unsafe")]
    attempts = len(open(env["FLAKY_COUNTER"]).read())
    assert attempts >= 4            # the run, the re-run, the probe that failed, at least one more
    proc = paralleltest(["history", "--flaky", "--store", db, "--format", "json"])
    [row] = json.loads(proc.stdout)["flaky"]
    assert row["verdicts"]["intermittent"] == 1 and row["verdicts"]["parallel-unsafe"] == 0


def test_bisect_without_a_recorded_failure_is_one_clear_line(tmp_path):
    ok = write_test(tmp_path, "ok.sh", "echo 1..1; echo ok 1\n")
    db = str(tmp_path / "h.sqlite")
    assert paralleltest(["--store", db, ok], cwd=tmp_path).returncode == 0
    proc = paralleltest(["bisect", "ok.sh", "--store", db], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("paralleltest bisect: error: no recorded failure of ok.sh beside other tests")
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = paralleltest(["bisect", "ok.sh", "--store", "none"], cwd=tmp_path)
    assert proc.returncode == 2 and "--store none keeps no history" in proc.stderr


def test_a_probe_starts_each_test_at_its_offset_and_never_waits_on_nothing():
    from mozparallel.flaky.probe import GAP, Staggered, start_plan

    # Recorded: c started 2 s before the victim, a 0.1 s before, b 0.2 s after.
    offsets = {"a": -0.1, "b": 0.2, "c": -2.0}
    assert start_plan("v", offsets, OTHERS_FIRST) == [(0.0, "c"), (2.0 - GAP, "a"), (2.0 - GAP, "b"), (2.0, "v")]
    assert start_plan("v", offsets, VICTIM_FIRST) == [(0.0, "c"), (2.0, "v"), (2.0 + GAP, "a"), (2.0 + GAP, "b")]
    now = [100.0]
    s = Staggered([(0.0, "c"), (1.5, "a"), (2.0, "v")], clock=lambda: now[0])
    assert s.next_test(1) == "c" and s.next_test(2) is None
    now[0] = 101.5
    assert s.next_test(2) == "a" and s.next_test(3) is None
    s.finished("c", 1.5)
    s.finished("a", 0.1)
    now[0] = 101.6         # nothing runs: the victim starts now, not at 102.0
    assert s.next_test(1) == "v" and s.remaining() == 0
