"""The Redis state of one fleet run, shared by its coordinator and the
workers' slots: the keys, and the server-side steps (Lua) that change them
in one piece. Nothing here decides policy; coordinator.py and slot.py do.

Keys, under ``mozparallel:dist:<run id>:``::

    queue          LIST    test payloads (JSON) waiting. The coordinator pushes at
                           the tail, a bounded window at a time, and puts a lost
                           worker's test back at the head.
    taking:<slot>  LIST    the payload a slot moved off the queue (BLMOVE) and is
                           running: a reliable queue, nothing is lost between the
                           move and the lease.
    lease:<test>   STRING  "<slot>|<attempt>" while a slot runs the test; it expires
                           LEASE_MS after the slot's last refresh (once a second).
    attempt        HASH    test -> attempt number (absent: 1). Putting a test back
                           bumps it: the slot still holding the old attempt, if it
                           is alive after all, learns it lost the test and ends it.
    done           HASH    test -> result (JSON), written once: the first wins.
    stream         STREAM  what the coordinator reads: started, result, stopped,
                           handback, refused, serving, served.
    refused:<test> SET     workers that could not start the test (handed back).
    slots          HASH    slot -> worker, every slot that served the run.
    meta           HASH    the tree check's sample, the lease length.
    alive          STRING  the coordinator is there (expires unless refreshed).
    cancel         STRING  why the run was cancelled: nothing of it starts again.
    finished       STRING  the coordinator is done with the run.

A slot is a worker process: ``<worker name>/<pid>``.
"""

import json
import os
import urllib.parse

PREFIX = "mozparallel:dist:"
KEEP_SECONDS = 7 * 24 * 3600        # a run's results stay a week (resume, inspection)
# A test is lost this long after its slot's last refresh: longer than a
# worker's beat (registry.BEAT_MS), so a worker that vanished is noticed as
# a whole (all its tests put back at once) before its leases lapse one by one.
LEASE_MS = 6000
REFRESH_EVERY = 1.0                 # seconds between a running test's lease refreshes
ALIVE_MS = 15000                    # the coordinator's own "alive" key
PASSWORD_VARS = ("MOZPARALLEL_REDIS_PASSWORD", "REDISCLI_AUTH")

# Results: "run" (payload, attempt), "empty", "cancel", "skip" (done, or
# running elsewhere), "refused" (this worker could not start it before; it
# went back to the queue's tail), "drain" (this worker is stopping; it went
# back to the queue's head).
_START = """
local p = redis.call('LINDEX', KEYS[1], 0)
if not p then return {'empty'} end
if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('DEL', KEYS[1]); return {'cancel'} end
if redis.call('EXISTS', KEYS[7]) == 1 then
  redis.call('LMOVE', KEYS[1], KEYS[6], 'LEFT', 'LEFT'); return {'drain'} end
local t = cjson.decode(p)['test']
if redis.call('HEXISTS', KEYS[2], t) == 1 then redis.call('LPOP', KEYS[1]); return {'skip', t} end
local a = redis.call('HGET', KEYS[3], t) or '1'
local lk = ARGV[3] .. t
local mine = ARGV[1] .. '|' .. a
local held = redis.call('GET', lk)
if held and held ~= mine then redis.call('LPOP', KEYS[1]); return {'skip', t} end
if redis.call('SISMEMBER', ARGV[4] .. t, ARGV[5]) == 1 then
  redis.call('LPOP', KEYS[1]); redis.call('RPUSH', KEYS[6], p); return {'refused', t} end
redis.call('SET', lk, mine, 'PX', ARGV[2])
if not held then
  redis.call('XADD', KEYS[4], '*', 'kind', 'started', 'test', t, 'slot', ARGV[1], 'attempt', a)
end
return {'run', p, a}
"""

