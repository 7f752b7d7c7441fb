"""The runner's one error type for bad input, and its exit statuses.

Every module that rejects what the user gave (an option, a manifest, a
mozinfo file, a store URL) raises ``UsageError`` with one line naming the
input; the command line prints it and exits ``EXIT_USAGE``. Nothing here
imports any other module of the package: every layer may use it.
"""

import signal

EXIT_OK = 0
EXIT_UNEXPECTED = 1         # some result was unexpected
EXIT_USAGE = 2              # bad input (argparse's convention)
EXIT_LOG_LOST = 3           # every result as expected, but a --log-* file could not be written
EXIT_INTERRUPTED = 130      # 128 + SIGINT
# A run ended by a signal exits 128 + its number, as a shell reports it.
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


class UsageError(Exception):
    """Bad input from the user: the message names it. Exit status 2."""


# Selection's historical name for the same thing (a file, directory or
# manifest that cannot be used); one type, so one handler catches both.
InputError = UsageError
