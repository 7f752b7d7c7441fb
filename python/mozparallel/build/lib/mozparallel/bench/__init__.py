"""Benchmarks of mozparallel's own parts (scripts, not unit tests)."""
