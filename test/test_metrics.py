"""execution/metrics.py: CPU, peak memory and process count of each test's
whole tree, as they reach test_end's extra (real processes, real runs)."""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import PYTHON, SHARED_BENCH, ends_by_test, paralleltest, read_raw, write_python_test, write_test

MIB = 1024 * 1024
STORE_NONE = ["--store", "none"]


def _run(tmp_path, tests, *args):
    raw = tmp_path / "raw.log"
    proc = paralleltest(["--log-raw", str(raw), *STORE_NONE] + list(args) + [str(t) for t in tests],
                        cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ends_by_test(read_raw(raw))


@pytest.fixture(scope="module")
def cpu_suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("cpu")
    subprocess.run([sys.executable, os.path.join(SHARED_BENCH, "gen_suite.py"), "--profile", "cpu",
                    "--out", str(out)], check=True, capture_output=True)
    return out


def test_cpu_suite_within_ten_percent_of_nominal(cpu_suite, tmp_path):
    nominal = json.loads((cpu_suite / "durations.json").read_text())
    ends = _run(tmp_path, [cpu_suite / name for name in sorted(nominal)], "-j", "2")
    worst = 0.0
    for name, seconds in nominal.items():
        extra = ends[str(cpu_suite / name)]["extra"]
        cpu = extra["cpu_user"] + extra["cpu_system"]
        error = abs(cpu - seconds) / seconds
        worst = max(worst, error)
        assert error < 0.10, (name, seconds, cpu)
    print("cpu suite: %d tests, worst relative error %.1f%%" % (len(nominal), worst * 100))


# Two dd children read 100 MiB each into one buffer (every page touched) and
# hold it while blocked writing to a pipe nobody reads; sleep (1 MB) ends it.
TWO_CHILDREN = """
dd if=/dev/zero bs=100M count=1 status=none | sleep 1.2 &
dd if=/dev/zero bs=100M count=1 status=none | sleep 1.2 &
wait
echo 1..1
echo ok 1
"""


def test_peak_memory_is_the_sum_over_two_children(tmp_path):
    test = write_test(tmp_path, "two_children.sh", TWO_CHILDREN)
    extra = _run(tmp_path, [test])["two_children.sh"]["extra"]
    peak = extra["peak_rss_kb"] * 1024
    print("two children of 100 MiB: peak %.1f MiB (rusage single-process max %.1f MiB), %d processes, "
          "%d samples" % (peak / MIB, extra["maxrss_kb"] / 1024, extra["processes"], extra["samples"]))
    assert abs(peak - 200 * MIB) < 0.10 * 200 * MIB, extra
    assert extra["processes"] >= 5     # sh, 2 dd, 2 sleep
    # rusage alone would only know the larger single child.
    assert extra["maxrss_kb"] * 1024 < 150 * MIB


ORPHAN = """
import os, time
r, w = os.pipe()
if os.fork() == 0:
    if os.fork() == 0:          # the grandchild: orphaned, leaves the session
        os.setsid()
        os.close(r)
        start = time.process_time()
        while time.process_time() - start < 0.6:
            pass
        os._exit(0)
    os._exit(0)
os.close(w)
os.wait()
os.read(r, 1)                   # EOF once the grandchild exits
print("1..1")
print("ok 1")
"""


def test_cpu_of_an_orphan_nobody_waited_for_is_counted(tmp_path):
    test = write_python_test(tmp_path, "orphan.py", ORPHAN)
    extra = _run(tmp_path, [test])["orphan.py"]["extra"]
    cpu = extra["cpu_user"] + extra["cpu_system"]
    # rusage of the main process alone says ~0.03 s.
    assert 0.55 < cpu < 0.85, extra
    assert extra["processes"] >= 2, extra


def test_short_test_is_not_sampled(tmp_path):
    test = write_test(tmp_path, "quick.sh", "echo 1..1\necho ok 1\n")
    extra = _run(tmp_path, [test])["quick.sh"]["extra"]
    assert extra["samples"] == 0
    assert extra["processes"] == 1
    assert "cpu_user" in extra and "wall" in extra


def test_sampling_a_one_process_tree_in_process():
    """Each sample of a small tree, taken in-process, counts and sees its
    memory. (What a sample costs: ``python -m mozparallel.bench.costs``.)"""
    from mozparallel.execution.metrics import TreeMetrics

    child = subprocess.Popen([PYTHON, "-S", "-c", "import time; time.sleep(5)"])
    try:
        time.sleep(0.1)
        m = TreeMetrics(child.pid, time.monotonic())
        for _ in range(20):
            m.sample()
    finally:
        child.kill()
        child.wait()
    assert m.samples == 20 and m.peak_rss > 1 * MIB
