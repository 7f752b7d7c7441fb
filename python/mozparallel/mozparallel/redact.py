"""Credentials out of every command line the runner prints or stores.

A command line may carry a secret in three shapes: a password in a URL
(``--store redis://:PASSWORD@host/0``, ``https://user:TOKEN@host``), the
value of an option named like a secret (``--password X``, ``--token=X``,
``--api-key X``) and an environment-style assignment (``GITHUB_TOKEN=X``,
as in ``--exec "env AWS_SECRET_ACCESS_KEY=X node"``). ``redact_argv``
drops the password of a URL (``redis://host/0``: pasted back, the command
then takes the password from $MOZPARALLEL_REDIS_PASSWORD) and writes the
other two as ``***``. The resume hint (interrupt.py), the run's argv and
each test's command in the store (store/recorder.py) go through it.

``RUNNER_SECRET_VARS``: the runner's own credentials in its environment,
never handed to a test (execution/environment.py).

Nothing here imports any other module of the package: every layer may use it.
"""

import re

MASK = "***"
RUNNER_SECRET_VARS = ("MOZPARALLEL_REDIS_PASSWORD", "REDISCLI_AUTH")

# scheme://user:password@ (the user may be empty); the password ends at the
# last "@" before the host, so a password holding "@" or ":" goes whole.
_URL_PASSWORD = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/?#@\s]*):[^/?#\s]*@")
# An option named like a secret, its value after "=" or a space
# (--password X, --db-password=X, --token X, --api-key=X); the softer words
# (auth, credentials) only with "=": "--no-auth tests/" names no secret.
_SECRET_OPTION = re.compile(
    r"(?P<name>(?<![^\s\"'])--?(?:[A-Za-z0-9]+[-_])*"
    r"(?:(?:pass(?:word|wd|phrase)?|secret|token|api[-_]?key|access[-_]?key)(?P<sep>=|\s+)"
    r"|(?:auth|credentials?)(?P<eq>=)))"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"'-]\S*)", re.I)
# NAME=VALUE with NAME an environment variable holding a secret
# (AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, PGPASSWORD, REDISCLI_AUTH).
_SECRET_ASSIGNMENT = re.compile(
    r"(?P<name>(?<![A-Za-z0-9_])(?:[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|CREDENTIALS?)"
    r"[A-Z0-9_]*|(?:[A-Z0-9]+_)*AUTH(?:_[A-Z0-9]+)*))=(?P<value>\"[^\"]*\"|'[^']*'|\S+)")


def _drop_password(match):
    user = match.group("user")
    return match.group("scheme") + (user + "@" if user else "")


def redact_text(text):
    """``text`` (one word of a command line, or a whole command) without
    URL passwords, secret option values or secret assignments."""
    if not isinstance(text, str) or not text:
        return text
    if "://" in text:
        text = _URL_PASSWORD.sub(_drop_password, text)
    if "=" in text:
        text = _SECRET_ASSIGNMENT.sub(lambda m: m.group("name") + "=" + MASK, text)
    if "-" in text:
        text = _SECRET_OPTION.sub(lambda m: m.group("name") + MASK, text)
    return text


def redact_argv(argv):
    """A copy of ``argv`` with every credential dropped or masked (see the
    module's docstring). A secret option's value in the next word is
    masked too (``--password X``)."""
    out = []
    for arg in (str(a) for a in argv):
        if out and _SECRET_OPTION.fullmatch(out[-1] + " x") and not arg.startswith("-"):
            out.append(MASK)
            continue
        whole = _SECRET_ASSIGNMENT.match(arg) or _SECRET_OPTION.match(arg)
        if whole and "=" in arg[:whole.end("name") + 1]:
            # One word NAME=VALUE or --password=VALUE: all of the rest is the value.
            out.append(arg[:arg.index("=", whole.start("name")) + 1] + MASK)
            continue
        out.append(redact_text(arg))
    return out


def has_url_password(argv):
    """Whether a word of ``argv`` holds a password in a URL."""
    return any("://" in str(arg) and _URL_PASSWORD.search(str(arg)) for arg in argv)


def without_runner_secrets(environ):
    """A copy of ``environ`` without the runner's own credentials."""
    return {k: v for k, v in environ.items() if k not in RUNNER_SECRET_VARS}
