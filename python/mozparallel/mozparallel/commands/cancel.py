"""``paralleltest cancel RUN_ID --broker URL``: cancel a fleet run from
anywhere (distributed/cancel.py): its queued tests are dropped and its
running tests end on every worker within seconds."""

import sys

from ..errors import EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE
from ..options import Parser


def build_parser(prog="paralleltest cancel"):
    parser = Parser(prog=prog, description="Cancel a run on the fleet (--broker): drop its queued tests and "
                                            "end its running tests on every worker.")
    parser.add_argument("run_id", metavar="RUN_ID", help="the run's id (printed at its start)")
    parser.add_argument("--broker", required=True, metavar="URL",
                        help="the Redis broker of the run, redis://[:PASSWORD@]HOST:PORT/DB")
    return parser


def main(argv=None, args=None):
    from ..store.redis_store import describe
    from . import broker_error

    if args is None:
        args = build_parser().parse_args(argv)
    failed = broker_error("cancel", args.broker, "redis")
    if failed is not None:
        return failed
    import redis

    from ..distributed.cancel import UnknownRun, cancel_run

    try:
        dropped, running, left = cancel_run(args.broker, args.run_id)
    except UnknownRun:
        print("paralleltest cancel: error: no run %s on %s" % (args.run_id, describe(args.broker)), file=sys.stderr)
        return EXIT_USAGE
    except redis.RedisError as e:
        print("paralleltest cancel: error: broker %s: %s" % (describe(args.broker), str(e).splitlines()[0]),
              file=sys.stderr)
        return EXIT_UNEXPECTED
    print("paralleltest cancel: run %s cancelled: %d queued tests dropped, %d running tests ended%s"
          % (args.run_id, dropped, running - left, "" if not left else " (%d still running)" % left))
    return EXIT_OK if not left else EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
