"""Misspelled manifest keys: a key no harness reads is ignored by every
reader, so ``skip_if = ...`` or ``fail-iff = ...`` silently does nothing.
``KeyChecker`` warns once per such key (naming the manifest, the line and
the key it resembles); a key that resembles none of the known ones stays
silent, since harnesses add keys of their own.

The known keys are those Mozilla's harnesses and build read from
manifestparser manifests (firefox-source-docs "Test Manifests", the
manifestparser filters, xpcshell, mochitest and python-test manifests of
mozilla-central), plus mozparallel's own (docs/manifests.rst).
"""

import difflib

MOZILLA_KEYS = (
    # manifestparser and its filters
    "skip-if", "run-if", "fail-if", "disabled", "expected", "path", "subsuite", "tags",
    # the build (test installation) and the harnesses
    "head", "tail", "support-files", "generated-files", "dupe-manifest", "install-to-subdir",
    "run-sequentially", "prefs", "environment", "args", "firefox-appdir", "requesttimeoutfactor",
    "scheme", "https_first_disabled", "http2", "http3",
    # python-test (python.toml)
    "requirements", "sequential",
)
OWN_KEYS = ("exec", "command", "timeout", "max-time", "protocol", "cwd")
KNOWN_KEYS = MOZILLA_KEYS + OWN_KEYS
# How alike a key must be to a known one to be called a misspelling of it
# (difflib's ratio, after "_" -> "-" and lower case): "tag" / "tags" 0.86,
# "skip" / "skip-if" 0.73 (silent).
CUTOFF = 0.8


def _normal(key):
    return key.strip().lower().replace("_", "-")


_NORMAL = {_normal(k): k for k in KNOWN_KEYS}


def resembles(key):
    """The known key ``key`` is a misspelling of, or None (a known key, or
    one like none of them)."""
    if key in KNOWN_KEYS:
        return None
    normal = _normal(key)
    if normal in _NORMAL:
        return _NORMAL[normal]
    close = difflib.get_close_matches(normal, list(_NORMAL), n=1, cutoff=CUTOFF)
    return _NORMAL[close[0]] if close else None


class KeyChecker:
    """``check(parsed)`` for every ParsedManifest read (sections.py); calls
    ``warn(text)`` once per misspelled key of the whole run."""

    def __init__(self, warn):
        self.warn = warn
        self.warned = set()

    def check(self, parsed):
        from .sections import display_path

        sections = ([parsed.default] if parsed.default is not None else []) + list(parsed.sections)
        for section in sections:
            for key in section.keys:
                if key in self.warned:
                    continue
                known = resembles(key)
                if known is None:
                    continue
                self.warned.add(key)
                line = section.key_lines.get(key) or section.line
                where = display_path(parsed.path) + (":%d" % line if line else "")
                self.warn("%s: unknown key %r in [%s], ignored: did you mean %r?"
                          % (where, key, section.name, known))
