"""The run's mozlog logger: the ``--reporter`` on stdout plus every
``--log-*`` option, through mozlog's own ``commandline.setup_logging``.

mozlog makes one formatter per format and shares it between all the
streams of that format (``-r tap --log-tap FILE``, ``--log-tbpl a --log-tbpl
b``). A formatter with state of its own (the TAP formatter numbers its
points and plans them; the TBPL formatter holds each test's lines) would
then count every event once per stream: ``ok 2``, ``ok 4``, ``1..4`` for
two tests. Here each stream gets its own formatter: the first stream of
each format through ``setup_logging``, every other one through mozlog's
``setup_handlers`` with the same formatter options.

A formatter option (``--log-tbpl-compact``, ``--log-mach-verbose``...) needs
its formatter to be writing somewhere, else mozlog refuses it with a
traceback. ``split_log_options`` decides up front: an option of the mach
formatter, when our live view is the mach output on stdout, is the live
view's (``--log-mach-verbose`` is ``-v``, ``--log-mach-level`` its log
level); an option of a formatter that writes nowhere is a usage error
naming it.
"""

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

    _check_levels(options)
    fmt = REPORTERS[reporter or "mach"]
    defaults = {} if fmt == "mach" else {fmt: sys.stdout}
    options, more = _one_stream_per_format(options, commandline.log_formatters)
    streams = _streams(options, commandline.log_formatters)
    if defaults and fmt in streams and not any(v is sys.stdout for vs in streams.values() for v in vs):
        # mozlog would add the reporter's stdout to the streams of the
        # --log-<fmt> option given too, sharing its formatter.
        more.append((fmt, sys.stdout))
        defaults = {}
    logger = commandline.setup_logging("mozparallel", options, defaults=defaults)
    for name, stream in more:
        if isinstance(stream, str):
            stream = open_log_file(stream)
        commandline.setup_handlers(logger, {name: [stream]}, {name: _formatter_options(options, name)})
    _summary_on_stdout(logger)
    return logger


def _check_levels(options):
    """``--log-NAME-level`` must name a mozlog level (mozlog itself raises a
    KeyError deep in its set-up)."""
    from mozlog.structuredlog import log_levels

    from ..errors import UsageError

    for key, value in options.items():
        if key.startswith("log_") and key.endswith("_level") and value is not None \
                and str(value).upper() not in log_levels:
            raise UsageError("--%s: not a log level: %r (choose from %s)" % (
                key.replace("_", "-"), value, ", ".join(sorted(log_levels))))


def _summary_on_stdout(logger):
    """TBPL on stdout ends with its summary of unexpected results, as
    ``./mach test`` sets up mozlog's formatters on stdout; a file does not."""
    from mozlog.formatters import TbplFormatter
    from mozlog.handlers import LogLevelFilter, StreamHandler

    for handler in logger.handlers:
        while not isinstance(handler, StreamHandler) and hasattr(handler, "inner"):
            handler = handler.inner         # --log-X-buffer's BufferHandler
        if isinstance(handler, StreamHandler) and _stdout(handler.stream):
            formatter = handler.formatter
            while isinstance(formatter, LogLevelFilter):
                formatter = formatter.inner
            if isinstance(formatter, TbplFormatter):
                formatter.summary_on_shutdown = True


def open_log_file(name):
    """A ``--log-FORMAT`` file opened for writing ("-": stdout). Unlike
    mozlog's ``log_file``, a missing directory is an error (never created):
    raises OSError naming the file."""
    if name == "-":
        return sys.stdout
    return open(name, "w")


def _streams(options, formats):
    """{format: [streams]} of the ``--log-FORMAT`` options."""
    out = {}
    for key, values in options.items():
        parts = key.split("_")
        if len(parts) == 2 and parts[0] == "log" and parts[1] in formats and values:
            out[parts[1]] = list(values)
    return out


def _one_stream_per_format(options, formats):
    """(options with only the first stream of each ``--log-FORMAT``, the
    other (format, stream) pairs)."""
    options = dict(options)
    more = []
    for name, values in _streams(options, formats).items():
        if len(values) > 1:
            options["log_" + name] = values[:1]
            more.extend((name, v) for v in values[1:])
    return options, more


def _formatter_options(options, name):
    """The formatter options of ``--log-NAME-OPTION`` as setup_logging
    builds them."""
    from mozlog.commandline import default_formatter_options

    out = default_formatter_options(name, None)
    prefix = "log_%s_" % name
    for key, value in options.items():
        if key.startswith(prefix) and value is not None and len(key.split("_")) == 3:
            out[key[len(prefix):]] = value
    if options.get("valgrind") is not None:
        out["valgrind"] = True
    return out
