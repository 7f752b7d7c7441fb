"""Queries over recorded runs: the slowest tests, the biggest memory users,
the most CPU-hungry and the least stable, each with the median and spread
over recent runs. ``paralleltest history`` and ``mach parallel-test
--history`` print them (text or ``--format json``).

Only reads the store; what a figure means is defined in execution/metrics.py.
"""

import argparse
import json
import os
import statistics
import sys

DEFAULT_RUNS = 10
DEFAULT_TOP = 10

# (key in the summary, heading, figure of a ResultRecord, unit)
FIGURES = (
    ("slowest", "Slowest (wall seconds)", lambda r: r.wall, "s"),
    ("biggest_memory", "Biggest memory (peak RSS of the tree, MiB)",
     lambda r: r.peak_rss_kb / 1024.0 if r.peak_rss_kb is not None else None, "MiB"),
    ("most_cpu", "Most CPU (user+system seconds of the tree)", lambda r: r.cpu, "s"),
)


def _by_test(results):
    grouped = {}
    for r in results:
        grouped.setdefault((r.test, r.command), []).append(r)
    return grouped


def _spread(values):
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "spread": round(max(values) - min(values), 4)}


def summarize(results, top=DEFAULT_TOP):
    """The history summary of ``results`` (ResultRecords, oldest run first)."""
    grouped = _by_test(results)
    summary = {"runs": len({r.run_id for r in results}), "tests": len(grouped)}
    for key, _, figure, _ in FIGURES:
        rows = []
        for (test, command), rs in grouped.items():
            values = [v for v in (figure(r) for r in rs if r.status != "SKIP") if v is not None]
            if values:
                rows.append(dict(test=test, command=command, runs=len(values), **_spread(values)))
        rows.sort(key=lambda row: (-row["median"], row["test"]))
        summary[key] = rows[:top]
    unstable = []
    for (test, command), rs in grouped.items():
        statuses = [r.status for r in rs]
        changes = sum(1 for a, b in zip(statuses, statuses[1:]) if a != b)
        if changes:
            counts = {}
            for s in statuses:
                counts[s] = counts.get(s, 0) + 1
            unstable.append({"test": test, "command": command, "runs": len(statuses), "changes": changes,
                             "statuses": counts, "last": statuses[-1]})
    unstable.sort(key=lambda row: (-row["changes"] / row["runs"], -row["changes"], row["test"]))
    summary["least_stable"] = unstable[:top]
    return summary


def format_text(summary):
    lines = ["History of the last %d run(s): %d test(s)" % (summary["runs"], summary["tests"])]
    for key, heading, _, unit in FIGURES:
        lines += ["", heading + ":"]
        rows = summary[key]
        if not rows:
            lines.append("  (nothing recorded)")
        for row in rows:
            lines.append("  %10.3f %-3s (min %.3f, max %.3f, %d run%s)  %s%s" % (
                row["median"], unit, row["min"], row["max"], row["runs"], "" if row["runs"] == 1 else "s",
                row["test"], _command_note(row)))
    lines += ["", "Least stable (status changes between consecutive runs):"]
    if not summary["least_stable"]:
        lines.append("  (every test kept its status)")
    for row in summary["least_stable"]:
        counts = ", ".join("%s %d" % kv for kv in sorted(row["statuses"].items()))
        lines.append("  %3d change(s) in %d runs (%s; last %s)  %s%s" % (
            row["changes"], row["runs"], counts, row["last"], row["test"], _command_note(row)))
    return "\n".join(lines) + "\n"


def _command_note(row):
    return "  [%s]" % row["command"] if row["command"] else ""


def show_history(options, topobjdir=None, out=None):
    """Print the summary for parsed options (store, objdir, format, runs,
    top, command). Returns the exit status."""
    from ..settings import store_location
    from ..store import StoreError, open_store

    out = out or sys.stdout
    warnings = []
    try:
        store = open_store(store_location(options, topobjdir), warn=warnings.append)
    except StoreError as e:
        print("paralleltest: error: %s" % e, file=sys.stderr)
        return 2
    if store is None:
        print("paralleltest: error: --store none keeps no history to show", file=sys.stderr)
        return 2
    try:
        results = store.recent_results(options.get("runs") or DEFAULT_RUNS, options.get("command"))
        runs = store.runs(options.get("runs") or DEFAULT_RUNS) if options.get("flaky") else []
    except StoreError as e:
        print("paralleltest: error: %s" % e, file=sys.stderr)
        return 2
    finally:
        store.close()
    for text in warnings:
        print("paralleltest: warning: %s" % text, file=sys.stderr)
    if options.get("flaky"):
        return _show_flaky(results, runs, options, store.description, out)
    summary = summarize(results, options.get("top") or DEFAULT_TOP)
    if options.get("format") == "json":
        summary["store"] = store.description
        json.dump(summary, out, indent=2, sort_keys=True)
        out.write("\n")
    else:
        out.write(format_text(summary))
    return 0


def _show_flaky(results, run_records, options, where, out):
    from ..flaky.families import families
    from ..flaky.frequency import add_verdicts, flaky_tests, format_flaky

    rows = flaky_tests(results)
    runs = len({r.run_id for r in results})
    totals = add_verdicts(rows, families(run_records, results))
    if options.get("format") == "json":
        json.dump({"runs": runs, "flaky": rows, "verdicts": totals, "store": where}, out, indent=2,
                  sort_keys=True)
        out.write("\n")
    else:
        out.write(format_flaky(rows, runs, totals))
    return 0


def build_parser(prog="paralleltest history"):
    from ..options import Parser, add_store_location_arguments, objdir_arg, positive_count

    parser = Parser(prog=prog, description="What recent runs recorded: slowest, biggest, most CPU, "
                                            "least stable tests, with median and spread.")
    add_store_location_arguments(parser)
    parser.add_argument("--objdir", type=objdir_arg, default=None, metavar="DIR",
                        help="where the default store lives (default: $MOZ_OBJDIR, else the current directory)")
    parser.add_argument("--runs", type=positive_count, default=DEFAULT_RUNS, metavar="N",
                        help="look at the newest N runs (default %d)" % DEFAULT_RUNS)
    parser.add_argument("--top", type=positive_count, default=DEFAULT_TOP, metavar="N",
                        help="tests per list (default %d)" % DEFAULT_TOP)
    parser.add_argument("--command", default=None, metavar="CMD",
                        help="only results of tests run by CMD (as --exec gave it; '' = run directly)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--flaky", action="store_true",
                        help="only the tests that failed in some of the runs and passed in others: failure "
                             "rate, the runs needed to see a failure with 95%% confidence, and in how many "
                             "runs each was judged parallel-unsafe or intermittent (flaky/)")
    return parser


def main(argv=None, args=None):
    if args is None:
        args = build_parser().parse_args(argv)
    return show_history(vars(args), topobjdir=os.environ.get("MOZ_OBJDIR"))
