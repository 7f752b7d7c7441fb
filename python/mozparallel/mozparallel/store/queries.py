"""Questions a run asks of the history before it starts, beyond the
scheduler's durations (schedule/history.py)."""

from ..contract import unexpected_status

RUNS_LOOKED_AT = 50


def last_failures(store, test_ids, runs=RUNS_LOOKED_AT):
    """(run id, ids with an unexpected result in it) of the newest ordinary
    run (not a retry or repeat round) that ran any of ``test_ids``;
    (None, set()) when no recent run did."""
    ids = set(test_ids)
    rows = store.recent_rows(runs, ("run_id", "test", "status", "expected"))
    by_run = {}
    for run_id, test, status, expected in rows:
        if test in ids:
            by_run.setdefault(run_id, []).append((test, status, expected))
    for run in store.runs(limit=runs):          # newest first
        if run.kind or run.run_id not in by_run:
            continue
        return run.run_id, {t for t, status, expected in by_run[run.run_id] if unexpected_status(status, expected)}
    return None, set()
