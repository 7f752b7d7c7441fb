"""A directory or a test file through the manifests that list its tests, as
mozilla-central's ``TestResolver`` (``moztest/resolve.py``) resolves the
paths given to ``mach test`` and the harness commands:

* a **directory** means the tests under it that manifests list, each with
  its manifest's keys: the manifests under it, and those of its parent
  directories that list tests under it. A directory no manifest speaks for
  keeps the plain rule (its executable and ``.t`` files, discover.py);
* a **test file** a manifest lists is that manifest's test: skipped when
  the manifest skips it (with the reason), expected to fail when it says
  ``fail-if``, with its ``run-sequentially``, ``tags``... A file no manifest
  lists runs as a plain file;
* **no argument**: the manifests under the current directory.

``TestResolver`` knows every manifest of the build (``moz.build``'s
``*_MANIFESTS``); without a build this module finds them on disk: a
``.ini`` or ``.toml`` file is a manifest when one of its ``[sections]``
names a file beside it or an ``[include:...]`` of an existing manifest
(what ``scan`` reads, without parsing: pyproject.toml, tox.ini or a wpt
metadata ``.ini`` name no such file). Where ``x.ini`` and ``x.toml`` both
exist, ``x.toml`` is the manifest, as manifestparser reads it. A manifest
another one includes is read through the one including it, so its tests
get the include section's keys; a test listed by two manifests runs once,
as the first lists it (a note names the other). Parent directories are
searched up to the top of the source tree (a directory holding ``.hg``,
``.git`` or ``mach``); directories of a build (holding ``mozinfo.json`` or
``config.status``: an objdir, whose ``_tests`` copies the manifests) and
hidden ones are not searched.

The manifests are read by the run's manifest reader (ours or Mozilla's,
``--manifest-reader``), exactly as when given by name: ``DIR`` selects
what ``DIR/xpcshell.toml`` selects.
"""

import os
import re
import sys
from dataclasses import dataclass, replace

from .model import MANIFEST_SUFFIXES

TREE_MARKERS = (".hg", ".git", "mach")
BUILD_MARKERS = ("mozinfo.json", "config.status")
INCLUDE_PREFIX = "include:"
_MAX_BYTES = 4 << 20        # a bigger .ini/.toml is data, not a manifest
# A [section] header of either format: [name], ["name"], ['name'].
_HEADER = re.compile(r"^[ \t]*\[(?!\[)[ \t]*([^\]\n]+?)[ \t]*\][ \t]*(?:[#;].*)?$", re.MULTILINE)


def _warn(text):
    print("paralleltest: warning: %s" % text, file=sys.stderr)


@dataclass(frozen=True)
class Listing:
    """What a manifest's section headers name (absolute, normalised)."""

    path: str
    tests: tuple            # test entries, existing or not
    includes: tuple         # included manifests that exist


def _header_name(raw):
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _include_target(here, name):
    target = os.path.normpath(os.path.join(here, name))
    if not os.path.isfile(target):
        base, ext = os.path.splitext(target)
        if ext == ".ini" and os.path.isfile(base + ".toml"):
            return base + ".toml"       # a converted manifest (manifest.py reads it the same way)
    return target


def scan(path):
    """The Listing of ``path`` if it is a test manifest, else None."""
    try:
        if os.path.getsize(path) > _MAX_BYTES:
            return None
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    here = os.path.dirname(path)
    tests, includes = [], []
    for match in _HEADER.finditer(text):
        name = _header_name(match.group(1).strip())
        if not name or name.lower() == "default":
            continue
        if name.startswith(INCLUDE_PREFIX):
            target = _include_target(here, name[len(INCLUDE_PREFIX):].strip())
            if target.endswith(MANIFEST_SUFFIXES) and os.path.isfile(target):
                includes.append(target)
        else:
            tests.append(os.path.normpath(os.path.join(here, name)))
    if includes or any(os.path.isfile(t) for t in tests):
        return Listing(path, tuple(tests), tuple(includes))
    return None


def _inside(path, directory):
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _is_build_dir(names):
    return any(marker in names for marker in BUILD_MARKERS)


def _joined(typed, rel):
    """The path as typed of something ``rel`` from the typed directory."""
    if typed in ("", os.curdir):
        return os.path.normpath(rel)
    joined = os.path.join(typed, rel)
    return os.path.normpath(joined) if rel.startswith(os.pardir) else joined


