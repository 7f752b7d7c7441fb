"""The environment every test starts with: the runner's own, less the
runner's own credentials (the Redis password in
$MOZPARALLEL_REDIS_PASSWORD or $REDISCLI_AUTH, redact.RUNNER_SECRET_VARS).
A test that needs a secret of its own (AWS_..., a token) still gets it; a
test never needs the password of the runner's history store.

Whoever creates a Pool passes ``test_environment()`` as its ``env``
(run.py's pool factory, distributed/slot.py on a worker).
"""

import os

from ..redact import without_runner_secrets


def test_environment(environ=None):
    """A copy of ``environ`` (default: os.environ) for the tests."""
    return without_runner_secrets(os.environ if environ is None else environ)
