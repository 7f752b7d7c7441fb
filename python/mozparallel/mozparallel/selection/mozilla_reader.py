"""Mozilla's own manifest reader behind the reader seam: when
``manifestparser`` is importable, ``MozillaManifestReader`` selects the
tests of a manifest with ``manifestparser.TestManifest(...).active_tests()``
and turns what it returns into ``SelectedTest`` entries, as
``manifest.ManifestReader`` (our own reader) does.

``--manifest-reader`` chooses (``choose_reader``):

* ``own``: our reader (manifest.py), everywhere the same rules.
* ``mozilla``: Mozilla's reader; an error if manifestparser is not
  importable.
* ``auto`` (the default): Mozilla's reader when the manifestparser Python
  would import is a gecko checkout's own copy
  (``<topsrcdir>/testing/mozbase/manifestparser``, which mach puts on the
  path: ``pth:`` in python/sites/mach.txt), so ``mach parallel-test`` in
  mozilla-central reads manifests by the tree's own, current rules; our
  reader otherwise (PyPI
  manifestparser 2.1.0, from 2020, reads only ``.ini`` and evaluates a
  multi-line condition as one expression).

What maps and what does not (docs/manifests.rst says the same):

* ids, groups (the manifest listing the test), per-test keys, ``expected``
  (``fail-if``) and the reason a test will not run: ``disabled: REASON``
  for the manifest's ``disabled``, Mozilla's own ``skip-if: ...`` /
  ``run-if: ...`` text (the whole condition, lines joined by ``||``);
* a conditional ``subsuite = name,condition`` is resolved by
  manifestparser's own ``subsuite`` filter;
* conditions are evaluated as Mozilla's harnesses evaluate them: an unknown
  name is not an error (None with 2.1.0, ``""`` with today's), and
  neither warned about nor made an error by ``--strict-conditions``;
* no line numbers (``line`` is None), no ``support-files`` check (the build
  checks them in a gecko tree); a listed file that does not exist is an
  error unless ``--allow-missing``, as with our reader.

Nothing imports manifestparser until a manifest is read with it.
"""

import importlib.util
import os
import sys

from .model import InputError, SelectedTest, test_id
from .sections import ManifestError

READERS = ("own", "mozilla", "auto")
# What manifestparser adds to every test dict besides the manifest's keys.
_BOOKKEEPING = ("name", "path", "relpath", "manifest", "manifest_relpath", "ancestor_manifest", "here",
                "expected", "disabled")
# Parameters of active_tests() that a mozinfo key must not shadow.
_ACTIVE_TESTS_PARAMETERS = ("exists", "disabled", "filters", "noDefaultFilters", "strictExpressions")
INSTALL_HINT = "pip install 'mozparallel[mozilla]'"


def _origin():
    """The file Python would import ``manifestparser`` from, or None."""
    module = sys.modules.get("manifestparser")
    if module is not None:
        return getattr(module, "__file__", None)
    try:
        spec = importlib.util.find_spec("manifestparser")
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


def checkout_of(origin):
    """The gecko checkout whose own manifestparser ``origin`` is
    (``<topsrcdir>/testing/mozbase/manifestparser/manifestparser/__init__.py``
    with ``<topsrcdir>/mach`` beside it), or None."""
    if not origin:
        return None
    package = os.path.dirname(os.path.abspath(origin))
    parts = package.split(os.sep)
    if parts[-4:] != ["testing", "mozbase", "manifestparser", "manifestparser"]:
        return None
    top = os.sep.join(parts[:-4]) or os.sep
    return top if os.path.isfile(os.path.join(top, "mach")) else None


def choose_reader(name):
    """``own`` or ``mozilla`` for ``--manifest-reader name``. UsageError
    (one line) when ``mozilla`` is asked for and cannot be imported."""
    if name == "own":
        return "own"
    origin = _origin()
    if name == "mozilla":
        if origin is None:
            raise InputError("--manifest-reader mozilla: manifestparser is not importable (%s, "
                             "or run under mach in a gecko checkout)" % INSTALL_HINT)
        return "mozilla"
    if name in (None, "auto"):
        return "mozilla" if checkout_of(origin) else "own"
    raise InputError("--manifest-reader %s: not one of %s" % (name, ", ".join(READERS)))


def _import():
    """manifestparser's ``TestManifest``, its ``subsuite`` filter and a
    description of the copy in use ("manifestparser 2.1.0", or its path)."""
    from .. import compat

    # PyPI 2.1.0 imports collections.MutableSequence (gone since 3.10).
    compat.patch_collections()
    try:
        import manifestparser
        from manifestparser.filters import subsuite
    except ImportError as e:
        raise InputError("--manifest-reader mozilla: cannot import manifestparser: %s (%s)" % (e, INSTALL_HINT))
    where = checkout_of(getattr(manifestparser, "__file__", None))
    if where:
        name = "manifestparser of %s" % where
    else:
        try:
            from importlib.metadata import PackageNotFoundError, version
            name = "manifestparser %s" % version("manifestparser")
        except (ImportError, PackageNotFoundError):
            name = "manifestparser (%s)" % os.path.dirname(manifestparser.__file__)
    return manifestparser.TestManifest, subsuite, name


def reads_toml():
    """Whether the importable manifestparser reads ``.toml`` (PyPI 2.1.0
    does not: it reads any file as .ini)."""
    return importlib.util.find_spec("manifestparser.toml") is not None


