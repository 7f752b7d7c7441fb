"""The default store: one SQLite file in the objdir (or ``./.mozparallel/``).

Each result is committed as it arrives, so a runner killed with SIGKILL
leaves every finished result readable. WAL mode plus a busy timeout let two
runs (or a run and ``paralleltest history``) use the file at once: readers
never block, writers wait their turn for a few ms.
"""

import json
import os
import sqlite3
import time

from ..statedir import DIR_MODE, create_private, make_private

from .records import (RESULT_FIELDS, RUN_FIELDS, ResultRecord, RunRecord, check_row_fields,
                      median_durations)

FILENAME = "history.sqlite"
BUSY_TIMEOUT = 30.0         # seconds a writer waits for another run's write
SCHEMA_VERSION = 2
# Per-test results kept for durations(): enough for the median of 5 even
# when a few runs used another command.
LOOKBACK = 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started REAL NOT NULL, ended REAL, status TEXT,
    jobs INTEGER, cores INTEGER, memory INTEGER, hostname TEXT,
    mozinfo TEXT, argv TEXT,
    synced TEXT,                -- the remote store holding all of it, if any
    kind TEXT, parent_run TEXT  -- a follow-up round (retry, repeat...) and its run
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL, test TEXT NOT NULL, command TEXT NOT NULL,
    status TEXT, expected TEXT, wall REAL, cpu_user REAL, cpu_system REAL,
    peak_rss_kb INTEGER, maxrss_kb INTEGER, processes INTEGER, slot INTEGER,
    start_offset REAL, end_offset REAL,
    PRIMARY KEY (run_id, test)
);
CREATE INDEX IF NOT EXISTS results_by_test ON results (test, command);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started);
"""
# Columns added since version 1 (ALTER TABLE on an older file).
ADDED_RUN_COLUMNS = (("kind", "TEXT"), ("parent_run", "TEXT"))


class StoreError(Exception):
    """The store cannot be opened or written (the message names it)."""


def _busy(error):
    """Whether a sqlite3 error is another connection holding the file."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:        # (Python before 3.11: only the message)
        return "locked" in str(error) or "busy" in str(error)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _reason(error, directory):
    """The error's words; SQLite says "disk I/O error" where the disk is
    full, so say that too when it is."""
    if isinstance(error, sqlite3.Error):
        try:
            st = os.statvfs(directory)
            if st.f_bavail == 0:
                return "%s (no space left on the device)" % error
        except OSError:
            pass
    return error


