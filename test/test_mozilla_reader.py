"""Mozilla's manifestparser behind the reader seam (selection/mozilla_reader.py):
it selects what our own reader selects, on the fixture suite, on every
platform; ``--manifest-reader auto`` picks it only when the importable copy
is a gecko checkout's own.

The pinned manifestparser is PyPI 2.1.0 (2020). It reads only ``.ini`` and
parses the lines of a multi-line condition as one expression (mozilla-central
has read them one per line since), so it cannot read the fixture suite.ini as
written. It is compared on a copy whose multi-line conditions are written on
one line, ``(a) || (b)``; our reader selects the same from the copy as from
the original and from suite.toml, so the chain holds for the fixture itself.
"""

import itertools
import json
import os
import re
import shutil
import sys

import pytest

from conftest import FIXTURES, paralleltest
from mozparallel.selection import ManifestError
from mozparallel.selection.manifest import ManifestReader
from mozparallel.selection.model import InputError
from mozparallel.selection.mozilla_reader import (MozillaManifestReader, checkout_of, choose_reader,
                                                  reads_condition_lines, reads_toml)

SUITE = os.path.join(FIXTURES, "manifests", "suite")
PLATFORMS = {
    "linux": dict(os="linux", processor="x86_64", arch="x86_64", bits=64),
    "mac": dict(os="mac", processor="aarch64", arch="aarch64", bits=64),
    "win": dict(os="win", processor="x86", arch="x86", bits=32),
}
CONFIGS = list(itertools.product(PLATFORMS, (True, False)))
CONDITION_KEYS = ("skip-if", "run-if", "fail-if")


def values_for(platform, debug):
    return dict(PLATFORMS[platform], debug=debug, asan=False)


