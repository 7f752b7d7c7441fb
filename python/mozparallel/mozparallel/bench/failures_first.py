"""Benchmark: how much sooner ``--schedule failures-first`` shows a broken
tree's first failure than the history order, with ``--max-failures 1``.

Two seeded suites of ../shared/bench (``gen_suite.py``):

* ``mixed-failures``: 60 tests, 25 of them fail, crash, bail out or hang
  (run as plain files, so every one of those is unexpected; ``--timeout 3``
  as the suite asks);
* ``skewed-broken``: the 120 ``skewed`` sleep tests with a few of them
  (picked with a seeded random) made to fail at their end: a tree where the
  same tests broke again.

For each, one full run records the history (the failures included). Then,
repeatedly and alternating, each order runs with ``--max-failures 1`` from
a fresh copy of that history (so no run changes what the next one reads).
Measured per run, from the raw log: the time from ``suite_start`` to the
first unexpected result (a failing test point or a test's end); and the
whole command's wall time (it stops at the first failure). Prints the
medians.

    python -m mozparallel.bench.failures_first [--reps 5] [--bench DIR] [--out DIR]
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from ..contract import is_unexpected
from .schedule_bench import DEFAULT_BENCH, gen

POLICIES = ("history", "failures-first")


def break_tests(suite, count, seed):
    """Make ``count`` tests of a skewed suite (picked by ``seed``) fail at
    their end; their names."""
    names = [line.strip() for line in open(os.path.join(suite, "tests.txt")) if line.strip()]
    broken = sorted(random.Random(seed).sample(names, count))
    for name in broken:
        path = os.path.join(suite, name)
        with open(path) as f:
            text = f.read()
        # The last test point fails, the exit status too.
        lines = text.rstrip("\n").split("\n")
        lines[-1] = lines[-1].replace('echo "ok ', 'echo "not ok ')
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\nexit 1\n")
    return broken


def files_of(suite):
    return [os.path.join(suite, line.strip()) for line in open(os.path.join(suite, "tests.txt")) if line.strip()]


def runner(args, objdir, raw, cwd):
    cmd = [sys.executable, "-m", "mozparallel", "-r", "tap", "--objdir", objdir, "--log-raw", raw] + args
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - start, proc


def first_failure(raw):
    """(seconds from suite_start to the first unexpected result, a failing
    test point or a test's end, that test, tests started) from a raw log."""
    start = None
    started = 0
    with open(raw) as f:
        for line in f:
            e = json.loads(line)
            if e["action"] == "suite_start":
                start = e["time"]
            elif e["action"] == "test_start":
                started += 1
            elif e["action"] in ("test_status", "test_end") and is_unexpected(e):
                return (e["time"] - start) / 1000.0, e["test"], started
    return None, None, started


def scenario(name, files, jobs, extra, reps, work):
    """Medians for both orders on one suite."""
    seeded = os.path.join(work, name, "seeded")
    os.makedirs(seeded, exist_ok=True)
    raw = os.path.join(work, name, "raw.log")
    wall, proc = runner(["-j", str(jobs)] + extra + files, seeded, raw, work)
    if proc.returncode not in (0, 1):
        sys.exit("%s: the history run failed: %s" % (name, proc.stderr))
    out = {p: {"first": [], "wall": [], "test": [], "started": []} for p in POLICIES}
    for rep in range(reps):
        for policy in (POLICIES if rep % 2 == 0 else POLICIES[::-1]):
            objdir = os.path.join(work, name, "run")
            shutil.rmtree(objdir, ignore_errors=True)
            shutil.copytree(seeded, objdir)
            wall, proc = runner(["-j", str(jobs), "--schedule", policy, "--max-failures", "1"] + extra + files,
                                objdir, raw, work)
            first, test, started = first_failure(raw)
            if first is None:
                sys.exit("%s, %s: no failure in the run: %s" % (name, policy, proc.stderr))
            row = out[policy]
            row["first"].append(first)
            row["wall"].append(wall)
            row["test"].append(os.path.basename(test))
            row["started"].append(started)
    return {"history_run_wall": wall, **{p: {"first_median": statistics.median(v["first"]),
                                             "wall_median": statistics.median(v["wall"]),
                                             "first_test": v["test"][0], "started": v["started"][0],
                                             "first": v["first"], "wall": v["wall"]} for p, v in out.items()}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--bench", default=DEFAULT_BENCH, help="the shared bench directory (gen_suite.py)")
    ap.add_argument("--out", default=None, help="where suites, logs and results go (default: a temp dir)")
    ap.add_argument("--broken", type=int, default=4, help="tests broken in skewed-broken (default 4)")
    ap.add_argument("--seed", type=int, default=20, help="which skewed tests break (default 20)")
    args = ap.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="failures-first-bench-")
    mixed = gen(args.bench, "mixed-failures", os.path.join(out, "suites", "mixed-failures"))
    skewed = gen(args.bench, "skewed", os.path.join(out, "suites", "skewed-broken"))
    broken = break_tests(skewed, args.broken, args.seed)
    results = {
        "mixed-failures, J=4": scenario("mixed", files_of(mixed), 4, ["--timeout", "3"], args.reps, out),
        "skewed-broken, J=8": scenario("skewed", files_of(skewed), 8, [], args.reps, out),
    }
    results["skewed-broken, J=8"]["broken"] = broken
    with open(os.path.join(out, "failures-first.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("suite, J | order | first failure (median s) | whole run (median s) | first failing test | started")
    for name, r in results.items():
        for p in POLICIES:
            row = r[p]
            print("%s | %s | %.2f | %.2f | %s | %d" % (name, p, row["first_median"], row["wall_median"],
                                                      row["first_test"], row["started"]))
        print("%s | failures-first / history | %.3f | %.3f | |" % (
            name, r["failures-first"]["first_median"] / r["history"]["first_median"],
            r["failures-first"]["wall_median"] / r["history"]["wall_median"]))
    print("skewed-broken: broken tests %s (seed %d)" % (", ".join(broken), args.seed))
    print("results: %s" % os.path.join(out, "failures-first.json"))


if __name__ == "__main__":
    main()
