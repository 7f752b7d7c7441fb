"""One test on a worker, run by the same pool as a local run (a one-test
``Pool``: same spawning, timeouts, tree kill, metrics and parsers), its
events collected and stored once as the test's result (results.py).
"""

import atexit
import os
import socket
import time

from ..contract import TestSpec, is_unexpected
from ..execution.environment import test_environment
from ..execution.pool import Pool, PoolOptions
from ..execution.process import start_guardian
from ..protocols import make_parser
from ..schedule.policies import ListOrder
from . import results

_clients = {}       # broker URL -> redis client, per process (prefork children)
_guardians = {}     # pid -> (token prefix, Guardian): one per worker process


def _worker_guardian(grace):
    """``(token prefix, guardian pid)`` of this worker process's guardian,
    started on first use: it ends the tests of a worker that dies mid-test,
    for every task the process runs (a guardian per task cost about 20 ms a
    test). ``(None, None)`` if it cannot start: each pool then starts its own."""
    pid = os.getpid()
    entry = _guardians.get(pid)
    if entry is None:
        prefix = "w%d-%d-" % (pid, int(time.time() * 1000))
        guardian = start_guardian(prefix, grace)
        if guardian is None:
            return None, None
        atexit.register(guardian.done)
        entry = _guardians[pid] = (prefix, guardian.pid)
    return entry


def _client(url):
    client = _clients.get((os.getpid(), url))
    if client is None:
        import redis
        client = _clients[(os.getpid(), url)] = redis.Redis.from_url(url)
    return client


class Collected:
    """The pool's event sink, keeping the events instead of logging them."""

    def __init__(self):
        self.events = []

    def emit(self, ev):
        self.events.append(dict(ev))

    def emit_many(self, evs):
        self.events.extend(dict(ev) for ev in evs)

    def flush(self):
        pass


def spec_from_payload(payload, root):
    """The TestSpec of a task, its paths made absolute under this worker's root."""
    path = payload.get("path")
    argv = list(payload["argv"])
    if path is not None:
        path = os.path.join(root, path)
        for i in payload.get("path_args", ()):
            argv[i] = path
    cwd = payload.get("cwd")
    return TestSpec(
        id=payload["test"], argv=argv, path=path, group=payload.get("group", "default"),
        protocol=payload.get("protocol", "auto"), timeout=payload.get("timeout"),
        max_time=payload.get("max_time"), expected_fail=bool(payload.get("expected_fail")),
        expected_outcome=payload.get("expected_outcome"), sequential=None,
        cwd=os.path.join(root, cwd) if cwd is not None else None,
    )


def run_one(spec, payload):
    """Run ``spec`` with a one-test pool; its events (without test_start)."""
    sink = Collected()
    log_subtests = bool(payload.get("log_subtests"))
    prefix, guardian_pid = _worker_guardian(payload.get("kill_grace", 5.0))
    pool = Pool(
        sink,
        lambda s: make_parser(s.protocol, s.id, log_subtests=log_subtests, expected_fail=s.expected_fail),
        PoolOptions(jobs=1, timeout=payload.get("default_timeout"), max_time=payload.get("default_max_time"),
                    kill_grace=payload.get("kill_grace", 5.0), log_subtests=log_subtests,
                    allow_leaks=bool(payload.get("allow_leaks")),
                    guarded_prefix=prefix, own_pids=(guardian_pid,) if guardian_pid else ()),
        env=test_environment(),     # not the worker's broker password
    )
    pool.run(ListOrder([spec]))
    return [ev for ev in sink.events if ev["action"] != "test_start"]


def run_task(broker, root, payload, worker):
    """The task: nothing if the test's result is already stored, else run it
    and store the result once."""
    client = _client(broker)
    run_id, test = payload["run_id"], payload["test"]
    if results.is_done(client, run_id, test):
        return "already done"
    where = "%s/%d" % (worker if worker != "?" else socket.gethostname(), os.getpid())
    results.mark_started(client, run_id, test, where)
    events = run_one(spec_from_payload(payload, root), payload)
    end = events[-1] if events and events[-1]["action"] == "test_end" else None
    if end is not None:
        extra = end.setdefault("extra", {})
        extra["worker"] = where
    unexpected = any("expected" in ev and is_unexpected(ev) for ev in events)
    stored = results.claim(client, run_id, test, {"events": events, "worker": where, "unexpected": unexpected})
    return "stored" if stored else "already done"
