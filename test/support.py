"""Stand-ins for unit tests: a module is driven directly, without the CLI,
with these around it in place of its neighbours. None of them stands in
for what a test is about; each keeps to the contract of what it replaces
(test_support.py checks them against the real ones).

``FakeScheduler``
    contract.Scheduler over a list of TestSpecs; records what it was asked.
``InMemoryStore``
    the store protocol (store/records.py, the whole surface of
    store/sqlite_store.py) in dicts; can be told to fail.
``ScriptedPools``
    a ``new_pool(events, jobs, on_result)`` factory (flaky/rounds.py) whose
    pools start no process: each test ends with the next status scripted
    for it.
``EventSink``
    an EventLog that keeps the events it is given.
``LogLines``
    a real mozlog logger whose messages are kept.
"""

import copy
import dataclasses
import inspect
import itertools
import time

from mozparallel.contract import ENDED_STOPPED, TestResult, TestSpec, is_unexpected
from mozparallel.store.records import RunRecord, check_row_fields, median_durations
from mozparallel.store.sqlite_store import LOOKBACK, StoreError


def specs(*names, **kwargs):
    """TestSpecs named ``names`` (argv: the name; path /s/NAME)."""
    return [TestSpec(id=n, argv=[n], path="/s/" + n, **kwargs) for n in names]


