"""The shared store: the same records in Redis, so many machines read one
history (``--store redis://host:port/db`` or ``rediss://``).

Writes go through one background thread that pipelines whatever has queued
up, so a distant server costs the pool loop nothing per test. The first
error stops the writing for the rest of the run and is kept in ``error``
for the caller to report; the records are never dropped silently, because
``mirrored.py`` writes the local SQLite store first. The password (from the
URL, $MOZPARALLEL_REDIS_PASSWORD or $REDISCLI_AUTH) is never printed.

Layout (every key under ``mozparallel:``): ``runs`` (sorted set of run ids
by start time), ``run:<id>`` (hash of run fields, JSON values),
``results:<id>`` (hash test -> JSON result), ``test:<test>`` (sorted set of
the run ids that ran it, newest kept). Writing a result twice is harmless.
"""

import json
import os
import queue
import threading
import urllib.parse
from dataclasses import asdict

from ..redact import RUNNER_SECRET_VARS, redact_text
from .records import (RUN_FIELDS, RunRecord, check_row_fields, median_durations, result_from_dict,
                      result_to_dict)
from .sqlite_store import LOOKBACK, StoreError

PREFIX = "mozparallel:"
KEEP_PER_TEST = 200         # run ids kept in each test:<test> set
PASSWORD_VARS = RUNNER_SECRET_VARS      # where the password may come from, in this order
SCHEMES = ("redis", "rediss")


def describe(url):
    """The URL without user or password, for messages."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:      # malformed ("redis://[::1"): the text, its password left out
        return redact_text(url)
    where = parts.netloc.rpartition("@")[2]    # drop user:password
    return "%s://%s%s" % (parts.scheme, where or "localhost", parts.path or "")


def check_url(url):
    """Raise ValueError naming what is wrong with a redis URL (and the URL,
    its password left out)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as e:
        raise ValueError("malformed URL %s: %s" % (describe(url), e))
    if parts.scheme not in SCHEMES:
        raise ValueError("not a redis:// or rediss:// URL: %s" % describe(url))
    try:
        parts.port
    except ValueError:
        raise ValueError("bad port in %s" % describe(url))
    path = (parts.path or "/").lstrip("/")
    if path and not path.isdigit():
        raise ValueError("the database in %s must be a number" % describe(url))


class _Flush:
    def __init__(self):
        self.done = threading.Event()


_STOP = object()


