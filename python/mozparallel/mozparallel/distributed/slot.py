"""One slot of a worker serving one run: check the tree, then take the
run's tests off its queue one at a time, run each with the local pool (a
one-test ``Pool``: same spawning, timeouts, tree kill, metrics and parsers
as a local run) and store its result once (runstate.py).

While a test runs, the slot refreshes its lease every REFRESH_EVERY
seconds (from the pool's tick); the answer ends the test at once when the
run was cancelled, when another copy finished it, or when the coordinator
gave it to another slot (this one looked dead). A test this worker cannot
start (its file missing or different here, or the command not startable)
goes back to the queue for another worker, with the reason.

The slot stops serving when the run is over (finished or cancelled), when
its coordinator is gone and the queue is empty, or after IDLE_EXIT seconds
with nothing to take (the coordinator asks for slots again if it needs
them, so idle slots go to other runs).
"""

import atexit
import json
import os
import time

from ..contract import TestSpec, is_unexpected
from ..execution.environment import test_environment
from ..execution.pool import Pool, PoolOptions
from ..execution.process import start_guardian
from ..protocols import make_parser
from ..schedule.policies import ListOrder
from . import tree
from .registry import draining_key
from .runstate import REFRESH_EVERY, RunState, connect

IDLE_EXIT = 2.0             # seconds with nothing to take before the slot is given back
MOVE_BLOCK = 0.5            # one wait on the queue
BROKER_RETRY = (0.2, 5.0)   # backoff of a slot that lost the broker: first, longest
# What the pool's result says when the command could not be started at all
# (protocols/base.py): another worker may be able to.
SPAWN_ERROR_PREFIX = "cannot start: "


class WorkerProcess:
    """What one worker process keeps across the tasks it runs: its redis
    client and its guardian (a guardian per test cost about 20 ms)."""

    def __init__(self):
        self.pid = None
        self.clients = {}
        self.guardian = None

    def _fresh(self):
        if self.pid != os.getpid():      # a prefork child: nothing of the parent's is ours
            self.pid, self.clients, self.guardian = os.getpid(), {}, None

    def client(self, url):
        self._fresh()
        client = self.clients.get(url)
        if client is None:
            client = self.clients[url] = connect(url)
        return client

    def guarded(self, grace):
        """(token prefix, guardian pid) of this process's guardian; (None,
        None) if it cannot start (each pool then starts its own)."""
        self._fresh()
        if self.guardian is None:
            prefix = "w%d-%d-" % (os.getpid(), int(time.time() * 1000))
            guardian = start_guardian(prefix, grace)
            if guardian is None:
                return None, None
            atexit.register(guardian.done)
            self.guardian = (prefix, guardian.pid)
        return self.guardian


PROCESS = WorkerProcess()


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
    """The TestSpec of a payload, its paths made absolute under this worker's root."""
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


class Lease:
    """The pool's tick while a test runs: refresh its lease; stop the pool
    when the answer says the test is not this slot's to finish."""

    def __init__(self, state, slot, test, attempt, lease_ms):
        self.state, self.slot, self.test, self.attempt, self.lease_ms = state, slot, test, attempt, lease_ms
        self.pool = None
        self.lost = None            # why the test was ended (cancel, done, lost)
        self.next = time.monotonic() + REFRESH_EVERY

    def __call__(self):
        now = time.monotonic()
        if now < self.next or self.lost is not None:
            return
        self.next = now + REFRESH_EVERY
        import redis

        try:
            answer = self.state.refresh(self.slot, self.test, self.attempt, self.lease_ms)
        except (redis.ConnectionError, redis.TimeoutError):
            return      # the broker away for a moment: the lease is taken again at the next refresh
        if answer != "ok":
            self.lost = answer
            self.pool.stop({"cancel": "the run was cancelled", "done": "another copy finished it",
                            "lost": "the coordinator gave it to another worker"}.get(answer, answer), hard=True)


