"""The run's mozlog logger: the ``--reporter`` on stdout plus every
``--log-*`` option, through mozlog's own ``commandline.setup_logging``.

mozlog makes one formatter per format and shares it between all the
streams of that format (``-r tap --log-tap FILE``, ``--log-tbpl a --log-tbpl
b``). A formatter with state of its own (the TAP formatter numbers its
points and plans them; the TBPL formatter keeps each test's start time)
would then count every event once per stream: ``ok 2``, ``ok 4``, ``1..4``
for two tests. Here each stream gets its own formatter: the first stream
of each format through ``setup_logging``, every other one through
mozlog's ``setup_handlers`` with the same formatter options.
"""

import sys

# --reporter NAME -> the mozlog formatter that writes stdout ("mach" is
# ours, reporting/live.py, added by RunReporters).
REPORTERS = {"json-stream": "raw", "tbpl": "tbpl", "tap": "tap", "mach": "mach"}


def setup_logger(options, reporter="mach"):
    """A StructuredLogger for ``options`` (the parsed ``--log-*`` options,
    as mozlog reads them) with ``reporter`` on stdout."""
    from mozlog import commandline

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
    return logger


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
