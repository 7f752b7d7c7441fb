"""Records one run in a store: the run (id, machine, J) at the start, each
result as the pool reports it (``on_result``), the outcome at the end.

A store that fails is reported once through ``warn`` and the run carries
on without it: history is never a reason for a test run to fail.
"""

import os
import shlex
import socket
import sys
import time

from .records import ResultRecord, RunRecord
from .sqlite_store import StoreError


def new_run_id(now=None):
    """Sortable and unique enough across machines: 20250131-142501-3fa2c1."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    # What secrets.token_hex(3) returns, without importing secrets (it loads
    # OpenSSL through hmac: about 3 ms a run).
    return "%s-%s" % (stamp, os.urandom(3).hex())


def command_of(spec):
    """What ran the test, without the test itself ("" = the file was run)."""
    argv = list(spec.argv)
    if argv and spec.is_path_arg(argv[-1]):
        argv.pop()
    return shlex.join(argv)


def machine():
    """Cores and memory of this machine, for comparing runs across machines."""
    try:
        import psutil
        memory = psutil.virtual_memory().total
    except Exception:   # psutil missing or /proc unreadable: still record the run
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
        self.where = getattr(store, "description", None)     # never holds a password

    def start(self, jobs, mozinfo, argv=None):
        info = machine()
        run = RunRecord(run_id=self.run_id, started=self.started_wall, jobs=jobs, mozinfo=dict(mozinfo or {}),
                        argv=list(sys.argv if argv is None else argv), kind=self.kind,
                        parent_run=self.parent_run, **info)
        self._call("record_run_start", run)

    def on_result(self, spec, end, running):
        """The pool's on_result: one finished test."""
        extra = end.get("extra") or {}
        started = getattr(running, "started", None)
        end_offset = time.monotonic() - self.started
        result = ResultRecord(
            test=spec.id, command=command_of(spec),
            status=end.get("status", ""), expected=end.get("expected") or end.get("status", ""),
            wall=extra.get("wall"), cpu_user=extra.get("cpu_user"), cpu_system=extra.get("cpu_system"),
            peak_rss_kb=extra.get("peak_rss_kb"), maxrss_kb=extra.get("maxrss_kb"),
            processes=extra.get("processes"), slot=extra.get("slot"),
            start_offset=round(started - self.started, 6) if started is not None else None,
            end_offset=round(end_offset, 6),
        )
        if self._call("record_result", self.run_id, result):
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
            self._close()
            return False

    def close(self):
        self._close()

    def _close(self):
        store, self.store = self.store, None
        if store is not None:
            try:
                store.close()
            except StoreError:
                pass


def start_recording(options, topobjdir, warn, kind="", parent_run=None):
    """A Recorder for this run (or a follow-up round of ``parent_run``);
    without a store (and one warning) when the store cannot be opened."""
    from . import open_store

    try:
        store = open_store(options, topobjdir, warn=warn)
    except StoreError as e:
        warn("%s; this run is not recorded" % e)
        store = None
    return Recorder(store, warn=warn, kind=kind, parent_run=parent_run)
