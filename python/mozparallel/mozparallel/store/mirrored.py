"""Local SQLite plus a remote (Redis) store: every record goes to the local
file first, then to the remote while it answers.

If the remote goes away mid-run, the caller is warned once and the run
carries on with the local file alone; a run the remote missed (in part or
whole) is copied to it by the next run that finds it reachable. Reads
prefer the remote (the shared history) and fall back to the local file.
"""

import dataclasses

from ..redact import redact_argv
from .sqlite_store import StoreError


class MirroredStore:
    def __init__(self, local, remote, warn):
        self.local = local
        self.remote = remote
        self.warn = warn            # callable(text), called at most once
        self._warned = False
        self._catching_up = []      # run ids copied to the remote this run

    @property
    def description(self):
        """Where records go: both stores, or the local one once the remote failed."""
        if self.remote.error is not None:
            return self.local.description
        return "%s (and %s)" % (self.remote.description, self.local.description)

    def _check(self):
        if self.remote.error is not None and not self._warned:
            self._warned = True
            self.warn("history store %s failed (%s); results of this run are kept in %s"
                      % (self.remote.description, self.remote.error, self.local.description))

    def record_run_start(self, run):
        self.local.record_run_start(run)
        if self.remote.ping():
            for old in self.local.unsynced_runs(self.remote.description):
                if old.run_id != run.run_id:
                    # (A run recorded by an older version may hold its argv in clear.)
                    old = dataclasses.replace(old, argv=redact_argv(old.argv))
                    self.remote.copy_run(old, self.local.results_of_run(old.run_id))
                    self._catching_up.append(old.run_id)
            self.remote.record_run_start(run)
        self._check()

    def record_result(self, run_id, result):
        self.local.record_result(run_id, result)
        self.remote.record_result(run_id, result)
        self._check()

    def record_run_end(self, run_id, ended, status):
        self.local.record_run_end(run_id, ended, status)
        self.remote.record_run_end(run_id, ended, status)
        if not self.remote.flush():
            self.remote.error = self.remote.error or "timed out writing"
        self._check()
        if self.remote.error is None:
            for rid in self._catching_up + [run_id]:
                self.local.mark_synced(rid, self.remote.description)

    def _read(self, name, *args, **kwargs):
        if self.remote.error is None:
            try:
                return getattr(self.remote, name)(*args, **kwargs)
            except StoreError as e:
                self.remote.error = str(e)
                self._check()
        return getattr(self.local, name)(*args, **kwargs)

    def durations(self, test_ids, command=None):
        return self._read("durations", test_ids, command)

    def recent_results(self, runs=10, command=None):
        return self._read("recent_results", runs, command)

    def recent_rows(self, runs=10, fields=("test", "wall")):
        return self._read("recent_rows", runs, fields)

    def runs(self, limit=10):
        return self._read("runs", limit)

    def close(self):
        self.remote.close()
        self.local.close()
