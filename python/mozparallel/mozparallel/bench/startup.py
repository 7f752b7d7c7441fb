"""Benchmark: start-up to first spawn.

Runs ``paralleltest`` N times on a one-test suite in one objdir and reads,
for each run, the time from just before ``exec`` of the runner to the first
moment the test runs (the test writes ``$EPOCHREALTIME`` first thing; bash
starts in about 1 ms, the same for every runner). Also the whole command's
wall time. Prints the medians.

    python -m mozparallel.bench.startup [--runs 20] [--other SRC] [-- EXTRA RUNNER ARGS]

``--other SRC`` also times another checkout's package (``SRC`` is its
``python/mozparallel`` directory, put first on PYTHONPATH), runs of the two
interleaved, so both see the same machine.
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


def measure(runs, extra=(), python=sys.executable, other=None, other_extra=()):
    """Medians (first spawn, whole run) in seconds: ours, and ``other``'s
    (None without it), interleaved run by run."""
    with tempfile.TemporaryDirectory() as work:
        stamp = os.path.join(work, "stamp")
        test = os.path.join(work, "t.sh")
        with open(test, "w") as f:
            f.write(TEST.format(stamp=stamp))
        os.chmod(test, 0o755)
        variants = [("ours", None, extra)] + ([("other", other, other_extra)] if other else [])
        times = {name: ([], []) for name, _, _ in variants}
        for _ in range(runs):
            for name, path, args in variants:
                cmd = [python, "-m", "mozparallel", "-r", "tap", *args, test]
                env = dict(os.environ, MOZ_OBJDIR=os.path.join(work, name))
                if path:
                    env["PYTHONPATH"] = path
                before = time.time()
                proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
                after = time.time()
                if proc.returncode:
                    sys.exit("runner failed (%d): %s" % (proc.returncode, proc.stderr))
                with open(stamp) as f:
                    started = float(f.read())
                times[name][0].append(started - before)
                times[name][1].append(after - before)
    medians = {name: (statistics.median(a), statistics.median(b)) for name, (a, b) in times.items()}
    return medians["ours"], medians.get("other")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--other", default=None, metavar="SRC",
                        help="also time the package under SRC (another checkout's python/mozparallel)")
    parser.add_argument("--other-args", default="", metavar="ARGS",
                        help="runner options for the other checkout only, e.g. '--no-head-start'")
    parser.add_argument("extra", nargs="*", help="more runner options (after --)")
    args = parser.parse_args(argv)
    ours, other = measure(args.runs, args.extra, other=args.other, other_extra=args.other_args.split())
    for name, figures in (("this checkout", ours), (args.other, other)):
        if figures is not None:
            print("%s: start-up to first spawn: median %.1f ms; whole run: median %.1f ms (%d runs)"
                  % (name, figures[0] * 1000, figures[1] * 1000, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