class Resolver:
    """Resolves directories and files for one run. ``read(typed, root)``
    is the run's manifest reader (a list of SelectedTest); everything read
    or scanned is kept for the next argument."""

    def __init__(self, read, root, warn=_warn):
        self.read = read
        self.root = root
        self.warn = warn
        self._listings = {}     # path -> Listing or None
        self._in_dir = {}       # directory -> [manifest paths directly in it]
        self._reach = {}        # manifest -> (test paths, manifest paths) through includes
        self._read = {}         # (manifest, typed) -> [SelectedTest]

    # -- finding manifests ----------------------------------------------------------

    def listing(self, path):
        if path not in self._listings:
            self._listings[path] = scan(path)
        return self._listings[path]

    def manifests_in(self, directory, names=None):
        """The manifests directly in ``directory``, in name order."""
        if directory not in self._in_dir:
            if names is None:
                try:
                    names = os.listdir(directory)
                except OSError:
                    names = []
            found = []
            candidates = sorted(n for n in names if n.endswith(MANIFEST_SUFFIXES) and not n.startswith("."))
            present = set(candidates)
            for name in candidates:
                base, ext = os.path.splitext(name)
                twin = os.path.join(directory, base + ".toml")
                if ext == ".ini" and base + ".toml" in present and self.listing(twin):
                    continue        # manifestparser reads x.toml when both exist
                path = os.path.join(directory, name)
                if os.path.isfile(path) and self.listing(path):
                    found.append(path)
            self._in_dir[directory] = found
        return self._in_dir[directory]

    def manifests_under(self, directory):
        """The manifests in ``directory`` and below it, in walk order
        (sorted, hidden and build directories left out)."""
        found = []
        for dirpath, dirnames, filenames in os.walk(directory):
            names = set(dirnames) | set(filenames)
            if dirpath != directory and _is_build_dir(names):
                dirnames[:] = []
                continue
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found += self.manifests_in(dirpath, filenames)
        return found

    @staticmethod
    def parents(directory):
        """The directories above ``directory``, nearest first, up to the
        top of its source tree (or the file system's root)."""
        found = []
        current = directory
        while not any(os.path.exists(os.path.join(current, m)) for m in TREE_MARKERS):
            parent = os.path.dirname(current)
            if parent == current:
                break
            found.append(parent)
            current = parent
        return found

    def reach(self, manifest):
        """(test paths, manifest paths) ``manifest`` lists through its includes."""
        if manifest not in self._reach:
            tests, manifests, todo = set(), set(), [manifest]
            while todo:
                path = todo.pop()
                if path in manifests:
                    continue
                manifests.add(path)
                listing = self.listing(path)
                if listing is not None:
                    tests.update(listing.tests)
                    todo.extend(listing.includes)
            self._reach[manifest] = (tests, manifests)
        return self._reach[manifest]

    def tops(self, candidates):
        """The candidates no other candidate includes (a cycle: the first,
        for the reader to report)."""
        included = set()
        for m in candidates:
            included |= self.reach(m)[1] - {m}
        tops = [m for m in candidates if m not in included]
        return tops or candidates[:1]

    def tests_of(self, manifest, typed):
        key = (manifest, typed)
        if key not in self._read:
            self._read[key] = self.read(typed, self.root)
        return self._read[key]

    # -- resolving --------------------------------------------------------------------

    def directory(self, directory, typed):
        """The manifest tests under ``directory`` (absolute; ``typed`` as
        given), or None when no manifest lists a test under it."""
        directory = os.path.normpath(directory)
        under = self.manifests_under(directory)
        above = [m for parent in self.parents(directory) for m in self.manifests_in(parent)
                 if any(_inside(t, directory) for t in self.reach(m)[0])]
        if not under and not above:
            return None
        chosen = {}
        for manifest in self.tops(under + above):
            for test in self.tests_of(manifest, _joined(typed, os.path.relpath(manifest, directory))):
                path = os.path.normpath(test.path)
                if _inside(path, directory):
                    self._keep(chosen, path, test, manifest)
        return [test for test, _ in chosen.values()]

    def file(self, path, typed):
        """The SelectedTest of the test file ``path`` (absolute) as the
        manifests listing it select it, or None when none lists it."""
        path = os.path.normpath(path)
        here = os.path.dirname(path)
        candidates = [m for d in [here] + self.parents(here) for m in self.manifests_in(d)
                      if path in self.reach(m)[0]]
        if not candidates:
            beside = self.manifests_in(here)
            if beside:
                self.warn("%s is not listed in %s: run as a plain file, without manifest keys"
                          % (typed, " or ".join(os.path.relpath(m) for m in beside)))
            return None
        chosen = {}
        typed_dir = os.path.dirname(typed)
        for manifest in self.tops(candidates):
            for test in self.tests_of(manifest, _joined(typed_dir, os.path.relpath(manifest, here))):
                if os.path.normpath(test.path) == path:
                    self._keep(chosen, path, test, manifest)
        if path not in chosen:
            return None
        test = chosen[path][0]
        if test.keys.get("cwd") == "here":
            return test     # it runs in its own directory, with its absolute path
        return replace(test, argv_path=typed)

    def _keep(self, chosen, path, test, manifest):
        """The test as the first manifest read selects it (``chosen``: path
        -> (test, manifest)); a note on it for each other one."""
        if path not in chosen:
            chosen[path] = (test, manifest)
            return
        first, first_manifest = chosen[path]
        note = "%s is also listed through %s; it runs once, as %s selects it" % (
            first.id, os.path.relpath(manifest), os.path.relpath(first_manifest))
        chosen[path] = (replace(first, notes=tuple(first.notes) + (note,)), first_manifest)


def paths_of_test_objects(test_objects, topsrcdir=None):
    """TEST arguments for the test objects ``mach test`` hands a harness
    command (``test_objects=``: moztest's TestResolver dicts): each test's
    source file, ``topsrcdir``/``srcdir_relpath`` (TestResolver's ``path``
    points into the objdir's ``_tests`` for some flavors), in order, once.
    Each then goes through its manifest again, here."""
    paths = []
    for test in test_objects or ():
        rel = test.get("srcdir_relpath") or test.get("file_relpath")
        path = os.path.join(topsrcdir, rel) if topsrcdir and rel else test.get("path")
        if path and path not in paths:
            paths.append(path)
    return paths
