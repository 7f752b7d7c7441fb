"""Ctrl-C, SIGTERM and SIGHUP (the terminal closed) during a run: the
first stops it gracefully (nothing new starts, running tests are ended with
--kill-grace), a second ends the running tests at once; afterwards, the
exit status (130, 143 or 129) and the command that carries the run on.
"""

import os
import shlex
import signal
import sys

from .errors import EXIT_SIGNAL as EXIT_STATUS
from .redact import has_url_password, redact_argv


class Interrupts:
    """The run's SIGINT/SIGTERM/SIGHUP handlers; ``stop(reason, hard)`` is the
    pool's (or the rounds') stop, safe to call from a handler."""

    def __init__(self, stop, end_running=None):
        """``end_running(reason)``: with --keep-going, what a first Ctrl-C
        does instead of stopping (ends the tests running now only)."""
        self.stop = stop
        self.end_running = end_running
        self.received = []          # signal numbers that stop the run, in order
        self.kept_going = 0         # Ctrl-Cs that only ended the running tests
        self._previous = {}

    def install(self):
        for sig in EXIT_STATUS:
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _on_signal(self, signum, frame):
        if signum == signal.SIGINT and self.end_running is not None and not self.kept_going \
                and not self.received:
            self.kept_going += 1
            self.end_running("killed by SIGINT (--keep-going: the run goes on; Ctrl-C again stops it)")
            return
        self.received.append(signum)
        name = signal.Signals(signum).name
        if len(self.received) == 1:
            self.stop("interrupted by %s" % name, hard=False)
        else:
            self.stop("interrupted by %s again" % name, hard=True)

    @property
    def exit_status(self):
        return EXIT_STATUS.get(self.received[0], 130) if self.received else None


def command_words(argv=None):
    """How the user started us: (program words, its arguments)."""
    argv = list(sys.argv if argv is None else argv)
    name = os.path.basename(argv[0]) if argv else "paralleltest"
    if name == "mach" and len(argv) > 1:
        return argv[:2], argv[2:]
    if name in ("__main__.py", "mozparallel") or not argv:
        return ["paralleltest"], argv[1:]
    return [argv[0]], argv[1:]


def resume_hint(run_id, stored, unfinished, total, argv=None):
    """The lines printed after an interrupted run. With a store, the same
    command plus ``--resume RUN_ID``; without, the unfinished files.
    Credentials are never printed (redact.py): a password in a URL is left
    out, and the hint says where the command can find it instead."""
    words, args = command_words(argv)
    head = "paralleltest: run %s interrupted: %d of %d tests did not finish" % (run_id, len(unfinished), total)
    if not unfinished:
        return head
    if stored:
        args = _without_option(args, "--resume")
        hint = "%s; rerun the tests that did not finish with:\n  %s" % (
            head, shlex.join(redact_argv(words + args, drop_url_passwords=True) + ["--resume", run_id]))
        if has_url_password(args):
            hint += ("\n  (the password in a URL is not shown: set $MOZPARALLEL_REDIS_PASSWORD "
                     "or put it back in the URL)")
        return hint
    return "%s (no history store, so no --resume); rerun them with your options and:\n  %s" % (
        head, shlex.join(words + [spec.path or spec.id for spec in unfinished]))


def _without_option(args, name):
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            out.append(arg)
    return out
