"""mozparallel against its peers (xargs -P, GNU parallel, prove), side by
side in one invocation, on ../shared/bench's seeded suites.

    python -m mozparallel.bench.peers [--bench DIR] [--out DIR] [--quick]

Generates the suites with ``gen_suite.py``, runs ``run_peers.py`` once per
scenario with our runner plugged in (``--runner`` / ``--stateful-runner``),
and prints the table of the performance issue with ratios against the
peers measured in the same run. Our runner's peak RSS comes from
``/usr/bin/time -f %M`` around it (the largest of it and the tests it
waited for; the runner is the largest process on tiny and chatty).

A benchmark, not a test: CI does not run it, nothing here asserts.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
DEFAULT_BENCH = os.path.join(os.path.dirname(TOP), "shared", "bench")


def ours(extra="", stateful_dir=False):
    """The run_peers template of our runner (RSS written to WORK/rss-N.txt)."""
    python = shlex.quote(sys.executable)
    objdir = " --objdir {WORK}" if stateful_dir else ""
    return ("/usr/bin/time -f %M -a -o {WORK}/rss.txt " + python +
            " -m mozparallel -j {J} -r tap" + objdir + (" " + extra if extra else "") + " {FILES}")


SCENARIOS = [
    # (name, profile, J, reps, peers, runners, stateful runners)
    ("tiny", "tiny", 2, 3, "xargs,parallel,prove",
     [("mozparallel", ours())], []),
    ("chatty", "chatty", 2, 1, "xargs,prove",
     [("mozparallel", ours()),
      ("mozparallel-all", ours("--log-subtests all --log-raw {WORK}/raw.log"))], []),
    ("cpu", "cpu", 2, 1, "xargs,prove-state",
     [], [("mozparallel", ours(stateful_dir=True))]),
    ("skewed-j8", "skewed", 8, 1, "xargs,prove-state",
     [], [("mozparallel", ours(stateful_dir=True))]),
]


def run_scenario(bench, out, scenario, quick):
    name, profile, jobs, reps, peers, runners, stateful = scenario
    suite = os.path.join(out, "suites", profile)
    if not os.path.isdir(suite):
        subprocess.run([sys.executable, os.path.join(bench, "gen_suite.py"), "--profile", profile,
                        "--out", suite], check=True, stdout=subprocess.DEVNULL)
    work = os.path.join(out, "work", name)
    result = os.path.join(out, name + ".json")
    cmd = [sys.executable, os.path.join(bench, "run_peers.py"), suite, "-j", str(jobs),
           "--reps", str(1 if quick else reps), "--tools", peers, "--work", work, "--out", result,
           "--tool-timeout", "120"]
    for label, template in runners:
        cmd += ["--runner", "%s=%s" % (label, template)]
    for label, template in stateful:
        cmd += ["--stateful-runner", "%s=%s" % (label, template)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit("run_peers failed for %s" % name)
    rows = {r["tool"]: r for r in json.load(open(result))["rows"]}
    rss = {}
    for label, _ in runners + stateful:
        path = os.path.join(work, label, "rss.txt")
        if os.path.exists(path):
            values = [int(l) for l in open(path) if l.strip().isdigit()]
            if values:
                rss[label] = max(values) / 1024.0
    return rows, rss


def fmt(value, spec="%.2f"):
    return "-" if value is None else spec % value


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=DEFAULT_BENCH, help="the shared bench directory")
    ap.add_argument("--out", default="/tmp/mozparallel-bench", help="suites, work dirs and JSON results")
    ap.add_argument("--quick", action="store_true", help="one rep everywhere")
    ap.add_argument("--only", default=None, help="comma-separated scenario names")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    wanted = set(args.only.split(",")) if args.only else None
    results = {}
    for scenario in SCENARIOS:
        if wanted and scenario[0] not in wanted:
            continue
        print("running %s ..." % scenario[0], file=sys.stderr, flush=True)
        results[scenario[0]] = run_scenario(args.bench, args.out, scenario, args.quick)
    lines = ["| suite, J | measure | mozparallel | peers (same run) | target | met |",
             "|---|---|---|---|---|---|"]
    if "tiny" in results:
        rows, rss = results["tiny"]
        m = rows["mozparallel"]
        peers = ", ".join("%s %.2f / %.2f" % (t, rows[t]["wall_ms_per_test"], rows[t]["cpu_ms_per_test"])
                          for t in ("xargs", "prove", "parallel") if t in rows)
        ok = m["wall_ms_per_test"] <= 1.0 and m["cpu_ms_per_test"] <= 1.5
        lines.append("| tiny, J=2 | ms/test wall / CPU | %.2f / %.2f | %s | <= 1.0 / <= 1.5 | %s |"
                     % (m["wall_ms_per_test"], m["cpu_ms_per_test"], peers, "yes" if ok else "NO"))
        lines.append("| tiny, J=2 | runner peak RSS | %s MB | - | <= 60 MB | %s |"
                     % (fmt(rss.get("mozparallel"), "%.1f"), "yes" if rss.get("mozparallel", 999) <= 60 else "NO"))
    if "chatty" in results:
        rows, rss = results["chatty"]
        m, a = rows["mozparallel"], rows["mozparallel-all"]
        prove = rows.get("prove", {}).get("wall_median_s")
        xargs = rows.get("xargs", {}).get("wall_median_s")
        ratio = prove / m["wall_median_s"] if prove else None
        lines.append("| chatty, J=2 | wall, every line parsed | %.2f s (%sx faster than prove) | xargs %s s, prove %s s "
                     "| <= 1.5 s, >= 15x | %s |" % (m["wall_median_s"], fmt(ratio, "%.0f"), fmt(xargs),
                                                   fmt(prove, "%.1f"),
                                                   "yes" if m["wall_median_s"] <= 1.5 and (ratio or 0) >= 15 else "NO"))
        lines.append("| chatty, J=2 | wall, --log-subtests all (1M raw events) | %.2f s | - | <= 4 s | %s |"
                     % (a["wall_median_s"], "yes" if a["wall_median_s"] <= 4 else "NO"))
        lines.append("| chatty, J=2 | runner peak RSS | %s MB (all: %s MB) | - | <= 60 MB | %s |"
                     % (fmt(rss.get("mozparallel"), "%.1f"), fmt(rss.get("mozparallel-all"), "%.1f"),
                        "yes" if max(rss.get("mozparallel", 999), rss.get("mozparallel-all", 999)) <= 60 else "NO"))
    for name, target in (("cpu", 0.97), ("skewed-j8", 0.98)):
        if name not in results:
            continue
        rows, _ = results[name]
        first, second = rows.get("mozparallel[1st]", {}), rows.get("mozparallel[2nd]", {})
        p2 = rows.get("prove-state[2nd]", {})
        lines.append("| %s, J=%s | efficiency (LB / wall), 1st / 2nd run | %s / %s | prove-state 2nd %s, xargs %s "
                     "| 2nd >= %.2f | %s |" % (
                         name.split("-")[0], "8" if name.startswith("skewed") else "2",
                         fmt(first.get("efficiency")), fmt(second.get("efficiency")),
                         fmt(p2.get("efficiency")), fmt(rows.get("xargs", {}).get("efficiency")), target,
                         "yes" if (second.get("efficiency") or 0) >= target else "NO"))
    print("\n".join(lines))
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
