"""The Celery app both sides use. Celery runs the fleet's workers (the
prefork processes, their concurrency, restarts and shutdown) and hands
them slots: a coordinator sends one "serve run R" task per slot it wants,
and the slot that takes it runs R's tests off R's own Redis queue
(slot.py, runstate.py) until R needs it no more.

Why not one Celery task per test, as this mode first did: measured on the
2-core build machine, ``send_task`` costs the coordinator about 360 us of
CPU a test and a prefork worker finished at most about 900 no-op tasks a
second, before any test ran; a lost worker's test came back only after
the broker's visibility timeout (an hour by default); a test longer than
that timeout ran twice; and a run's queued tasks could not be told apart
from another run's to cancel them. Tests on the run's own list, leased by
the slot that runs them, have none of these limits (docs/distributed.md).

Settings:

- prefetch multiplier 1 and the fair scheduling option: a worker reserves
  only the slots it can serve;
- a serve task is acknowledged when it starts: nothing depends on the
  broker's visibility timeout (a slot lost with its worker is replaced by
  the coordinator, which watches the workers itself);
- no result backend: results go to the run's hash and stream.
"""

SERVE_TASK = "mozparallel.serve"
QUEUE = "mozparallel"


def make_app(broker, root=None, name=None):
    """A Celery app on ``broker``; a worker's (``root``: its source root,
    ``name``: its name) also registers the task that serves a run."""
    from celery import Celery

    app = Celery("mozparallel", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # A worker outlives any broker outage (Celery's default gives up
        # after 100 attempts, about 50 minutes).
        broker_connection_max_retries=None,
        # Only tasks acknowledged late are cancelled by this, and ours are
        # not (it silences Celery's warning about the default changing).
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    if root is not None:
        _register_task(app, broker, root, name)
    return app


def _register_task(app, broker, root, name):
    from . import slot

    @app.task(name=SERVE_TASK)
    def serve(run_id):
        return slot.serve(broker, root, run_id, name)

    return serve