def assert_implements(obj, protocol):
    """Every member ``protocol`` declares is on ``obj``; each method takes
    the protocol's parameters by the same names, in the same order, with the
    same defaults."""
    declared = set(getattr(protocol, "__annotations__", {}))
    declared |= {n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")}
    for name in sorted(declared):
        assert hasattr(obj, name), "%s has no %s (%s)" % (type(obj).__name__, name, protocol.__name__)
        want = vars(protocol).get(name)
        if not callable(want):
            continue
        got = inspect.signature(getattr(obj, name))
        params = [(p.name, p.default) for p in list(inspect.signature(want).parameters.values())[1:]]
        assert [(p.name, p.default) for p in got.parameters.values()] == params, \
            "%s.%s%s is not %s%s" % (type(obj).__name__, name, got, name, inspect.signature(want))


# -- the schedule ----------------------------------------------------------------

class FakeScheduler:
    """contract.Scheduler handing out ``specs`` in the order given.

    What it was asked is kept: ``asked`` (the slot of each ``next_test``
    call, answered or not), ``handed`` (ids, in order), ``finished_calls``
    ((id, seconds), in order), ``retried`` (ids given back by
    ``retry_alone``, put first). ``hold()`` makes ``next_test`` answer None
    ("nothing now") until ``release()``, tests left or not."""

    def __init__(self, specs=(), expected=None, predicted=None, name="fake", seed=None):
        self.name = name
        self.seed = seed
        self.expected = dict(expected or {})
        self.predicted = dict(predicted or {})
        self._queue = list(specs)
        self.held = False
        self.asked = []
        self.handed = []
        self.finished_calls = []
        self.retried = []

    def next_test(self, slot):
        self.asked.append(slot)
        if self.held or not self._queue:
            return None
        spec = self._queue.pop(0)
        self.handed.append(spec.id)
        return spec

    def finished(self, test_id, seconds):
        self.finished_calls.append((test_id, seconds))

    def retry_alone(self, spec):
        self.retried.append(spec.id)
        self._queue.insert(0, spec)

    def remaining(self):
        return len(self._queue)

    def planned_order(self):
        return list(self._queue)

    def hold(self):
        self.held = True

    def release(self):
        self.held = False


# -- the store -------------------------------------------------------------------

class InMemoryStore:
    """The history store in memory: what SQLiteStore answers, for the same
    records, in the same order (test_support.py compares the two).

    ``fail_on``: names of methods that raise StoreError (as a store that
    went away does); ``closed`` counts ``close()`` calls; ``writes`` lists
    every write call as (method name, run id)."""

    def __init__(self, description="memory", fail_on=()):
        self.description = description
        self.fail_on = set(fail_on)
        self.closed = 0
        self.writes = []
        self._runs = {}             # run id -> RunRecord (a copy)
        self._synced = {}           # run id -> remote description
        self._results = {}          # run id -> {test: ResultRecord}, in insertion order
        self._order = itertools.count()
        self._run_seq = {}          # run id -> insertion number (ties in ``started``)

    def _check(self, name):
        if self.closed:
            raise StoreError("cannot use the history store %s: it is closed" % self.description)
        if name in self.fail_on:
            raise StoreError("cannot write to the history store %s: %s failed (as told)"
                             % (self.description, name))

    # -- writing -------------------------------------------------------------
    def record_run_start(self, run):
        self._check("record_run_start")
        self.writes.append(("record_run_start", run.run_id))
        self._runs[run.run_id] = copy.deepcopy(run)
        self._run_seq.setdefault(run.run_id, next(self._order))
        self._synced.pop(run.run_id, None)      # INSERT OR REPLACE starts the row afresh

    def record_result(self, run_id, result):
        self._check("record_result")
        self.writes.append(("record_result", run_id))
        table = self._results.setdefault(run_id, {})
        table.pop(result.test, None)            # INSERT OR REPLACE: the newest row is the last
        table[result.test] = dataclasses.replace(result, run_id="", run_started=None)

    def record_run_end(self, run_id, ended, status):
        self._check("record_run_end")
        self.writes.append(("record_run_end", run_id))
        run = self._runs.get(run_id)
        if run is not None:
            run.ended, run.status = ended, status

    def mark_synced(self, run_id, remote):
        self._check("mark_synced")
        if run_id in self._runs:
            self._synced[run_id] = remote

    # -- reading -------------------------------------------------------------
    def _newest_runs(self, n):
        ordered = sorted(self._runs.values(), key=lambda r: (r.started, self._run_seq[r.run_id]), reverse=True)
        return ordered[:max(n, 0)]

    def _records(self, run):
        """The results of ``run`` as a store hands them out, in end order
        (a result without an end offset first, as SQLite sorts NULL)."""
        rows = [dataclasses.replace(r, run_id=run.run_id, run_started=run.started)
                for r in self._results.get(run.run_id, {}).values()]
        return sorted(rows, key=lambda r: (r.end_offset is not None, r.end_offset or 0.0))

    def durations(self, test_ids, command=None):
        self._check("durations")
        runs = self._newest_runs(len(self._runs))
        by_test = {}
        for test in test_ids:
            found = []
            for run in runs:
                result = self._results.get(run.run_id, {}).get(test)
                if result is not None:
                    found.append(dataclasses.replace(result, run_id=run.run_id, run_started=run.started))
            by_test[test] = found[:LOOKBACK]
        return median_durations(by_test, command)

    def recent_results(self, runs=10, command=None):
        self._check("recent_results")
        out = []
        for run in reversed(self._newest_runs(runs)):
            out.extend(r for r in self._records(run) if command is None or r.command == command)
        return out

    def recent_rows(self, runs=10, fields=("test", "wall")):
        fields = check_row_fields(fields)
        return [tuple(getattr(r, f) for f in fields) for r in self.recent_results(runs)]

    def results_of_run(self, run_id):
        self._check("results_of_run")
        run = self._runs.get(run_id)
        return self._records(run) if run is not None else []

    def runs(self, limit=10):
        self._check("runs")
        return [copy.deepcopy(r) for r in self._newest_runs(limit)]

    def unsynced_runs(self, remote, limit=50):
        self._check("unsynced_runs")
        # Newest first, as SQLiteStore returns them (through its runs()).
        return [copy.deepcopy(r) for r in self._newest_runs(limit)
                if r.ended is not None and self._synced.get(r.run_id) != remote]

    def close(self):
        self.closed += 1


def run_record(run_id, started, **kwargs):
    return RunRecord(run_id=run_id, started=started, **kwargs)


# -- the pool --------------------------------------------------------------------

class ScriptedPools:
    """A ``new_pool(events, jobs, on_result)`` factory (flaky/rounds.py):
    its pools run no process; each test ends with the next status of
    ``script[test id]`` (a list, one per run of the test, the last one
    repeated; "OK" for a test not in it). ``during(pool, spec)``, if given,
    is called while each test "runs" (after its test_start): the place to
    stop the rounds.

    ``pools`` holds every pool made, each with ``jobs`` and ``ran`` (the
    ids it ran, in order)."""

    def __init__(self, script=None, during=None):
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.during = during
        self.pools = []
        self.runs_of = {}           # test id -> times it ran, over every pool

    def __call__(self, events, jobs, on_result):
        pool = ScriptedPool(self, events, jobs, on_result)
        self.pools.append(pool)
        return pool

    def status_for(self, test_id):
        n = self.runs_of.get(test_id, 0)
        self.runs_of[test_id] = n + 1
        statuses = self.script.get(test_id) or ["OK"]
        return statuses[min(n, len(statuses) - 1)]

    def ran(self):
        """The ids each pool ran, pool by pool."""
        return [pool.ran for pool in self.pools]


class ScriptedPool:
    """What FlakyRounds asks of a pool: ``run(scheduler)``, ``stop(reason,
    hard)``, ``stop_reason``. Tests run one after another, on slots 1..jobs
    in turn; each reports to the scheduler (``finished``) and then to
    ``on_result`` a TestResult, after its events were emitted, as the real
    pool does."""

    def __init__(self, pools, events, jobs, on_result):
        self.pools = pools
        self.events = events
        self.jobs = jobs
        self.on_result = on_result
        self.stop_reason = None
        self.stop_hard = False
        self.ran = []

    def stop(self, reason, hard=False):
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_hard = self.stop_hard or hard

    def run(self, scheduler):
        slots = itertools.cycle(range(1, self.jobs + 1))
        while self.stop_reason is None:
            slot = next(slots)
            spec = scheduler.next_test(slot)
            if spec is None:
                return
            self._one(scheduler, spec, slot)

    def _one(self, scheduler, spec, slot):
        started = time.monotonic()
        self.ran.append(spec.id)
        self.events.emit({"action": "test_start", "test": spec.id})
        if self.pools.during is not None:
            self.pools.during(self, spec)
        ended_by = None
        if self.stop_reason is not None:
            status, message, ended_by = "ERROR", "ended by the runner: " + self.stop_reason, ENDED_STOPPED
        else:
            status = self.pools.status_for(spec.id)
            message = "" if status == "OK" else "scripted %s" % status
        end = {"action": "test_end", "test": spec.id, "status": status}
        if status != "OK":
            end["expected"] = "OK"          # mozlog's normal form: only when it differs
        if message:
            end["message"] = message
        wall = time.monotonic() - started
        end["extra"] = {"wall": round(wall, 6), "slot": slot}
        scheduler.finished(spec.id, wall)
        self.events.emit(dict(end))         # an EventLog may take the dict apart
        self.on_result(TestResult(spec, end, is_unexpected(end), started, ended_by))


# -- events and the log ----------------------------------------------------------

class EventSink:
    """An EventLog (events.py) that keeps copies of what it is given."""

    def __init__(self):
        self.events = []
        self.flushes = 0

    def emit(self, ev):
        self.events.append(dict(ev))

    def emit_many(self, evs):
        for ev in evs:
            self.emit(ev)

    def flush(self):
        self.flushes += 1

    def of(self, action):
        return [e for e in self.events if e["action"] == action]

    def ends(self, test):
        """The test_end events of ``test``, in order."""
        return [e for e in self.of("test_end") if e["test"] == test]


class LogLines:
    """A real mozlog StructuredLogger whose log messages are kept in
    ``lines`` (its name is unique: mozlog shares state between loggers of
    one name)."""

    _names = itertools.count()

    def __init__(self):
        from mozlog.structuredlog import StructuredLogger

        self.logger = StructuredLogger("support-%d" % next(self._names))
        self.data = []
        self.logger.add_handler(self.data.append)

    @property
    def lines(self):
        return [d["message"] for d in self.data if d["action"] == "log"]
