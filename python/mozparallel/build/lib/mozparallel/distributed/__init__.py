"""Dynamic mode past one machine: a Celery app on a Redis broker (app.py),
the worker that runs one test per task with the local pool (worker.py,
single.py), the coordinator that sends the tests and reports their results
as a local run does (coordinator.py), and the Redis keys they share
(results.py)."""
