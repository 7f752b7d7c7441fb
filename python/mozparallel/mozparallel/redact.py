"""Secrets out of what is shown or stored: the password (or token) in a
URL's user part, and the value of an option or KEY=VALUE whose name says
it is a secret, as a word of its own (``--redis-password X``,
``--token=X``, ``API_TOKEN=X``) or inside one (``--exec "env
GITHUB_TOKEN=X node --token Y"``). For the command line a report shows
(settings.shown_command), the argv and each test's command the store keeps
(store/recorder.py), the resume hint (interrupt.py, which leaves a URL's
password out altogether so the printed command takes it from
$MOZPARALLEL_REDIS_PASSWORD) and values a report shows. The environment is
never shown nor stored at all.

``RUNNER_SECRET_VARS``: the runner's own credentials in its environment,
never handed to a test (execution/environment.py).

Nothing here imports any other module of the package: every layer may use it.
"""

import re

MASK = "***"
RUNNER_SECRET_VARS = ("MOZPARALLEL_REDIS_PASSWORD", "REDISCLI_AUTH")

# scheme://USERINFO@ -- USERINFO is user:password, :password or a bare token.
# (A password may hold "@" or ":": the user part ends at the last "@".)
_URL_USERINFO = re.compile(r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]+)@")
_SECRET_NAME = re.compile(r"passw(or)?d|passphrase|token|secret|api[-_]?key|credential|(?<![a-z])auth(?![a-z])",
                          re.I)
_KEY = re.compile(r"[A-Za-z_][\w.-]*$")
# Inside a word: NAME=VALUE with NAME an environment variable named like a
# secret (GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, PGPASSWORD, REDISCLI_AUTH) ...
_ASSIGNMENT_IN_TEXT = re.compile(
    r"(?P<name>(?<![\w.-])(?:[A-Z0-9_]*(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|CREDENTIALS?)[A-Z0-9_]*"
    r"|(?:[A-Z0-9]+_)*AUTH(?:_[A-Z0-9]+)*)=)(?P<value>\"[^\"]*\"|'[^']*'|\S+)")
# ... and an option named like one, its value after "=" or a space.
_OPTION_IN_TEXT = re.compile(
    r"(?P<name>(?<![^\s\"'])--?(?:[A-Za-z0-9]+[-_])*(?:passw(?:or)?d|passphrase|token|secret|api[-_]?key)"
    r"(?:=|\s+))(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"'-]\S*)", re.I)


def redact_text(text, drop_url_passwords=False):
    """``text`` with the password of every URL in it masked (user:*** for
    user:password, *** for a user part without a colon, often a token;
    ``drop_url_passwords``: user:password becomes user, :password
    nothing), and the values of secret options and variables inside it."""
    if not isinstance(text, str) or not text:
        return text

    def mask(m):
        user, colon, _ = m.group("userinfo").partition(":")
        if not colon:
            return m.group("scheme") + MASK + "@"
        if drop_url_passwords:
            return m.group("scheme") + (user + "@" if user else "")
        return m.group("scheme") + user + ":" + MASK + "@"

    if "://" in text:
        text = _URL_USERINFO.sub(mask, text)
    if "=" in text:
        text = _ASSIGNMENT_IN_TEXT.sub(lambda m: m.group("name") + MASK, text)
    if "-" in text:
        text = _OPTION_IN_TEXT.sub(lambda m: m.group("name") + MASK, text)
    return text


def redact_argv(argv, drop_url_passwords=False):
    """A command line with URL passwords masked (or left out: see
    ``redact_text``), and the values of options (``--redis-password X``,
    ``--token=X``) and KEY=VALUE words (``API_TOKEN=X``) whose name says
    they hold a secret, also inside a word (``--exec "env API_TOKEN=X
    node"``)."""
    out, hide_next = [], False
    for arg in (str(a) for a in argv):
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        if arg.startswith("-") and _SECRET_NAME.search(name):
            if eq:
                out.append(name + "=" + MASK)
            else:
                out.append(arg)
                hide_next = True
            continue
        if eq and _KEY.match(name) and _SECRET_NAME.search(name):
            out.append(name + "=" + MASK)
            continue
        out.append(redact_text(arg, drop_url_passwords))
    return out


def has_url_password(argv):
    """Whether a word of ``argv`` holds a password in a URL (user:password@)."""
    return any(":" in m.group("userinfo") for arg in argv if "://" in str(arg)
               for m in _URL_USERINFO.finditer(str(arg)))


def without_runner_secrets(environ):
    """A copy of ``environ`` without the runner's own credentials."""
    return {k: v for k, v in environ.items() if k not in RUNNER_SECRET_VARS}
