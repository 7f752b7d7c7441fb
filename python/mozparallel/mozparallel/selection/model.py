"""The types selection hands on: a ``SelectedTest`` (one test with its
manifest keys and, if it will not run, why), test ids, and the one error
type for bad input. Every module of selection/ imports from here; this
module imports none of them."""

import os
from dataclasses import dataclass, field

from ..errors import InputError

__all__ = ["CONDITION_KEYS", "MANIFEST_SUFFIXES", "SET_KEYS", "Edit", "EditError", "InputError", "SelectedTest",
           "SelectionSettings", "test_id"]

MANIFEST_SUFFIXES = (".ini", ".toml")


@dataclass
class SelectedTest:
    path: str                       # absolute path of the file
    id: str                         # the id used in logs
    group: str = "default"          # manifest (relative) or "default"
    keys: dict = field(default_factory=dict)   # per-test manifest keys
    disabled: str | None = None     # why it will not run, if it will not
    line: int | None = None         # line of its section in the manifest
    argv_path: str = ""             # what the test is given: the path as typed
    notes: tuple = ()               # how a manifest led to it, when not as written

    def __post_init__(self):
        if not self.argv_path:
            self.argv_path = self.path


def test_id(path, root):
    """The id of a test: its path relative to ``root`` when inside it."""
    rel = os.path.relpath(path, root)
    if rel.startswith(os.pardir + os.sep) or rel == os.pardir:
        return path
    return rel


@dataclass(frozen=True)
class SelectionSettings:
    """What selection reads of one run's options (settings.py builds it)."""

    tests: tuple = ()               # TEST arguments: files, directories, manifests
    objdir: str | None = None       # whose mozinfo.json gives condition values
    mozinfo: tuple = ()             # --mozinfo KEY=VALUE overrides
    mozinfo_cache: str | None = None  # directory of the live-mozinfo cache (the state dir)
    strict_conditions: bool = False  # an unknown name in a condition is an error (default: "" and a warning)
    manifest_reader: str = "auto"   # own, mozilla or auto (selection/mozilla_reader.py)
    allow_missing: bool = False
    tags: tuple = ()
    subsuite: str | None = None
    path_prefixes: tuple = ()


# Manifest edits (edits.py): keys set when absent, keys a condition is added to.
SET_KEYS = ("run-sequentially",)
CONDITION_KEYS = ("skip-if", "fail-if")


class EditError(InputError):
    """An edit that cannot be written (the message names the file and entry)."""


@dataclass(frozen=True)
class Edit:
    """One edit of a test's manifest entry (edits.py)."""

    section: str            # the test's section name, as in the manifest
    key: str                # one of SET_KEYS or CONDITION_KEYS
    value: str              # the reason, or the condition to add
    comment: str = ""       # the evidence, written as a comment