class SQLiteStore:
    def __init__(self, path, private=False):
        """``private``: the file is the state directory's (statedir.py): an
        existing file and its -wal/-shm are made 0600. A new file is always
        created 0600 (SQLite gives -wal and -shm the mode of the file)."""
        self.path = path
        self.description = path
        directory = os.path.dirname(os.path.abspath(path))
        self.db = None
        try:
            os.makedirs(directory, mode=DIR_MODE, exist_ok=True)
            if not os.path.exists(path):
                try:
                    os.close(create_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    pass                    # another run made it just now
            if private:
                for suffix in ("", "-wal", "-shm"):
                    make_private(path + suffix)
            self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
            self._setup()
        except (OSError, sqlite3.Error) as e:
            if self.db is not None:
                self.db.close()
            raise StoreError("cannot open the history store %s: %s" % (path, _reason(e, directory)))

    def _setup(self):
        db = self.db
        # Switching to WAL needs a moment alone with the file; the busy
        # timeout does not cover it, so retry (two runs starting together).
        # Only "busy" is worth waiting for: a full disk, a read-only file or
        # an I/O error will not go away by itself (it would stall the run).
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as e:
                if not _busy(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        db.execute("PRAGMA synchronous=NORMAL")   # durable against a killed process, not power loss
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            for name, sqltype in ADDED_RUN_COLUMNS:
                if name not in have:
                    db.execute("ALTER TABLE runs ADD COLUMN %s %s" % (name, sqltype))
            db.execute("PRAGMA user_version=%d" % SCHEMA_VERSION)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- writing -------------------------------------------------------------
    def record_run_start(self, run):
        self._write("INSERT OR REPLACE INTO runs (run_id, started, ended, status, jobs, cores, memory, "
                    "hostname, mozinfo, argv, kind, parent_run) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (run.run_id, run.started, run.ended, run.status, run.jobs, run.cores, run.memory,
                     run.hostname, json.dumps(run.mozinfo, default=str), json.dumps(run.argv),
                     run.kind, run.parent_run))

    def record_result(self, run_id, result):
        values = [run_id] + [getattr(result, name) for name in RESULT_FIELDS]
        self._write("INSERT OR REPLACE INTO results (run_id, %s) VALUES (?%s)"
                    % (", ".join(RESULT_FIELDS), ",?" * len(RESULT_FIELDS)), values)

    def record_run_end(self, run_id, ended, status):
        self._write("UPDATE runs SET ended = ?, status = ? WHERE run_id = ?", (ended, status, run_id))

    def mark_synced(self, run_id, remote):
        self._write("UPDATE runs SET synced = ? WHERE run_id = ?", (remote, run_id))

    def _write(self, sql, values):
        try:
            self.db.execute(sql, values)
        except sqlite3.Error as e:
            raise StoreError("cannot write to the history store %s: %s" % (self.path, e))

    # -- reading -------------------------------------------------------------
    def durations(self, test_ids, command=None):
        by_test = {}
        for test in test_ids:
            by_test[test] = self._results(
                "SELECT r.*, u.started FROM results r JOIN runs u USING (run_id) "
                "WHERE r.test = ? ORDER BY u.started DESC LIMIT %d" % LOOKBACK, (test,))
        return median_durations(by_test, command)

    def recent_results(self, runs=10, command=None):
        """Results of the newest ``runs`` runs, oldest run first."""
        sql = ("SELECT r.*, u.started FROM results r JOIN "
               "(SELECT run_id, started FROM runs ORDER BY started DESC LIMIT ?) u USING (run_id)")
        values = [runs]
        if command is not None:
            sql += " WHERE r.command = ?"
            values.append(command)
        return self._results(sql + " ORDER BY u.started, r.end_offset", values)

    def recent_rows(self, runs=10, fields=("test", "wall")):
        """Like ``recent_results`` but only ``fields`` of each result, as
        tuples: what the scheduler and the report read at every run (twenty
        times faster than whole records on a 1000-test suite)."""
        cols = ", ".join("r." + f for f in check_row_fields(fields))
        sql = ("SELECT %s FROM results r JOIN "
               "(SELECT run_id, started FROM runs ORDER BY started DESC LIMIT ?) u USING (run_id) "
               "ORDER BY u.started, r.end_offset" % cols)
        try:
            return self.db.execute(sql, (runs,)).fetchall()
        except sqlite3.Error as e:
            raise StoreError("cannot read %s: %s" % (self.path, e))

    def results_of_run(self, run_id):
        return self._results("SELECT r.*, u.started FROM results r JOIN runs u USING (run_id) "
                             "WHERE r.run_id = ? ORDER BY r.end_offset", (run_id,))

    def runs(self, limit=10):
        cur = self.db.execute("SELECT %s FROM runs ORDER BY started DESC LIMIT ?" % ", ".join(RUN_FIELDS),
                              (limit,))
        out = []
        for row in cur:
            d = dict(zip(RUN_FIELDS, row))
            d["mozinfo"] = json.loads(d["mozinfo"] or "{}")
            d["argv"] = json.loads(d["argv"] or "[]")
            d["kind"] = d["kind"] or ""
            out.append(RunRecord(**d))
        return out

    def unsynced_runs(self, remote, limit=50):
        """Finished runs among the newest ``limit`` that ``remote`` lacks."""
        cur = self.db.execute(
            "SELECT run_id FROM (SELECT run_id, ended, synced, started FROM runs ORDER BY started DESC "
            "LIMIT ?) WHERE ended IS NOT NULL AND (synced IS NULL OR synced != ?) ORDER BY started",
            (limit, remote))
        wanted = {row[0] for row in cur}
        return [r for r in self.runs(limit) if r.run_id in wanted]

    def _results(self, sql, values):
        cur = self.db.execute(sql, values)
        names = [d[0] for d in cur.description]
        out = []
        for row in cur:
            d = dict(zip(names, row))
            out.append(ResultRecord(run_id=d["run_id"], run_started=d["started"],
                                    **{k: d[k] for k in RESULT_FIELDS}))
        return out

    def close(self):
        self.db.close()
