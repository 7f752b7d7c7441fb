"""How a running test is ended, in stages: SIGTERM to its tree and its
process group, then after ``--kill-grace`` SIGKILL, then after
``KILL_SETTLE`` the runner stops waiting for its pipes. Only pids the
runner found as the test's own (kill.tree_pids) are signalled. The pool
decides when; this module knows how.
"""

import enum
import signal

from . import kill

# After SIGKILL, how long to wait for the pipes to close before giving up on
# them (a process we could not see still holds them).
KILL_SETTLE = 5.0


class Stage(enum.IntEnum):
    RUNNING = 0         # not being ended
    TERM_SENT = 1       # SIGTERM sent; SIGKILL at the deadline
    KILL_SENT = 2       # SIGKILL sent; stop waiting for the pipes at the deadline


def begin(r, pids, grace, now):
    """Start ending ``r`` (pool.Running): SIGTERM with ``grace`` seconds, or
    SIGKILL at once when ``grace`` is 0. ``pids``: its tree."""
    if grace > 0:
        _signal(r, pids, signal.SIGTERM)
        r.stage, r.stage_deadline = Stage.TERM_SENT, now + grace
    else:
        _signal(r, pids, signal.SIGKILL)
        r.stage, r.stage_deadline = Stage.KILL_SENT, now + KILL_SETTLE


def escalate(r, pids, now):
    """From TERM_SENT to KILL_SENT. Returns False when ``r`` was already
    past SIGKILL: then the caller gives up on its pipes."""
    if r.stage != Stage.TERM_SENT:
        return False
    _signal(r, pids, signal.SIGKILL)
    r.stage, r.stage_deadline = Stage.KILL_SENT, now + KILL_SETTLE
    return True


def _signal(r, pids, sig):
    r.killed |= pids
    kill.signal_pids(pids, sig)
    kill.signal_group(r.proc.pid, sig)
