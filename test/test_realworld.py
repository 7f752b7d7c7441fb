"""A subset of the real-world corpus bench (mozparallel/bench/realworld.py):
a few files of each real suite, installed from the package registries,
run through paralleltest and through the ecosystem's own runner. The whole
corpus takes minutes and is not run here (docs/performance.md has its
table)."""

import json
import subprocess

from conftest import VENV_PYTHON

GLIB = "/usr/libexec/installed-tests/glib/"


def bench(tmp_path, suite, *args):
    out = tmp_path / ("%s.json" % suite)
    r = subprocess.run([VENV_PYTHON, "-m", "mozparallel.bench.realworld", "--suites", suite, "--work",
                        str(tmp_path / "work"), "--json", str(out), "--no-xdist"] + list(args),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    [result] = json.loads(out.read_text())
    return result, r.stdout


def test_glib_installed_tests_against_prove(tmp_path):
    picks = ["array-test", "list", "strfuncs", "gdbus-names"]
    result, text = bench(tmp_path, "glib", "--limit", "4", *sum((["--pick", GLIB + p] for p in picks), []))
    assert result["files"] == 4 and result["native_pass"] == 4, text
    # Every difference has its cause named: here only processes a test
    # left (GLib's dbus helpers), which prove does not look at.
    for entry in result["differ_steady"] + result["differ_flaky"]:
        assert entry["file"] == GLIB + "gdbus-names" and entry["cause"].startswith("mozparallel's leak check"), text


def test_a_perl_distribution_against_prove_with_its_paths_as_typed(tmp_path):
    # t/mojo/exception.t checks the file names of its own stack frames:
    # given an absolute path instead of t/mojo/exception.t, it failed.
    result, text = bench(tmp_path, "perl", "--limit", "3", "--pick", "t/mojo/exception.t",
                         "--pick", "t/mojo/home.t", "--pick", "t/mojo/util.t")
    assert (result["files"], result["agree"], result["native_pass"], result["ours_pass"]) == (3, 3, 3, 3), text
    assert result["where"].startswith("Debian source libmojolicious-perl")


def test_a_python_package_through_pytest_tap_against_pytest(tmp_path):
    result, text = bench(tmp_path, "python", "--limit", "3", "--pick", "tests/test_imports.py",
                         "--pick", "tests/test_basic.py", "--pick", "tests/test_testing.py")
    assert (result["files"], result["agree"], result["native_pass"], result["ours_pass"]) == (3, 3, 3, 3), text
