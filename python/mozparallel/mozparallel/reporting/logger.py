"""The run's mozlog logger: the ``--reporter`` on stdout plus every
``--log-*`` option, through mozlog's own ``commandline.setup_logging``."""

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
    return commandline.setup_logging("mozparallel", options, defaults=defaults)
