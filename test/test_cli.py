"""The core slice end to end: the real command line on real processes."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import (PYTHON, SHARED_BENCH, TOP, VENV_PYTHON, assert_mixed_outcomes, bare_files, ends_by_test,
                      marked_processes, paralleltest, read_raw, wait_gone, write_python_test,
                      write_test)

sys.path.insert(0, SHARED_BENCH)


def small_suite(directory):
    write_test(directory, "a_pass.sh", "echo 1..2; echo ok 1 - one; echo ok 2 - two\n")
    write_test(directory, "b_fail.sh", "echo 1..2; echo ok 1; echo 'not ok 2 - broken'\n")
    write_test(directory, "c_skip.sh", "echo '1..0 # SKIP not here'\n")
    write_test(directory, "d_exit.sh", "echo 1..1; echo ok 1; exit 3\n")
    write_test(directory, "e_todo.sh", "echo 1..1; echo 'not ok 1 - later # TODO not yet'\n")
    return sorted(str(p) for p in directory.iterdir())


def test_mixed_failures_outcomes_and_no_leftovers(mixed, tmp_path, marker):
    # (How long it takes: python -m mozparallel.bench.suite_wall.)
    raw = tmp_path / "run.raw"
    files = bare_files(mixed, tmp_path)
    proc = paralleltest(["-j", "4", "-t", "3", "--log-raw", str(raw), "-r", "tap"] + files,
                        marker=marker)
    assert proc.returncode == 1, proc.stderr
    assert_mixed_outcomes(raw, mixed)
    assert wait_gone(marker) == []


def test_reporter_tap_one_point_per_file(tmp_path):
    files = small_suite(tmp_path)
    proc = paralleltest(["-j", "2", "-r", "tap"] + files)
    assert proc.returncode == 1
    points = [l for l in proc.stdout.splitlines() if re.match(r"(not )?ok \d+ - ", l)]
    assert len(points) == len(files)
    verdict = {os.path.basename(l.split(" - ", 1)[1].split(" # ")[0]): not l.startswith("not ok")
               for l in points}
    assert verdict == {"a_pass.sh": True, "b_fail.sh": False, "c_skip.sh": True,
                       "d_exit.sh": False, "e_todo.sh": True}
    assert "1..5" in proc.stdout.splitlines()


def test_reporter_tbpl_unexpected_lines_exactly_for_unexpected_files(tmp_path):
    files = small_suite(tmp_path)
    proc = paralleltest(["-j", "3", "-r", "tbpl"] + files)
    flagged = {os.path.basename(l.split(" | ")[1]) for l in proc.stdout.splitlines()
               if l.startswith("TEST-UNEXPECTED-")}
    assert flagged == {"b_fail.sh", "d_exit.sh"}


def test_exit_status_zero_when_all_expected(tmp_path):
    write_test(tmp_path, "ok.sh", "echo 1..1; echo ok 1\n")
    write_test(tmp_path, "skip.sh", "echo '1..0 # SKIP x'\n")
    proc = paralleltest(["-r", "tap", str(tmp_path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("args,needle", [
    (["no/such/test.sh"], "no/such/test.sh"),
    (["-r", "fancy", "x.sh"], "fancy"),
    (["-j", "zero", "x.sh"], "zero"),
    (["--log-raw", "/proc/no/such/dir/x.log", "x.sh"], "/proc/no/such/dir"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    write_test(tmp_path, "x.sh", "echo 1..1; echo ok 1\n")
    proc = paralleltest(args, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_exec_is_split_not_shell(tmp_path):
    script = write_test(tmp_path, "t.tap", "", mode=0o644)
    with open(script, "w") as f:
        f.write("import sys\nprint('1..1'); print('ok 1 - %s' % sys.argv[1])\n")
    proc = paralleltest(["-r", "json-stream", "--log-subtests", "all", "-e", "%s -S -c 'exec(open(__import__(\"sys\").argv[1]).read())'" % PYTHON, script])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [json.loads(l) for l in proc.stdout.splitlines()]
    subtests = [e["subtest"] for e in events if e["action"] == "test_status"]
    assert subtests == [script]


def _comparable(events):
    keep = ("action", "test", "status", "subtest", "message", "expected")
    return [tuple(e.get(k) for k in keep) for e in events if e["action"] != "log"]


def test_mach_and_paralleltest_same_options_and_raw_log(tmp_path):
    files = [os.path.basename(f) for f in small_suite(tmp_path)]
    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    # --schedule list: the second run has the first one's history, and the
    # default (longest first) would order it differently.
    a = paralleltest(["-j", "1", "--schedule", "list", "-r", "tap", "--log-raw", "a.raw"] + files, cwd=tmp_path)
    b = subprocess.run([os.path.join(TOP, "mach"), "parallel-test", "-j", "1", "--schedule", "list", "-r", "tap",
                        "--log-raw", "b.raw"] + files, cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert a.returncode == b.returncode == 1, b.stdout + b.stderr
    ra, rb = read_raw(tmp_path / "a.raw"), read_raw(tmp_path / "b.raw")
    assert _comparable(ra) == _comparable(rb)
    assert len([e for e in ra if e["action"] == "test_end"]) == 5

    def options(text):
        # (paralleltest's help ends with its subcommands, which mach lists itself)
        options_part = text.split("Running tests", 1)[1].split("\nsubcommands (", 1)[0]
        return set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", options_part))

    ha = paralleltest(["--help"]).stdout
    hb = subprocess.run([os.path.join(TOP, "mach"), "parallel-test", "--help"], env=env,
                        capture_output=True, text=True, timeout=120).stdout
    assert options(ha) and options(ha) == options(hb)


def test_mixed_failures_manifest_expectations_make_the_run_green(mixed, tmp_path, marker):
    """The bench's manifest says what each file does (expected = fail,
    crash, timeout, bailout, skip): run through it, nothing is unexpected,
    and each outcome is still the real one."""
    import raw_outcomes

    raw = tmp_path / "run.raw"
    proc = paralleltest(["-j", "4", "-t", "3", "--log-raw", str(raw), "-r", "tap",
                         str(mixed / "manifest.ini")], marker=marker)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert "0 unexpected" in proc.stdout
    expected = json.load(open(mixed / "expected.json"))["tests"]
    got = raw_outcomes.outcomes(str(raw))
    assert {n: got.get(n) for n in expected if got.get(n) not in expected[n]["accept"]} == {}
    assert wait_gone(marker) == []


def test_closed_stdout_is_a_one_line_error_not_a_traceback(tmp_path):
    test = write_test(tmp_path, "t.sh", 'echo "1..1"\necho "ok 1"\n')
    for args in (["-r", "tap", test], [test], ["history"]):
        proc = subprocess.run(["sh", "-c", '"$0" -m mozparallel "$@" >&-', VENV_PYTHON] + args,
                              cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "standard output is closed" in proc.stderr
        assert "Traceback" not in proc.stderr
