"""The runtimes JSON mozilla-central keeps for chunking (``{"path/to/test":
seconds}``): written from the history (``paralleltest runtimes --export
FILE``) and read back (``--runtimes FILE``) so a machine with no history of
its own can still order and chunk by duration.

``known_durations`` is what a scheduler asks: history first, the file for
the tests history does not know.
"""

import json
import os
import sys

from .selection import InputError

EXPORT_RUNS = 50        # runs looked at for the exported medians


def load_runtimes(path):
    """The file as {test: seconds}; InputError naming it when it is not one."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise InputError("cannot read runtimes file %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise InputError("runtimes file %s is not JSON: %s" % (path, e))
    if not isinstance(data, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in data.values()):
        raise InputError('runtimes file %s is not {"path/to/test": seconds, ...}' % path)
    return {str(k): float(v) for k, v in data.items()}


def match_runtimes(runtimes, tests):
    """{test id: seconds} for ``tests`` (pairs of id and path): a key is the
    id itself or the end of the path (keys are relative to topsrcdir)."""
    out = {}
    for test_id, path in tests:
        if test_id in runtimes:
            out[test_id] = runtimes[test_id]
            continue
        norm = (path or "").replace(os.sep, "/")
        for key, seconds in runtimes.items():
            if norm.endswith("/" + key.lstrip("/")):
                out[test_id] = seconds
                break
    return out


def known_durations(store, tests, command=None, runtimes=None):
    """Expected seconds of ``tests`` (pairs of id and path): the store's
    median of recent runs, else the runtimes file."""
    tests = list(tests)
    known = match_runtimes(runtimes, tests) if runtimes else {}
    if store is not None:
        known.update(store.durations([t for t, _ in tests], command))
    return known


def export_runtimes(store, command=None, runs=EXPORT_RUNS):
    results = store.recent_results(runs, command)
    tests = sorted({r.test for r in results})
    durations = store.durations(tests, command)
    return {test: round(seconds, 3) for test, seconds in sorted(durations.items())}


def build_parser(prog="paralleltest runtimes"):
    from .cli import _Parser, add_store_location_arguments

    parser = _Parser(prog=prog, description="Write the history's test durations as a runtimes JSON "
                                            "({\"path/to/test\": seconds}).")
    parser.add_argument("--export", required=True, metavar="FILE", help="write the JSON here ('-': stdout)")
    add_store_location_arguments(parser)
    parser.add_argument("--objdir", default=None, metavar="DIR",
                        help="where the default store lives (default: $MOZ_OBJDIR, else the current directory)")
    parser.add_argument("--command", default=None, metavar="CMD",
                        help="only durations of tests run by CMD ('' = run directly)")
    return parser


def main(argv=None, args=None):
    from .store import StoreError, open_store

    if args is None:
        args = build_parser().parse_args(argv)
    options = vars(args)
    try:
        store = open_store(options, os.environ.get("MOZ_OBJDIR"),
                           warn=lambda text: print("paralleltest: warning: " + text, file=sys.stderr))
        if store is None:
            raise StoreError("--store none keeps no history to export")
        try:
            data = export_runtimes(store, args.command)
        finally:
            store.close()
    except StoreError as e:
        print("paralleltest: error: %s" % e, file=sys.stderr)
        return 2
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if args.export == "-":
        sys.stdout.write(text)
        return 0
    try:
        with open(args.export, "w") as f:
            f.write(text)
    except OSError as e:
        print("paralleltest: error: cannot write %s: %s" % (args.export, e.strerror), file=sys.stderr)
        return 2
    print("paralleltest: %d test durations written to %s" % (len(data), args.export), file=sys.stderr)
    return 0