# "ok", or why the slot must end its test: "cancel", "done" (another copy
# finished it), "lost" (it was given to another slot).
_REFRESH = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'cancel' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'done' end
local a = redis.call('HGET', KEYS[3], ARGV[1]) or '1'
if a ~= ARGV[3] then return 'lost' end
local mine = ARGV[2] .. '|' .. a
local held = redis.call('GET', KEYS[4])
if held and held ~= mine then return 'lost' end
redis.call('SET', KEYS[4], mine, 'PX', ARGV[4])
return 'ok'
"""

# 1 when this result is the test's (the first); the slot's hold ends either way.
_FINISH = """
redis.call('DEL', KEYS[1])
local stored = redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
if stored == 1 then
  redis.call('XADD', KEYS[3], '*', 'kind', 'result', 'test', ARGV[1], 'slot', ARGV[3], 'result', ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
if redis.call('GET', KEYS[4]) == ARGV[3] .. '|' .. ARGV[4] then redis.call('DEL', KEYS[4]) end
return stored
"""

# The slot ended its test without a result (cancelled, lost, done elsewhere).
_DROP = """
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[2] .. '|' .. ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('XADD', KEYS[3], '*', 'kind', 'stopped', 'test', ARGV[1], 'slot', ARGV[2], 'why', ARGV[4])
return 1
"""

# This worker cannot start the test: back to the queue's tail for another.
_HANDBACK = """
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[2] .. '|' .. ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[7])
if redis.call('EXISTS', KEYS[6]) == 0 and redis.call('HEXISTS', KEYS[5], ARGV[1]) == 0 then
  redis.call('RPUSH', KEYS[4], ARGV[6])
end
redis.call('XADD', KEYS[7], '*', 'kind', 'handback', 'test', ARGV[1], 'slot', ARGV[2], 'why', ARGV[5])
return 1
"""

# The coordinator puts a test whose lease lapsed (or, ARGV[4] = 1, whose
# worker stopped beating) back at the queue's head. "requeued", or "done",
# "alive" (the lease is held), "moved" (already put back).
_REQUEUE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'done' end
if ARGV[4] == '1' then redis.call('DEL', KEYS[2])
elseif redis.call('EXISTS', KEYS[2]) == 1 then return 'alive' end
local a = redis.call('HGET', KEYS[3], ARGV[1]) or '1'
if a ~= ARGV[2] then return 'moved' end
redis.call('HSET', KEYS[3], ARGV[1], tostring(tonumber(a) + 1))
local p = redis.call('LINDEX', KEYS[5], 0)
if p and cjson.decode(p)['test'] == ARGV[1] then redis.call('DEL', KEYS[5]) end
if redis.call('EXISTS', KEYS[6]) == 0 then redis.call('LPUSH', KEYS[4], ARGV[3]) end
return 'requeued'
"""

# A dead slot's taking list: its payload back to the queue unless the test
# is done, leased, or started (ARGV[2], the test the coordinator saw it
# start: a lapsing lease is _REQUEUE's). The test id, or nil.
_RESCUE = """
local p = redis.call('LINDEX', KEYS[1], 0)
if not p then return nil end
local t = cjson.decode(p)['test']
if redis.call('HEXISTS', KEYS[2], t) == 1 then redis.call('DEL', KEYS[1]); return nil end
if t == ARGV[2] or redis.call('EXISTS', ARGV[1] .. t) == 1 then return nil end
if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('LPUSH', KEYS[3], p) end
redis.call('DEL', KEYS[1])
return t
"""


def connect(url, timeout=10.0, env=None):
    """A redis client for ``url``; the password from the URL, else from
    $MOZPARALLEL_REDIS_PASSWORD or $REDISCLI_AUTH (as the Redis store)."""
    import redis

    env = os.environ if env is None else env
    kwargs = {}
    if urllib.parse.urlsplit(url).password is None:
        password = next((env[v] for v in PASSWORD_VARS if env.get(v)), None)
        if password:
            kwargs["password"] = password
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=min(timeout, 5.0),
                                **kwargs)


def slot_worker(slot):
    """The worker name of a slot id."""
    return slot.rpartition("/")[0] or slot


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


