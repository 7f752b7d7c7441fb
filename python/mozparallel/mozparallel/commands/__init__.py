"""Subcommands of ``paralleltest`` (and ``mach parallel-test``): each
module has ``build_parser(prog)`` and ``main(argv=None, args=None)``
returning the exit status. They sit on top of the library, beside
``run.py``; nothing in the library imports them."""

import sys

from ..errors import EXIT_USAGE


def broker_error(command, url, extra):
    """None when ``--broker URL`` is usable (a well-formed Redis URL, the
    ``extra``'s packages installed), else the exit status after one line
    naming the problem."""
    from ..extras import MissingPackage, require
    from ..store.redis_store import check_url

    try:
        check_url(url)
        require(None, extra)
    except (ValueError, MissingPackage) as e:
        print("paralleltest %s: error: --broker: %s" % (command, e), file=sys.stderr)
        return EXIT_USAGE
    return None
