"""Edits to a test's entry in a manifest, written so that every other byte
of the file stays as it was: ``run-sequentially = "reason"`` (set when
absent) and one more condition in ``skip-if`` or ``fail-if`` (a new
element of the array, or a new continuation line), each with a comment
giving the evidence. ``.toml`` files through tomlkit, a round-trip TOML
library (edit_toml.py); ``.ini`` files line by line (edit_ini.py).
``unified_diff`` shows what changes."""

import difflib
import os

from .model import CONDITION_KEYS, SET_KEYS, Edit, EditError

__all__ = ["CONDITION_KEYS", "SET_KEYS", "Edit", "EditError", "apply_edits", "unified_diff"]


def apply_edits(path, text, edits):
    """``text`` (the manifest at ``path``) with ``edits`` applied."""
    for e in edits:
        if e.key not in SET_KEYS + CONDITION_KEYS:
            raise EditError("%s: cannot edit key %r" % (path, e.key))
    ext = os.path.splitext(path)[1]
    if ext == ".toml":
        from .edit_toml import apply_toml

        return apply_toml(path, text, edits)
    if ext == ".ini":
        from .edit_ini import apply_ini

        return apply_ini(path, text, edits)
    raise EditError("%s: not a .ini or .toml manifest" % path)


def unified_diff(path, old, new, shown=None):
    """The change from ``old`` to ``new`` as a unified diff (``a/`` and
    ``b/`` prefixes, as git and patch -p1 read it)."""
    shown = shown or path
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        "a/" + shown, "b/" + shown))
