"""A Celery worker whose N processes serve the runs coordinators send
(slot.py); ``paralleltest worker`` (commands/worker.py) starts it. Beside
Celery it beats on the broker once a second (registry.py), so coordinators
know it is alive and how many slots it has, and on shutdown it marks
itself draining so its slots start nothing new. Tests are addressed by
path relative to the source root (``--root``): every worker runs the same
checkout or image, wherever it lives.
"""

import os
import socket

from .app import QUEUE, make_app
from .registry import Heartbeat
from .runstate import connect


def default_name():
    return "mozparallel-%d@%s" % (os.getpid(), socket.gethostname())


def start_worker(broker, root, jobs, name=None, loglevel="WARNING"):
    """Run the worker in this process until it is stopped."""
    from celery import signals

    name = name or default_name()
    app = make_app(broker, root=root, name=name)
    heart = Heartbeat(lambda: connect(broker, timeout=5.0), name,
                      {"slots": jobs, "host": socket.gethostname(), "pid": os.getpid(), "root": root}).start()

    def shutting_down(**_):
        heart.drain()

    signals.worker_shutting_down.connect(shutting_down, weak=False)
    try:
        app.worker_main([
            "worker", "--concurrency", str(jobs), "--queues", QUEUE, "--hostname", name,
            "--loglevel", loglevel, "--without-gossip", "--without-mingle", "--without-heartbeat", "-O", "fair",
        ])
    finally:
        heart.stop()
