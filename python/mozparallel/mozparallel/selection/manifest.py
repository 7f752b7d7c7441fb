"""Read a test manifest (``.ini`` or ``.toml``, with its includes) into
``SelectedTest`` entries, each kept with the reason it will not run.

Merging follows mozilla-central: ``[DEFAULT]`` values apply to every test,
except that ``skip-if`` and ``prefs`` are joined by a newline (conditions
OR-ed) and ``args``, ``support-files`` and ``tags`` by a space. An
``[include:x]`` section's keys (with the DEFAULTs merged in) are defaults of
the included manifest. ``skip-if``/``run-if``/``fail-if``/``disabled`` and
conditional ``subsuite = name,condition`` are evaluated here.
"""

import glob
import os
import sys
from dataclasses import dataclass

from .conditions import ConditionError, Evaluator, UnknownName
from .model import SelectedTest, test_id
from .ini_format import parse_ini
from .sections import INCLUDE_PREFIX, ManifestError, display_path
from .toml_format import parse_toml

READERS = {".ini": parse_ini, ".toml": parse_toml}
JOINED_KEYS = {"args": " ", "prefs": "\n", "skip-if": "\n", "support-files": " ", "tags": " "}
# What a manifest's ``expected`` may say: mozilla-central's pass/fail, plus
# the outcome names generated suites use to document a test.
EXPECTED_VALUES = ("pass", "fail", "skip", "ok", "crash", "timeout", "error", "bailout")


@dataclass
class Layer:
    """Merged keys plus, per key, where each part came from:
    ``[(text, ParsedManifest, line)]`` (several parts for joined keys)."""

    keys: dict
    sources: dict

    def combine(self, section, parsed):
        """These defaults overlaid with ``section``, the mozilla-central way."""
        keys, sources = dict(self.keys), dict(self.sources)
        for key, value in section.keys.items():
            part = (value, parsed, section.key_lines.get(key, section.line))
            joiner = JOINED_KEYS.get(key)
            if joiner is not None and key in keys:
                keys[key] = keys[key] + joiner + value
                sources[key] = sources[key] + [part]
            else:
                keys[key] = value
                sources[key] = [part]
        return Layer(keys, sources)


@dataclass
class ManifestTest:
    name: str
    path: str               # absolute path of the test file
    parsed: object          # the ParsedManifest listing it
    line: int               # line of its [section]
    layer: Layer
    missing: bool = False
    typed: str = ""         # the manifest's path as typed joined with the entry
    notes: tuple = ()       # how it was found, when not as written (see include)


