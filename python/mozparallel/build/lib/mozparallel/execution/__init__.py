"""Execution: start tests in their own sessions, read their output live,
time them out, and end their whole process trees (by pid, never by name)."""
