"""``--resume RUN_ID``: carry on a run that was killed or interrupted. The
tests with a complete result recorded in that run are not run again; their
results are reported again (marked ``resumed_from``) so that the resumed
run's log, summary, exit status and HTML report cover the whole run.

Only the store is read: a result is complete once the recorder wrote it,
which it does as each test ends.
"""

from ..contract import COPIED_KEY
from ..errors import UsageError

# Runs looked through for the id when it has no results yet.
RUNS_SEARCHED = 1000


def _local(store):
    """The store that can list one run's results (SQLite, also under a mirror)."""
    return store if hasattr(store, "results_of_run") else getattr(store, "local", None)


def load_resumed(store, run_id):
    """{test id: ResultRecord} of run ``run_id`` in the run's open ``store``
    ({} without ``run_id``). Raises UsageError naming the id when the store
    does not know it."""
    from ..store import StoreError

    if not run_id:
        return {}
    if store is None:
        raise UsageError("--resume %s needs a history store (not --store none)" % run_id)
    try:
        local = _local(store)
        results = local.results_of_run(run_id) if local is not None else []
        if not results and not any(r.run_id == run_id for r in store.runs(RUNS_SEARCHED)):
            raise UsageError("--resume %s: no run with that id in %s" % (
                run_id, store.description))
    except StoreError as e:
        raise UsageError("--resume %s: %s" % (run_id, e))
    return {r.test: r for r in results}


def replay(logger, tests, resumed, run_id, on_result=None):
    """Report again, in ``tests`` order, the results ``resumed`` holds for
    them; ``on_result(end_event)`` for each. Returns the ids replayed."""
    done = []
    for test in tests:
        r = resumed.get(test)
        if r is None:
            continue
        extra = {COPIED_KEY: run_id}
        for name in ("wall", "cpu_user", "cpu_system", "peak_rss_kb", "maxrss_kb", "processes", "slot"):
            value = getattr(r, name)
            if value is not None:
                extra[name] = value
        message = "result recorded before --resume %s" % run_id
        logger.test_start(test)
        logger.test_end(test, r.status, expected=r.expected or r.status, message=message, extra=extra)
        if on_result is not None:
            end = {"test": test, "status": r.status, "extra": extra}
            if r.expected and r.expected != r.status and r.status != "SKIP":
                end["expected"] = r.expected
            on_result(end)
        done.append(test)
    return done
