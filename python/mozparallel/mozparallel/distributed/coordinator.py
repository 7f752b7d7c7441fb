"""The coordinator (``paralleltest --broker redis://... TEST...``): feeds the
run's queue in the scheduler's order, a bounded window at a time, asks the
fleet for slots, and reports each result as it arrives through the same
``EventLog`` and ``on_result`` (tally, store) and ``on_tick`` (live view)
as the local pool. It stands where the pool stands in run.py
(``run(scheduler)``, ``stop``).

What it watches, itself, without waiting on any broker timeout:

- each running test's lease (runstate.py): a test whose slot stopped
  refreshing it for LEASE_MS goes back to the head of the queue at once
  ("worker W lost; T re-queued"). After the broker itself stalled, no lease
  is judged until every slot had time to refresh;
- the workers' beats (registry.py): joined, left, and how many slots the
  window and the slot requests are sized for;
- the broker: an outage is waited out with backoff; a run that cannot
  finish within --broker-patience reports every test not reported as an
  ERROR naming the reason (exit 1), and ``--resume`` runs them;
- cancellation: Ctrl-C (or --max-failures) empties the run's queue and
  ends its running tests on every worker; ``paralleltest cancel RUN_ID``
  does the same from anywhere and this run then reports what did not run.

A test is reported once, whatever runs twice. Results that workers stored
while no coordinator listened (one killed, then restarted with
``--resume``) are taken from the run's hash.
"""

import json
import os
import time
from collections import deque
from dataclasses import dataclass

from ..contract import ENDED_STOPPED, TestResult
from ..errors import UsageError
from . import tree
from .app import QUEUE, SERVE_TASK, make_app
from .registry import live_workers
from .runstate import LEASE_MS, RunState, connect, slot_worker

BLOCK_MS = 100              # one wait on the stream: the live view's tick
HOUSEKEEPING_EVERY = 0.5    # leases, workers, slot requests, the run's own beat
WORKERS_EVERY = 0.5
TRIM_EVERY = 5.0
MIN_WINDOW = 16             # tests queued ahead of the slots, at least
WINDOW_PER_SLOT = 4              # ... and this many per live slot
STALL = 1.0                 # a broker call this much slower than asked is a stall
REQUEST_PENDING = 10.0      # a slot request nobody took after this long is asked again
CANCEL_WAIT = 5.0           # seconds to wait for the workers to end the running tests
BACKOFF = (0.2, 5.0)        # reconnection delays: first, longest
DEFAULT_PATIENCE = 120.0    # seconds without a broker before the run gives up


@dataclass(frozen=True)
class FleetSettings:
    """What the coordinator reads of a run's options (settings.py builds it)."""

    broker: str                     # --broker URL
    source_root: str                # --source-root (absolute)
    resume: bool = False            # --resume: tests of the run may be queued or running
    patience: float = DEFAULT_PATIENCE      # --broker-patience


