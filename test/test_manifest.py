"""Reading manifests: the same suite as .ini and .toml selects the same
tests everywhere; DEFAULT merging and includes as mozilla-central does; every
bad manifest is an error naming the file and the line."""

import itertools
import os

import pytest

from conftest import FIXTURES
from mozparallel.selection import ManifestError
from mozparallel.selection.manifest import ManifestReader, read_tests

SUITE = os.path.join(FIXTURES, "manifests", "suite")
PLATFORMS = {
    "linux": dict(os="linux", processor="x86_64", arch="x86_64", bits=64),
    "mac": dict(os="mac", processor="aarch64", arch="aarch64", bits=64),
    "win": dict(os="win", processor="x86", arch="x86", bits=32),
}


def values_for(platform, debug):
    return dict(PLATFORMS[platform], debug=debug, asan=False)


def select(manifest, values, strict=True, allow_missing=False, root=SUITE):
    return ManifestReader(values, strict=strict, allow_missing=allow_missing)(manifest, root)


def summary(tests):
    """What matters about a selection, independent of the file format."""
    return [(t.id, t.disabled.split(":")[0] if t.disabled else None, t.keys.get("expected", "pass"),
             sorted(t.keys.get("tags", "").split()), t.keys.get("subsuite"),
             t.keys.get("run-sequentially"), t.keys.get("timeout"))
            for t in tests]


@pytest.mark.parametrize("platform, debug", list(itertools.product(PLATFORMS, (True, False))))
def test_ini_and_toml_select_the_same_tests(platform, debug):
    values = values_for(platform, debug)
    ini = select(os.path.join(SUITE, "suite.ini"), values)
    toml = select(os.path.join(SUITE, "suite.toml"), values)
    assert summary(ini) == summary(toml)
    assert len(ini) == 9


def runs(platform, debug, manifest="suite.toml"):
    tests = select(os.path.join(SUITE, manifest), values_for(platform, debug))
    return {t.id: (t.disabled or "RUN", t.keys.get("expected", "pass")) for t in tests}


def test_conditions_mean_what_mozilla_central_means():
    linux_opt, linux_debug = runs("linux", False), runs("linux", True)
    win_debug, mac_debug = runs("win", True), runs("mac", True)
    # A multi-line skip-if: each line OR-ed (2.1.0 could not parse it).
    assert linux_opt["test_net.sh"] == ("RUN", "pass")
    assert linux_debug["test_net.sh"][0] == "skip-if: os == 'linux' && debug"
    assert win_debug["test_net.sh"][0] == "skip-if: os == 'win'"
    # fail-if makes the test expected to fail; run-if disables when false.
    assert linux_opt["test_gfx.sh"] == ("RUN", "fail")
    assert linux_debug["test_gfx.sh"] == ("RUN", "pass")
    assert win_debug["test_gfx.sh"][0].startswith("run-if: os == 'linux' || os == 'mac'")
    assert mac_debug["test_known_bad.sh"] == ("RUN", "fail")
    assert linux_opt["test_debug_only.sh"][0] == "run-if: debug"
    assert win_debug["test_win_only.sh"] == ("RUN", "pass")
    assert linux_debug["test_win_only.sh"][0] == "skip-if: os != 'win'"
    assert all(r["test_disabled.sh"][0] == "disabled: bug 1234, flaky everywhere"
               for r in (linux_opt, linux_debug, win_debug, mac_debug))
    # Included manifest: the include section's skip-if is OR-ed with the
    # parent's DEFAULT and the child's own conditions.
    assert mac_debug["sub/test_sub_a.sh"][0] == "skip-if: arch == 'aarch64'"
    assert win_debug["sub/test_sub_a.sh"] == ("RUN", "pass")
    assert win_debug["sub/test_sub_b.sh"] == ("RUN", "fail")   # second line of fail-if
    assert linux_debug["sub/test_sub_b.sh"] == ("RUN", "pass")


