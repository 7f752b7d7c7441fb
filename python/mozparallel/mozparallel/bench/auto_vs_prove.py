"""Benchmark: ``paralleltest -j auto`` (second run, with the first one's
history) against the best hand-tuned ``prove -jN`` (N = 1, 2, 4, 8) on
each ../shared/bench suite.

For each suite and each N, one ``run_peers.py`` invocation times ``prove
-jN`` and, in the same invocation, mozparallel with ``-j auto`` as a
stateful runner (two runs in one WORK: the second reads the first's
history from the objdir store). So each suite has four measurements of
the ``-j auto`` second run, each beside one prove; the table gives their
median against the best prove median, and the J that ``-j auto`` chose.

    python -m mozparallel.bench.auto_vs_prove [--reps 1] [--suites tiny,cpu,skewed,chatty] [--out DIR]

A benchmark, not a test: CI does not run it, nothing here asserts.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

from .schedule_bench import DEFAULT_BENCH, chosen_jobs, gen, mozparallel, run_peers

SUITES = ("tiny", "cpu", "skewed", "chatty")
PROVE_JOBS = (1, 2, 4, 8)


def measure(bench, profile, reps, out):
    suite = gen(bench, profile, os.path.join(out, "suites", profile))
    auto = mozparallel(jobs="-j auto")
    prove, firsts, seconds, effs, js = {}, [], [], [], []
    for n in PROVE_JOBS:
        work = os.path.join(out, "work", "%s-j%d" % (profile, n))
        doc, _ = run_peers(bench, suite, n, reps, os.path.join(out, "%s-j%d.json" % (profile, n)), work,
                           stateful=[("auto", auto)], tools="prove")
        rows = {r["tool"]: r for r in doc["rows"]}
        prove[n] = rows["prove"]["wall_median_s"]
        firsts.append(rows["auto[1st]"]["wall_median_s"])
        seconds.append(rows["auto[2nd]"]["wall_median_s"])
        jobs, why = chosen_jobs(os.path.join(work, "auto", "raw.log"))
        js.append((jobs, why))
    best = min(prove, key=prove.get)
    second = statistics.median(seconds)
    return {"suite": profile, "prove": prove, "best_prove_j": best, "best_prove_s": prove[best],
            "auto_first_s": statistics.median(firsts), "auto_second_s": second, "auto_seconds": seconds,
            "auto_jobs": js[-1][0], "auto_why": js[-1][1], "ratio": second / prove[best]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--bench", default=DEFAULT_BENCH, help="the shared bench directory (run_peers.py)")
    ap.add_argument("--suites", default=",".join(SUITES), help="comma-separated profiles (default: %(default)s)")
    ap.add_argument("--out", default=None, help="where suites, work and results go (default: a temp dir)")
    args = ap.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="auto-vs-prove-")
    results = []
    for profile in args.suites.split(","):
        print("running %s ..." % profile, file=sys.stderr, flush=True)
        results.append(measure(args.bench, profile, args.reps, out))
        with open(os.path.join(out, "auto-vs-prove.json"), "w") as f:
            json.dump(results, f, indent=1)
    lines = ["| suite | -j auto 2nd run (J chosen) | %s | best prove | auto / best |" %
             " | ".join("prove -j%d" % n for n in PROVE_JOBS),
             "|---|---|%s---|---|" % ("---|" * len(PROVE_JOBS))]
    for r in results:
        lines.append("| %s | %.2f s (J=%s) | %s | -j%d | %.3f |" % (
            r["suite"], r["auto_second_s"], r["auto_jobs"],
            " | ".join("%.2f s" % r["prove"][n] for n in PROVE_JOBS), r["best_prove_j"], r["ratio"]))
    print("\n".join(lines))
    for r in results:
        print("%s: -j auto chose J=%s (%s); 1st run %.2f s; 2nd runs %s" % (
            r["suite"], r["auto_jobs"], r["auto_why"], r["auto_first_s"],
            ", ".join("%.2f" % s for s in r["auto_seconds"])))
    print("results: %s" % os.path.join(out, "auto-vs-prove.json"))


if __name__ == "__main__":
    main()