class RedisStore:
    def __init__(self, url, env=None):
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            # Not a store that failed (the run would go on unrecorded) but a
            # setup to fix: exit 2 with the pip command.
            from ..extras import MissingPackage, message

            raise MissingPackage(message("--store %s" % describe(url), "redis", "redis"))
        env = os.environ if env is None else env
        self._redis = redis
        self.description = describe(url)
        password = urllib.parse.urlsplit(url).password
        if password is None:
            password = next((env[v] for v in PASSWORD_VARS if env.get(v)), None)
        self._secrets = [s for s in (password, urllib.parse.unquote(password or "")) if s]
        kwargs = {"password": password} if password else {}
        try:
            self.client = redis.Redis.from_url(
                url, socket_timeout=5, socket_connect_timeout=3,
                retry=Retry(NoBackoff(), 1), **kwargs)
        except ValueError as e:
            raise StoreError("bad --store %s: %s" % (self.description, self._scrub(e)))
        self.error = None           # why writing stopped, once it has
        self._started = {}          # run id -> start time (the score of its results)
        self._queue = queue.Queue()
        self._thread = None

    # -- health --------------------------------------------------------------
    def ping(self):
        """True when the server answers; sets ``error`` otherwise."""
        try:
            self.client.ping()
            return True
        except self._redis.RedisError as e:
            self._fail(e)
            return False

    def _fail(self, e):
        if self.error is None:
            self.error = self._scrub(e)

    def _scrub(self, e):
        text = str(e) or e.__class__.__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- writing (queued) ----------------------------------------------------
    def record_run_start(self, run):
        self._started[run.run_id] = run.started
        self._submit(lambda pipe: self._put_run(pipe, run))

    def record_result(self, run_id, result):
        started = self._started.get(run_id, 0.0)
        self._submit(lambda pipe: self._put_result(pipe, run_id, started, result))

    def record_run_end(self, run_id, ended, status):
        key = PREFIX + "run:" + run_id
        self._submit(lambda pipe: pipe.hset(key, mapping={"ended": json.dumps(ended),
                                                           "status": json.dumps(status)}))

    def copy_run(self, run, results):
        """Queue a whole run (catching up on one written while we were away)."""
        def put(pipe):
            self._put_run(pipe, run)
            for result in results:
                self._put_result(pipe, run.run_id, run.started, result)
        self._submit(put)

    def flush(self, timeout=10.0):
        """Wait until everything queued is written (or has failed); False
        if that took longer than ``timeout``."""
        if self._thread is None:
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def _submit(self, op):
        if self.error is not None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_loop, name="mozparallel-redis", daemon=True)
            self._thread.start()
        self._queue.put(op)

    def _write_loop(self):
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            ops = [op for op in batch if callable(op)]
            if ops and self.error is None:
                try:
                    pipe = self.client.pipeline(transaction=False)
                    for op in ops:
                        op(pipe)
                    pipe.execute()
                except self._redis.RedisError as e:
                    self._fail(e)
            for op in batch:
                if isinstance(op, _Flush):
                    op.done.set()
            if any(op is _STOP for op in batch):
                return

    @staticmethod
    def _put_run(pipe, run):
        pipe.hset(PREFIX + "run:" + run.run_id,
                  mapping={k: json.dumps(v, default=str) for k, v in asdict(run).items()})
        pipe.zadd(PREFIX + "runs", {run.run_id: run.started})

    @staticmethod
    def _put_result(pipe, run_id, started, result):
        pipe.hset(PREFIX + "results:" + run_id, result.test, json.dumps(result_to_dict(result)))
        key = PREFIX + "test:" + result.test
        pipe.zadd(key, {run_id: started})
        pipe.zremrangebyrank(key, 0, -KEEP_PER_TEST - 1)

    # -- reading (direct) ----------------------------------------------------
    def durations(self, test_ids, command=None):
        tests = list(test_ids)
        try:
            pipe = self.client.pipeline(transaction=False)
            for test in tests:
                pipe.zrevrange(PREFIX + "test:" + test, 0, LOOKBACK - 1)
            run_ids = pipe.execute()
            pipe = self.client.pipeline(transaction=False)
            for test, ids in zip(tests, run_ids):
                for rid in ids:
                    pipe.hget(PREFIX + "results:" + rid.decode(), test)
            values = iter(pipe.execute())
        except self._redis.RedisError as e:
            raise StoreError("cannot read %s: %s" % (self.description, self._scrub(e)))
        by_test = {}
        for test, ids in zip(tests, run_ids):
            records = []
            for rid in ids:
                raw = next(values)
                if raw is not None:
                    records.append(result_from_dict(json.loads(raw), rid.decode()))
            by_test[test] = records
        return median_durations(by_test, command)

    def _recent_tables(self, runs):
        """``(run_id, started, [result dicts in end order])`` of the newest
        ``runs`` runs, oldest first."""
        try:
            newest = self.client.zrevrange(PREFIX + "runs", 0, runs - 1, withscores=True)
            pipe = self.client.pipeline(transaction=False)
            for rid, _ in newest:
                pipe.hgetall(PREFIX + "results:" + rid.decode())
            tables = pipe.execute()
        except self._redis.RedisError as e:
            raise StoreError("cannot read %s: %s" % (self.description, self._scrub(e)))
        out = []
        for (rid, started), table in reversed(list(zip(newest, tables))):
            rows = [json.loads(v) for v in table.values()]
            rows.sort(key=lambda d: (d.get("end_offset") is None, d.get("end_offset") or 0.0))
            out.append((rid.decode(), started, rows))
        return out

    def recent_results(self, runs=10, command=None):
        out = []
        for rid, started, rows in self._recent_tables(runs):
            records = (result_from_dict(d, rid, started) for d in rows)
            out.extend(r for r in records if command is None or r.command == command)
        return out

    def recent_rows(self, runs=10, fields=("test", "wall")):
        """``recent_results``, only ``fields`` of each, as tuples (no records made)."""
        fields = check_row_fields(fields)
        return [tuple(rid if f == "run_id" else d.get(f) for f in fields)
                for rid, _, rows in self._recent_tables(runs) for d in rows]

    def runs(self, limit=10):
        try:
            ids = self.client.zrevrange(PREFIX + "runs", 0, limit - 1)
            pipe = self.client.pipeline(transaction=False)
            for rid in ids:
                pipe.hgetall(PREFIX + "run:" + rid.decode())
            rows = pipe.execute()
        except self._redis.RedisError as e:
            raise StoreError("cannot read %s: %s" % (self.description, self._scrub(e)))
        out = []
        for row in rows:
            d = {k.decode(): json.loads(v) for k, v in row.items()}
            out.append(RunRecord(**{k: d[k] for k in RUN_FIELDS if k in d}))
        return out

    def close(self):
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(10.0)
            self._thread = None
        try:
            self.client.close()
        except self._redis.RedisError:
            pass
