"""Every formatter mozlog ships (``mozlog.commandline.log_formatters``),
through the ``--log-*`` options, on one small suite run by real processes
at once: a pass, a failing point, a crash, a bad plan and a skip. Each
concurrent test has its own mozlog ``thread``; each failure is one
unexpected result; TBPL keeps each test's lines together."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
from mozlog import commandline

from conftest import ends_by_test, paralleltest, read_raw, write_test
from mozparallel.contract import is_unexpected

# The tests print in two phases (before and after a short sleep), so that
# all five run at once and their output interleaves in time.
SUITE = {
    "pass.sh": 'echo "1..2"; echo "ok 1 - first"; echo "hello from pass"; sleep 0.4; echo "ok 2 - second"\n',
    "fail.sh": 'echo "1..3"; echo "ok 1 - first"; sleep 0.2; echo "not ok 2 - broken thing"; '
               'echo "output of fail"; sleep 0.2; echo "ok 3 - third"; exit 1\n',
    "crash.sh": 'echo "1..2"; echo "ok 1 - before the crash"; sleep 0.3; kill -SEGV $$\n',
    "plan.sh": 'echo "1..3"; echo "ok 1 - only one"; sleep 0.3\n',
    "skip.sh": 'sleep 0.1; echo "1..0 # SKIP no network"\n',
}
FAILURES = {"fs/fail.sh": "FAIL", "fs/crash.sh": "CRASH", "fs/plan.sh": "ERROR"}
# Every formatter option mozlog has (commandline.fmt_options), with a value.
OPTIONS = ["--log-mach-verbose", "--log-mach-level", "debug", "--log-mach-buffer", "10", "--log-mach-screenshot",
           "--log-tbpl-compact", "--log-tbpl-level", "info", "--log-tbpl-buffer", "10", "--log-raw-level", "debug"]


def make_suite(tmp_path):
    (tmp_path / "fs").mkdir()
    for name, body in SUITE.items():
        write_test(tmp_path / "fs", name, body)


def test_the_list_of_formatters_is_mozlogs():
    """The formatters tested here are those mozlog ships (plus our tap)."""
    assert set(commandline.log_formatters) - {"tap"} == {
        "raw", "unittest", "xunit", "html", "mach", "tbpl", "grouped", "errorsummary"}
    names = {name.replace("-", "_") for name in commandline.fmt_options}
    assert names == {"verbose", "compact", "level", "buffer", "screenshot", "no_screenshot"}


@pytest.fixture(scope="module")
def every_format(tmp_path_factory):
    """Two runs: one writing every format at once, one with every
    formatter option (mozlog applies an option to all the streams of its
    format, so the plain output comes from the first)."""
    tmp_path = tmp_path_factory.mktemp("every-format")
    make_suite(tmp_path)
    out = {}
    args = ["-j", "5", "--store", "none"]
    for name in sorted(set(commandline.log_formatters) | {"tap"}):
        out[name] = tmp_path / ("out." + name)
        args += ["--log-" + name, str(out[name])]
    procs = [paralleltest(args + ["fs"], cwd=str(tmp_path))]
    args = ["-j", "5", "--store", "none"]
    for name in ("mach", "tbpl", "raw"):
        out[name + "-options"] = tmp_path / ("options." + name)
        args += ["--log-" + name, str(out[name + "-options"])]
    procs.append(paralleltest(args + OPTIONS + ["fs"], cwd=str(tmp_path)))
    return procs, {name: path.read_text() for name, path in out.items()}


def test_every_formatter_runs_without_an_error(every_format):
    procs, texts = every_format
    for proc in procs:
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert not proc.stderr, proc.stderr         # no traceback, no "Failure calling log handler"
    for name, text in texts.items():
        assert text.strip(), name


def test_each_running_test_has_its_own_thread(every_format):
    _, texts = every_format
    events = [json.loads(line) for line in texts["raw"].splitlines()]
    threads = {}
    for e in events:
        if "test" in e and e["action"] != "suite_start":
            threads.setdefault(e["test"], set()).add(e["thread"])
    # One thread a test, a slot's.
    assert all(len(t) == 1 and next(iter(t)).startswith("slot-") for t in threads.values()), threads
    # Tests running at the same time never share one (all five overlap here).
    running, seen_overlap = {}, 0
    for e in events:
        if e["action"] == "test_start":
            assert e["thread"] not in running.values(), (e, running)
            running[e["test"]] = e["thread"]
            seen_overlap = max(seen_overlap, len(running))
        elif e["action"] == "test_end":
            del running[e["test"]]
    assert seen_overlap >= 4
    # The runner's own messages keep the runner's thread.
    assert {e["thread"] for e in events if e["action"] in ("suite_start", "suite_end")} == {"MainThread"}
    # The options' copy (--log-raw-level debug) has the same threads.
    assert '"thread": "slot-' in texts["raw-options"]


def test_one_failure_one_line_in_every_machine_format(every_format):
    _, texts = every_format
    # TBPL: one TEST-UNEXPECTED line per failure, nothing for the pass and the skip.
    lines = [l for l in texts["tbpl"].splitlines() if l.startswith("TEST-UNEXPECTED-")]
    assert sorted((l.split(" | ")[1], l.split(" | ")[0][len("TEST-UNEXPECTED-"):]) for l in lines) \
        == sorted(FAILURES.items())
    assert "TEST-UNEXPECTED-FAIL | fs/fail.sh | broken thing" in texts["tbpl"]
    # errorsummary (what Treeherder reads): one test_result per failure.
    results = [json.loads(l) for l in texts["errorsummary"].splitlines()]
    results = [r for r in results if r["action"] == "test_result"]
    assert sorted((r["test"], r["status"]) for r in results) == sorted(FAILURES.items())
    assert [r["subtest"] for r in results if r["test"] == "fs/fail.sh"] == ["broken thing"]
    # xunit: one failed or errored testcase per failure.
    suite = ET.fromstring(texts["xunit"])
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    bad = [c for c in suite.findall("testcase") if c.find("failure") is not None or c.find("error") is not None]
    assert len(bad) == 3 and int(suite.get("failures")) + int(suite.get("errors")) == 3
    assert {c.get("name") for c in bad} == {"broken thing", "crash_sh", "plan_sh"}
    # The raw log: the failing file's end is OK, its point is the failure.
    events = [json.loads(line) for line in texts["raw"].splitlines()]
    ends = ends_by_test(events)
    assert ends["fs/fail.sh"]["status"] == "OK" and "expected" not in ends["fs/fail.sh"]
    unexpected = [(e["test"], e["action"]) for e in events if "expected" in e and is_unexpected(e)]
    assert sorted(unexpected) == [("fs/crash.sh", "test_end"), ("fs/fail.sh", "test_status"),
                                  ("fs/plan.sh", "test_end")]


def test_human_formats_name_every_failure(every_format):
    _, texts = every_format
    grouped = texts["grouped"]
    summary = grouped[grouped.index("Tests with unexpected results:"):]
    for test in FAILURES:
        assert test in summary, grouped
    assert "1 tests crashed unexpectedly" in grouped and "1 tests had unexpected subtest results" in grouped
    mach = texts["mach"]
    assert "Unexpected results: 3" in mach and "subtest: 1 (1 fail)" in mach, mach
    unittest = texts["unittest"]
    assert "FAIL fs/fail.sh\nFAIL broken thing" in unittest, unittest
    assert "ERROR fs/crash.sh" in unittest and "ERROR fs/plan.sh" in unittest
    assert "Ran 5 tests" in unittest
    html = texts["html"]
    results = re.findall(r'class="col-result">([A-Z_]+)<', html)
    assert sorted(results) == ["EXPECTED_OK", "SKIP", "UNEXPECTED_CRASH", "UNEXPECTED_ERROR", "UNEXPECTED_FAIL"]
    tap = texts["tap"]
    assert sorted(re.findall(r"^(not ok|ok) \d+ - (\S+)", tap, re.M)) == [
        ("not ok", "fs/crash.sh"), ("not ok", "fs/fail.sh"), ("not ok", "fs/plan.sh"),
        ("ok", "fs/pass.sh"), ("ok", "fs/skip.sh")]


def test_formatter_options_take_effect(every_format):
    _, texts = every_format
    mach = texts["mach-options"]
    assert "DEBUG fs/fail.sh: protocol tap" in mach          # --log-mach-level debug
    assert "FAIL broken thing" in mach                       # --log-mach-buffer: flushed at the failure
    tbpl = texts["tbpl-options"]
    # --log-tbpl-buffer and -compact: the failure is written, with its block.
    assert "TEST-UNEXPECTED-FAIL | fs/fail.sh | broken thing" in tbpl
    assert "DEBUG" not in tbpl                               # --log-tbpl-level info
    assert '"level": "DEBUG"' in texts["raw-options"]


def blocks(text):
    """TBPL text as [(test, [its lines])], a block from each TEST-START."""
    out = []
    for line in text.splitlines():
        if line.startswith("TEST-START | "):
            out.append((line.split(" | ", 1)[1], []))
        elif out:
            out[-1][1].append(line)
    return out


def test_tbpl_keeps_each_test_together(every_format):
    _, texts = every_format
    for name in ("tbpl", "tbpl-options"):
        got = blocks(texts[name])
        assert sorted(t for t, _ in got) == ["fs/%s" % n for n in sorted(SUITE)]
        for test, lines in got:
            # Every result line in a block is about its test, and the block
            # ends with that test's own end.
            about = [l.split(" | ")[1] for l in lines if re.match(r"^TEST-[A-Z-]+ \| ", l)]
            assert set(about) <= {test}, (name, test, lines)
            assert any(re.match(r"^TEST-(OK|SKIP|UNEXPECTED-[A-Z]+) \| %s" % re.escape(test), l)
                       for l in lines), (name, test, lines)
        pass_block = dict(got)["fs/pass.sh"]
        assert "PID" in "".join(pass_block) and "hello from pass" in "".join(pass_block)
        assert "output of fail" not in "".join(pass_block)


def test_tbpl_on_stdout_ends_with_the_failures(tmp_path):
    make_suite(tmp_path)
    proc = paralleltest(["-j", "5", "--store", "none", "-r", "tbpl", "--log-tbpl", "file.tbpl", "fs"],
                        cwd=str(tmp_path))
    assert proc.returncode == 1
    out = proc.stdout
    tail = out[out.index("SUITE-END"):].splitlines()
    assert tail[2] == "Summary: 5 test(s), 3 unexpected result(s):"
    assert sorted(tail[3:]) == sorted([
        "TEST-UNEXPECTED-CRASH | fs/crash.sh | killed by SIGSEGV after 1 test points",
        "TEST-UNEXPECTED-ERROR | fs/plan.sh | Bad plan. You planned 3 tests but ran 1.",
        "TEST-UNEXPECTED-FAIL | fs/fail.sh | broken thing - expected PASS"])
    # A TBPL file is for log parsers: each failure once, no summary.
    text = (tmp_path / "file.tbpl").read_text()
    assert "Summary:" not in text and text.count("TEST-UNEXPECTED-") == 3
    assert text.rstrip().splitlines()[-1].startswith("SUITE-END")
    # The raw log still ends with suite_end.


@pytest.mark.parametrize("args", [["--log-mach", "-"], ["--log-grouped", "-"], ["--log-unittest", "-"],
                                  ["--log-html", "-"], ["--log-xunit", "-"], ["--log-errorsummary", "-"]])
def test_a_mozlog_formatter_on_stdout(tmp_path, args):
    """Instead of the live view: mozlog's formatter alone on stdout."""
    make_suite(tmp_path)
    proc = paralleltest(["-j", "5", "--store", "none"] + args + ["fs"], cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert not proc.stderr.strip(), proc.stderr
    assert re.search(r"fs.fail.sh", proc.stdout) and "[1/5]" not in proc.stdout


def test_mach_options_without_log_mach_are_the_live_views(tmp_path):
    make_suite(tmp_path)
    raw = tmp_path / "raw.log"
    proc = paralleltest(["-j", "5", "--store", "none", "--log-mach-verbose", "--log-raw", str(raw), "fs"],
                        cwd=str(tmp_path))
    assert proc.returncode == 1 and not proc.stderr, proc.stderr
    assert "fs/fail.sh | FAIL broken thing (expected PASS)" in proc.stdout    # -v: streamed lines
    assert "fs/pass.sh | hello from pass" in proc.stdout
    assert read_raw(raw)[-1]["action"] == "suite_end"
    proc = paralleltest(["-j", "5", "--store", "none", "--log-mach-level", "debug", "fs"], cwd=str(tmp_path))
    assert proc.returncode == 1 and "DEBUG fs/fail.sh: protocol tap" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("args, flag, hint", [
    (["--log-tbpl-compact"], "--log-tbpl-compact", "--log-tbpl FILE or -r tbpl"),
    (["--log-raw-level", "debug"], "--log-raw-level", "--log-raw FILE or -r json-stream"),
    (["--log-mach", "-", "--log-tbpl-buffer", "3"], "--log-tbpl-buffer", "--log-tbpl FILE"),
])
def test_an_option_of_a_formatter_that_writes_nowhere(tmp_path, args, flag, hint):
    make_suite(tmp_path)
    proc = paralleltest(["--store", "none"] + args + ["fs"], cwd=str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and flag in proc.stderr and hint in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
