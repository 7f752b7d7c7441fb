"""What workers and the coordinator share in Redis beside the broker's queue:
for each run, a hash of finished tests (test id -> its events, JSON) and a
stream of "started" and "result" entries the coordinator reads as they come.

A result is written once: the first worker to finish a test adds it to the
hash and the stream in one server-side step; a later copy (a redelivered
or resubmitted task) finds it there and changes nothing.
"""

import json

PREFIX = "mozparallel:dist:"
KEEP_SECONDS = 7 * 24 * 3600        # keys of a run expire a week after its last result

_CLAIM = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('XADD', KEYS[2], '*', 'kind', 'result', 'test', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0
"""


def done_key(run_id):
    return PREFIX + run_id + ":done"


def stream_key(run_id):
    return PREFIX + run_id + ":stream"


def task_id(run_id, test):
    """The Celery task id of a test in a run: a resubmitted test keeps it."""
    return "%s:%s" % (run_id, test)


def is_done(client, run_id, test):
    return bool(client.hexists(done_key(run_id), test))


def mark_started(client, run_id, test, worker):
    client.xadd(stream_key(run_id), {"kind": "started", "test": test, "worker": worker})


def claim(client, run_id, test, result):
    """Store ``result`` (a dict) as the test's result unless one is there;
    True when this call stored it."""
    return bool(client.eval(_CLAIM, 2, done_key(run_id), stream_key(run_id), test,
                            json.dumps(result), KEEP_SECONDS))


def results(client, run_id, tests=None):
    """{test: result dict} stored for the run (all, or those of ``tests``)."""
    key = done_key(run_id)
    if tests is None:
        raw = client.hgetall(key)
        return {k.decode(): json.loads(v) for k, v in raw.items()}
    tests = list(tests)
    if not tests:
        return {}
    values = client.hmget(key, tests)
    return {t: json.loads(v) for t, v in zip(tests, values) if v is not None}


def read_stream(client, run_id, last_id, block_ms):
    """New stream entries after ``last_id`` (waiting up to ``block_ms``):
    [(entry id, {"kind", "test", ...})]."""
    answer = client.xread({stream_key(run_id): last_id}, block=block_ms, count=1000)
    out = []
    for _, entries in answer or ():
        for entry_id, fields in entries:
            out.append((entry_id.decode(), {k.decode(): v.decode() for k, v in fields.items()}))
    return out


def in_broker(client, queue, task_ids):
    """The ids among ``task_ids`` of tasks the Redis broker still holds:
    waiting in the queue, or delivered to a worker and not acknowledged
    (running, or to be redelivered when its worker is gone). Reads kombu's
    Redis layout: the queue's lists (one per priority step) and ``unacked``."""
    wanted = set(task_ids)
    found = set()
    raw = []
    for key in [queue] + ["%s\x06\x16%d" % (queue, p) for p in (3, 6, 9)]:
        raw.extend(client.lrange(key, 0, -1))
    for value in client.hvals("unacked"):
        try:
            raw.append(json.loads(value)[0])    # [message, exchange, routing key]
        except (ValueError, IndexError, TypeError):
            pass
    for message in raw:
        try:
            if not isinstance(message, dict):
                message = json.loads(message)
            task = message["headers"]["id"]
        except (ValueError, KeyError, TypeError):
            continue
        if task in wanted:
            found.add(task)
    return found
