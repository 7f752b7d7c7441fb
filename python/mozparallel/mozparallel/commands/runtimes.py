"""``paralleltest runtimes --export FILE``: the history's test durations as
the runtimes JSON mozilla-central keeps for chunking (``{"path/to/test":
seconds}``). Reading one back (``--runtimes``) is schedule/runtimes_file.py.
"""

import json
import os
import sys

EXPORT_RUNS = 50        # runs looked at for the exported medians


def export_runtimes(store, command=None, runs=EXPORT_RUNS):
    results = store.recent_results(runs, command)
    tests = sorted({r.test for r in results})
    durations = store.durations(tests, command)
    return {test: round(seconds, 3) for test, seconds in sorted(durations.items())}


def build_parser(prog="paralleltest runtimes"):
    from ..options import Parser, add_store_location_arguments, objdir_arg

    parser = Parser(prog=prog, description="Write the history's test durations as a runtimes JSON "
                                            "({\"path/to/test\": seconds}).")
    parser.add_argument("--export", required=True, metavar="FILE", help="write the JSON here ('-': stdout)")
    add_store_location_arguments(parser)
    parser.add_argument("--objdir", type=objdir_arg, default=None, metavar="DIR",
                        help="where the default store lives (default: $MOZ_OBJDIR, else the current directory)")
    parser.add_argument("--command", default=None, metavar="CMD",
                        help="only durations of tests run by CMD ('' = run directly)")
    return parser


def main(argv=None, args=None):
    from ..settings import store_location
    from ..store import StoreError, open_store

    if args is None:
        args = build_parser().parse_args(argv)
    options = vars(args)
    try:
        store = open_store(store_location(options, os.environ.get("MOZ_OBJDIR")),
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
