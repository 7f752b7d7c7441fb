"""Scheduling policies: which test a free slot runs next. Policies return
decisions and never touch a process."""

from .policies import ListOrder, Scheduler

__all__ = ["ListOrder", "Scheduler"]
