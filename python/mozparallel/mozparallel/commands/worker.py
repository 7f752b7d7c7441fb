"""``paralleltest worker --broker redis://HOST:PORT/DB [-j N]``: run the
tests a coordinator (``paralleltest --broker URL ...``) sends
(distributed/worker.py). Tests are addressed by path relative to the
source root (``--root``, default the current directory): every worker runs
the same checkout or image, wherever it lives.
"""

import os
import sys

from ..errors import EXIT_USAGE
from ..options import Parser, jobs_arg


def build_parser(prog="paralleltest worker"):
    parser = Parser(prog=prog,
                     description="Run the tests a coordinator (paralleltest --broker URL ...) sends.")
    parser.add_argument("--broker", required=True, metavar="URL",
                        help="the Redis broker, redis://[:PASSWORD@]HOST:PORT/DB")
    parser.add_argument("-j", "--jobs", type=jobs_arg, default=None,
                        help="tests to run at once (default: the number of CPUs)")
    parser.add_argument("--root", default=None, metavar="DIR",
                        help="the source root test paths are relative to (default: the current directory)")
    parser.add_argument("--name", default=None, metavar="NAME",
                        help="the worker's name, unique on the broker (default: mozparallel-PID@HOSTNAME)")
    parser.add_argument("--loglevel", default="WARNING", help="Celery's log level (default WARNING)")
    return parser


def main(argv=None, args=None):
    from . import broker_error

    if args is None:
        args = build_parser().parse_args(argv)
    failed = broker_error("worker", args.broker, "distributed")
    if failed is not None:
        return failed
    root = os.path.abspath(args.root or os.getcwd())
    if not os.path.isdir(root):
        print("paralleltest worker: error: --root %s is not a directory" % root, file=sys.stderr)
        return EXIT_USAGE
    jobs = args.jobs if isinstance(args.jobs, int) else (os.cpu_count() or 1)
    from ..distributed.worker import start_worker

    start_worker(args.broker, root, jobs, args.name, args.loglevel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
