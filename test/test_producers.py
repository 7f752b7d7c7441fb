"""Real producers through the pool: the bundled examples/ suite (node's
test runner, pytest with pytest-tap, bats, a Python script logging through
mozlog's TBPL formatter), clean and with a failure switched on; and what
the run writes for CI (--log-errorsummary, --log-xunit)."""

import json
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from conftest import TOP, ends_by_test, paralleltest, read_raw

EXAMPLES = os.path.join(TOP, "examples")
MANIFEST = os.path.join(EXAMPLES, "manifest.ini")
FILES = ["examples/test_node_runner.mjs", "examples/test_pytest_tap.py", "examples/test_bats.bats",
         "examples/test_mozlog_tbpl.py"]

pytestmark = pytest.mark.skipif(not (shutil.which("node") and shutil.which("bats")),
                                reason="node and bats are needed (tools/install-system-deps.sh)")


def subtests(events, test):
    return {e["subtest"]: (e["status"], e.get("expected", e["status"]))
            for e in events if e["action"] == "test_status" and e["test"] == test}


def test_examples_pass_with_their_expected_failures_and_skips(tmp_path):
    raw = tmp_path / "raw.log"
    proc = paralleltest(["-j", "4", "--log-raw", str(raw), "--log-subtests", "all", MANIFEST], cwd=TOP)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = read_raw(raw)
    ends = ends_by_test(events)
    assert sorted(ends) == sorted(FILES)
    assert {t: e["status"] for t, e in ends.items()} == dict.fromkeys(FILES, "OK")
    node = subtests(events, FILES[0])
    assert node["capabilities > rejects an unknown key"] == ("PASS", "PASS")
    assert node["screenshots on Wayland"] == ("SKIP", "SKIP")
    assert node["window rects in headless mode"] == ("FAIL", "FAIL")     # todo
    pyt = subtests(events, FILES[1])
    assert pyt["examples/test_pytest_tap.py::test_rotates_the_screen"] == ("FAIL", "FAIL")   # xfail
    assert pyt["examples/test_pytest_tap.py::test_flashes_the_device"] == ("SKIP", "SKIP")
    assert subtests(events, FILES[2])["needs a network"] == ("SKIP", "SKIP")
    assert subtests(events, FILES[3])["known broken thing - bug 1111111"] == ("FAIL", "FAIL")
    # The manifest named each protocol; nothing was auto-detected.
    assert not [e for e in events if e["action"] == "log" and "(auto" in e["message"]]


def test_examples_with_a_failure_and_what_ci_reads(tmp_path):
    """One failure, one line: each failing point is one unexpected result in
    TBPL, errorsummary and xunit; its file ran to its end (test_end OK, as
    mochitest's), so it adds no second line."""
    raw, summary, xunit = tmp_path / "raw.log", tmp_path / "errorsummary.log", tmp_path / "xunit.xml"
    tbpl = tmp_path / "tbpl.log"
    proc = paralleltest(["-j", "4", "--log-raw", str(raw), "--log-errorsummary", str(summary),
                         "--log-xunit", str(xunit), "--log-tbpl", str(tbpl), MANIFEST], cwd=TOP,
                        env={"MOZPARALLEL_EXAMPLE_FAIL": "1"})
    assert proc.returncode == 1
    events = read_raw(raw)
    ends = ends_by_test(events)
    assert {t: e["status"] for t, e in ends.items()} == dict.fromkeys(FILES, "OK")
    assert not [e for e in ends.values() if "expected" in e]
    unexpected = {(e["test"], e["subtest"]) for e in events
                  if e["action"] == "test_status" and "expected" in e and e["status"] != "SKIP"
                  and e["expected"] != e["status"]}
    assert unexpected == {
        (FILES[0], "capabilities > rejects an unknown key"), (FILES[0], "capabilities"),
        (FILES[1], "examples/test_pytest_tap.py::test_sorts_the_app_grid"),
        (FILES[2], "the example failure switch"),
        (FILES[3], "pref is locked"),
    }
    node_fail = [e for e in events if e.get("subtest") == "capabilities > rejects an unknown key"][0]
    assert "'accepted'" in node_fail["message"] and "test_node_runner.mjs" in node_fail["stack"]

    # errorsummary: groups are manifests, as Treeherder expects.
    lines = [json.loads(l) for l in summary.read_text().splitlines()]
    assert lines[0]["action"] == "test_groups" and lines[0]["groups"] == ["examples/manifest.ini"]
    results = [l for l in lines if l["action"] == "test_result"]
    assert {l["group"] for l in results} == {"examples/manifest.ini"}
    assert sorted((l["test"], l["subtest"]) for l in results) == sorted(unexpected)
    group = [l for l in lines if l["action"] == "group_result"]
    assert group == [dict(group[0], group="examples/manifest.ini", status="ERROR")]

    # JUnit XML that a CI system reads: a testcase per file (classname from
    # its path), passing, and one per failing subtest with a <failure>.
    root = ET.parse(str(xunit)).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite.get("errors") == "0" and suite.get("failures") == "5"
    cases = suite.findall("testcase")
    failures = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failures == {sub for _, sub in unexpected}
    assert not [c for c in cases if c.find("error") is not None]

    # TBPL (no closing summary in a file): one TEST-UNEXPECTED line per failure.
    lines = [l for l in tbpl.read_text().splitlines() if "TEST-UNEXPECTED-" in l]
    assert len(lines) == len(unexpected)
    for test, subtest in unexpected:
        assert [l for l in lines if l.startswith("TEST-UNEXPECTED-FAIL | %s | %s - " % (test, subtest))]


def test_examples_directory_runs_with_auto(tmp_path):
    """The examples without their manifest, as a directory: every file
    executable, the protocol detected per file and logged. With it,
    ``examples/`` is what manifest.ini lists, each protocol named there."""
    bare = tmp_path / "examples"
    bare.mkdir()
    os.symlink(os.path.join(TOP, ".venv"), tmp_path / ".venv")    # the Python examples start ../.venv
    for name in os.listdir(os.path.join(TOP, "examples")):
        if name != "manifest.ini":
            shutil.copy2(os.path.join(TOP, "examples", name), bare / name)
    raw = tmp_path / "raw.log"
    proc = paralleltest(["-j", "4", "--log-raw", str(raw), str(bare)], cwd=TOP)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = read_raw(raw)
    chosen = sorted(e["message"].split(": protocol ")[1].split(" ")[0] for e in events
                    if e["action"] == "log" and "(auto" in e["message"])
    assert chosen == ["tap", "tap", "tap", "tbpl"]
    assert {e["status"] for e in ends_by_test(events).values()} == {"OK"}
    raw = tmp_path / "manifest.log"
    proc = paralleltest(["-j", "4", "--log-raw", str(raw), "examples/"], cwd=TOP)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = read_raw(raw)
    assert not [e for e in events if e["action"] == "log" and "(auto" in e["message"]]
    start = [e for e in events if e["action"] == "suite_start"][0]
    assert list(start["tests"]) == ["examples/manifest.ini"] and len(start["tests"]["examples/manifest.ini"]) == 4
    assert {e["status"] for e in ends_by_test(events).values()} == {"OK"}
