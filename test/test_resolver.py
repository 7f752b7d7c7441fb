"""Paths through their manifests (selection/resolve.py), on a gecko-like
tree (test/fixtures/gecko: a TOML and an INI manifest with an include, an
objdir whose mozinfo.json says linux, debug, 64 bits, and whose _tests
holds an installed copy of a manifest): a directory selects exactly what
the manifests under it select, a test file exactly what its manifest
selects for it, for that mozinfo. Compared with ``--list --format json`` of
the manifest itself; run for real through ``paralleltest`` and the
checkout's standalone ``./mach``. A file that must not run fails if run."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import FIXTURES, TOP, paralleltest, read_raw

UNIT = "netwerk/test/unit"
XPCSHELL = UNIT + "/xpcshell.toml"
DOM = "dom/base/test"
MOCHITEST = DOM + "/mochitest.ini"


@pytest.fixture
def tree(tmp_path):
    """A copy of the fixture tree (a run writes its state into the objdir)."""
    top = tmp_path / "gecko"
    shutil.copytree(os.path.join(FIXTURES, "gecko"), top, symlinks=True)
    return top


def mach(args, cwd):
    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    return subprocess.run([os.path.join(TOP, "mach"), "parallel-test"] + list(args), cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def listing(tree, *args, command=paralleltest):
    proc = command(["--objdir", "obj-gecko", "--list", "--format", "json"] + list(args), cwd=tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["tests"]


def ends(raw):
    return {e["test"]: (e["status"], e.get("expected"), e.get("message")) for e in read_raw(raw)
            if e["action"] == "test_end"}


def test_directory_selects_what_its_manifest_selects(tree):
    by_manifest = listing(tree, XPCSHELL)
    assert [(t["id"], t["run"], t["reason"], t["expected"]) for t in by_manifest] == [
        (UNIT + "/test_plain.js", True, None, "pass"),
        (UNIT + "/test_runif_win.js", False, "run-if: os == 'win'", "pass"),
        (UNIT + "/test_failif_linux.js", True, None, "fail"),
        (UNIT + "/test_skipif_debug.js", False, "skip-if: debug", "pass"),
        (UNIT + "/test_sequential.js", True, None, "pass"),
        (UNIT + "/test_disabled.js", False, "disabled: bug 3", "pass"),
    ]
    assert listing(tree, UNIT) == by_manifest
    assert listing(tree, UNIT + "/") == by_manifest
    # The standalone ./mach of this checkout (PyPI mach 1.0.0) selects the
    # same, for the directory and for one of its files.
    assert listing(tree, UNIT, command=mach) == by_manifest
    assert listing(tree, UNIT + "/test_runif_win.js", command=mach) == by_manifest[1:2]
    # An INI manifest: the directory is what mochitest.ini (with its include) lists.
    assert listing(tree, DOM) == listing(tree, MOCHITEST)


def test_directory_run_skips_with_the_reason_and_expects_fail_if(tree):
    raw = tree / "run.raw"
    proc = mach(["--objdir", "obj-gecko", "--log-raw", str(raw), UNIT], tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ends(raw) == {
        UNIT + "/test_plain.js": ("OK", None, None),
        UNIT + "/test_runif_win.js": ("SKIP", None, "run-if: os == 'win'"),
        UNIT + "/test_failif_linux.js": ("FAIL", None, "not ok 1 - known to fail on 64-bit linux; "
                                                       "Non-zero exit status: 1"),
        UNIT + "/test_skipif_debug.js": ("SKIP", None, "skip-if: debug"),
        UNIT + "/test_sequential.js": ("OK", None, None),
        UNIT + "/test_disabled.js": ("SKIP", None, "disabled: bug 3"),
    }
    # Grouped by the manifest, as the harnesses log suite_start; not the
    # unlisted test_not_listed.js, nor head_channels.js.
    start = [e for e in read_raw(raw) if e["action"] == "suite_start"][0]
    assert list(start["tests"]) == [XPCSHELL] and len(start["tests"][XPCSHELL]) == 6
    assert "0 unexpected, 3 skipped, 1 expected failures" in proc.stdout


@pytest.mark.parametrize("name", ["test_failif_linux.js", "test_runif_win.js", "test_sequential.js"])
def test_a_test_file_keeps_its_manifest_entry(tree, name):
    entry = [t for t in listing(tree, XPCSHELL) if t["id"] == "%s/%s" % (UNIT, name)]
    assert listing(tree, "%s/%s" % (UNIT, name)) == entry


def test_test_files_run_as_their_manifest_says(tree):
    raw = tree / "files.raw"
    proc = mach(["--objdir", "obj-gecko", "--log-raw", str(raw), UNIT + "/test_failif_linux.js",
                 UNIT + "/test_runif_win.js", DOM + "/test_c.js"], tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = ends(raw)
    assert got[UNIT + "/test_failif_linux.js"][0] == "FAIL"          # expected: fail-if
    assert got[UNIT + "/test_runif_win.js"] == ("SKIP", None, "run-if: os == 'win'")
    assert got[DOM + "/test_c.js"][:2] == ("FAIL", None)              # fail-if = bits == 64
    start = [e for e in read_raw(raw) if e["action"] == "suite_start"][0]
    assert sorted(start["tests"]) == [MOCHITEST, XPCSHELL]


def test_a_directory_an_includer_speaks_for_gets_the_include_keys(tree):
    """dom/base/test/chrome has chrome.ini, which mochitest.ini (above it)
    includes with run-sequentially: the tests are mochitest.ini's."""
    through_includer = [t for t in listing(tree, MOCHITEST) if t["id"].startswith(DOM + "/chrome/")]
    assert [(t["id"], t["run"], t["run-sequentially"], t["group"]) for t in through_includer] == [
        (DOM + "/chrome/test_chrome.js", True, "one chrome window", DOM + "/chrome/chrome.ini"),
        (DOM + "/chrome/test_chrome_mac.js", False, "one chrome window", DOM + "/chrome/chrome.ini"),
    ]
    assert listing(tree, DOM + "/chrome") == through_includer
    assert listing(tree, DOM + "/chrome/test_chrome.js") == through_includer[:1]
    # Read alone, chrome.ini has no run-sequentially: not what the tree runs.
    alone = listing(tree, DOM + "/chrome/chrome.ini")
    assert [t["run-sequentially"] for t in alone] == [None, None]


