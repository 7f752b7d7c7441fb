"""What a manifest file says, before any merging: its sections in order,
each with its keys (strings) and the line of every key, whatever the format.

``ini_format`` and ``toml_format`` produce it; ``manifest`` merges it.
"""

import os
from dataclasses import dataclass, field

from .model import InputError

DEFAULT_SECTION = "DEFAULT"
INCLUDE_PREFIX = "include:"


class ManifestError(InputError):
    """A bad manifest: the message names the file and, when known, the line."""

    def __init__(self, path, line, message):
        where = display_path(path) + (":%d" % line if line else "")
        super().__init__("%s: %s" % (where, message))
        self.path, self.line = path, line


def display_path(path):
    """``path`` relative to the current directory when it is inside it."""
    rel = os.path.relpath(path)
    return path if rel.startswith(os.pardir) else rel


@dataclass
class Section:
    name: str
    line: int                                       # line of the [header]
    keys: dict = field(default_factory=dict)        # key -> string value
    key_lines: dict = field(default_factory=dict)   # key -> line of "key ="


@dataclass
class ParsedManifest:
    path: str                                       # absolute
    default: Section | None
    sections: list                                  # [Section], DEFAULT excluded
    text: str = ""                                  # for finding lines on error

    def find_line(self, needle, start=1):
        """The first line at or after ``start`` that contains ``needle``
        (used to point at one line of a multi-line condition)."""
        for number, line in enumerate(self.text.splitlines()[start - 1:], start):
            if needle in line:
                return number
        return start
