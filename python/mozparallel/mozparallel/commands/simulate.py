"""``paralleltest simulate --workers W[,W...] [TEST...]``: from the stored
history, the predicted makespan of the selected tests on W machines for
each way of sharing them out, so a team can ask "how many machines for a
10-minute run?" before buying them.

Policies: static chunks by count (contiguous, equal numbers of tests), by
hash of the test id, by expected duration (schedule/chunks.py, what
``--total-chunks`` does), and the dynamic queue, longest first, where each
test also costs its slot ``--overhead`` seconds and one coordinator (and
its broker) hands out at most ``--coordinator-rate`` (``--broker-rate``)
tests a second. Each machine runs ``--jobs-per-worker`` tests at once.
Nothing is run.
"""

import heapq
import json
import random
import sys

from ..schedule.chunks import hash_chunk, plan_chunks
from ..schedule.decide import expected_makespan
from ..schedule.history import Figures, TestHistory

# The dynamic mode's measured costs (bench/fleet_bench.py, docs/distributed.md),
# on the 2-core build machine, loopback redis-server, 1,000 trivial tests:
# - a slot's time per test beyond the test itself (take it off the queue,
#   the one-test pool, store the result): 2.9-5.6 ms with 2 workers x 2 slots;
DEFAULT_OVERHEAD = 0.0045
# - tests a second one coordinator hands out and reports (instant responders
#   as workers, start-up excluded): 5,680-6,060, and 2,750-3,440 while other
#   jobs ran: the lowest is the default;
DEFAULT_COORDINATOR_RATE = 2750.0
# - tests a second the broker carries: 1 / its CPU per test (0.04-0.05 ms).
DEFAULT_BROKER_RATE = 20000.0
POLICIES = ("count", "hash", "duration", "dynamic")


def lpt_order(walls):
    return sorted(walls, key=lambda t: (-walls[t], t))


def chunk_makespan(chunks, walls, jobs):
    """The slowest chunk, each run longest first on ``jobs`` slots."""
    return max((expected_makespan(lpt_order({t: walls[t] for t in c}), walls, jobs) if c else 0.0)
               for c in chunks)


def queue_makespan(order, walls, slots, overhead=0.0, dispatch=0.0):
    """The dynamic queue: each free slot takes the next test of ``order``,
    which holds it ``walls[t] + overhead`` seconds; the coordinator hands
    out one test every ``dispatch`` seconds at most (1 / the slower of the
    coordinator's and the broker's rates), so a run of n tests never takes
    less than n * dispatch however many machines there are."""
    free = [0.0] * max(1, slots)
    handed = -dispatch
    end = 0.0
    for t in order:
        start = max(free[0], handed + dispatch)
        handed = start
        finish = start + walls[t] + overhead
        heapq.heapreplace(free, finish)
        end = max(end, finish)
    return end


def dispatch_seconds(coordinator_rate=DEFAULT_COORDINATOR_RATE, broker_rate=DEFAULT_BROKER_RATE):
    rates = [r for r in (coordinator_rate, broker_rate) if r]
    return 1.0 / min(rates) if rates else 0.0