class _TreeReader:
    def __init__(self, top, allow_missing, on_parsed=None):
        self.top_dir = os.path.dirname(top)
        self.allow_missing = allow_missing
        self.on_parsed = on_parsed      # called with each ParsedManifest read (keys.py)
        self.tests = []
        self.seen = {}          # test path -> (manifest path, line)
        self.checked = set()    # support-files patterns already found

    def read(self, path, typed, inherited, chain, notes=()):
        """Read the manifest at ``path`` (absolute), which the user's
        arguments name as ``typed`` (through includes)."""
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise ManifestError(path, None, "cannot read manifest: %s" % e)
        parsed = READERS[os.path.splitext(path)[1]](path, text)
        if self.on_parsed is not None:
            self.on_parsed(parsed)
        here, typed_here = os.path.dirname(path), os.path.dirname(typed)
        defaults = inherited
        if parsed.default is not None:
            self.check_support_files(parsed, parsed.default, here)
            defaults = inherited.combine(parsed.default, parsed)
        for section in parsed.sections:
            if section.name.startswith(INCLUDE_PREFIX):
                self.include(parsed, typed, section, defaults, chain + (path,), notes)
                continue
            self.check_support_files(parsed, section, here)
            layer = defaults.combine(section, parsed)
            entry = layer.keys.get("path") or section.name
            test_path = os.path.join(here, entry)
            typed_path = os.path.join(typed_here, entry)
            if ".." in test_path:
                test_path = os.path.normpath(test_path)
                typed_path = os.path.normpath(typed_path)
            if test_path in self.seen:
                first_path, first_line = self.seen[test_path]
                raise ManifestError(path, section.line, "duplicate test entry [%s] (already listed at %s:%d)"
                                    % (section.name, display_path(first_path), first_line))
            self.seen[test_path] = (path, section.line)
            missing = not os.path.exists(test_path)
            if missing and not self.allow_missing:
                raise ManifestError(path, section.line, "test file does not exist: %s "
                                    "(--allow-missing to list it as not run)" % section.name)
            self.tests.append(ManifestTest(section.name, test_path, parsed, section.line, layer, missing,
                                           typed_path, notes))

    def include(self, parsed, typed, section, defaults, chain, notes):
        name = section.name[len(INCLUDE_PREFIX):].strip()
        target = os.path.normpath(os.path.join(os.path.dirname(parsed.path), name))
        if os.path.splitext(target)[1] not in READERS:
            raise ManifestError(parsed.path, section.line, "include of %r: not a .ini or .toml manifest" % name)
        if not os.path.isfile(target):
            # mozilla-central converted its .ini manifests to .toml and left
            # some include lines naming the .ini; Mozilla's reader takes the
            # .toml beside it.
            base, ext = os.path.splitext(target)
            if ext != ".ini" or not os.path.isfile(base + ".toml"):
                raise ManifestError(parsed.path, section.line, "included manifest does not exist: %s" % name)
            written, name, target = name, os.path.splitext(name)[0] + ".toml", base + ".toml"
            notes = notes + ("%s:%d includes %s, which exists only as %s: read that, as Mozilla's "
                             "manifestparser does" % (display_path(parsed.path), section.line, written,
                                                      os.path.basename(target)),)
        if target in chain:
            raise ManifestError(parsed.path, section.line, "include cycle: %s includes itself" % name)
        self.check_support_files(parsed, section, os.path.dirname(parsed.path))
        typed_target = os.path.join(os.path.dirname(typed), name)
        if ".." in typed_target:
            typed_target = os.path.normpath(typed_target)
        self.read(target, typed_target, defaults.combine(section, parsed), chain, notes)

    def check_support_files(self, parsed, section, here):
        value = section.keys.get("support-files")
        if not value or self.allow_missing:
            return
        for pattern in value.split():
            if pattern.startswith("!/"):
                full = os.path.join(self.top_dir, pattern[2:])
            else:
                full = os.path.join(here, pattern)
            if full in self.checked:
                continue
            if any(c in pattern for c in "*?["):
                found = bool(glob.glob(full, recursive=True))
            else:
                found = os.path.exists(full)
            if not found:
                raise ManifestError(parsed.path, section.key_lines.get("support-files", section.line),
                                    "support-files: nothing matches %r (in [%s])" % (pattern, section.name))
            self.checked.add(full)


def read_tests(path, allow_missing=False, on_parsed=None):
    """Every test entry of the manifest at ``path`` and its includes, in
    order, with merged keys; no condition is evaluated yet. ``path`` as
    the user typed it: each test's ``typed`` path starts with it.
    ``on_parsed(parsed)`` sees each manifest file as read."""
    typed, path = path, os.path.abspath(path)
    if os.path.splitext(path)[1] not in READERS:
        raise ManifestError(path, None, "not a .ini or .toml manifest")
    reader = _TreeReader(path, allow_missing, on_parsed)
    reader.read(path, typed, Layer({}, {}), ())
    return reader.tests


def _warn(text):
    print("paralleltest: warning: %s" % text, file=sys.stderr)


