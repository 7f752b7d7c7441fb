"""Scheduling: which test a free slot runs next (policies.py), how many run
at once (jobs.py), which tests may run together (locks.py), what fits in
memory (gate.py), which chunk a test belongs to (chunks.py), all from one
history snapshot (history.py), decided once per run (decide.py). Nothing here starts a process."""

from .chunks import ChunkPlan, frozen_plan, mark_other_chunks, plan_chunks, plan_record, resolve_chunk
from .decide import RunPlan, ScheduleSettings, expected_makespan, plan_run
from .gate import MemoryGate, available_memory
from .history import Figures, TestHistory, load_history
from .jobs import JobsChoice, choose_jobs
from .locks import LockGate, check_counts, parse_resources
from .policies import FailuresFirst, ListOrder, LongestFirst, Scheduler, Shuffled, make_policy, parse_policy

__all__ = ["ChunkPlan", "FailuresFirst", "Figures", "JobsChoice", "ListOrder", "LockGate", "LongestFirst",
           "MemoryGate", "RunPlan", "ScheduleSettings", "Scheduler", "Shuffled", "TestHistory", "available_memory",
           "check_counts", "choose_jobs", "expected_makespan", "frozen_plan", "load_history", "make_policy",
           "mark_other_chunks", "parse_policy", "parse_resources", "plan_chunks", "plan_record", "plan_run",
           "resolve_chunk"]
