"""Turn TEST arguments into tests: a manifest (``.ini``/``.toml``), a
directory or a file. A directory or a file that manifests speak for goes
through them, as mozilla-central resolves paths (resolve.py): a
directory's tests are what its manifests list, a file keeps its
manifest's keys. A directory no manifest speaks for gives its executable
files and ``.t`` files, recursively, in sorted order; a file no manifest
lists is run as it is. No argument at all: the manifests under the
current directory.

Every test keeps its manifest group and per-test keys; a test that will not
run keeps the reason (``disabled``: a condition, "missing: ...", or, set by
the chunker, "another chunk (3 of 4)") so ``--list`` and the log can say why.

What the test is given (``argv_path``) is the path as the user typed it, as
prove, xargs and GNU parallel pass it: a relative argument stays relative
(the test runs from the invocation directory), a file found in a directory
is the directory as typed joined with the rest, a manifest entry is the
manifest's path as typed joined with the entry. Tests read ``$0``,
``__FILE__`` and their own path to find fixtures, so a rewritten path can
change a verdict. ``path`` stays absolute, ``id`` relative to the root.
"""

import os

from .model import MANIFEST_SUFFIXES, InputError, SelectedTest, test_id

# Files a directory yields even when not executable (run them with --exec):
# prove's convention, ``prove t/`` runs every ``.t`` file.
TEST_SUFFIXES = (".t",)


def _is_executable_file(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _walk(directory, typed):
    """(absolute path, path as typed) of every test file under
    ``directory`` (absolute), ``typed`` being the directory as typed."""
    found = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = os.path.relpath(dirpath, directory)
        under = typed if rel == os.curdir else os.path.join(typed, rel)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            if _is_executable_file(path) or (name.endswith(TEST_SUFFIXES) and os.path.isfile(path)):
                found.append((path, os.path.join(under, name)))
    return found


def _utf8(path):
    """False for a name with bytes that are not UTF-8 (Python keeps them as
    lone surrogates, which no log or store can hold)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def discover(args, root=None, manifest_reader=None, warn=None):
    """``SelectedTest`` for every TEST argument, in argument order, each file
    once. ``manifest_reader(path, root)`` reads a manifest (``path`` as
    typed); ``warn(text)`` says a file beside a manifest is not in it."""
    from .resolve import Resolver

    root = os.path.abspath(root or os.getcwd())
    tests, seen = [], set()

    def add(t):
        if os.path.normpath(t.path) in seen:
            return
        if not _utf8(t.path):
            raise InputError("test file name is not valid UTF-8: %s (ids, logs and the history are UTF-8; "
                             "rename it)" % ascii(os.fsencode(t.path))[1:])
        seen.add(os.path.normpath(t.path))
        tests.append(t)

    def read(path, root):
        nonlocal manifest_reader
        if manifest_reader is None:
            from .manifest import ManifestReader
            from .mozinfo_values import load_values
            manifest_reader = ManifestReader(load_values())
        return manifest_reader(path, root)

    resolver = Resolver(read, root, **({"warn": warn} if warn else {}))
    if not args:
        listed = resolver.directory(root, os.curdir)
        if not listed:
            raise InputError("no TEST given, and no test manifest under the current directory lists a test: "
                             "give test files, directories or manifests (.ini, .toml)")
        for t in listed:
            add(t)
    for arg in args:
        path = os.path.abspath(arg)
        if arg.endswith(MANIFEST_SUFFIXES) and os.path.isfile(path):
            for t in read(arg, root):
                add(t)
        elif os.path.isdir(path):
            listed = resolver.directory(path, arg)
            if listed is None:
                files = _walk(path, arg)
                if not files:
                    raise InputError("no test files (executable or %s) in directory: %s"
                                     % (" ".join(TEST_SUFFIXES), arg))
                listed = [SelectedTest(path=f, id=test_id(f, root), argv_path=typed) for f, typed in files]
            elif not listed:
                raise InputError("the manifests for directory %s list no test under it" % arg)
            for t in listed:
                add(t)
        elif os.path.isfile(path):
            add(resolver.file(path, arg) or SelectedTest(path=path, id=test_id(path, root), argv_path=arg))
        elif os.path.lexists(path):
            raise InputError("not a file or directory: %s" % arg)
        else:
            raise InputError("no such test file or directory: %s" % arg)
    return tests
