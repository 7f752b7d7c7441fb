"""``-j auto``: how many tests to run at once, from the history of the tests
about to run and the machine. CPU-bound suites get about one job per core,
sleep- or I/O-bound ones more; never more than the tests, than can shorten
the run, or than the predicted peak memory allows.
"""

import math
from dataclasses import dataclass

from ..store.records import median

# At most this many jobs per core, however idle the tests are: each running
# test still costs the runner a few file descriptors and some bookkeeping.
MAX_PER_CORE = 8
# Tests busy at least this much of their wall time are CPU-bound: one job per
# core (the runner needs a little CPU too, so no more).
CPU_BOUND = 0.75


@dataclass
class JobsChoice:
    jobs: int
    reason: str


def choose_jobs(history, test_ids, cores, budget=None):
    """A JobsChoice for ``test_ids`` on a machine with ``cores`` CPUs, where
    the tests may use ``budget`` bytes of memory together (None: unknown)."""
    cores = max(1, cores or 1)
    ids = list(test_ids)
    if not ids:
        return JobsChoice(1, "no tests to run")
    known = [history.figures[t] for t in ids
             if t in history.figures and history.figures[t].wall is not None and history.figures[t].cpu is not None]
    if not known:
        return _capped(cores, "no CPU history for these tests: one per core (%d cores)" % cores, ids)
    wall = sum(f.wall for f in known)
    cpu = sum(f.cpu for f in known)
    load = cpu / wall if wall > 0 else 1.0
    if load >= CPU_BOUND:
        jobs = cores
    else:
        jobs = max(cores, math.floor(cores / max(load, 1.0 / MAX_PER_CORE)))
    # Each step names the J it leaves, so the last one named is the J used.
    reason = "tests use %.2f CPU s per wall s (%d of %d tests known): up to %d at once on %d cores" % (
        load, len(known), len(ids), jobs, cores)
    walls = history.expected_walls(ids)
    longest = max(walls.values())
    if longest > 0:
        useful = math.ceil(sum(walls.values()) / longest)
        if useful < jobs:
            jobs = max(useful, cores)
            reason += "; then %d: more than %d would not end sooner (longest test %.1fs of %.1fs)" % (
                jobs, useful, longest, sum(walls.values()))
    jobs, reason = _memory_cap(jobs, reason, history, ids, budget)
    return _capped(jobs, reason, ids)


def _memory_cap(jobs, reason, history, ids, budget):
    peaks = [history.figures[t].peak_rss for t in ids
             if t in history.figures and history.figures[t].peak_rss]
    if not peaks or not budget:
        return jobs, reason
    typical = median(peaks)
    fit = max(1, int(budget // typical))
    if fit < jobs:
        return fit, reason + "; capped at %d by memory (typical peak %s, %s for tests)" % (
            fit, _size(typical), _size(budget))
    return jobs, reason


def _capped(jobs, reason, ids):
    if len(ids) < jobs:
        return JobsChoice(len(ids), reason + "; then %d: only %d tests" % (len(ids), len(ids)))
    return JobsChoice(jobs, reason)


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "%.0f %s" % (n, unit) if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024.0
