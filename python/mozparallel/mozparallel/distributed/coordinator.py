"""The coordinator (``paralleltest --broker redis://... TEST...``): sends one
task per test, in the scheduler's order, with task id = run id + test id,
and reports each result as it arrives through the same ``EventLog``,
``on_result`` (tally, store) and ``on_tick`` (live view) as the local pool.

It stands where the pool stands in run.py (``run(scheduler)``, ``stop``).
A test is reported once, whatever the broker delivers twice. Results that
workers stored while no coordinator listened (one killed, then restarted
with ``--resume``) are taken from the run's hash.
"""

import os
import time

from dataclasses import dataclass

from ..contract import TestResult
from ..errors import UsageError
from . import results
from .app import QUEUE, TASK_NAME, make_app, visibility_timeout

# How long one wait on the stream lasts: the live view's tick.
BLOCK_MS = 100


@dataclass(frozen=True)
class FleetSettings:
    """What the coordinator reads of a run's options (settings.py builds it)."""

    broker: str                     # --broker URL
    source_root: str                # --source-root (absolute)
    visibility_timeout: float | None = None
    resume: bool = False            # --resume: tasks of the run may still be queued


def _relative(path, root):
    rel = os.path.relpath(path, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise UsageError("%s is outside the source root %s: workers find tests by their path "
                         "relative to it (run from the root, or pass --source-root)" % (path, root))
    return rel


def payload_of(spec, run_id, root, pool_options):
    """The task's argument: everything a worker needs, paths relative to the root."""
    argv = list(spec.argv)
    path_args = []
    path = None
    if spec.path is not None:
        path = _relative(os.path.abspath(spec.path), root)
        for i, arg in enumerate(argv):
            if spec.is_path_arg(arg):
                argv[i] = path
                path_args.append(i)
    return {
        "run_id": run_id, "test": spec.id, "path": path, "argv": argv, "path_args": path_args,
        "group": spec.group, "protocol": spec.protocol, "timeout": spec.timeout, "max_time": spec.max_time,
        "expected_fail": spec.expected_fail, "expected_outcome": spec.expected_outcome,
        "cwd": _relative(spec.cwd, root) if spec.cwd else None,
        "default_timeout": pool_options.timeout, "default_max_time": pool_options.max_time,
        "kill_grace": pool_options.kill_grace, "log_subtests": pool_options.log_subtests,
        "allow_leaks": pool_options.allow_leaks,
    }


class Coordinator:
    def __init__(self, events, fleet, run_id, pool_options, on_result=None, on_tick=None):
        """``run_id``: the run's (a later round of the same run has its own,
        see coordinator_factory)."""
        self.events = events
        self.fleet = fleet
        self.options = pool_options
        self.run_id = run_id
        self.on_result = on_result
        self.on_tick = on_tick
        self.broker = fleet.broker
        self.root = fleet.source_root
        self.visibility = visibility_timeout(pool_options.max_time, pool_options.kill_grace,
                                             fleet.visibility_timeout)
        self.client = None
        self.stop_reason = None
        self.pending = {}           # test id -> spec, not reported yet
        self.started = {}           # test id -> monotonic time of its test_start
        self.slots = {}             # worker process -> slot number (the report's timeline rows)
        self.scheduler = None

    def stop(self, reason, hard=False):
        """Stop waiting (safe from a signal handler): the tests not reported
        stay queued; ``--resume`` picks up their results."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def run(self, scheduler):
        import redis

        self.scheduler = scheduler
        self.started = {}
        self.client = redis.Redis.from_url(self.broker)
        # Every test at once, in the planned order: no memory gate and no
        # locks across machines (docs/scheduling.rst).
        specs = scheduler.planned_order()
        self.pending = {s.id: s for s in specs}
        payloads = [payload_of(s, self.run_id, self.root, self.options) for s in specs]
        try:
            stored = results.results(self.client, self.run_id, self.pending)
            last_id = "0-0"
            for test, result in stored.items():
                self._result(test, result)
            held = set()
            if self.fleet.resume:
                # Sent by the coordinator that died and still queued or running: not sent again.
                held = results.in_broker(self.client, QUEUE, [results.task_id(self.run_id, t) for t in self.pending])
            app = make_app(self.broker, self.visibility)
            for p in payloads:
                tid = results.task_id(self.run_id, p["test"])
                if p["test"] in self.pending and tid not in held:
                    app.send_task(TASK_NAME, args=[p], task_id=tid)
            if held:
                self.events.emit({"action": "log", "level": "INFO",
                                  "message": "mozparallel: %d tests of run %s are still queued or running; "
                                             "not sent again" % (len(held), self.run_id)})
            self.events.flush()
            while self.pending and self.stop_reason is None:
                for entry_id, fields in results.read_stream(self.client, self.run_id, last_id, BLOCK_MS):
                    last_id = entry_id
                    test = fields.get("test")
                    if test not in self.pending:
                        continue
                    if fields["kind"] == "started":
                        self._start(test, fields.get("worker"))
                    elif fields["kind"] == "result":
                        result = results.results(self.client, self.run_id, [test]).get(test)
                        if result is not None:
                            self._result(test, result)
                self.events.flush()
                if self.on_tick is not None:
                    self.on_tick()
        except redis.RedisError as e:
            self.stop_reason = "broker %s failed: %s" % (self.broker.split("@")[-1], e)
        finally:
            self.client.close()
        if self.stop_reason is not None and self.pending:
            self.events.emit({"action": "log", "level": "ERROR",
                              "message": "mozparallel: %d tests not reported (%s); they stay queued, "
                                         "--resume %s collects them" % (len(self.pending), self.stop_reason,
                                                                        self.run_id)})

    def _start(self, test, worker=None):
        """The test's test_start; its events carry the worker slot that ran
        it (``name/pid``) as their mozlog ``thread``."""
        if test not in self.started:
            self.started[test] = time.monotonic()
            ev = {"action": "test_start", "test": test}
            if worker:
                ev["thread"] = worker
            self.events.emit(ev)

    def _result(self, test, result):
        spec = self.pending.pop(test)
        self._start(test, result.get("worker"))
        events = result.get("events") or []
        end = events[-1] if events else None
        if end is None or end.get("action") != "test_end":
            end = {"action": "test_end", "test": test, "status": "ERROR", "expected": "OK",
                   "message": "the worker sent no result"}
            events = events + [end]
        extra = end.setdefault("extra", {})
        worker = result.get("worker") or "?"
        extra["slot"] = self.slots.setdefault(worker, len(self.slots) + 1)
        wall = extra.get("wall")
        started = self.started[test]
        if wall is not None:
            started = min(started, time.monotonic() - wall)
        self.events.emit_many(events)
        if self.scheduler is not None and wall is not None:
            self.scheduler.finished(test, wall)
        if self.on_result is not None:
            self.on_result(TestResult(spec, end, bool(result.get("unexpected")), started))


def coordinator_factory(fleet, run_id):
    """The run's pool factory with ``--broker``: ``make(events, pool_options,
    on_result, on_tick)`` gives a Coordinator, as run.py's local factory
    gives a Pool. Each call after the first is a later round of the run (a
    re-run of failures, a repeat): a new set of tasks and results under
    ``RUN_ID.N``."""
    made = [0]

    def make(events, pool_options, on_result=None, on_tick=None):
        made[0] += 1
        round_id = run_id if made[0] == 1 else "%s.%d" % (run_id, made[0])
        return Coordinator(events, fleet, round_id, pool_options, on_result=on_result, on_tick=on_tick)
    return make