def test_default_merging_and_includes():
    tests = {t.id: t for t in select(os.path.join(SUITE, "suite.ini"), values_for("win", True))}
    # tags are joined with the DEFAULT's (2.1.0 replaced them) ...
    assert tests["test_net.sh"].keys["tags"] == "core network"
    assert tests["sub/test_sub_b.sh"].keys["tags"] == "core included sub extra"
    # ... skip-if is OR-ed, other keys are replaced.
    assert tests["test_net.sh"].keys["skip-if"].splitlines() == ["asan", 'os == "win"', 'os == "linux" && debug']
    assert tests["test_basic.sh"].keys["subsuite"] == "parallel"
    # conditional subsuite "gpu,os == 'win'"
    assert tests["test_debug_only.sh"].keys["subsuite"] == "gpu"
    assert select(os.path.join(SUITE, "suite.ini"), values_for("linux", True))[4].keys["subsuite"] == ""
    assert tests["sub/test_sub_a.sh"].group == "sub/sub.ini"
    assert tests["test_net.sh"].group == "suite.ini"
    assert tests["test_net.sh"].line == 10
    assert tests["test_win_only.sh"].keys["timeout"] == "30"


def test_asan_from_default_skips_everything():
    tests = select(os.path.join(SUITE, "suite.toml"), dict(values_for("linux", False), asan=True))
    assert {t.disabled for t in tests if t.id != "test_disabled.sh"} == {"skip-if: asan"}


# -- errors: each names the file and the line ---------------------------------

def write(tmp_path, name, text, tests=("a.sh", "b.sh")):
    for t in tests:
        p = tmp_path / t
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("#!/bin/sh\necho 1..0\n")
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def error_of(path, **kwargs):
    with pytest.raises(ManifestError) as info:
        select(path, values_for("linux", False), root=os.path.dirname(path), **kwargs)
    return str(info.value)


@pytest.mark.parametrize("name, text, where, message", [
    ("m.ini", "[a.sh]\n\n[include:nothere.ini]\n", "m.ini:3", "included manifest does not exist: nothere.ini"),
    ("m.toml", '["a.sh"]\n\n["include:nothere.toml"]\n', "m.toml:3", "included manifest does not exist"),
    ("m.ini", "[a.sh]\n[gone.sh]\n", "m.ini:2", "test file does not exist: gone.sh"),
    ("m.toml", '["a.sh"]\n["gone.sh"]\n', "m.toml:2", "test file does not exist: gone.sh"),
    ("m.ini", "# c\nkey = 1\n[a.sh]\n", "m.ini:2", "expected a comment or a [section]"),
    ("m.ini", "[a.sh]\nthis is not a key\n", "m.ini:2", "not a key = value line"),
    ("m.ini", "[a.sh]\n[b.sh]\n[a.sh]\n", "m.ini:3", "duplicate section [a.sh] (first at line 1)"),
    ("m.ini", "[a.sh]\nskip-if = os == 'win'\nskip-if = debug\n", "m.ini:3", "duplicate key 'skip-if'"),
    ("m.ini", "[a.sh]\n[x.sh]\npath = a.sh\n", "m.ini:2", "duplicate test entry [x.sh] (already listed at "),
    ("m.toml", '["a.sh"]\nskip-if = [\n', "m.toml", "TOML syntax error"),
    ("m.toml", '["a.sh"]\n["a.sh"]\n', "m.toml", "line 2"),
    ("m.toml", 'skip-if = "x"\n["a.sh"]\n', "m.toml:1", "outside a [section]"),
    ("m.toml", "[a.sh]\n", "m.toml:1", 'quote test names, as in ["a.sh"]'),
    ("m.ini", "[a.sh]\nskip-if = os = 'win'\n", "m.ini:2", "single '='"),
    ("m.toml", "[\"a.sh\"]\nskip-if = [\"os = 'win'\"]\n", "m.toml:2", "single '='"),
    ("m.ini", "[a.sh]\nskip-if =\n  os == 'win'\n  # note\n  tsan\n", "m.ini:5", "unknown name 'tsan'"),
    ("m.toml", "[\"a.sh\"]\nrun-if = [\n  \"os == 'win'\",\n  \"tsan\", # bug 2\n]\n", "m.toml:4",
     "run-if: unknown name 'tsan'"),
    ("m.ini", "[DEFAULT]\nskip-if = fission\n[a.sh]\n", "m.ini:2", "--mozinfo fission=VALUE"),
    ("m.ini", "[a.sh]\nsupport-files = data/*.txt\n", "m.ini:2", "support-files: nothing matches 'data/*.txt'"),
    ("m.toml", "[DEFAULT]\nsupport-files = \"x.json\"\n[\"a.sh\"]\n", "m.toml:2", "nothing matches 'x.json'"),
    ("m.ini", "[a.sh]\nexpected = fial\n", "m.ini:2", "expected = 'fial': not one of"),
    ("m.ini", "[a.sh]\n[include:m.ini]\n", "m.ini:2", "include cycle"),
])
def test_bad_manifest_errors_name_file_and_line(tmp_path, name, text, where, message):
    err = error_of(write(tmp_path, name, text))
    assert where in err and message in err, err


