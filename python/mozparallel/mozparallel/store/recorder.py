"""Records one run in a store: the run (id, machine, J) at the start, each
result as the pool reports it (``on_result``, a contract.TestResult), the
outcome at the end. The store is the run's, opened once by run.py and
closed by it; a follow-up round (flaky/) records through its own Recorder
on the same store.

The run's command line is stored without its credentials (redact.py).
A store that fails is reported once through ``warn`` and the run carries
on without it: history is never a reason for a test run to fail.

A store that another process holds locked (StoreBusy: a write waited its
short while, sqlite_store.WRITE_WAIT) is not a failure: the record is kept
in memory, in order with those after it, and written at a later result
(tried again at most every RETRY_INTERVAL, so a lock held for minutes costs
the pool's event loop a few ms a second, not a stall) and at the end, which
waits up to END_WAIT for the lock; what is still unwritten then is one
warning saying how many results were not recorded.
"""

import os
import shlex
import socket
import sys
import time

from collections import deque

from ..redact import redact_argv
from .records import ResultRecord, RunRecord
from .sqlite_store import StoreBusy, StoreError

RETRY_INTERVAL = 0.5    # seconds between tries of a locked store during the run
END_WAIT = 5.0          # seconds the end of a run waits for a locked store


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
        self.pending = deque()          # (method, args) a locked store did not take yet, in order
        self._retry_at = 0.0
        self._busy_text = ""

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
        self._call("record_run_start", run)

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
        self._call("record_result", self.run_id, record)

    def end(self, status):
        """The run's outcome; first what a locked store has not taken yet
        (waiting up to END_WAIT for it)."""
        self._call("record_run_end", self.run_id, time.time(), status, wait=END_WAIT)
        if self.pending and self.store is not None:
            results = sum(name == "record_result" for name, _ in self.pending)
            self.warn("%s after waiting %gs: %d result(s) of run %s not recorded%s"
                      % (self._busy_text, END_WAIT, results, self.run_id,
                         "" if self.run_recorded else " (nor the run itself)"))
            self.pending.clear()
            self.store = None

    def _call(self, name, *args, wait=None):
        if self.store is None:
            return
        self.pending.append((name, args))
        self._write_pending(wait)

    def _write_pending(self, wait=None):
        """Write what is pending, oldest first. While the store is locked,
        try once per RETRY_INTERVAL (``wait``: keep trying for that long)."""
        now = time.monotonic()
        if wait is None and now < self._retry_at:
            return
        deadline = now + (wait or 0.0)
        pending = self.pending
        while pending:
            name, args = pending[0]
            try:
                getattr(self.store, name)(*args)
            except StoreBusy as e:
                self._busy_text = str(e)
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                self._retry_at = time.monotonic() + RETRY_INTERVAL
                return
            except StoreError as e:
                self.warn("%s; not recording this run any further" % e)
                self.store = None
                pending.clear()
                return
            pending.popleft()
            if name == "record_result":
                self.recorded += 1
            elif name == "record_run_start":
                self.run_recorded = True
        self._retry_at = 0.0