def one_line_conditions(text):
    """An .ini manifest with each multi-line condition written on one line,
    its lines OR-ed: ``(a) || (b)``, what every manifestparser reads alike."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        key, sep, value = line.partition("=")
        if sep and not line[:1].isspace() and key.strip() in CONDITION_KEYS:
            parts = [value]
            while i + 1 < len(lines) and lines[i + 1][:1].isspace() and lines[i + 1].strip():
                i += 1
                parts.append(lines[i])
            conditions = [c for c in (re.sub(r"\s#.*$", "", p).strip() for p in parts) if c]
            joined = conditions[0] if len(conditions) == 1 else " || ".join("(%s)" % c for c in conditions)
            line = "%s = %s" % (key.strip(), joined)
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def one_line_suite(tmp_path_factory):
    """A copy of the fixture suite whose .ini conditions are one line each."""
    copy = str(tmp_path_factory.mktemp("one-line") / "suite")
    shutil.copytree(SUITE, copy)
    rewritten = 0
    for manifest in ("suite.ini", os.path.join("sub", "sub.ini")):
        path = os.path.join(copy, manifest)
        with open(path) as f:
            text = f.read()
        new = one_line_conditions(text)
        rewritten += new != text
        with open(path, "w") as f:
            f.write(new)
    assert rewritten == 2       # both manifests had a multi-line condition
    return copy


def own(manifest, values, root, allow_missing=False):
    return ManifestReader(values, allow_missing=allow_missing)(manifest, root)


def mozilla(manifest, values, root, allow_missing=False):
    return MozillaManifestReader(values, allow_missing=allow_missing)(manifest, root)


def joins_tags():
    """Whether this manifestparser joins a test's tags to its DEFAULT's
    (mozilla-central does; 2.1.0 replaces them)."""
    from manifestparser.ini import combine_fields

    return combine_fields({"tags": "a"}, {"tags": "b"})["tags"] == "a b"


def state(tests):
    """Which tests, in which group, run or not (and why: the kind of
    reason), expected to pass or fail: what both readers must agree on."""
    return [(t.id, os.path.splitext(t.group)[0], t.disabled.split(":")[0] if t.disabled else "RUN",
             t.keys.get("expected", "pass")) for t in tests]


def other_keys(tests, tags=True):
    """Per-test keys besides the condition texts (whose spelling differs:
    ``asan\\nx`` in ours, ``(asan) || (x)`` in 2.1.0)."""
    skip = set(CONDITION_KEYS) | (set() if tags else {"tags"})
    return [{k: v for k, v in t.keys.items() if k not in skip} for t in tests]


@pytest.mark.parametrize("platform, debug", CONFIGS)
def test_both_readers_select_the_same_tests(platform, debug, one_line_suite):
    values = values_for(platform, debug)
    ours_ini = own(os.path.join(SUITE, "suite.ini"), values, SUITE)
    ours_toml = own(os.path.join(SUITE, "suite.toml"), values, SUITE)
    ours_copy = own(os.path.join(one_line_suite, "suite.ini"), values, one_line_suite)
    theirs = mozilla(os.path.join(one_line_suite, "suite.ini"), values, one_line_suite)
    assert len(theirs) == 9
    assert state(theirs) == state(ours_copy) == state(ours_ini) == state(ours_toml)
    assert [t.group for t in theirs] == [t.group for t in ours_copy]
    assert [t.path for t in theirs] == [os.path.join(one_line_suite, t.id) for t in ours_ini]
    if joins_tags():
        assert other_keys(theirs) == other_keys(ours_copy)
    else:
        assert other_keys(theirs, tags=False) == other_keys(ours_copy, tags=False)
        # 2.1.0 keeps only the nearest tags; ours (mozilla-central's rule) joins them all.
        for mine, theirs_test in zip(ours_copy, theirs):
            assert set(theirs_test.keys["tags"].split()) <= set(mine.keys["tags"].split())


def test_the_configurations_select_differently(one_line_suite):
    """The agreement above is not six times the same answer."""
    selections = {tuple(state(mozilla(os.path.join(one_line_suite, "suite.ini"), values_for(p, d),
                                      one_line_suite))) for p, d in CONFIGS}
    assert len(selections) == 6


def test_mozilla_reasons_and_conditional_subsuite(one_line_suite):
    tests = {t.id: t for t in mozilla(os.path.join(one_line_suite, "suite.ini"), values_for("linux", True),
                                      one_line_suite)}
    assert tests["test_disabled.sh"].disabled == "disabled: bug 1234, flaky everywhere"
    assert tests["test_disabled.sh"].keys["disabled"] == "bug 1234, flaky everywhere"
    # Mozilla's reason names the whole condition, DEFAULT's part included.
    assert tests["test_net.sh"].disabled.startswith("skip-if: ")
    assert 'os == "linux" && debug' in tests["test_net.sh"].disabled
    assert "asan" in tests["test_net.sh"].disabled
    assert tests["test_basic.sh"].disabled is None and tests["test_basic.sh"].line is None
    # "subsuite = gpu,os == 'win'" resolved by manifestparser's subsuite filter.
    assert tests["test_debug_only.sh"].keys["subsuite"] == ""
    win = {t.id: t for t in mozilla(os.path.join(one_line_suite, "suite.ini"), values_for("win", True),
                                    one_line_suite)}
    assert win["test_debug_only.sh"].keys["subsuite"] == "gpu"
    assert win["sub/test_sub_b.sh"].keys["expected"] == "fail"
    assert "expected" not in win["sub/test_sub_a.sh"].keys


def test_a_missing_test_file(tmp_path):
    (tmp_path / "here.sh").write_text("")
    manifest = tmp_path / "m.ini"
    manifest.write_text("[here.sh]\n[gone.sh]\n")
    values = values_for("linux", False)
    for read in (own, mozilla):
        with pytest.raises(ManifestError, match="test file does not exist: gone.sh"):
            read(str(manifest), values, str(tmp_path))
        tests = read(str(manifest), values, str(tmp_path), allow_missing=True)
        assert [(t.id, t.disabled) for t in tests] == [("here.sh", None),
                                                        ("gone.sh", "missing: test file does not exist")]


def test_the_fixture_as_written():
    """The fixture itself, not the one-line copy: a manifestparser that reads
    each line of a condition agrees on it; the pinned 2.1.0 cannot read it,
    and says so on one line naming the manifest."""
    values = values_for("linux", True)
    manifest = os.path.join(SUITE, "suite.ini")
    if reads_condition_lines():
        assert state(mozilla(manifest, values, SUITE)) == state(own(manifest, values, SUITE))
        return
    with pytest.raises(ManifestError) as e:
        mozilla(manifest, values, SUITE)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(os.path.relpath(manifest) + ": manifestparser 2.1.0: could not parse: ")
    assert message.endswith("mozilla-central's reads one per line: use --manifest-reader own)")


def test_choosing_the_reader(monkeypatch):
    # Here manifestparser is PyPI's, in site-packages: not a checkout's own.
    assert choose_reader("auto") == "own"
    assert choose_reader("mozilla") == "mozilla"
    assert choose_reader("own") == "own"
    monkeypatch.setitem(sys.modules, "manifestparser", None)     # what makes an import fail
    assert choose_reader("auto") == "own"
    with pytest.raises(InputError, match=r"--manifest-reader mozilla: manifestparser is not importable "
                                         r"\(pip install 'mozparallel\[mozilla\]'"):
        choose_reader("mozilla")


def test_checkout_of(tmp_path):
    package = tmp_path / "testing" / "mozbase" / "manifestparser" / "manifestparser"
    package.mkdir(parents=True)
    origin = str(package / "__init__.py")
    assert checkout_of(origin) is None              # no mach at the top: not a checkout
    (tmp_path / "mach").write_text("")
    assert checkout_of(origin) == str(tmp_path)
    assert checkout_of(os.path.join(str(tmp_path), "site-packages", "manifestparser", "__init__.py")) is None
    assert checkout_of(None) is None


def _installed_manifestparser():
    import manifestparser

    return os.path.dirname(manifestparser.__file__)


def test_auto_reads_with_a_gecko_checkouts_manifestparser(tmp_path, one_line_suite):
    """A checkout layout (mach at the top, testing/mozbase/manifestparser on
    the path, as mach's virtualenv has it): auto selects with Mozilla's
    reader, whose entries have no line numbers; without it, with ours."""
    gecko = tmp_path / "gecko"
    mozbase = gecko / "testing" / "mozbase" / "manifestparser"
    mozbase.mkdir(parents=True)
    (gecko / "mach").write_text("")
    os.symlink(_installed_manifestparser(), str(mozbase / "manifestparser"))
    args = ["--list", "--format", "json", "--mozinfo", "debug=true", "--mozinfo", "asan=false", "suite.ini"]
    env = dict(os.environ, PYTHONPATH=str(mozbase))
    checkout = paralleltest(args, cwd=one_line_suite, env=env)
    plain = paralleltest(args, cwd=one_line_suite)
    assert checkout.returncode == plain.returncode == 0, checkout.stderr + plain.stderr
    by_mozilla, by_us = json.loads(checkout.stdout)["tests"], json.loads(plain.stdout)["tests"]
    assert [t["line"] for t in by_mozilla] == [None] * 9
    assert all(isinstance(t["line"], int) for t in by_us)
    assert [(t["id"], t["run"]) for t in by_mozilla] == [(t["id"], t["run"]) for t in by_us]


def test_command_line_errors(tmp_path):
    """Bad choices end with one line and exit status 2."""
    broken = tmp_path / "broken" / "manifestparser"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('needs six')\n")
    env = dict(os.environ, PYTHONPATH=str(broken.parent))
    result = paralleltest(["--list", "--manifest-reader", "mozilla", "suite.ini"], cwd=SUITE, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "paralleltest: error: --manifest-reader mozilla: cannot import manifestparser: needs six "
        "(pip install 'mozparallel[mozilla]')"]
    # auto falls back to our reader.
    result = paralleltest(["--list", "--mozinfo", "debug=true", "--mozinfo", "asan=false", "suite.ini"],
                          cwd=SUITE, env=env)
    assert result.returncode == 0 and result.stdout.endswith("9 tests: 6 would run, 3 would not\n")
    result = paralleltest(["--list", "--manifest-reader", "theirs", "suite.toml"], cwd=SUITE)
    assert result.returncode == 2 and "invalid choice: 'theirs'" in result.stderr


def test_toml_with_the_pinned_manifestparser():
    """2.1.0 reads every file as .ini: a .toml manifest is refused by name
    (a manifestparser that reads TOML selects what ours does)."""
    values = values_for("mac", False)
    manifest = os.path.join(SUITE, "suite.toml")
    if reads_toml():
        assert state(mozilla(manifest, values, SUITE)) == state(own(manifest, values, SUITE))
        return
    result = paralleltest(["--list", "--manifest-reader", "mozilla", "suite.toml"], cwd=SUITE)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "paralleltest: error: suite.toml: manifestparser 2.1.0 reads only .ini manifests "
        "(use --manifest-reader own)"]