def simulate(walls, workers, jobs=1, overhead=DEFAULT_OVERHEAD, policies=POLICIES, order=None,
             dispatch=None):
    """{policy: seconds} for ``walls`` ({test: seconds}) on ``workers`` machines.
    ``order`` is the list order (for chunks by count; default: by id);
    ``dispatch``: the dynamic queue's seconds per test handed out (None: the
    measured default rates; 0: unlimited)."""
    if dispatch is None:
        dispatch = dispatch_seconds()
    ids = list(order or sorted(walls))
    out = {}
    if "count" in policies:
        size = -(-len(ids) // workers)
        out["count"] = chunk_makespan([ids[i:i + size] for i in range(0, len(ids), size)], walls, jobs)
    if "hash" in policies:
        chunks = [[] for _ in range(workers)]
        for t in ids:
            chunks[hash_chunk(t, workers)].append(t)
        out["hash"] = chunk_makespan(chunks, walls, jobs)
    if "duration" in policies:
        history = TestHistory({t: Figures(w) for t, w in walls.items()})
        out["duration"] = chunk_makespan(plan_chunks(ids, workers, history).chunks, walls, jobs)
    if "dynamic" in policies:
        out["dynamic"] = queue_makespan(lpt_order(walls), walls, workers * jobs, overhead, dispatch)
    slots = workers * jobs
    out["bound"] = max(max(walls.values(), default=0.0), sum(walls.values()) / slots)
    return out


def synthetic_walls(n, seed=1, median=1.0, sigma=1.0):
    """``n`` lognormal durations (a skewed suite), seeded."""
    import math
    rng = random.Random(seed)
    return {"test_%06d" % i: rng.lognormvariate(math.log(median), sigma) for i in range(n)}


def history_walls(options):
    """{test: median wall} of the selected tests (or of every test in the
    recent history when none is given)."""
    from ..schedule.history import load_history
    from ..selection import select_tests
    from ..settings import open_history_store, selection_settings

    def warn(text):
        print("paralleltest simulate: warning: " + text, file=sys.stderr)

    with open_history_store(options, None, warn) as store:
        if options.get("tests"):
            selected, _ = select_tests(selection_settings(options))
            ids = [t.id for t in selected if not t.disabled]
            history = load_history(store, ids, runtimes=options.get("runtimes"), warn=warn, tests=selected)
            return {t: f.wall for t, f in history.figures.items() if f.wall is not None}, ids
        if store is None:
            return {}, []
        results = store.recent_results(runs=20)
    from ..schedule.history import history_from_results
    figures = history_from_results(results)
    walls = {t: f.wall for t, f in figures.items() if f.wall is not None}
    return walls, sorted(walls)


def _workers(text):
    import argparse
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("not a list of worker counts: %r" % text)
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("worker counts must be at least 1: %r" % text)
    return values


def build_parser(prog="paralleltest simulate"):
    from ..options import Parser, positive_float, add_selection_arguments, add_store_location_arguments

    parser = Parser(prog=prog,
                     description="Predicted makespan on W machines for each way of sharing the tests out, "
                                 "from the stored history. Runs nothing.")
    parser.add_argument("tests", nargs="*", metavar="TEST",
                        help="the tests (as for a run); default: every test in the recent history")
    parser.add_argument("--workers", type=_workers, required=True, metavar="W[,W...]",
                        help="machine counts to predict for, e.g. 1,10,100,1000")
    parser.add_argument("--jobs-per-worker", type=int, default=1, metavar="J",
                        help="tests each machine runs at once (default 1)")
    parser.add_argument("--schedule", default=",".join(POLICIES), metavar="P[,P...]",
                        help="policies: %s (default: all)" % ", ".join(POLICIES))
    parser.add_argument("--overhead", type=positive_float, default=DEFAULT_OVERHEAD, metavar="S",
                        help="seconds of a slot the dynamic mode adds per test (default %g, measured)"
                             % DEFAULT_OVERHEAD)
    parser.add_argument("--coordinator-rate", type=positive_float, default=DEFAULT_COORDINATOR_RATE,
                        metavar="N", help="tests a second one coordinator hands out and reports (default %g, "
                                          "measured; 0: unlimited)" % DEFAULT_COORDINATOR_RATE)
    parser.add_argument("--broker-rate", type=positive_float, default=DEFAULT_BROKER_RATE, metavar="N",
                        help="tests a second the broker carries (default %g, measured; 0: unlimited)"
                             % DEFAULT_BROKER_RATE)
    parser.add_argument("--synthetic", type=int, default=None, metavar="N",
                        help="instead of the history: N lognormal test durations (median 1 s, sigma 1, seed 1)")
    group = parser.add_argument_group("History")
    add_store_location_arguments(group)
    group.add_argument("--runtimes", default=None, metavar="FILE",
                       help="a runtimes JSON for tests the history does not know")
    add_selection_arguments(parser)
    return parser


def main(argv=None, args=None):
    from ..options import EXIT_USAGE, UsageError
    from ..selection import InputError

    parser = build_parser()
    if args is None:
        args = parser.parse_args(argv)
    options = vars(args)
    policies = [p for p in args.schedule.split(",") if p]
    bad = [p for p in policies if p not in POLICIES]
    if bad or not policies:
        parser.error("unknown policy %s (choose from %s)" % (", ".join(bad) or "''", ", ".join(POLICIES)))
    if args.jobs_per_worker < 1:
        parser.error("--jobs-per-worker must be at least 1")
    try:
        if args.synthetic:
            walls = synthetic_walls(args.synthetic)
            order, source = sorted(walls), "%d synthetic tests" % args.synthetic
        else:
            walls, order = history_walls(options)
            source = "history of %d tests" % len(walls)
    except (InputError, UsageError) as e:
        print("paralleltest simulate: error: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    order = [t for t in order if t in walls]
    if not walls:
        print("paralleltest simulate: error: no recorded durations for these tests (run them once first)",
              file=sys.stderr)
        return EXIT_USAGE
    rows = []
    dispatch = dispatch_seconds(args.coordinator_rate, args.broker_rate)
    for w in args.workers:
        row = {"workers": w}
        row.update(simulate(walls, w, args.jobs_per_worker, args.overhead, policies, order, dispatch))
        rows.append(row)
    if args.format == "json":
        json.dump({"source": source, "tests": len(walls), "total": sum(walls.values()),
                   "jobs_per_worker": args.jobs_per_worker, "overhead": args.overhead,
                   "coordinator_rate": args.coordinator_rate, "broker_rate": args.broker_rate, "rows": rows},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print("Predicted makespan (%s, %.0f s of tests, %d per machine; queue: %g s of a slot per test, "
          "at most %s tests/s through the coordinator):"
          % (source, sum(walls.values()), args.jobs_per_worker, args.overhead,
             "%.0f" % (1.0 / dispatch) if dispatch else "unlimited"))
    columns = policies + ["bound"]
    print("%8s  " % "workers" + "  ".join("%10s" % c for c in columns))
    for row in rows:
        print("%8d  " % row["workers"] + "  ".join("%10s" % _seconds(row[c]) for c in columns))
    return 0


def _seconds(s):
    if s >= 3600:
        return "%.1fh" % (s / 3600)
    if s >= 60:
        return "%.1fm" % (s / 60)
    return "%.1fs" % s


if __name__ == "__main__":
    sys.exit(main())
