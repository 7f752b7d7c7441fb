"""Benchmark: the per-item costs on the runner's hot paths, measured in
this process and printed (median of ``--reps`` repetitions):

* recording one result in the SQLite store (a commit per result);
* one psutil sample of a one-process test tree (execution/metrics.py);
* one plain ``ok N`` line through the TAP parser, and through
  ``--protocol auto`` once it has chosen TAP (the same parser, called
  directly: the two should cost the same).

These were asserts in the test suite (``cost < 5 ms``, ``auto < 1.25 x
tap``); on a shared, loaded machine a timing says little about a change, so
they are reported here instead and the tests check behaviour only.

    python -m mozparallel.bench.costs [--reps 5] [--results 200] [--samples 200] [--lines 200000]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def record_cost(results):
    """Seconds to record one result (after the run's start) in a new SQLite store."""
    from ..store.records import ResultRecord, RunRecord
    from ..store.sqlite_store import SQLiteStore

    with tempfile.TemporaryDirectory() as work:
        store = SQLiteStore(os.path.join(work, "history.sqlite"))
        try:
            store.record_run_start(RunRecord(run_id="bench", started=time.time()))
            started = time.perf_counter()
            for i in range(results):
                store.record_result("bench", ResultRecord(test="t%d" % i, wall=0.1, status="OK", cpu_user=0.1))
            return (time.perf_counter() - started) / results
        finally:
            store.close()


def sample_cost(samples):
    """Seconds for one sample of a tree of one sleeping process."""
    from ..execution.metrics import TreeMetrics

    child = subprocess.Popen([sys.executable, "-S", "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.1)
        metrics = TreeMetrics(child.pid, time.monotonic())
        started = time.perf_counter()
        for _ in range(samples):
            metrics.sample()
        return (time.perf_counter() - started) / samples
    finally:
        child.kill()
        child.wait()


def line_costs(lines):
    """(TAP, auto) seconds per plain ``ok N`` line, fed in batches of 5000
    as the pool feeds them."""
    from ..protocols.detect import AutoParser
    from ..protocols.tap import TapParser

    text = ["ok %d - point" % i for i in range(1, lines + 1)]

    def cost(parser):
        parser.feed_lines(text[:1])         # auto decides here
        started = time.perf_counter()
        for i in range(1, len(text), 5000):
            parser.feed_lines(text[i:i + 5000])
        return (time.perf_counter() - started) / len(text)

    return cost(TapParser("t")), cost(AutoParser("t"))


def measure(reps, results, samples, lines):
    figures = {"record": [], "sample": [], "tap": [], "auto": []}
    for _ in range(reps):
        figures["record"].append(record_cost(results))
        figures["sample"].append(sample_cost(samples))
        tap, auto = line_costs(lines)
        figures["tap"].append(tap)
        figures["auto"].append(auto)
    return {k: statistics.median(v) for k, v in figures.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--results", type=int, default=200, help="results recorded per repetition")
    ap.add_argument("--samples", type=int, default=200, help="samples taken per repetition")
    ap.add_argument("--lines", type=int, default=200000, help="TAP lines parsed per repetition")
    args = ap.parse_args(argv)
    m = measure(args.reps, args.results, args.samples, args.lines)
    print("median of %d repetition(s), load average %.2f:" % (args.reps, os.getloadavg()[0]))
    print("  record one result (SQLite):        %8.1f us" % (m["record"] * 1e6))
    print("  sample a one-process tree:         %8.1f us" % (m["sample"] * 1e6))
    print("  one 'ok N' line, --protocol tap:   %8.1f ns" % (m["tap"] * 1e9))
    print("  one 'ok N' line, --protocol auto:  %8.1f ns (%.2f x tap)" % (m["auto"] * 1e9, m["auto"] / m["tap"]))


if __name__ == "__main__":
    main()
