"""Secrets out of what is shown: the password (or token) in a URL's user
part, and the value of an option or KEY=VALUE whose name says it is a
secret. For command lines and values a report shows; the environment is
never shown at all."""

import re

MASK = "***"

# scheme://USERINFO@ -- USERINFO is user:password, :password or a bare token.
_URL_USERINFO = re.compile(r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")
_SECRET_NAME = re.compile(r"passw(or)?d|passphrase|token|secret|api[-_]?key|credential|(?<![a-z])auth(?![a-z])",
                          re.I)
_KEY = re.compile(r"[A-Za-z_][\w.-]*$")


def redact_text(text):
    """``text`` with the password of every URL in it masked: user:*** for
    user:password, *** for a user part without a colon (often a token)."""
    def mask(m):
        user, colon, _ = m.group("userinfo").partition(":")
        return m.group("scheme") + (user + ":" + MASK if colon else MASK) + "@"

    return _URL_USERINFO.sub(mask, text)


def redact_argv(argv):
    """A command line with URL passwords masked, and the values of options
    (``--redis-password X``, ``--token=X``) and KEY=VALUE words
    (``API_TOKEN=X``) whose name says they hold a secret."""
    out, hide_next = [], False
    for arg in argv:
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
        out.append(redact_text(arg))
    return out