def _relative(path, root):
    rel = os.path.relpath(path, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise UsageError("%s is outside the source root %s: workers find tests by their path "
                         "relative to it (run from the root, or pass --source-root)" % (path, root))
    return rel


def payload_of(spec, root, pool_options):
    """What a slot needs to run ``spec``: paths relative to the root, the
    file's digest (the worker checks it), the run's limits (--timeout,
    --max-time, the kill grace travel with each test)."""
    argv = list(spec.argv)
    path_args = []
    path = digest = None
    if spec.path is not None:
        full = os.path.abspath(spec.path)
        path = _relative(full, root)
        digest = tree.digest(full)
        for i, arg in enumerate(argv):
            if spec.is_path_arg(arg):
                argv[i] = path
                path_args.append(i)
    return {
        "test": spec.id, "path": path, "digest": digest, "argv": argv, "path_args": path_args,
        "group": spec.group, "protocol": spec.protocol, "timeout": spec.timeout, "max_time": spec.max_time,
        "expected_fail": spec.expected_fail, "expected_outcome": spec.expected_outcome,
        "cwd": _relative(spec.cwd, root) if spec.cwd else None,
        "default_timeout": pool_options.timeout, "default_max_time": pool_options.max_time,
        "kill_grace": pool_options.kill_grace, "log_subtests": pool_options.log_subtests,
        "allow_leaks": pool_options.allow_leaks,
    }


def broker_errors():
    import redis

    return (redis.ConnectionError, redis.TimeoutError)


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
        self.root = fleet.source_root
        self.where = _describe(fleet.broker)
        self.stop_reason = None
        self.stop_hard = False
        self.scheduler = None
        self.order = deque()        # specs not handed out yet, in the planned order
        self.state = None
        self.app = None
        self.pending = {}           # test id -> spec, not reported yet
        self.queued = set()         # pushed, not started
        self.running = {}           # test id -> (slot, attempt)
        self.started = {}           # test id -> monotonic time of its test_start
        self.payloads = {}          # test id -> payload JSON, while queued or running
        self.lanes = {}             # slot -> number (the report's timeline rows)
        self.workers = {}           # live workers: name -> beat info
        self.refused = {}           # worker -> why it refused the run
        self.cannot = {}            # test id -> {worker: why it could not start it}
        self.servers = {}           # slot -> worker, serving the run now
        self.requests = deque()     # monotonic times of slot requests not taken yet
        self.unexpected_count = 0
        self.last_id = "0-0"
        self.calm_after = 0.0       # no lease is judged before (after a broker stall)
        self.next_housekeeping = self.next_workers = self.next_trim = 0.0
        self.celery_waiting = 0     # serve tasks waiting in Celery's queue (all runs)
        self.outage_since = None
        self.external_cancel = None
        self.sample = []            # the tree check's sample (tree.py), sent with the run

    def stop(self, reason, hard=False):
        """Stop the run (safe from a signal handler): the loop cancels it on
        the broker at its next turn."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if hard:
            self.stop_hard = True

    # -- the run ----------------------------------------------------------------
    def run(self, scheduler):
        self.scheduler = scheduler
        # Handed out in the planned order, a window at a time: no memory gate
        # and no locks across machines (docs/scheduling.rst).
        self.order = deque(scheduler.planned_order())
        self.pending = {s.id: s for s in self.order}
        self.state = RunState(connect(self.fleet.broker), self.run_id)
        try:
            self._guarded(self._open)
            while self.pending and self.stop_reason is None:
                self._guarded(self._turn)
                self.events.flush()
                if self.on_tick is not None:
                    self.on_tick()
            self._close()
        finally:
            self.events.flush()
            self.state.client.close()

    def _guarded(self, step):
        """``step()``; a broker outage is waited out (backoff) up to the
        patience, then the run stops."""
        delay = BACKOFF[0]
        while self.stop_reason is None:
            try:
                step()
            except broker_errors() as e:
                now = time.monotonic()
                if self.outage_since is None:
                    self.outage_since = now
                    self._log("WARNING", "mozparallel: broker %s unreachable (%s); retrying for up to %gs"
                              % (self.where, _short(e), self.fleet.patience))
                elif now - self.outage_since > self.fleet.patience:
                    self.stop_reason = "broker %s unreachable for %.0fs" % (self.where, now - self.outage_since)
                    return
                self.events.flush()
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF[1])
                continue
            if self.outage_since is not None:
                down = time.monotonic() - self.outage_since
                self._log("INFO", "mozparallel: broker %s back after %.1fs" % (self.where, down))
                self.outage_since = None
                self._calm()
                self._guarded(self._recover)
            return

    def _calm(self):
        """After a stall every slot gets a full lease to refresh before any is judged."""
        self.calm_after = time.monotonic() + LEASE_MS / 1000.0 + 1.0

    def _open(self):
        state = self.state
        files = [s for s in self.order if s.path]
        step = max(1, len(files) // tree.SAMPLE)
        sample = []
        for spec in files[::step][:tree.SAMPLE]:
            sample.append((_relative(os.path.abspath(spec.path), self.root), tree.digest(spec.path)))
        self.sample = sample
        state.create(sample)
        self.last_id = state.tip()
        stored = state.results(self.pending)
        for test, result in stored.items():
            self._result(test, result)
        if self.fleet.resume:
            # Left queued or running by the coordinator that stopped: not sent again.
            queued = [t for t in state.queued_tests() if t in self.pending]
            self.queued.update(queued)
            for test, held in state.leases([t for t in self.pending if t not in self.queued]).items():
                slot, _, attempt = held.rpartition("|")
                self.running[test] = (slot, attempt)
            if self.queued or self.running:
                self._log("INFO", "mozparallel: %d tests of run %s are still queued or running; not sent again"
                          % (len(self.queued) + len(self.running), self.run_id))
        self._housekeeping(time.monotonic())

    def _recover(self):
        """After an outage: a broker restarted without its data (no
        persistence) lost the run's queue and leases. Open the run again and
        queue every test not reported; a copy still running on a worker
        finishes first or is ended by the first result."""
        if self.state.exists():
            return
        lost = sorted(self.queued | set(self.running))
        self._log("WARNING", "mozparallel: broker %s lost run %s's state (restarted without persistence?); "
                             "%d tests queued again" % (self.where, self.run_id, len(lost)))
        self.state.create(self.sample)
        self.last_id = "0-0"
        self.running.clear()
        self.queued = set(lost)
        self.servers.clear()
        self.requests.clear()
        self.state.push([self._payload(t) for t in lost])

    def _turn(self):
        asked = time.monotonic()
        entries = self.state.read(self.last_id, BLOCK_MS)
        now = time.monotonic()
        if now - asked > BLOCK_MS / 1000.0 + STALL:
            self._calm()
        for entry_id, fields in entries:
            self.last_id = entry_id
            self._entry(fields)
        if now >= self.next_housekeeping and self.stop_reason is None:
            self._housekeeping(now)
        self._top_up()

    # -- what the stream says ---------------------------------------------------
    def _entry(self, f):
        kind = f.get("kind")
        test = f.get("test")
        if kind == "result":
            if test in self.pending:
                self._result(test, json.loads(f["result"]))
        elif kind == "started":
            if test in self.pending:
                self.queued.discard(test)
                self.running[test] = (f["slot"], f["attempt"])
                self._start(test, f["slot"])
        elif kind == "stopped":
            if self.running.get(test, (None,))[0] == f["slot"]:
                self.running.pop(test, None)
        elif kind == "handback":
            self._handback(test, f["slot"], f.get("why", ""))
        elif kind == "serving":
            self.servers[f["slot"]] = slot_worker(f["slot"])
            if self.requests:
                self.requests.popleft()
        elif kind == "served":
            self.servers.pop(f["slot"], None)
        elif kind == "refused":
            worker = slot_worker(f["slot"])
            if self.requests:
                self.requests.popleft()
            if worker not in self.refused:
                self.refused[worker] = f.get("why", "")
                self._log("ERROR", "mozparallel: worker %s refused run %s: %s" % (worker, self.run_id,
                                                                                   f.get("why", "")))

    def _handback(self, test, slot, why):
        if test not in self.pending:
            return
        if self.running.get(test, (None,))[0] == slot:
            self.running.pop(test, None)
        worker = slot_worker(slot)
        self.cannot.setdefault(test, {})[worker] = why
        self.queued.add(test)
        self._log("WARNING", "mozparallel: worker %s could not start %s; handed back (%s)" % (worker, test, why))
        self._give_up_unstartable(test)

    def _give_up_unstartable(self, test):
        """A test no live worker can start is reported, not passed round forever."""
        able = [w for w in self.workers if w not in self.refused and w not in self.cannot.get(test, {})]
        if able or not self.workers or test not in self.queued:
            return
        payload = self.payloads.get(test)
        if payload is not None:
            self.state.client.lrem(self.state.queue, 0, payload)
        self.queued.discard(test)
        reasons = "; ".join(self.cannot[test].values())
        self._report_missing(test, "no worker could start it: %s" % reasons, complete=True)

    # -- housekeeping ------------------------------------------------------------
    def _housekeeping(self, now):
        self.next_housekeeping = now + HOUSEKEEPING_EVERY
        state = self.state
        _, cancelled = state.heartbeat()
        if cancelled is not None and self.stop_reason is None:
            self.external_cancel = cancelled
            self.stop_reason = "run cancelled (%s)" % cancelled
            return
        if now >= self.next_workers:
            self.next_workers = now + WORKERS_EVERY
            self._watch_workers(now)
        if now >= self.calm_after:
            self._watch_leases()
        self._request_slots(now)
        if now >= self.next_trim and self.last_id != "0-0":
            self.next_trim = now + TRIM_EVERY
            state.trim(self.last_id)

    def _watch_workers(self, now):
        client = self.state.client
        live = live_workers(client)
        for name in sorted(set(live) - set(self.workers)):
            self._log("INFO", "mozparallel: worker %s joined (%d slots)" % (name, live[name].get("slots", 1)))
        if now < self.calm_after:
            # After a broker stall every beat may have expired: gone only once they had time to beat again.
            live = dict(self.workers, **live)
        gone = sorted(set(self.workers) - set(live))
        self.workers = live
        self.celery_waiting = client.llen(QUEUE)
        if not gone:
            return
        for slot, worker in list(self.servers.items()):
            if worker in gone:
                del self.servers[slot]
        rescued = {}
        for test, (slot, attempt) in sorted(self.running.items()):
            worker = slot_worker(slot)
            if worker in gone and self.state.requeue(test, attempt, self._payload(test), slot, force=True) in (
                    "requeued", "moved"):
                del self.running[test]
                self.queued.add(test)
                rescued.setdefault(worker, []).append(test)
        for slot, worker in self.state.served_slots().items():
            if worker in gone:
                test = self.state.rescue(slot)
                if test is not None and test in self.pending:
                    self.queued.add(test)
                    rescued.setdefault(worker, []).append(test)
        for name in gone:
            tests = rescued.get(name, [])
            if tests:
                self._log("WARNING", "mozparallel: worker %s lost; %s re-queued" % (name, ", ".join(tests)))
            else:
                self._log("INFO", "mozparallel: worker %s left" % name)

    def _watch_leases(self):
        state = self.state
        lost = {}
        for test in state.lapsed(list(self.running)):
            slot, attempt = self.running[test]
            answer = state.requeue(test, attempt, self._payload(test), slot)
            if answer == "requeued":
                self.running.pop(test)
                self.queued.add(test)
                lost.setdefault(slot_worker(slot), []).append(test)
            elif answer == "moved":         # another coordinator of this run put it back
                self.running.pop(test)
                self.queued.add(test)
        for worker, tests in sorted(lost.items()):
            self._log("WARNING", "mozparallel: worker %s lost; %s re-queued" % (worker, ", ".join(tests)))

    def _live_slots(self):
        return sum(int(info.get("slots") or 1) for name, info in self.workers.items() if name not in self.refused)

    def _request_slots(self, now):
        """Ask for as many slots as the run can use: serve tasks, one each."""
        while self.requests and now - self.requests[0] > REQUEST_PENDING and not self.celery_waiting:
            self.requests.popleft()         # taken by a worker that vanished: ask again
        waiting = len(self.queued) + len(self.order)
        wanted = min(self._live_slots(), waiting + len(self.running))
        # A slot on a worker that handed back every queued test is no use for them.
        handed = [self.cannot[t] for t in self.queued if t in self.cannot]
        useful = [w for w in self.servers.values()
                  if not handed or len(handed) < len(self.queued) or not all(w in c for c in handed)]
        need = wanted - len(useful) - len(self.requests)
        if need <= 0 or waiting == 0:
            return
        if self.app is None:
            self.app = make_app(self.fleet.broker)
        for _ in range(need):
            self.app.send_task(SERVE_TASK, args=[self.run_id])
            self.requests.append(now)

    def _top_up(self):
        window = max(MIN_WINDOW, WINDOW_PER_SLOT * self._live_slots())
        room = window - len(self.queued)
        if room <= 0:
            return
        taken, payloads = [], []
        while room > 0 and self.order:
            spec = self.order.popleft()
            if spec.id not in self.pending or spec.id in self.queued or spec.id in self.running:
                continue        # reported from the hash, or left queued/running (--resume)
            taken.append(spec)
            payloads.append(self._payload(spec.id))
            room -= 1
        try:
            self.state.push(payloads)
        except broker_errors():
            self.order.extendleft(reversed(taken))      # sent again once the broker is back
            raise
        self.queued.update(s.id for s in taken)

    def _payload(self, test):
        text = self.payloads.get(test)
        if text is None:
            text = self.payloads[test] = json.dumps(payload_of(self.pending[test], self.root, self.options))
        return text

    # -- the end ----------------------------------------------------------------
    def _close(self):
        if not self.pending:
            self._guarded(self.state.end)
            return
        if self.external_cancel is not None or self.outage_since is not None:
            # The run cannot finish: every test not reported says why, and fails it.
            missing = sorted(self.pending)
            self._log("ERROR", "mozparallel: %d tests not reported (%s): %s; --resume %s runs them"
                      % (len(missing), self.stop_reason, ", ".join(missing), self.run_id))
            for test in missing:
                self._report_missing(test, "not reported: %s" % self.stop_reason)
            if self.outage_since is None:
                self._guarded(self.state.end)
            return
        self._cancel()

    def _cancel(self):
        """Ctrl-C, --max-failures: nothing of the run starts again anywhere,
        and its running tests end on their workers."""
        reason = self.stop_reason
        try:
            purged = self.state.cancel("coordinator stopped: %s" % reason)
        except broker_errors() as e:
            self._log("ERROR", "mozparallel: could not cancel run %s on the broker (%s): its queued tests "
                               "may still run" % (self.run_id, _short(e)))
            return
        self._log("INFO", "mozparallel: run %s cancelled (%s): %d queued tests dropped, %d running tests "
                          "being ended on their workers" % (self.run_id, reason, purged, len(self.running)))
        began = time.monotonic()
        ended = sorted(self.running)
        try:
            # (a second Ctrl-C shortens the wait)
            while self.running and time.monotonic() - began < (2.0 if self.stop_hard else CANCEL_WAIT):
                for entry_id, fields in self.state.read(self.last_id, BLOCK_MS):
                    self.last_id = entry_id
                    self._entry(fields)
                self.events.flush()
            self.state.end()
        except broker_errors():
            pass
        for test in ended:      # ended by their slots (or not confirmed in time): no result
            if test in self.pending:
                self._report_missing(test, "ended on its worker: %s" % reason)

    def _report_missing(self, test, message, complete=False):
        """A test without a result from any worker: an ERROR, not recorded
        (``--resume`` runs it) unless ``complete``."""
        self.running.pop(test, None)
        self.queued.discard(test)
        self._result(test, {"events": [{"action": "test_end", "test": test, "status": "ERROR", "expected": "OK",
                                         "message": message}], "unexpected": True},
                     ended_by=None if complete else ENDED_STOPPED)

    # -- reporting ---------------------------------------------------------------
    def _log(self, level, message):
        self.events.emit({"action": "log", "level": level, "message": message})

    def _start(self, test, worker=None):
        """The test's test_start; its events carry the worker slot that ran
        it (``name/pid``) as their mozlog ``thread``."""
        if test not in self.started:
            self.started[test] = time.monotonic()
            ev = {"action": "test_start", "test": test}
            if worker:
                ev["thread"] = worker
            self.events.emit(ev)

    def _result(self, test, result, ended_by=None):
        spec = self.pending.pop(test)
        self.queued.discard(test)
        self.running.pop(test, None)
        self.payloads.pop(test, None)
        self._start(test, result.get("worker"))
        events = result.get("events") or []
        end = events[-1] if events else None
        if end is None or end.get("action") != "test_end":
            end = {"action": "test_end", "test": test, "status": "ERROR", "expected": "OK",
                   "message": "the worker sent no result"}
            events = events + [end]
        extra = end.setdefault("extra", {})
        worker = result.get("worker")
        if worker:
            extra["slot"] = self.lanes.setdefault(worker, len(self.lanes) + 1)
        wall = extra.get("wall")
        started = self.started[test]
        if wall is not None:
            started = min(started, time.monotonic() - wall)
        self.events.emit_many(events)
        if wall is not None:
            self.scheduler.finished(test, wall)
        unexpected = bool(result.get("unexpected"))
        if self.on_result is not None:
            self.on_result(TestResult(spec, end, unexpected, started, ended_by))
        if unexpected and ended_by is None:
            self.unexpected_count += 1
            limit = self.options.max_failures
            if limit and self.unexpected_count >= limit and self.stop_reason is None:
                self.stop("--max-failures %d reached" % limit, hard=True)


def _describe(url):
    from ..store.redis_store import describe

    return describe(url)


def _short(error):
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def coordinator_factory(fleet, run_id):
    """The run's pool factory with ``--broker``: ``make(events, pool_options,
    on_result, on_tick)`` gives a Coordinator, as run.py's local factory
    gives a Pool. Each call after the first is a later round of the run (a
    re-run of failures, a repeat): a new set of tests and results under
    ``RUN_ID.N``."""
    made = [0]

    def make(events, pool_options, on_result=None, on_tick=None):
        made[0] += 1
        round_id = run_id if made[0] == 1 else "%s.%d" % (run_id, made[0])
        return Coordinator(events, fleet, round_id, pool_options, on_result=on_result, on_tick=on_tick)
    return make
