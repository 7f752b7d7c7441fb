"""Records one run in a store: the run (id, machine, J) at the start, each
result as the pool reports it (``on_result``, a contract.TestResult), the
outcome at the end. The store is the run's, opened once by run.py and
closed by it; a follow-up round (flaky/) records through its own Recorder
on the same store.

The run's command line is stored without its credentials (redact.py).
A store that fails is reported once through ``warn`` and the run carries
on without it: history is never a reason for a test run to fail.
"""

import os
import shlex
import socket
import sys
import time

from ..redact import redact_argv
from .records import ResultRecord, RunRecord
from .sqlite_store import StoreError


def new_run_id(now=None):
    """Sortable and unique enough across machines: 20250131-142501-3fa2c1."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    # What secrets.token_hex(3) returns, without importing secrets (it loads
    # OpenSSL through hmac: about 3 ms a run).
    return "%s-%s" % (stamp, os.urandom(3).hex())


def command_of(spec):
    """What ran the test, without the test itself ("" = the file was run),
    credentials masked (redact.py: the same command masks the same way,
    so its history still matches)."""
    argv = list(spec.argv)
    if argv and spec.is_path_arg(argv[-1]):
        argv.pop()
    return shlex.join(redact_argv(argv))


def machine():
    """Cores and memory of this machine, for comparing runs across machines."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")     # what psutil reports as total
    except (OSError, ValueError):
        memory = 0
    return {"cores": os.cpu_count() or 0, "memory": memory, "hostname": socket.gethostname()}


class Recorder:
    def __init__(self, store, run_id=None, warn=None, kind="", parent_run=None):
        self.store = store
        self.run_id = run_id or new_run_id()
        self.kind = kind                # a follow-up round: see RunRecord.kind
        self.parent_run = parent_run
        self.warn = warn or (lambda text: print("paralleltest: warning: " + text, file=sys.stderr))
        self.started_wall = time.time()
        self.started = time.monotonic()
        self.recorded = 0
        self.run_recorded = False       # the run's start is in the store: --resume can carry it on

    @property
    def where(self):
        """Where this run is being recorded (never holds a password); None
        once the store has failed. A remote store that failed at the start
        (a wrong password) is no longer named: the local file is."""
        return self.store.description if self.store is not None else None

    def start(self, jobs, mozinfo, argv=None):
        info = machine()
        run = RunRecord(run_id=self.run_id, started=self.started_wall, jobs=jobs, mozinfo=dict(mozinfo or {}),
                        argv=redact_argv(sys.argv if argv is None else argv), kind=self.kind,
                        parent_run=self.parent_run, **info)
        self.run_recorded = self._call("record_run_start", run)

    def on_result(self, result):
        """One finished test (a contract.TestResult with a complete result)."""
        extra = result.extra
        started = result.started
        end_offset = time.monotonic() - self.started
        record = ResultRecord(
            test=result.id, command=command_of(result.spec),
            status=result.final_status, expected=result.expected,
            wall=extra.get("wall"), cpu_user=extra.get("cpu_user"), cpu_system=extra.get("cpu_system"),
            peak_rss_kb=extra.get("peak_rss_kb"), maxrss_kb=extra.get("maxrss_kb"),
            processes=extra.get("processes"), slot=extra.get("slot"),
            start_offset=round(started - self.started, 6) if started is not None else None,
            end_offset=round(end_offset, 6),
        )
        if self._call("record_result", self.run_id, record):
            self.recorded += 1

    def end(self, status):
        self._call("record_run_end", self.run_id, time.time(), status)

    def _call(self, name, *args):
        if self.store is None:
            return False
        try:
            getattr(self.store, name)(*args)
            return True
        except StoreError as e:
            self.warn("%s; not recording this run any further" % e)
            self.store = None
            return False