class ManifestReader:
    """``discover()``'s manifest reader: reads a manifest and evaluates its
    conditions against ``values`` (mozinfo). An unknown name in a condition
    is ``""``, as Mozilla's manifestparser reads it, with one ``warn`` per
    name (naming the manifest and line where it was first seen); ``strict``:
    it is an error. A misspelled key (``skip_if``) is one ``warn`` per key
    (keys.py)."""

    def __init__(self, values, strict=False, allow_missing=False, warn=_warn):
        from .keys import KeyChecker

        self.evaluator = Evaluator(values, strict)
        self.allow_missing = allow_missing
        self.warn = warn
        self.warned = set()
        self.keys = KeyChecker(warn)

    def __call__(self, path, root):
        tests = read_tests(path, self.allow_missing, on_parsed=self.keys.check)
        return [self.select(t, root) for t in tests]

    def select(self, test, root):
        keys = dict(test.layer.keys)
        keys.pop("path", None)
        reasons = []
        if test.missing:
            reasons.append("missing: test file does not exist")
        if "disabled" in keys:
            reasons.append("disabled: %s" % (keys["disabled"] or "(no reason given)"))
        if "skip-if" in keys:
            hit = self.first_true(test, "skip-if")
            if hit:
                reasons.append("skip-if: %s" % hit)
        if "run-if" in keys and not self.first_true(test, "run-if"):
            reasons.append("run-if: %s" % " || ".join(_lines(keys["run-if"])))
        if "fail-if" in keys and self.first_true(test, "fail-if"):
            keys["expected"] = "fail"
        if "," in keys.get("subsuite", ""):
            name, _, condition = keys["subsuite"].partition(",")
            keys["subsuite"] = name.strip() if self.first_true(test, "subsuite", condition) else ""
        expected = keys.get("expected")
        if expected is not None:
            if expected.lower() not in EXPECTED_VALUES:
                raise ManifestError(test.parsed.path, _key_line(test, "expected"),
                                    "expected = %r: not one of %s" % (expected, ", ".join(EXPECTED_VALUES)))
            keys["expected"] = expected.lower()
        # A test run in its own directory (cwd = here) cannot be given a
        # path relative to the invocation directory: it gets the absolute one.
        argv_path = test.path if keys.get("cwd") == "here" else test.typed
        return SelectedTest(path=test.path, id=test_id(test.path, root),
                            group=test_id(test.parsed.path, root), keys=keys,
                            disabled=reasons[0] if reasons else None, line=test.line, argv_path=argv_path,
                            notes=test.notes)

    def first_true(self, test, key, value=None):
        """The first true line of condition ``key`` (parts from DEFAULT and
        the test, OR-ed), or None. Errors name the manifest and the line."""
        parts = test.layer.sources[key] if value is None else [(value,) + test.layer.sources[key][0][1:]]
        if not self.evaluator.strict:
            for text, parsed, line in parts:
                self.warn_unknown(key, text, parsed, line)
        for text, parsed, line in parts:
            try:
                hit = self.evaluator.first_true(text)
            except ConditionError as e:
                bad = getattr(e, "condition", None) or text
                where = parsed.find_line(bad, line) if "\n" in text else line
                message = "%s: %s" % (key, e)
                if isinstance(e, UnknownName):
                    known = ", ".join(sorted(self.evaluator.values))
                    message += " (known: %s; set it with --mozinfo %s=VALUE, or leave out --strict-conditions " \
                        "to read it as \"\")" % (known, e.name)
                raise ManifestError(parsed.path, where, message)
            if hit is not None:
                return hit
        return None

    def warn_unknown(self, key, text, parsed, line):
        """One warning for each unknown name not warned about before."""
        try:
            names = self.evaluator.unknown_names(text)
        except ConditionError:
            return      # evaluating it raises the error, with its line
        for name in names:
            if name in self.warned:
                continue
            self.warned.add(name)
            where = parsed.find_line(name, line) if "\n" in text else line
            self.warn("%s:%d: %s: unknown name %r read as \"\" (as Mozilla's manifestparser does; "
                      "set it with --mozinfo %s=VALUE, or --strict-conditions to make this an error)"
                      % (display_path(parsed.path), where, key, name, name))


def _lines(value):
    return [line.strip() for line in value.splitlines() if line.strip()]


def _key_line(test, key):
    parts = test.layer.sources.get(key)
    return parts[-1][2] if parts else test.line