def test_duplicate_across_includes_names_both_places(tmp_path):
    write(tmp_path, "sub/sub.toml", '["../a.sh"]\n', tests=())
    path = write(tmp_path, "m.ini", "[a.sh]\n[include:sub/sub.toml]\n")
    err = error_of(path)
    assert "sub.toml:1: duplicate test entry [../a.sh] (already listed at" in err and err.endswith("m.ini:1)")


def test_lenient_conditions_and_allow_missing(tmp_path):
    path = write(tmp_path, "m.ini", "[a.sh]\nskip-if = tsan\n[b.sh]\nrun-if = !tsan\n[gone.sh]\n"
                                    "support-files = nothing/*\n")
    tests = select(path, values_for("linux", False), strict=False, allow_missing=True, root=str(tmp_path))
    assert [(t.id, t.disabled) for t in tests] == [
        ("a.sh", None), ("b.sh", None), ("gone.sh", "missing: test file does not exist")]


def test_inline_comments_and_continuations_agree(tmp_path):
    ini = write(tmp_path, "m.ini", "[DEFAULT]\ntags = a  # not a tag\n[a.sh]\nrun-sequentially = port#80 # why\n"
                                   "skip-if =\n    os == 'win'  # bug 1\n    os == 'mac'\n")
    toml = write(tmp_path, "m.toml", "[DEFAULT]\ntags = \"a  # not a tag\"\n[\"a.sh\"]\n"
                                     "run-sequentially = \"port#80 # why\"\n"
                                     "skip-if = [\"os == 'win'  # bug 1\", \"os == 'mac'\"]\n")
    a, b = read_tests(ini)[0].layer.keys, read_tests(toml)[0].layer.keys
    assert a == b == {"tags": "a", "run-sequentially": "port#80", "skip-if": "os == 'win'\nos == 'mac'"}


def test_toml_values_are_normalised(tmp_path):
    path = write(tmp_path, "m.toml", '["a.sh"]\nrun-if = ["true", "false"]\nflag = true\ntimeout = 7\n'
                                     'support-files = ["a.sh", "b.sh"]\n')
    keys = read_tests(path)[0].layer.keys
    assert keys == {"run-if": "true\nfalse", "flag": "true", "timeout": "7", "support-files": "a.sh\nb.sh"}


def test_bench_manifest_keys():
    """gen_suite's manifests carry duration and expected outcomes."""
    import subprocess
    import tempfile

    from conftest import PYTHON, SHARED_BENCH

    with tempfile.TemporaryDirectory() as out:
        subprocess.run([PYTHON, os.path.join(SHARED_BENCH, "gen_suite.py"), "--profile", "mixed-failures",
                        "--out", out], check=True, capture_output=True)
        tests = select(os.path.join(out, "manifest.ini"), values_for("linux", False), root=out)
    expected = {t.keys["expected"] for t in tests}
    assert len(tests) == 60 and all(t.disabled is None for t in tests)
    assert expected == {"pass", "fail", "skip", "crash", "timeout", "bailout"}
