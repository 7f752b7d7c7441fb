"""Benchmark: how right the live view's ETA is.

Runs ../shared/bench's ``skewed`` suite (120 tests, about 60 s of sleeps)
twice in one directory at ``-j 8``: the second run has the first one's
history. Every tick of the live view records its ETA (the real code path;
only the recording is added); at 25, 50 and 75 % of the second run the ETA
is compared with the time the run actually still took::

    python -m mozparallel.bench.eta [--bench DIR] [-j 8] [--out DIR]

The ETA's accuracy depends on how steady the machine is between the two
runs, so it is reported here, not asserted by a test; test_live.py checks
that the history reaches the ETA at all.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from .peers import DEFAULT_BENCH

# Runs paralleltest in this interpreter with the live view's tick and close
# recorded: [(monotonic time, ETA or None, tests done)]; the last entry is
# the close. argv: OUT.json, then the runner's arguments.
PROBE = """
import json, sys, time
from mozparallel import cli
from mozparallel.reporting import live
rec = []
tick, close = live.LiveReporter.tick, live.LiveReporter.close
def probe_tick(self):
    rec.append((time.monotonic(), self.eta(), self.done))
    tick(self)
def probe_close(self):
    rec.append((time.monotonic(), None, self.done))
    close(self)
live.LiveReporter.tick, live.LiveReporter.close = probe_tick, probe_close
try:
    status = cli.main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as f:
        json.dump(rec, f)
sys.exit(status)
"""


def probe_run(args, cwd, out, timeout=300):
    """Run ``paralleltest ARGS`` in ``cwd`` with the live view's ETA
    recorded at every tick; (CompletedProcess, ticks)."""
    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    env.pop("MOZPARALLEL_STORE", None)
    proc = subprocess.run([sys.executable, "-c", PROBE, out] + list(args), cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    ticks = []
    if os.path.exists(out):
        with open(out) as f:
            ticks = json.load(f)
    return proc, ticks


def accuracy(ticks, shares=(0.25, 0.5, 0.75)):
    """[(share, run length, done, ETA, actually left)] at each share of the run."""
    start, end = ticks[0][0], ticks[-1][0]
    out = []
    for share in shares:
        when, eta, done = min(ticks[:-1], key=lambda r: abs(r[0] - (start + share * (end - start))))
        out.append((share, end - start, done, eta, end - when))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", default=DEFAULT_BENCH, help="the shared bench directory (gen_suite.py)")
    ap.add_argument("-j", "--jobs", type=int, default=8)
    ap.add_argument("--out", default=None, help="where the suite and the runs go (default: a temp dir)")
    args = ap.parse_args(argv)
    work = args.out or tempfile.mkdtemp(prefix="eta-bench-")
    subprocess.run([sys.executable, os.path.join(args.bench, "gen_suite.py"), "--profile", "skewed",
                    "--out", os.path.join(work, "suite")], check=True, capture_output=True)
    for n in (1, 2):
        proc, ticks = probe_run(["-j", str(args.jobs), "suite/manifest.ini"], work,
                                os.path.join(work, "ticks%d.json" % n))
        if proc.returncode != 0:
            sys.exit("run %d failed (%d): %s" % (n, proc.returncode, proc.stderr[-2000:]))
    tests = ticks[-1][2]                    # done at the close
    print("skewed, -j %d, second run (with history); load average %.2f" % (args.jobs, os.getloadavg()[0]))
    for share, length, done, eta, left in accuracy(ticks):
        print("at %d%% of %.2fs (%d of %d done): ETA %.2fs, actually %.2fs left (%+.1f%%)" % (
            share * 100, length, done, tests, eta, left, 100 * (eta - left) / left))


if __name__ == "__main__":
    main()