def reads_condition_lines():
    """Whether the imported manifestparser evaluates each line of a
    multi-line condition on its own (mozilla-central does; PyPI 2.1.0
    parses the lines as one expression, which fails). Asked of its own
    ``skip_if`` filter."""
    from manifestparser.filters import skip_if

    try:
        return bool(list(skip_if([{"skip-if": "false\ntrue"}], {}))[0].get("disabled"))
    except Exception:  # noqa: BLE001  (2.1.0 raises ParseError here)
        return False


class MozillaManifestReader:
    """``discover()``'s manifest reader, with Mozilla's manifestparser.
    ``values``: the mozinfo values conditions are evaluated against."""

    def __init__(self, values, allow_missing=False, warn=None):
        from .keys import KeyChecker

        self.values = {k: v for k, v in values.items() if k not in _ACTIVE_TESTS_PARAMETERS}
        self.allow_missing = allow_missing
        self.test_manifest, self.subsuite_filter, self.name = _import()
        self.keys = KeyChecker(warn) if warn is not None else None

    def __call__(self, path, root):
        typed, path = path, os.path.abspath(path)
        if path.endswith(".toml") and not reads_toml():
            raise ManifestError(path, None, "%s reads only .ini manifests (use --manifest-reader own)" % self.name)
        try:
            manifest = self.test_manifest([path], strict=True)
            raw = manifest.tests
            # exists=False: a missing file is reported below, one line, as our reader does.
            active = manifest.active_tests(exists=False, disabled=True, **self.values)
            # Resolves "subsuite = name,condition" on each dict, Mozilla's way (the
            # filter also drops tests with a subsuite: only its side effect is wanted).
            list(self.subsuite_filter()(active, self.values))
        except Exception as e:  # noqa: BLE001  (anything it raises is a manifest it cannot read)
            message = "%s: %s" % (self.name, _one_line(e))
            if "could not parse" in message and not reads_condition_lines():
                message += (" (it parses the lines of a multi-line condition as one expression; "
                            "mozilla-central's reads one per line: use --manifest-reader own)")
            raise ManifestError(path, None, message)
        if len(raw) != len(active):
            raise ManifestError(path, None, "%s returned %d of %d tests" % (self.name, len(active), len(raw)))
        typed_dir, top_dir = os.path.dirname(typed), os.path.dirname(path)
        self.check_keys([path] + [t["manifest"] for t in raw])
        return [self.select(given, test, root, typed_dir, top_dir) for given, test in zip(raw, active)]

    def check_keys(self, manifests):
        """Misspelled keys (keys.py), found with our own parser of each file
        manifestparser read; a file it cannot parse is left to manifestparser."""
        if self.keys is None:
            return
        from .manifest import READERS

        for path in dict.fromkeys(os.path.normpath(m) for m in manifests if m):
            parse = READERS.get(os.path.splitext(path)[1])
            if parse is None:
                continue
            try:
                with open(path, encoding="utf-8") as f:
                    parsed = parse(path, f.read())
            except (OSError, UnicodeDecodeError, ManifestError):
                continue
            self.keys.check(parsed)

    def select(self, given, test, root, typed_dir="", top_dir=None):
        """One SelectedTest from ``given`` (the manifest's keys, as read)
        and ``test`` (the same after Mozilla's filters). The test is given
        the manifest's directory as typed (``typed_dir``, of the manifest
        in ``top_dir``) joined with the rest of its path, as with our reader."""
        test_path = test["path"]
        keys = {k: v for k, v in test.items() if k not in _BOOKKEEPING}
        reasons = []
        if not os.path.exists(test_path):
            if not self.allow_missing:
                raise ManifestError(test["manifest"], None, "test file does not exist: %s "
                                    "(--allow-missing to list it as not run)" % test["name"])
            reasons.append("missing: test file does not exist")
        if "disabled" in given:
            keys["disabled"] = given["disabled"]
            reasons.append("disabled: %s" % (given["disabled"] or "(no reason given)"))
        elif test.get("disabled"):
            kind, _, condition = str(test["disabled"]).partition(": ")
            lines = [line.strip() for line in condition.splitlines() if line.strip()]
            reasons.append("%s: %s" % (kind, " || ".join(lines)))
        expected = str(test.get("expected") or "pass")
        if "expected" in given or expected != "pass":
            from .manifest import EXPECTED_VALUES

            if expected.lower() not in EXPECTED_VALUES:
                raise ManifestError(test["manifest"], None, "[%s] expected = %r: not one of %s"
                                    % (test["name"], expected, ", ".join(EXPECTED_VALUES)))
            keys["expected"] = expected.lower()
        argv_path = test_path
        if top_dir is not None and keys.get("cwd") != "here":
            argv_path = os.path.join(typed_dir, os.path.relpath(test_path, top_dir))
            if ".." in argv_path:
                argv_path = os.path.normpath(argv_path)
        return SelectedTest(path=test_path, id=test_id(test_path, root), group=test_id(test["manifest"], root),
                            keys=keys, disabled=reasons[0] if reasons else None, line=None, argv_path=argv_path)


def _one_line(error):
    """manifestparser's message on one line: its ParseError appends the
    exception and every mozinfo value on further lines."""
    text = str(error) or type(error).__name__
    text = text.split("\nvariables:")[0].split("\nexception:")[0]
    return " ".join(text.split())
