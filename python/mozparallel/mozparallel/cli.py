"""The command line's dispatch, for ``paralleltest``, ``python -m
mozparallel`` and ``mach parallel-test``: parse (options.py), then hand the
run to run.py or a subcommand to commands/. Nothing imports this module;
bad input ends with one line naming it and exit status 2."""

import os
import sys

from .errors import EXIT_INTERRUPTED, EXIT_USAGE, UsageError

# ``paralleltest NAME ...``: a subcommand instead of a run, as "module:function"
# taking the remaining argv and returning the exit status. (A test file
# named like one is run as ./NAME.)
SUBCOMMANDS = {
    "history": "mozparallel.commands.history:main",
    "runtimes": "mozparallel.commands.runtimes:main",
    "plan": "mozparallel.commands.plan:main",
    "merge": "mozparallel.commands.merge:main",
    "worker": "mozparallel.commands.worker:main",
    "cancel": "mozparallel.commands.cancel:main",
    "simulate": "mozparallel.commands.simulate:main",
    "bisect": "mozparallel.commands.bisect:main",
    "annotate": "mozparallel.commands.annotate:main",
}


def build_parser(prog="paralleltest"):
    import argparse

    from .options import build_parser

    parser = build_parser(prog=prog)
    # The standalone command's --help ends with the subcommands; mach lists
    # them itself ("Sub Commands:" in its help).
    if not prog.startswith("mach"):
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.late_epilog = lambda: subcommands_epilog(prog)
    return parser


def subcommands_epilog(prog):
    """SUBCOMMANDS with the first sentence of each one's description."""
    import textwrap

    width = max(len(name) for name in SUBCOMMANDS) + 4
    lines = ["subcommands (%s NAME --help for the options of each):" % prog]
    for name in SUBCOMMANDS:
        module, _ = _subcommand_main(name)
        text = " ".join((module.build_parser(prog=prog + " " + name).description or "").split())
        first = text.split(". ", 1)[0].rstrip(".") + "."
        lines += textwrap.wrap(first, 78, initial_indent="  " + name.ljust(width - 2),
                               subsequent_indent=" " * width)
    return "\n".join(lines)


def run_from_args(args, topobjdir=None):
    """Run with an argparse namespace or a dict of parsed options (what mach
    hands to a command). Returns the exit status."""
    import argparse

    from .run import run

    options = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    try:
        if options.get("history"):
            from .commands.history import show_history
            return show_history(options, topobjdir=topobjdir)
        return run(options, topobjdir=topobjdir)
    except UsageError as e:
        print("paralleltest: error: %s" % e, file=sys.stderr)
        return EXIT_USAGE


def _subcommand_main(name):
    import importlib

    module, function = SUBCOMMANDS[name].split(":")
    module = importlib.import_module(module)
    return module, getattr(module, function)


def subcommand_parser(name, prog):
    """The parser of a subcommand (for ``mach parallel-test NAME --help``)."""
    module, _ = _subcommand_main(name)
    return module.build_parser(prog=prog)


def run_subcommand_parsed(name, options, topobjdir=None):
    """Run a subcommand with options already parsed (what mach hands over)."""
    import argparse

    options = dict(options)
    if topobjdir and "objdir" in options and not options["objdir"]:
        options["objdir"] = topobjdir
    _, main = _subcommand_main(name)
    return _usage_errors(name, main, args=argparse.Namespace(**options))


def run_subcommand(name, argv):
    _, main = _subcommand_main(name)
    return _usage_errors(name, main, argv)


def _usage_errors(name, main, *args, **kwargs):
    """``main(...)``; a UsageError it lets through (a Redis store from
    $MOZPARALLEL_STORE without its package, say) is one line and exit 2."""
    from .extras import MissingPackage

    try:
        return main(*args, **kwargs)
    except MissingPackage as e:
        print("paralleltest %s: error: %s" % (name, e), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as e:
        print("paralleltest: error: %s" % e, file=sys.stderr)
        return EXIT_USAGE


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if sys.stdout is None:      # started with stdout closed (``>&-``): Python has no stream to report on
        if sys.stderr is not None:
            print("paralleltest: error: standard output is closed; redirect it (e.g. >/dev/null) "
                  "and use --log-raw FILE for the results", file=sys.stderr)
        return EXIT_USAGE
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return run_subcommand(argv[0], argv[1:])
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except OSError as e:  # a file an option opens while parsing (the --log-* ones name theirs)
            print("paralleltest: error: cannot open %s: %s" % (e.filename, e.strerror or e), file=sys.stderr)
            return EXIT_USAGE
        # No TEST: the manifests under the current directory (selection/resolve.py).
        return run_from_args(args, topobjdir=os.environ.get("MOZ_OBJDIR"))
    except KeyboardInterrupt:
        # ^C while the runner starts (its handlers, interrupt.py, are not in
        # place yet): no test has started, so nothing is lost.
        print("paralleltest: interrupted while starting", file=sys.stderr)
        return EXIT_INTERRUPTED


def console_main():
    """The standalone entry point (``paralleltest``, ``python -m
    mozparallel``): ``main()``, then the end of the process without the
    interpreter's teardown.

    Tearing the interpreter down (freeing every module and object one by
    one) took 20-28 ms after each run on a 2-core machine, for nothing: from
    main() returning to the parent seeing the exit, a median of 22 ms with
    ``sys.exit``, 3 ms with ``os._exit`` (one-test TAP run, 20 runs each).
    Everything a run writes is complete by then: run.py shuts the mozlog
    handlers down and the recorder closes the store. So once stdout and
    stderr are flushed and the atexit callbacks have run, ``os._exit``
    loses nothing. A live non-daemon thread (the interpreter would wait for
    it) or a stream that cannot be flushed (a closed pipe) takes the
    ordinary exit instead. Never in ``main()`` itself: mach calls it, and
    ``run_from_args``, in-process.
    """
    import atexit
    import threading

    status = main()
    if status is None:
        status = 0
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if not isinstance(status, int) or others or not _flushed():
        sys.exit(status)
    atexit._run_exitfuncs()
    if not _flushed():
        sys.exit(status)
    os._exit(status)


def _flushed():
    """Flush stdout and stderr; False if one of them cannot be written."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return False
    return True
