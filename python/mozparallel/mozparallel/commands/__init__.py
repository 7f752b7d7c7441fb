"""Subcommands of ``paralleltest`` (and ``mach parallel-test``): each
module has ``build_parser(prog)`` and ``main(argv=None, args=None)``
returning the exit status. They sit on top of the library, beside
``run.py``; nothing in the library imports them."""
