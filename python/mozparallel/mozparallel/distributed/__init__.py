"""Dynamic mode past one machine, on Celery and a Redis broker: the Celery
app that hands out slots (app.py); the worker (worker.py) and its beats
(registry.py); a worker's slot serving one run (slot.py) after the tree
check (tree.py); the coordinator that feeds the run's queue and reports its
results as a local run does (coordinator.py); the run's Redis keys and the
server-side steps both sides take on them (runstate.py); and cancelling a
run from anywhere (cancel.py)."""
