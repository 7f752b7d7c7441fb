"""``paralleltest plan --total-chunks N [--format json] TEST...``: every
chunk with its tests and expected duration, for a decision task (Taskcluster,
a Kubernetes Indexed Job) to create one task per chunk. Runs nothing; the
chunks are the ones ``--this-chunk K`` would run (schedule/chunks.py).
"""

import json
import os
import sys

from ..selection import InputError


def build_parser(prog="paralleltest plan"):
    from ..options import (jobs_arg, Parser, add_chunk_arguments, add_selection_arguments,
                      add_store_location_arguments)

    parser = Parser(prog=prog, description="Print the chunks of a suite and their expected durations; "
                                            "run nothing.")
    parser.add_argument("tests", nargs="*", metavar="TEST",
                        help="test files, directories or manifests, as for a run (none: the manifests under "
                             "the current directory)")
    parser.add_argument("-j", "--jobs", type=jobs_arg, default="auto",
                        help="jobs per chunk for the expected makespan (default: auto, as a run chooses)")
    add_selection_arguments(parser)
    group = parser.add_argument_group("History")
    add_store_location_arguments(group)
    group.add_argument("--runtimes", default=None, metavar="FILE",
                       help="a runtimes JSON ({\"path/to/test\": seconds}) for tests the history does not know")
    add_chunk_arguments(parser.add_argument_group("Chunks"))
    return parser


def make_plan(options, topobjdir=None, warn=None):
    """The plan as a JSON-ready dict."""
    from ..schedule import TestHistory, available_memory, frozen_plan, load_history, plan_run
    from ..selection import select_tests
    from ..settings import open_history_store, selection_settings

    total = options.get("total_chunks") or 1
    selected, _ = select_tests(selection_settings(options, topobjdir))
    ids = [t.id for t in selected if not t.disabled]
    with open_history_store(options, topobjdir, warn) as store:
        history = load_history(store, ids, runtimes=options.get("runtimes"), warn=warn, tests=selected)
    plan = frozen_plan(ids, total, options.get("runtimes"), selected)     # as each chunk plans
    specs = {t.id: _Spec(t.id, t.path) for t in selected}
    available = available_memory()
    chunks = []
    for i, chunk_ids in enumerate(plan.chunks):
        sub = TestHistory({t: history.figures[t] for t in chunk_ids if t in history.figures}, history.source)
        run = plan_run([specs[t] for t in chunk_ids], sub, "history", options.get("jobs"), available=available)
        chunks.append({
            "chunk": i + 1,
            "tests": chunk_ids,
            "count": len(chunk_ids),
            "expected_seconds": None if plan.expected[i] is None else round(plan.expected[i], 3),
            "jobs": run.jobs,
            "expected_makespan": None if run.expected_makespan is None else round(run.expected_makespan, 3),
        })
    balance = plan.balance()
    return {
        "total_chunks": total,
        "method": plan.method,
        "history": history.source,
        "known": len(history.known(ids)),
        "tests": len(ids),
        "balance": None if balance is None else round(balance, 4),
        "chunks": chunks,
        "not_run": [{"id": t.id, "reason": t.disabled} for t in selected if t.disabled],
    }


class _Spec:
    """What a policy needs of a test that will not be started here."""

    __slots__ = ("id", "path")

    def __init__(self, id, path):
        self.id, self.path = id, path


def format_text(doc):
    lines = ["%d tests in %d chunks by %s (history: %s)" % (
        doc["tests"], doc["total_chunks"],
        "expected duration" if doc["method"] == "duration" else "hash of the test id", doc["history"])]
    for c in doc["chunks"]:
        expected = "" if c["expected_seconds"] is None else ", %.1fs of work" % c["expected_seconds"]
        makespan = "" if c["expected_makespan"] is None else ", about %.1fs at -j %d" % (
            c["expected_makespan"], c["jobs"])
        lines.append("chunk %d: %d tests%s%s" % (c["chunk"], c["count"], expected, makespan))
    if doc["balance"] is not None:
        lines.append("longest/shortest chunk: %.3f" % doc["balance"])
    return "\n".join(lines) + "\n"


def main(argv=None, args=None):
    parser = build_parser()
    if args is None:
        args = parser.parse_args(argv)
    if args.this_chunk is not None:
        parser.error("plan prints every chunk; --this-chunk is for a run")
    if args.total_chunks is None:
        parser.error("--total-chunks N is required")
    try:
        doc = make_plan(vars(args), os.environ.get("MOZ_OBJDIR"),
                        warn=lambda text: print("paralleltest: warning: " + text, file=sys.stderr))
    except InputError as e:
        print("paralleltest: error: %s" % e, file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    else:
        sys.stdout.write(format_text(doc))
    return 0
