"""A Celery worker that runs the tests a coordinator sends, N at a time,
each with the local pool (single.py); ``paralleltest worker``
(commands/worker.py) starts it. Tests are addressed by path relative to the source
root (``--root``, default the current directory): every worker runs the
same checkout or image, wherever it lives.
"""

import os
import socket

from .app import QUEUE, make_app, visibility_timeout


def start_worker(broker, root, jobs, visibility=None, name=None, loglevel="WARNING"):
    """Run the worker in this process until it is stopped."""
    app = make_app(broker, visibility_timeout(given=visibility), root=root)
    name = name or "mozparallel-%d@%s" % (os.getpid(), socket.gethostname())
    app.worker_main([
        "worker", "--concurrency", str(jobs), "--queues", QUEUE, "--hostname", name,
        "--loglevel", loglevel, "--without-gossip", "--without-mingle", "-O", "fair",
    ])