def run_one(spec, payload, lease):
    """Run ``spec`` with a one-test pool; (its events without test_start,
    unexpected)."""
    sink = Collected()
    log_subtests = bool(payload.get("log_subtests"))
    grace = payload.get("kill_grace", 5.0)
    prefix, guardian_pid = PROCESS.guarded(grace)
    results = []
    pool = Pool(
        sink,
        lambda s: make_parser(s.protocol, s.id, log_subtests=log_subtests, expected_fail=s.expected_fail),
        PoolOptions(jobs=1, timeout=payload.get("default_timeout"), max_time=payload.get("default_max_time"),
                    kill_grace=grace, log_subtests=log_subtests, allow_leaks=bool(payload.get("allow_leaks")),
                    guarded_prefix=prefix, own_pids=(guardian_pid,) if guardian_pid else ()),
        env=test_environment(),     # not the worker's broker password
        on_result=results.append, on_tick=lease,
    )
    lease.pool = pool
    pool.run(ListOrder([spec]))
    events = [ev for ev in sink.events if ev["action"] != "test_start"]
    unexpected = bool(results and results[0].unexpected) or any(
        "expected" in ev and is_unexpected(ev) for ev in events)
    return events, unexpected


class Slot:
    def __init__(self, broker, root, run_id, worker):
        self.broker = broker
        self.root = root
        self.worker = worker
        self.slot = "%s/%d" % (worker, os.getpid())
        self.state = RunState(PROCESS.client(broker), run_id)
        self.draining = draining_key(worker)
        self.ran = 0

    def serve(self):
        """Serve the run until it needs this slot no more; why it stopped."""
        known = self._retrying(self.state.sample)
        if known is None:
            return "the run is over or unknown"
        sample, lease_ms = known
        problem = tree.check_sample(self.root, sample)
        if problem is not None:
            self._retrying(lambda: self.state.refuse(self.slot, "%s: %s" % (self.worker, problem)))
            return "refused: " + problem
        self._retrying(lambda: self.state.serving(self.slot, self.worker))
        why = "?"
        try:
            why = self._loop(lease_ms)
        finally:
            self._retrying(lambda: self.state.served(self.slot, why))
        return "%s after %d tests" % (why, self.ran)

    def _loop(self, lease_ms):
        idle_since = time.monotonic()
        while True:
            moved = self._retrying(lambda: self.state.move(self.slot, MOVE_BLOCK))
            if not moved:
                alive, over = self._retrying(self.state.idle_state)
                if over:
                    return "the run is over"
                if not alive:
                    return "the coordinator is gone"
                if time.monotonic() - idle_since > IDLE_EXIT:
                    return "nothing to take"
                continue
            answer = self._retrying(lambda: self.state.start(self.slot, self.worker, lease_ms, self.draining))
            kind = answer[0]
            if kind == "cancel":
                return "the run was cancelled"
            if kind == "drain":
                return "the worker is stopping"
            if kind == "refused":
                # Only tests this worker cannot start are left: let others take
                # them (still idle: after IDLE_EXIT the slot is given back).
                time.sleep(0.05)
                if time.monotonic() - idle_since > IDLE_EXIT:
                    return "nothing this worker can start"
                continue
            if kind == "run":
                self._run(json.loads(answer[1]), answer[1], answer[2], lease_ms)
                idle_since = time.monotonic()

    def _run(self, payload, text, attempt, lease_ms):
        test = payload["test"]
        problem = None
        if payload.get("path"):
            problem = tree.mismatch(self.root, payload["path"], payload.get("digest"))
        if problem is not None:
            self._handback(test, attempt, problem, text)
            return
        lease = Lease(self.state, self.slot, test, attempt, lease_ms)
        events, unexpected = run_one(spec_from_payload(payload, self.root), payload, lease)
        end = events[-1] if events and events[-1]["action"] == "test_end" else None
        if lease.lost is not None:
            self._retrying(lambda: self.state.drop(self.slot, test, attempt, lease.lost))
            return
        message = (end or {}).get("message") or ""
        if end is not None and message.startswith(SPAWN_ERROR_PREFIX):
            self._handback(test, attempt, message, text)
            return
        if end is not None:
            end.setdefault("extra", {})["worker"] = self.slot
        self.ran += 1
        result = {"events": events, "worker": self.slot, "unexpected": unexpected}
        self._retrying(lambda: self.state.finish(self.slot, test, attempt, result))

    def _handback(self, test, attempt, reason, text):
        self._retrying(lambda: self.state.handback(self.slot, self.worker, test, attempt,
                                                   "%s: %s" % (self.worker, reason), text))

    def _retrying(self, step):
        """``step()``, again after the broker came back: a slot outlives an outage."""
        import redis

        delay, longest = BROKER_RETRY
        while True:
            try:
                return step()
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(delay)
                delay = min(delay * 2, longest)


def serve(broker, root, run_id, worker):
    """The Celery task's body (app.py)."""
    return Slot(broker, root, run_id, worker).serve()
