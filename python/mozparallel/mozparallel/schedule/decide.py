"""The scheduling decisions of one run, made once at its start: the policy,
J and why, the memory gate, and the makespan the history predicts. Returns
them as data with one line of text for the log; starts nothing.
"""

import heapq
import os
from dataclasses import dataclass

from .gate import BUDGET_SHARE, MemoryGate
from .jobs import choose_jobs
from .locks import LockGate
from .policies import make_policy


@dataclass(frozen=True)
class ScheduleSettings:
    """What scheduling reads of one run's options (settings.py builds it)."""

    policy: str = "history"         # --schedule: history, failures-first, list, shuffle[:SEED]
    jobs: int | str | None = None   # -j: a number, "auto" or None (auto)
    max_memory: int | None = None   # --max-memory, bytes
    total_chunks: int | None = None
    this_chunk: int | None = None
    runtimes: str | None = None     # --runtimes FILE


@dataclass
class RunPlan:
    scheduler: object               # what the pool runs: the policy in its locks, maybe memory-gated
    jobs: int
    jobs_reason: str
    expected_makespan: float | None  # seconds; None when no test is known
    known: int                      # tests with history
    total: int                      # tests to run
    history_source: str = "none"
    gate_budget: int | None = None  # bytes; None: no memory gate
    auto: bool = False              # J chosen by -j auto (not given)

    @property
    def policy_name(self):
        policy = self.scheduler.name
        seed = self.scheduler.seed
        if seed is not None:
            policy += ":%d" % seed
        return policy

    def describe(self, verbose=False):
        """What the run will do, in one short line: how many tests, how
        many at once, how long the history says it takes. ``verbose``:
        the reasoning behind each decision, one line each."""
        if verbose:
            return self.reasoning()
        text = "mozparallel: %d test%s, %d at a time (%s)" % (
            self.total, "" if self.total == 1 else "s", self.jobs, "-j auto" if self.auto else "-j %d" % self.jobs)
        if self.policy_name != "history":
            text += ", %s order" % self.policy_name
        if self.expected_makespan is not None:
            text += "; about %s by history" % _duration(self.expected_makespan)
            if self.known < self.total:
                text += " (%d of them known)" % self.known
        return text

    def reasoning(self):
        """Each decision and why, a line each (``-v``; the raw log always)."""
        lines = ["mozparallel: schedule %s; J=%d (%s)" % (self.policy_name, self.jobs, self.jobs_reason)]
        if self.expected_makespan is not None:
            lines.append("mozparallel: expected makespan %.1fs (%d of %d tests known; history: %s)" % (
                self.expected_makespan, self.known, self.total, self.history_source))
        else:
            lines.append("mozparallel: no history for these tests")
        if self.gate_budget is not None:
            lines.append("mozparallel: memory gate at %.1f GiB: a test waits until its recorded peak fits"
                         % (self.gate_budget / 2.0 ** 30))
        return "\n".join(lines)


def _duration(seconds):
    if seconds < 60:
        return "%.1fs" % seconds
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return "%dm%02ds" % (minutes, seconds)
    return "%dh%02dm" % divmod(minutes, 60)


def expected_makespan(order, walls, jobs):
    """Seconds to run ``order`` (ids) with ``jobs`` slots, each free slot
    taking the next test, when every test takes ``walls[id]``."""
    slots = [0.0] * max(1, jobs)
    for t in order:
        heapq.heapreplace(slots, slots[0] + walls[t])
    return max(slots)


def plan_run(specs, history, schedule="history", jobs=None, cores=None, available=None, new_seed=None,
             limit=None):
    """A RunPlan for ``specs``. ``jobs`` is -j (a number, or None/"auto");
    ``available`` is free memory in bytes (None: no gate, no memory cap);
    ``limit`` (--max-memory, bytes) replaces it, used whole."""
    ids = [s.id for s in specs]
    cores = cores or os.cpu_count() or 1
    budget = limit or (int(available * BUDGET_SHARE) if available else None)
    if jobs in (None, "auto"):
        choice = choose_jobs(history, ids, cores, budget)
        jobs, reason = choice.jobs, "-j auto: " + choice.reason
    else:
        reason = "-j %d given" % jobs
    policy = make_policy(schedule, specs, history, new_seed=new_seed)
    order = policy.order()
    known = history.known(ids)
    makespan = expected_makespan(order, history.expected_walls(ids), jobs) if known else None
    # Locks (and run-sequentially, and memory retries) around the policy,
    # memory around both: a test the gate holds keeps its locks meanwhile.
    scheduler, gate_budget = LockGate(policy), None
    predicted = {t: f.peak_rss for t, f in history.figures.items() if f.peak_rss}
    if budget and predicted and jobs > 1:
        gate_budget = budget
        scheduler = MemoryGate(scheduler, predicted, budget)
    return RunPlan(scheduler, jobs, reason, makespan, len(known), len(ids), history.source, gate_budget,
                   auto=reason.startswith("-j auto"))
