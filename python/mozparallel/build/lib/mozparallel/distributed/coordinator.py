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

from ..cli import UsageError
from . import results
from .app import QUEUE, TASK_NAME, make_app, visibility_timeout

# How long one wait on the stream lasts: the live view's tick.
BLOCK_MS = 100


class Received:
    """What on_result reads of a "running" test, for a remote one."""

    def __init__(self, started, unexpected):
        self.started = started
        self.unexpected = unexpected


def _relative(path, root):
    rel = os.path.relpath(path, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise UsageError("%s is outside the source root %s: workers find tests by their path "
                         "relative to it (run from the root, or pass --source-root)" % (path, root))
    return rel


def payload_of(spec, run_id, root, options):
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
        "default_timeout": options.get("timeout"), "default_max_time": options.get("max_time"),
        "kill_grace": options.get("kill_grace", 5.0), "log_subtests": options.get("log_subtests") == "all",
        "allow_leaks": bool(options.get("allow_leaks")),
    }


class Coordinator:
    def __init__(self, events, options, run_id, pool_options=None, on_result=None, on_tick=None):
        self.events = events
        self.run_options = options
        self.options = pool_options         # what a Pool has (jobs, ...), for callers that read it
        self.base_run_id = self.run_id = run_id
        self.rounds = 0
        self.on_result = on_result
        self.on_tick = on_tick
        self.broker = options["broker"]
        self.root = os.path.abspath(options.get("source_root") or os.getcwd())
        self.visibility = visibility_timeout(options.get("max_time"), options.get("kill_grace", 5.0),
                                             options.get("visibility_timeout"))
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
        self.rounds += 1
        # A later round (a re-run of failures) is a new set of tasks and results.
        self.run_id = self.base_run_id if self.rounds == 1 else "%s.%d" % (self.base_run_id, self.rounds)
        self.started = {}
        self.client = redis.Redis.from_url(self.broker)
        policy = getattr(scheduler, "policy", scheduler)    # no memory gate across machines
        specs = []
        while True:
            spec = policy.next_test(1)
            if spec is None:
                break
            specs.append(spec)
        self.pending = {s.id: s for s in specs}
        payloads = [payload_of(s, self.run_id, self.root, self.run_options) for s in specs]
        try:
            stored = results.results(self.client, self.run_id, self.pending)
            last_id = "0-0"
            for test, result in stored.items():
                self._result(test, result)
            held = set()
            if self.run_options.get("resume"):
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
                        self._start(test)
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

    def _start(self, test):
        if test not in self.started:
            self.started[test] = time.monotonic()
            self.events.emit({"action": "test_start", "test": test})

    def _result(self, test, result):
        spec = self.pending.pop(test)
        self._start(test)
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
            self.on_result(spec, end, Received(started, bool(result.get("unexpected"))))


def coordinator_factory(options, run_id):
    """A stand-in for ``Pool`` in run.py: same constructor arguments, a
    Coordinator for this run."""
    def make(events, make_parser, pool_options, on_result=None, on_tick=None, **ignored):
        return Coordinator(events, options, run_id, pool_options, on_result=on_result, on_tick=on_tick)
    return make