class RunState:
    """One run's keys on one client. Each method is one round trip."""

    def __init__(self, client, run_id):
        self.client = client
        self.run_id = run_id
        self.prefix = p = PREFIX + run_id + ":"
        self.queue = p + "queue"
        self.attempt = p + "attempt"
        self.done = p + "done"
        self.stream = p + "stream"
        self.slots = p + "slots"
        self.meta = p + "meta"
        self.alive = p + "alive"
        self.cancel_key = p + "cancel"
        self.finished = p + "finished"
        self.lease_prefix = p + "lease:"
        self.refused_prefix = p + "refused:"
        s = client.register_script
        self._start, self._refresh, self._finish = s(_START), s(_REFRESH), s(_FINISH)
        self._drop, self._handback, self._requeue, self._rescue = s(_DROP), s(_HANDBACK), s(_REQUEUE), s(_RESCUE)

    def taking(self, slot):
        return self.prefix + "taking:" + slot

    def lease(self, test):
        return self.lease_prefix + test

    # -- the coordinator ------------------------------------------------------
    def create(self, sample, lease_ms=LEASE_MS):
        """Open the run (or reopen it on --resume): meta, alive; a
        cancellation or end left by an earlier coordinator of the same id is
        cleared."""
        pipe = self.client.pipeline()
        pipe.hset(self.meta, mapping={"sample": json.dumps(sample), "lease_ms": lease_ms})
        pipe.set(self.alive, 1, px=ALIVE_MS)
        pipe.delete(self.cancel_key, self.finished)
        for key in (self.meta, self.done, self.stream, self.attempt, self.slots):
            pipe.expire(key, KEEP_SECONDS)
        pipe.execute()

    def exists(self):
        return bool(self.client.exists(self.meta))

    def tip(self):
        """The id of the stream's last entry ("0-0" if none)."""
        last = self.client.xrevrange(self.stream, count=1)
        return _text(last[0][0]) if last else "0-0"

    def read(self, last_id, block_ms, count=2000):
        """Stream entries after ``last_id``: [(id, {field: text})]."""
        answer = self.client.xread({self.stream: last_id}, block=block_ms, count=count)
        out = []
        for _, entries in answer or ():
            for entry_id, fields in entries:
                out.append((_text(entry_id), {_text(k): _text(v) for k, v in fields.items()}))
        return out

    def trim(self, up_to):
        """Drop the stream entries up to ``up_to`` (read already)."""
        self.client.xtrim(self.stream, minid=up_to, approximate=True)

    def heartbeat(self):
        """Refresh ``alive``; the queue's length and why the run is cancelled (or None)."""
        pipe = self.client.pipeline()
        pipe.set(self.alive, 1, px=ALIVE_MS)
        pipe.llen(self.queue)
        pipe.get(self.cancel_key)
        for key in (self.stream, self.attempt, self.slots, self.done, self.queue):   # created since
            pipe.expire(key, KEEP_SECONDS)
        length, cancel = pipe.execute()[1:3]
        return length, _text(cancel)

    def push(self, payloads):
        """Payloads (JSON text) to the queue's tail, in order."""
        if payloads:
            self.client.rpush(self.queue, *payloads)

    def results(self, tests=None):
        """{test: result dict} stored (all, or those of ``tests``)."""
        if tests is None:
            return {_text(k): json.loads(v) for k, v in self.client.hgetall(self.done).items()}
        tests = list(tests)
        if not tests:
            return {}
        return {t: json.loads(v) for t, v in zip(tests, self.client.hmget(self.done, tests)) if v is not None}

    def queued_tests(self):
        """Ids of the tests in the queue and the slots' taking lists."""
        ids = []
        for value in self.client.lrange(self.queue, 0, -1):
            ids.append(json.loads(value)["test"])
        return ids

    def leases(self, tests):
        """{test: "<slot>|<attempt>"} of the tests among ``tests`` that are leased."""
        tests = list(tests)
        if not tests:
            return {}
        values = self.client.mget([self.lease(t) for t in tests])
        return {t: _text(v) for t, v in zip(tests, values) if v is not None}

    def lapsed(self, tests):
        """The tests among ``tests`` whose lease is gone."""
        tests = list(tests)
        if not tests:
            return []
        pipe = self.client.pipeline(transaction=False)
        for t in tests:
            pipe.exists(self.lease(t))
        return [t for t, held in zip(tests, pipe.execute()) if not held]

    def requeue(self, test, attempt, payload, slot, force=False):
        """Put ``test`` (its ``attempt`` run by ``slot``) back at the queue's
        head: if its lease lapsed, or even if held (``force``: the slot's
        worker stopped beating; a slot still alive learns at its next
        refresh that the test is not its own any more)."""
        return _text(self._requeue(keys=[self.done, self.lease(test), self.attempt, self.queue,
                                         self.taking(slot), self.cancel_key],
                                   args=[test, attempt, payload, "1" if force else "0"]))

    def rescue(self, slot, started=""):
        """Put back what a dead slot took and never started (``started``: the
        test the coordinator saw it start); the test id or None."""
        found = self._rescue(keys=[self.taking(slot), self.done, self.queue, self.cancel_key],
                             args=[self.lease_prefix, started])
        return _text(found)

    def served_slots(self):
        return {_text(k): _text(v) for k, v in self.client.hgetall(self.slots).items()}

    def cancel(self, reason):
        """Nothing of the run starts again; returns how many queued tests were purged."""
        pipe = self.client.pipeline()
        pipe.set(self.cancel_key, reason, ex=KEEP_SECONDS)
        pipe.llen(self.queue)
        pipe.delete(self.queue)
        _, purged, _ = pipe.execute()
        return purged

    def running(self):
        """{test: "<slot>|<attempt>"} of every leased test of the run."""
        out = {}
        for key in self.client.scan_iter(match=_glob_escape(self.lease_prefix) + "*", count=1000):
            value = self.client.get(key)
            if value is not None:
                out[_text(key)[len(self.lease_prefix):]] = _text(value)
        return out

    def end(self):
        """The coordinator is done: slots stop serving; what only a live run
        needs goes."""
        pipe = self.client.pipeline()
        pipe.set(self.finished, 1, ex=KEEP_SECONDS)
        pipe.delete(self.queue, self.alive, self.attempt, self.stream)
        pipe.execute()

    # -- a slot ---------------------------------------------------------------
    def sample(self):
        """The tree check's sample and the lease length; None if the run is
        unknown, finished or cancelled."""
        pipe = self.client.pipeline()
        pipe.hmget(self.meta, ["sample", "lease_ms"])
        pipe.exists(self.finished, self.cancel_key)
        (sample, lease_ms), over = pipe.execute()
        if sample is None or over:
            return None
        return json.loads(sample), int(lease_ms or LEASE_MS)

    def serving(self, slot, worker):
        pipe = self.client.pipeline()
        pipe.hset(self.slots, slot, worker)
        self._note(pipe, {"kind": "serving", "slot": slot})

    def served(self, slot, why):
        self._note(self.client.pipeline(), {"kind": "served", "slot": slot, "why": why})

    def refuse(self, slot, reason):
        self._note(self.client.pipeline(), {"kind": "refused", "slot": slot, "why": reason})

    def _note(self, pipe, fields):
        """A stream entry (the stream may have been removed at the run's end: it expires again)."""
        pipe.xadd(self.stream, fields)
        pipe.expire(self.stream, KEEP_SECONDS)
        pipe.expire(self.slots, KEEP_SECONDS)
        pipe.execute()

    def move(self, slot, block):
        """Block up to ``block`` seconds for a test: moved from the queue to
        the slot's taking list. True if one was moved."""
        return self.client.blmove(self.queue, self.taking(slot), block, "LEFT", "RIGHT") is not None

    def idle_state(self):
        """(coordinator alive, run over) for a slot that found nothing to do."""
        pipe = self.client.pipeline()
        pipe.exists(self.alive)
        pipe.exists(self.finished, self.cancel_key)
        alive, over = pipe.execute()
        return bool(alive), bool(over)

    def start(self, slot, worker, lease_ms, draining_key):
        """The test the slot moved: ("run", payload, attempt) or (what else happened, test)."""
        answer = self._start(keys=[self.taking(slot), self.done, self.attempt, self.stream, self.cancel_key,
                                   self.queue, draining_key],
                             args=[slot, lease_ms, self.lease_prefix, self.refused_prefix, worker])
        return [_text(v) for v in answer]

    def refresh(self, slot, test, attempt, lease_ms):
        return _text(self._refresh(keys=[self.cancel_key, self.done, self.attempt, self.lease(test)],
                                   args=[test, slot, attempt, lease_ms]))

    def finish(self, slot, test, attempt, result):
        return bool(self._finish(keys=[self.taking(slot), self.done, self.stream, self.lease(test)],
                                 args=[test, json.dumps(result), slot, attempt, KEEP_SECONDS]))

    def drop(self, slot, test, attempt, why):
        self._drop(keys=[self.taking(slot), self.lease(test), self.stream], args=[test, slot, attempt, why])

    def handback(self, slot, worker, test, attempt, reason, payload):
        self._handback(keys=[self.taking(slot), self.lease(test), self.refused_prefix + test, self.queue,
                             self.done, self.cancel_key, self.stream],
                       args=[test, slot, attempt, worker, reason, payload, KEEP_SECONDS])


def _glob_escape(text):
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
