"""Edits (edits.py) to a ``.toml`` manifest through tomlkit, which keeps
the text of everything it is not asked to change: comments (inside arrays
too), blank lines, quoting, key order. A new condition becomes a new line
of the array with the indentation of its other lines and the evidence as
its comment; a new key goes after the last key of the test's table.

tomlkit is imported only here, when a ``.toml`` manifest is edited
(``paralleltest annotate``); it is the ``annotate`` extra of the package.
"""

import re

from .model import CONDITION_KEYS, EditError

DEFAULT_INDENT = "  "


def _tomlkit(path):
    try:
        import tomlkit
    except ImportError:
        raise EditError("%s: editing a .toml manifest needs tomlkit (pip install 'mozparallel[annotate]')"
                        % path)
    return tomlkit


def _indent_of(array):
    """The indentation of the array's elements, when they are one a line."""
    m = re.search(r"\n([ \t]+)\S", array.as_string())
    return m.group(1) if m else DEFAULT_INDENT


def apply_toml(path, text, edits):
    tomlkit = _tomlkit(path)
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import Array

    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise EditError("%s: %s" % (path, e))
    for e in edits:
        table = doc.get(e.section)
        if table is None or not hasattr(table, "get"):
            raise EditError("%s: no [%s] table to edit" % (path, e.section))
        if e.key in CONDITION_KEYS:
            current = table.get(e.key)
            if current is None:
                array = tomlkit.array()
                array.add_line(e.value, indent=DEFAULT_INDENT, comment=e.comment or None)
                array.add_line(indent="")
                table[e.key] = array
            elif isinstance(current, Array):
                if e.value in [str(v) for v in current]:
                    continue
                inline = "\n" not in current.as_string()
                current.add_line(e.value, indent=_indent_of(current), comment=e.comment or None)
                if inline:      # the closing bracket on a line of its own
                    current.add_line(indent="")
            else:
                raise EditError("%s: [%s] %s is not an array of conditions" % (path, e.section, e.key))
        else:
            if e.key in table:
                continue
            value = tomlkit.string(e.value)
            if e.comment:
                value.comment(e.comment)
            table[e.key] = value
    return tomlkit.dumps(doc)
