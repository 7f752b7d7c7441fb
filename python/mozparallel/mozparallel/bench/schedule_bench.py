"""Benchmark: adaptive scheduling against the peers of ../shared/bench.

Generates the ``skewed`` and ``cpu`` suites with ``gen_suite.py``, then has
``run_peers.py`` time mozparallel as a stateful runner (two runs in the same
WORK: the first has no history, the second reads the first's from the
objdir store) beside ``prove --state=slow,save``:

* skewed at J=4 and J=8 (``-j {J}``): targets 2nd run >= 0.98 of the lower
  bound at J=8, 1st run no slower than list order (``--schedule list``);
* cpu with ``-j auto`` (LB at J=2): J chosen and efficiency;
* skewed with ``-j auto`` (the J chosen is read from the 2nd run's log).

    python -m mozparallel.bench.schedule_bench [--reps N] [--bench DIR] [--out DIR]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
DEFAULT_BENCH = os.path.join(os.path.dirname(TOP), "shared", "bench")
RUNNER = ("{python} -m mozparallel {jobs} -r tap --objdir {{WORK}} --log-raw {{WORK}}/raw.log{extra} {{FILES}}")


def mozparallel(jobs="-j {J}", extra=""):
    return RUNNER.format(python=sys.executable, jobs=jobs, extra=extra)


def gen(bench, profile, out):
    subprocess.run([sys.executable, os.path.join(bench, "gen_suite.py"), "--profile", profile, "--out", out],
                   check=True, capture_output=True)
    return out


def run_peers(bench, suite, jobs, reps, out, work, runners=(), stateful=(), tools="none"):
    cmd = [sys.executable, os.path.join(bench, "run_peers.py"), suite, "-j", str(jobs), "--reps", str(reps),
           "--tools", tools, "--out", out, "--work", work]
    for name, template in runners:
        cmd += ["--runner", "%s=%s" % (name, template)]
    for name, template in stateful:
        cmd += ["--stateful-runner", "%s=%s" % (name, template)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit("run_peers failed:\n" + proc.stdout + proc.stderr)
    table = proc.stdout[proc.stdout.index("suite "):proc.stdout.index("\nresults:")] \
        if "suite " in proc.stdout else proc.stdout
    with open(out) as f:
        return json.load(f), table.rstrip()


def chosen_jobs(raw_log):
    """The J a run chose, from its 'schedule ...; J=N (...)' log line."""
    with open(raw_log) as f:
        for line in f:
            # The reasoning, logged at DEBUG: one message, a line per decision.
            m = re.search(r'"message": "mozparallel: schedule [^;]*; J=(\d+) \((.*?)\)(?:[;"]|\\n)', line)
            if m:
                return int(m.group(1)), m.group(2)
    return None, None


def rows_by_label(doc):
    return {r["label"] if "label" in r else r.get("tool"): r for r in doc["rows"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--bench", default=DEFAULT_BENCH, help="the shared bench directory (run_peers.py)")
    ap.add_argument("--out", default=None, help="where suites, results and work go (default: a temp dir)")
    ap.add_argument("--only", choices=["skewed", "cpu", "auto"], action="append",
                    help="run only these parts (repeatable)")
    args = ap.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="schedule-bench-")
    parts = args.only or ["skewed", "cpu", "auto"]
    skewed = gen(args.bench, "skewed", os.path.join(out, "suites", "skewed"))
    report = []
    if "skewed" in parts:
        for jobs in (4, 8):
            doc, table = run_peers(args.bench, skewed, jobs, args.reps, os.path.join(out, "skewed-j%d.json" % jobs),
                                   os.path.join(out, "work", "skewed-j%d" % jobs),
                                   runners=[("mozparallel-list", mozparallel(extra=" --schedule list"))],
                                   stateful=[("mozparallel", mozparallel())], tools="prove-state")
            report.append(table)
    if "cpu" in parts:
        cpu = gen(args.bench, "cpu", os.path.join(out, "suites", "cpu"))
        work = os.path.join(out, "work", "cpu-j2")
        doc, table = run_peers(args.bench, cpu, 2, args.reps, os.path.join(out, "cpu-j2.json"), work,
                               stateful=[("mozparallel-auto", mozparallel(jobs="-j auto"))], tools="prove-state")
        jobs, why = chosen_jobs(os.path.join(work, "mozparallel-auto", "raw.log"))
        report.append(table + "\ncpu, -j auto (2nd run): J=%s (%s)" % (jobs, why))
    if "auto" in parts:
        work = os.path.join(out, "work", "skewed-auto")
        doc, table = run_peers(args.bench, skewed, 8, 1, os.path.join(out, "skewed-auto.json"), work,
                               stateful=[("mozparallel-auto", mozparallel(jobs="-j auto"))])
        jobs, why = chosen_jobs(os.path.join(work, "mozparallel-auto", "raw.log"))
        report.append(table + "\nskewed, -j auto (2nd run): J=%s (%s)" % (jobs, why))
    print("\n\n".join(report))
    print("\nresults and logs: %s" % out)


if __name__ == "__main__":
    main()
