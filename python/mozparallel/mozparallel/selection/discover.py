"""Turn TEST arguments into tests: a file, a directory (its executable
files and ``.t`` files, recursively, in sorted order), or a manifest
(``.ini``/``.toml``).

Every test keeps its manifest group and per-test keys; a test that will not
run keeps the reason (``disabled``: a condition, "missing: ...", or, set by
the chunker, "another chunk (3 of 4)") so ``--list`` and the log can say why.
"""

import os

from .model import MANIFEST_SUFFIXES, InputError, SelectedTest, test_id

# Files a directory yields even when not executable (run them with --exec):
# prove's convention, ``prove t/`` runs every ``.t`` file.
TEST_SUFFIXES = (".t",)


def _is_executable_file(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _walk(directory):
    found = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            if _is_executable_file(path) or (name.endswith(TEST_SUFFIXES) and os.path.isfile(path)):
                found.append(path)
    return found


def discover(args, root=None, manifest_reader=None):
    """``SelectedTest`` for every TEST argument, in argument order, each file
    once. ``manifest_reader(path, root)`` reads a manifest."""
    root = os.path.abspath(root or os.getcwd())
    tests, seen = [], set()

    def add(t):
        if t.path in seen:
            return
        seen.add(t.path)
        tests.append(t)

    for arg in args:
        path = os.path.abspath(arg)
        if arg.endswith(MANIFEST_SUFFIXES) and os.path.isfile(path):
            if manifest_reader is None:
                from .manifest import ManifestReader
                from .mozinfo_values import load_values
                manifest_reader = ManifestReader(load_values())
            for t in manifest_reader(path, root):
                add(t)
        elif os.path.isdir(path):
            files = _walk(path)
            if not files:
                raise InputError("no test files (executable or %s) in directory: %s"
                                 % (" ".join(TEST_SUFFIXES), arg))
            for f in files:
                add(SelectedTest(path=f, id=test_id(f, root)))
        elif os.path.isfile(path):
            add(SelectedTest(path=path, id=test_id(path, root)))
        elif os.path.lexists(path):
            raise InputError("not a file or directory: %s" % arg)
        else:
            raise InputError("no such test file or directory: %s" % arg)
    return tests
