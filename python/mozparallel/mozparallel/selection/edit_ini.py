"""Edits (edits.py) to an ``.ini`` manifest, line by line: only lines are
inserted, none is rewritten. The rules are ini_format.py's: a line indented
deeper than its key continues the value (conditions are OR-ed, one a
line), a blank line ends it, ``#`` after whitespace starts a comment.

- a new condition of an existing ``skip-if``/``fail-if`` becomes one more
  continuation line after its last one, indented as the others (or two
  spaces deeper than the key), with the evidence as its inline comment;
- a new key goes after the last line of the section's last value (its
  continuation lines included), or right after the header of a section
  without keys; its evidence goes on a comment line just above it.

The file's line ending (``\\n`` or ``\\r\\n``) is kept.
"""

from .model import CONDITION_KEYS, EditError
from .ini_format import _strip_comment


def _header(line):
    stripped = line.strip()
    if not stripped or stripped[0] == "#":
        return None
    stripped = _strip_comment(stripped)
    if len(stripped) > 2 and stripped[0] == "[" and stripped[-1] == "]":
        return stripped[1:-1].strip()
    return None


def _indent(line):
    return len(line) - len(line.lstrip(" \t"))


def _key_of(line):
    stripped = line.strip()
    if not stripped or stripped[0] == "#":
        return None
    for separator in ("=", ":"):
        if separator in stripped:
            return stripped.split(separator, 1)[0].strip()
    return None


class _Section:
    """Where one section's keys are: ``{key: (first line, last line)}``
    (indices into the file's lines, continuation lines included)."""

    def __init__(self, lines, start, end):
        self.start, self.end = start, end
        self.keys = {}
        key, key_indent = None, 0
        for i in range(start + 1, end):
            line = lines[i]
            stripped = line.strip()
            if not stripped:
                key = None
                continue
            if stripped[0] == "#":
                continue
            if key is not None and _indent(line) > key_indent:
                first, _ = self.keys[key]
                self.keys[key] = (first, i)
                continue
            key = _key_of(line)
            if key is not None:
                key_indent = _indent(line)
                self.keys[key] = (i, i)

    @property
    def last(self):
        """The index after which a new key goes."""
        return max((last for _, last in self.keys.values()), default=self.start)


def _find(lines, name):
    start = None
    for i, line in enumerate(lines):
        header = _header(line)
        if header is None:
            continue
        if start is not None:
            return start, i
        if header == name:
            start = i
    return (start, len(lines)) if start is not None else (None, None)


def apply_ini(path, text, edits):
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
        unterminated = True
    else:
        unterminated = False
    for e in edits:
        start, end = _find(lines, e.section)
        if start is None:
            raise EditError("%s: no [%s] section to edit" % (path, e.section))
        section = _Section(lines, start, end)
        comment = "  # %s" % e.comment if e.comment else ""
        if e.key in CONDITION_KEYS and e.key in section.keys:
            first, last = section.keys[e.key]
            if any(e.value == _strip_comment(lines[i].strip()) for i in range(first + 1, last + 1)) or \
                    _strip_comment(lines[first].split("=", 1)[-1].strip()) == e.value:
                continue
            if last > first:
                indent = lines[last][:_indent(lines[last])]
            else:
                indent = lines[first][:_indent(lines[first])] + "  "
            lines.insert(last + 1, "%s%s%s%s" % (indent, e.value, comment, newline))
            continue
        if e.key in section.keys:
            continue
        new = ["%s = %s%s" % (e.key, e.value, newline)]
        if e.comment:
            new.insert(0, "# %s%s" % (e.comment, newline))
        at = section.last + 1
        lines[at:at] = new
    out = "".join(lines)
    if unterminated and out.endswith(newline):
        out = out[:-len(newline)]
    return out
