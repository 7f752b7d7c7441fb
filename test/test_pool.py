"""The pool on real processes: tests really run at once, a silent test is
killed with its children, two tests' output never mixes within a line, and
the bench's mixed-failures suite gets all 60 outcomes right at -j 1, 4 and
16 with no process left."""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import (PYTHON, SHARED_BENCH, assert_mixed_outcomes, bare_files, ends_by_test, paralleltest,
                      read_raw, wait_gone, write_python_test, write_test)

sys.path.insert(0, SHARED_BENCH)


@pytest.mark.parametrize("jobs,grace", [(1, "1"), (4, None), (16, None)])
def test_mixed_failures_all_60_right_and_nothing_left(mixed, tmp_path, marker, jobs, grace):
    raw = tmp_path / "run.raw"
    files = bare_files(mixed, tmp_path)
    args = ["-j", str(jobs), "-t", "3", "--log-raw", str(raw), "-r", "tap"]
    if grace:
        args += ["--kill-grace", grace]
    proc = paralleltest(args + files, marker=marker, cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert_mixed_outcomes(raw, mixed)
    events = read_raw(raw)
    assert events[-1]["action"] == "suite_end"
    # The orphan holding stdout open is named, with its command line.
    leaks = [e["message"] for e in events if e["action"] == "log" and e["level"] == "ERROR"]
    assert any("t0031_hang_orphan_pipe.sh leaked" in m and "sleep 3600" in m for m in leaks), leaks
    assert wait_gone(marker) == []


def test_tests_really_run_at_once(tmp_path, marker):
    files = [write_test(tmp_path, "t%d.sh" % i, "echo 1..1; sleep 1; echo ok 1\n") for i in range(4)]
    raw = tmp_path / "raw.log"
    proc = paralleltest(["-j", "4", "--log-raw", str(raw), "-r", "tap"] + files, marker=marker)
    assert proc.returncode == 0, proc.stderr
    events = read_raw(raw)
    starts = [e["time"] for e in events if e["action"] == "test_start"]
    ends = [e["time"] for e in events if e["action"] == "test_end"]
    assert len(starts) == len(ends) == 4
    assert max(starts) < min(ends)          # all four were running at one moment
    # (The wall time: python -m mozparallel.bench.suite_wall --sleepers 4 -j 4.)
    assert wait_gone(marker) == []


def test_silent_test_is_killed_with_its_children(tmp_path, marker):
    # A child in the group, and a grandchild that left the group and session.
    write_python_test(tmp_path, "silent.py", """
import os, subprocess, sys, time
print("1..2"); print("ok 1 - before the silence"); sys.stdout.flush()
subprocess.Popen(["sleep", "301"])
subprocess.Popen(["sleep", "302"], start_new_session=True)
time.sleep(300)
""")
    write_test(tmp_path, "fine.sh", "echo 1..1; echo ok 1\n")
    raw = tmp_path / "raw.log"
    proc = paralleltest(["-j", "2", "-t", "1", "--log-raw", str(raw), "-r", "tap",
                         str(tmp_path / "silent.py"), str(tmp_path / "fine.sh")], marker=marker,
                       cwd=str(tmp_path))
    assert proc.returncode == 1
    ends = ends_by_test(read_raw(raw))
    assert ends["silent.py"]["status"] == "TIMEOUT"
    assert "no output for 1s" in ends["silent.py"]["message"]
    assert ends["fine.sh"]["status"] == "OK"
    assert wait_gone(marker) == []


def _writer(directory, name, tag, n):
    return write_python_test(directory, name, """
import sys
w = sys.stdout.write
w("1..%d\\n")
pad = "%s" * 60
for i in range(1, %d):
    w("ok %%d - %s line %%d %%s end\\n" %% (i, i, pad))
""" % (n, tag, n + 1, tag))


def test_no_interleaving_within_a_line_under_a_million_lines(tmp_path, marker):
    n = 500000
    a = _writer(tmp_path, "a.py", "A", n)
    b = _writer(tmp_path, "b.py", "B", n)
    raw = tmp_path / "raw.log"
    proc = paralleltest(["-j", "2", "--log-subtests", "all", "--log-raw", str(raw), "-r", "tap", a, b],
                        marker=marker, timeout=180, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    shape = {tag: re.compile(r"%s line (\d+) %s end\Z" % (tag, tag * 60)) for tag in "AB"}
    seen = {"a.py": 0, "b.py": 0}
    times = {"a.py": [], "b.py": []}
    with open(raw) as f:
        for line in f:
            if '"test_status"' not in line:
                continue
            e = json.loads(line)
            tag = "A" if e["test"] == "a.py" else "B"
            m = shape[tag].match(e["subtest"])
            assert m and int(m.group(1)) == seen[e["test"]] + 1, e["subtest"][:200]
            assert e["status"] == "PASS"
            seen[e["test"]] += 1
            if seen[e["test"]] in (1, n):
                times[e["test"]].append(e["time"])
    assert seen == {"a.py": n, "b.py": n}
    # They really ran at the same time (each one's first line before the other's last).
    assert times["a.py"][0] < times["b.py"][1] and times["b.py"][0] < times["a.py"][1]
    assert wait_gone(marker) == []
