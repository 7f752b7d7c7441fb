"""Benchmark: start-up to first spawn.

Runs ``paralleltest`` N times on a one-test suite in one objdir and reads,
for each run, the time from just before ``exec`` of the runner to the first
moment the test runs (the test writes ``$EPOCHREALTIME`` first thing; bash
starts in about 1 ms, the same for every runner). Also the whole command's
wall time. Prints the medians.

    python -m mozparallel.bench.startup [--runs 20] [-- EXTRA RUNNER ARGS]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TEST = """#!/bin/bash
echo "$EPOCHREALTIME" > {stamp}
echo 1..1
echo ok 1
"""


def measure(runs, extra=(), python=sys.executable):
    with tempfile.TemporaryDirectory() as work:
        stamp = os.path.join(work, "stamp")
        test = os.path.join(work, "t.sh")
        with open(test, "w") as f:
            f.write(TEST.format(stamp=stamp))
        os.chmod(test, 0o755)
        cmd = [python, "-m", "mozparallel", "--objdir", work, "-r", "tap", *extra, test]
        first, whole = [], []
        for _ in range(runs):
            before = time.time()
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            after = time.time()
            if proc.returncode:
                sys.exit("runner failed (%d): %s" % (proc.returncode, proc.stderr))
            with open(stamp) as f:
                started = float(f.read())
            first.append(started - before)
            whole.append(after - before)
    return statistics.median(first), statistics.median(whole)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("extra", nargs="*", help="more runner options (after --)")
    args = parser.parse_args(argv)
    first, whole = measure(args.runs, args.extra)
    print("start-up to first spawn: median %.1f ms; whole run: median %.1f ms (%d runs)"
          % (first * 1000, whole * 1000, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
