"""The Celery app both sides use, with the settings that make a fleet of
cheap, vanishing machines safe (each measured here, see docs/distributed.md):

- late acknowledgement and reject-on-worker-lost: a test whose worker dies
  mid-run goes back to the queue instead of being lost;
- prefetch multiplier 1: a worker holds only the tests it is running, so a
  test never waits behind a long one on a busy machine;
- the broker's visibility timeout just above the per-test hard time limit:
  a dead worker's test comes back after that long (Redis' default is one
  hour), and a running test is never handed out twice;
- no result backend: results go to the run's hash and stream (results.py).
"""

TASK_NAME = "mozparallel.run_test"
QUEUE = "mozparallel"
# Without a per-test hard limit (--max-time), how long a test may run before
# the broker hands it to another worker.
DEFAULT_VISIBILITY = 3600.0
# Above the hard limit: kill grace, reporting, and a worker's restore sweep.
VISIBILITY_MARGIN = 30.0


def visibility_timeout(max_time=None, kill_grace=5.0, given=None):
    """Seconds a delivered, unacknowledged test stays invisible to others."""
    if given:
        return float(given)
    if max_time:
        return float(max_time) + float(kill_grace or 0.0) + VISIBILITY_MARGIN
    return DEFAULT_VISIBILITY


def restore_interval(visibility):
    """How often workers look for tests of dead workers: a tenth of the
    visibility timeout, between 1 and 10 seconds."""
    return max(1, min(10, int(visibility / 10)))


def make_app(broker, visibility, root=None):
    """A Celery app on ``broker``; ``root`` (a worker's source root) also
    registers the task that runs a test."""
    from celery import Celery

    app = Celery("mozparallel", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": restore_interval(visibility),
            "unacked_restore_throttle": 1,
        },
    )
    if root is not None:
        _register_task(app, broker, root)
    return app


def _register_task(app, broker, root):
    from . import single

    @app.task(name=TASK_NAME, bind=True)
    def run_test(self, payload):
        return single.run_task(broker, root, payload, worker=self.request.hostname or "?")

    return run_test
