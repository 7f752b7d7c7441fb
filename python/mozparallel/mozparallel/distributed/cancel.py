"""Cancel a fleet run from anywhere (``paralleltest cancel RUN_ID``): its
queued tests are dropped, nothing of it starts again on any worker, and
the slots running its tests end them at their next lease refresh (within
about a second). Its coordinator, if alive, sees the cancellation and
reports every test not reported as an ERROR."""

import time

from .runstate import REFRESH_EVERY, RunState, connect

REASON = "cancelled by paralleltest cancel"


class UnknownRun(Exception):
    pass


def cancel_run(url, run_id, wait=10.0):
    """(queued tests dropped, tests running when cancelled, tests still
    running after ``wait`` seconds). UnknownRun if the broker has no such run."""
    client = connect(url)
    try:
        state = RunState(client, run_id)
        if not state.exists():
            raise UnknownRun(run_id)
        running = state.running()
        dropped = state.cancel(REASON)
        deadline = time.monotonic() + wait
        left = running
        while left and time.monotonic() < deadline:
            time.sleep(min(0.2, REFRESH_EVERY))
            left = state.running()
        return dropped, len(running), len(left)
    finally:
        client.close()
