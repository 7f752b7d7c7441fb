"""The run's mozlog logger: the ``--reporter`` on stdout plus every
``--log-*`` option, through mozlog's own ``commandline.setup_logging``.

A formatter option (``--log-tbpl-compact``, ``--log-mach-verbose``...) needs
its formatter to be writing somewhere, else mozlog refuses it with a
traceback. ``split_log_options`` decides up front: an option of the mach
formatter, when our live view is the mach output on stdout, is the live
view's (``--log-mach-verbose`` is ``-v``, ``--log-mach-level`` its log
level); an option of a formatter that writes nowhere is a usage error
naming it.
"""

import copy
import sys

from ..errors import UsageError

# --reporter NAME -> the mozlog formatter that writes stdout ("mach" is
# ours, reporting/live.py, added by RunReporters).
REPORTERS = {"json-stream": "raw", "tbpl": "tbpl", "tap": "tap", "mach": "mach"}


def register_formatters(log_formatters):
    """Ours in mozlog's table of ``--log-NAME`` formatters (``commandline.
    log_formatters``, from which mozlog builds the options): ``tap``
    added; ``tbpl``, ``unittest`` and ``html`` replaced by subclasses that
    read a parallel run (tbpl_formatter.py, mozlog_formatters.py)."""
    from .mozlog_formatters import HTMLFormatter, UnittestFormatter
    from .tap_formatter import TapFormatter
    from .tbpl_formatter import TbplFormatter

    log_formatters.setdefault("tap", (TapFormatter, "TAP output (provided by mozparallel)"))
    for name, ours in (("tbpl", TbplFormatter), ("unittest", UnittestFormatter), ("html", HTMLFormatter)):
        theirs = log_formatters.get(name)
        if theirs is not None and not issubclass(theirs[0], ours):
            log_formatters[name] = (ours, theirs[1])


def _stdout(value):
    return value is sys.stdout or value == "-" or getattr(value, "name", None) == "<stdout>"


def writing_formatters(log_options, reporter="mach"):
    """Names of the mozlog formatters that will write: each ``--log-NAME``
    given, plus the reporter's on stdout unless a ``--log-NAME -`` took
    stdout (mozlog's ``setup_logging`` rule for its defaults). The mach
    reporter is our live view, not a mozlog formatter: not in the set."""
    given = {}
    for name, values in log_options.items():
        parts = name.split("_")
        # (--log-subtests is log_subtests too, a string: not a format's streams)
        if len(parts) == 2 and parts[0] == "log" and isinstance(values, list) and values:
            given[parts[1]] = values
    names = set(given)
    stdout_taken = any(_stdout(v) for values in given.values() for v in values)
    fmt = REPORTERS.get(reporter or "mach")
    if fmt != "mach" and not stdout_taken:
        names.add(fmt)
    return names, stdout_taken


def split_log_options(log_options, reporter="mach"):
    """``(for_mozlog, for_live_view)``: the ``--log-*`` options as mozlog's
    ``setup_logging`` takes them, and the mach formatter's options that the
    live view takes instead (``{"verbose": True, "level": "debug"}``).
    UsageError for an option of a formatter that writes nowhere."""
    writing, stdout_taken = writing_formatters(log_options, reporter)
    live_view = (reporter or "mach") == "mach" and not stdout_taken
    for_mozlog, for_live = {}, {}
    for name, value in log_options.items():
        parts = name.split("_")
        if len(parts) != 3 or parts[0] != "log" or value is None:
            for_mozlog[name] = value
            continue
        fmt, option = parts[1], parts[2]
        if fmt in writing:
            for_mozlog[name] = value
        elif fmt == "mach" and live_view:
            for_live[option] = value
        else:
            flag = "--log-%s-%s" % (fmt, option)
            hint = " or -r %s" % _reporter_of(fmt) if _reporter_of(fmt) else ""
            raise UsageError("%s: no %s output to apply it to (add --log-%s FILE%s)" % (
                flag, fmt, fmt, hint))
    return for_mozlog, for_live


def _reporter_of(fmt):
    return next((r for r, f in REPORTERS.items() if f == fmt and r != "mach"), None)


def setup_logger(options, reporter="mach"):
    """A StructuredLogger for ``options`` (the parsed ``--log-*`` options,
    as mozlog reads them, through ``split_log_options``) with ``reporter``
    on stdout. TBPL on stdout ends with mozlog's failure summary (as
    ``./mach test`` sets it up); a TBPL file does not, so a log parser
    counts each failure once."""
    from mozlog import commandline
    from mozlog.handlers import LogLevelFilter, StreamHandler
    from mozlog.formatters import TbplFormatter

    fmt = REPORTERS[reporter or "mach"]
    defaults = {} if fmt == "mach" else {fmt: sys.stdout}
    logger = commandline.setup_logging("mozparallel", options, defaults=defaults)
    seen = set()
    for handler in logger.handlers:
        while not isinstance(handler, StreamHandler) and hasattr(handler, "inner"):
            handler = handler.inner         # --log-X-buffer's BufferHandler
        if not isinstance(handler, StreamHandler):
            continue
        # mozlog gives the streams of one format one formatter (-r tbpl and
        # --log-tbpl FILE): each stream gets its own, a formatter that
        # keeps state (held blocks, counts, a summary) sees each event once.
        if id(handler.formatter) in seen:
            try:
                handler.formatter = copy.deepcopy(handler.formatter)
            except TypeError:
                pass        # mach's (it holds its terminal): stays shared, as mozlog has it
        seen.add(id(handler.formatter))
        if _stdout(handler.stream):
            formatter = handler.formatter
            while isinstance(formatter, LogLevelFilter):
                formatter = formatter.inner
            if isinstance(formatter, TbplFormatter):
                formatter.summary_on_shutdown = True
    return logger
