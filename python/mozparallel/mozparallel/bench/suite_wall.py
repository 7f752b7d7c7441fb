"""Benchmark: the wall time of one run of a ../shared/bench suite.

Generates the suite (``gen_suite.py --profile PROFILE``), runs
``python -m mozparallel -j J --store none -r tap EXTRA FILES`` ``--runs``
times and prints the median, the fastest and the slowest wall time beside
the suite's nominal figures. The defaults are what test_cli.py asserted
before wall-clock limits left the tests (60 mixed-failures tests, ``-j 4
-t 3``, "under 15 s"); four one-second sleepers at ``-j 4`` show that tests
really run at once (about 1 s, not 4)::

    python -m mozparallel.bench.suite_wall [--profile mixed-failures] [-j 4] [--runs 3] [-- -t 3]
    python -m mozparallel.bench.suite_wall --sleepers 4 -j 4
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from .peers import DEFAULT_BENCH


def generate(bench, profile, out):
    subprocess.run([sys.executable, os.path.join(bench, "gen_suite.py"), "--profile", profile, "--out", out],
                   check=True, capture_output=True)
    with open(os.path.join(out, "tests.txt")) as f:
        files = [os.path.join(out, name) for name in f.read().split()]
    with open(os.path.join(out, "suite.json")) as f:
        return files, json.load(f)


def sleepers(n, out):
    files = []
    for i in range(n):
        path = os.path.join(out, "s%02d.sh" % i)
        with open(path, "w") as f:
            f.write("#!/bin/sh\necho 1..1; sleep 1; echo ok 1\n")
        os.chmod(path, 0o755)
        files.append(path)
    return files, {"profile": "%d one-second sleepers" % n, "n_tests": n, "total_nominal_s": float(n),
                   "longest_nominal_s": 1.0}


def measure(files, jobs, runs, extra, work):
    cmd = [sys.executable, "-m", "mozparallel", "-j", str(jobs), "--store", "none", "-r", "tap", *extra, *files]
    walls = []
    for _ in range(runs):
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        walls.append(time.monotonic() - started)
        if proc.returncode not in (0, 1):
            sys.exit("runner failed (%d): %s" % (proc.returncode, proc.stderr))
    return walls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="mixed-failures")
    ap.add_argument("--sleepers", type=int, default=None, help="N one-second sleepers instead of a profile")
    ap.add_argument("-j", "--jobs", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bench", default=DEFAULT_BENCH, help="the shared bench directory (gen_suite.py)")
    ap.add_argument("extra", nargs="*", help="more runner arguments (after --); default for a profile: -t 3")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        if args.sleepers:
            files, suite = sleepers(args.sleepers, work)
            extra = args.extra
        else:
            files, suite = generate(args.bench, args.profile, os.path.join(work, "suite"))
            extra = args.extra or ["-t", "3"]
        walls = measure(files, args.jobs, args.runs, extra, work)
    bound = max(suite["total_nominal_s"] / args.jobs, suite["longest_nominal_s"])
    print("%s: %d tests, %.1f s nominal, longest %.1f s; at -j %d the nominal lower bound is %.2f s"
          % (suite["profile"], suite["n_tests"], suite["total_nominal_s"], suite["longest_nominal_s"],
             args.jobs, bound))
    print("wall over %d run(s) (%s): median %.2f s, fastest %.2f s, slowest %.2f s; load average %.2f"
          % (len(walls), " ".join(extra) or "no extra arguments", statistics.median(walls), min(walls),
             max(walls), os.getloadavg()[0]))


if __name__ == "__main__":
    main()