def test_no_argument_runs_every_manifest_under_the_current_directory(tree):
    everything = listing(tree, MOCHITEST) + listing(tree, XPCSHELL)
    assert listing(tree) == everything      # not the objdir's installed copy, not tools/t
    raw = tree / "all.raw"
    proc = paralleltest(["--objdir", "obj-gecko", "--log-raw", str(raw)], cwd=tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(ends(raw)) == sorted(t["id"] for t in everything)
    # From inside a directory: the manifests under it.
    proc = paralleltest(["--objdir", "../obj-gecko", "--list"], cwd=tree / "dom")
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1] == "5 tests: 3 would run, 2 would not"


def test_no_argument_and_no_manifest_says_what_to_pass(tree):
    for command in (paralleltest, mach):
        proc = command([], tree / "tools")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.splitlines()[-1].endswith(
            "error: no TEST given, and no test manifest under the current directory lists a test: "
            "give test files, directories or manifests (.ini, .toml)")


def test_what_no_manifest_speaks_for_keeps_the_plain_rules(tree):
    raw = tree / "plain.raw"
    proc = paralleltest(["--objdir", "obj-gecko", "--log-raw", str(raw), "tools/t",
                         UNIT + "/test_not_listed.js"], cwd=tree)
    assert proc.returncode == 1, proc.stdout + proc.stderr      # test_not_listed.js fails when run
    assert ends(raw) == {
        "tools/t/basic.t": ("OK", None, None),
        "tools/t/more.t": ("OK", None, None),
        # It ran: its failing point is the unexpected result (one failure, one line).
        UNIT + "/test_not_listed.js": ("OK", None, "not ok 1 - ran although no manifest lists it; exit status 1"),
    }
    points = [e for e in read_raw(raw) if e["action"] == "test_status"]
    assert [(e["test"], e["status"], e["expected"]) for e in points] == [
        (UNIT + "/test_not_listed.js", "FAIL", "PASS")]
    assert ("paralleltest: warning: %s/test_not_listed.js is not listed in %s: run as a plain file, without "
            "manifest keys" % (UNIT, XPCSHELL)) in proc.stderr.splitlines()


def test_a_test_listed_by_two_manifests_runs_once_with_a_note(tmp_path):
    (tmp_path / "t").mkdir()
    script = tmp_path / "t" / "test_x.sh"
    script.write_text('#!/bin/sh\necho "1..1"\necho "ok 1"\n')
    script.chmod(0o755)
    (tmp_path / "t" / "a.toml").write_text('["test_x.sh"]\ntags = "a"\n')
    (tmp_path / "t" / "b.toml").write_text('["test_x.sh"]\ntags = "b"\n')
    tests = listing_in(tmp_path, "t")
    assert [(t["id"], t["tags"], t["group"]) for t in tests] == [("t/test_x.sh", ["a"], "t/a.toml")]
    assert tests[0]["notes"] == ["t/test_x.sh is also listed through t/b.toml; it runs once, as t/a.toml selects it"]


def listing_in(cwd, *args):
    proc = paralleltest(["--list", "--format", "json"] + list(args), cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["tests"]


def test_files_that_are_not_manifests_are_left_alone(tmp_path):
    """pyproject.toml, tox.ini, a wpt metadata .ini: no section names a file
    beside them; the directory keeps its plain rules."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.black]\nline-length = 99\n')
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py311\n[testenv]\ncommands = pytest\n")
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "test.html.ini").write_text("[test.html]\n  expected: FAIL\n")
    script = tmp_path / "run_me.sh"
    script.write_text('#!/bin/sh\necho "1..1"\necho "ok 1"\n')
    script.chmod(0o755)
    assert [t["id"] for t in listing_in(tmp_path, ".")] == ["run_me.sh"]


def test_manifests_rst_examples_run_as_written(tree):
    """The console block of docs/manifests.rst's "Directories and test
    files", run in the fixture tree: the same output ("..." stands for
    lines left out)."""
    import re

    text = open(os.path.join(TOP, "docs", "manifests.rst")).read()
    section = text.split("Directories and test files\n--------------------------\n", 1)[1]
    block = section.split(".. code-block:: console\n", 1)[1].lstrip("\n").split("\n\n", 1)[0]
    commands, expected = [], {}
    for line in block.splitlines():
        line = line[3:]
        if line.startswith("$ "):
            commands.append(line[2:])
            expected[commands[-1]] = []
        else:
            expected[commands[-1]].append(line)
    assert len(commands) == 3
    for command in commands:
        words = command.split()
        assert words[0] == "paralleltest"
        proc = paralleltest(words[1:], cwd=tree)
        assert proc.returncode == 0, proc.stderr
        want = expected[command]
        pattern = "\n".join(".*" if line == "..." else re.escape(line) for line in want)
        assert re.fullmatch(pattern, proc.stdout.rstrip("\n"), re.S), (command, proc.stdout)
