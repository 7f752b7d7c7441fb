"""-j auto from history snapshots: one job per core for CPU-bound tests,
more for sleeping ones, never more than helps or than memory allows."""

from mozparallel.schedule import Figures, TestHistory, choose_jobs

GiB = 2 ** 30


def snapshot(n, wall, cpu, peak=None):
    return TestHistory({"t%03d" % i: Figures(wall, cpu, peak) for i in range(n)})


def ids(n):
    return ["t%03d" % i for i in range(n)]


def test_no_history_one_job_per_core():
    choice = choose_jobs(TestHistory(), ids(40), cores=2)
    assert choice.jobs == 2 and "no CPU history" in choice.reason


def test_cpu_bound_one_job_per_core():
    assert choose_jobs(snapshot(40, 0.5, 0.49), ids(40), cores=2).jobs == 2
    assert choose_jobs(snapshot(40, 0.5, 0.4), ids(40), cores=8).jobs == 8
    assert choose_jobs(snapshot(40, 0.5, 0.35), ids(40), cores=2).jobs == 2     # 2 / 0.7 = 2.9


def test_sleep_bound_gets_more_jobs_than_cores():
    choice = choose_jobs(snapshot(120, 0.5, 0.005), ids(120), cores=2)
    assert choice.jobs == 16, choice.reason        # MAX_PER_CORE x 2 cores
    assert "0.01 CPU s per wall s" in choice.reason


def test_half_busy_tests_get_two_per_core():
    assert choose_jobs(snapshot(40, 1.0, 0.5), ids(40), cores=2).jobs == 4


def test_no_more_jobs_than_can_shorten_the_run():
    h = snapshot(10, 0.5, 0.0)
    h.figures["t000"] = Figures(10.0, 0.0)       # 14.5 s in all, one test of 10 s
    choice = choose_jobs(h, ids(10), cores=2)
    assert choice.jobs == 2 and "would not end sooner" in choice.reason


def test_no_more_jobs_than_tests():
    choice = choose_jobs(TestHistory(), ids(3), cores=8)
    assert choice.jobs == 3 and "only 3 tests" in choice.reason
    assert choose_jobs(snapshot(3, 1.0, 0.0), ids(3), cores=2).jobs == 3


def test_capped_by_predicted_memory():
    choice = choose_jobs(snapshot(6, 1.0, 0.0, peak=3 * GiB), ids(6), cores=2, budget=10 * GiB)
    assert choice.jobs == 3 and "capped at 3 by memory" in choice.reason


def test_memory_does_not_cap_when_it_fits():
    assert choose_jobs(snapshot(40, 1.0, 0.0, peak=GiB // 10), ids(40), cores=2, budget=10 * GiB).jobs == 16


# -- real runs ---------------------------------------------------------------------

import os  # noqa: E402

import psutil  # noqa: E402

from conftest import paralleltest, read_raw, write_python_test  # noqa: E402

HOLD = """
import os, sys, time
size = %d
block = bytearray(size)
block[::4096] = b"\\x01" * len(range(0, size, 4096))   # touch every page: real RSS
time.sleep(1.0)
print("1..1")
print("ok 1 - held %%d MiB" %% (size >> 20))
"""


def most_at_once(events):
    """The largest number of tests running at the same time, from the raw
    log's test_start/test_end times (an end sorts before a start at a tie)."""
    points = sorted((e["time"], 0 if e["action"] == "test_end" else 1) for e in events
                    if e["action"] in ("test_start", "test_end"))
    running = most = 0
    for _, kind in points:
        running += 1 if kind else -1
        most = max(most, running)
    return most


def test_tests_holding_30_percent_of_memory_never_run_more_than_3_at_once(tmp_path):
    """Six tests, each holding 30% of the memory the run may use: once their
    history is recorded, a run at -j 6 starts at most 3 at a time (the
    memory gate), and all pass.

    The memory is --max-memory 1G, not the machine's: 30% of the 22 GiB
    available here is 6.6 GiB a test, which this VM faults in at about
    0.6 GiB/s (10 s a test), and three of them were OOM-killed at once."""
    limit = 2 ** 30
    size = int(limit * 0.30)
    names = [os.path.basename(write_python_test(tmp_path, "t_mem%d.py" % i, HOLD % size)) for i in range(6)]
    first = paralleltest(["-j", "3", "-r", "tap", "--log-raw", "first.raw"] + names, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr

    run = paralleltest(["-j", "6", "--max-memory", "1G", "-r", "tap", "--log-raw", "run.raw"] + names,
                       cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    events = read_raw(tmp_path / "run.raw")
    ends = [e for e in events if e["action"] == "test_end"]
    assert len(ends) == 6 and all(e["status"] == "OK" for e in ends)
    assert all(e["extra"]["peak_rss_kb"] * 1024 >= size for e in ends)      # the memory was really held
    assert most_at_once(events) == 3
    logs = " ".join(e["message"] for e in events if e["action"] == "log")
    assert "J=6 (-j 6 given)" in logs and "memory gate at 1.0 GiB" in logs


def test_auto_jobs_capped_by_recorded_memory(tmp_path):
    """-j auto reads the recorded peaks: tests predicted at 30% of the memory
    get 3 jobs, and the reason says so."""
    from mozparallel.schedule import Figures, TestHistory, choose_jobs

    available = psutil.virtual_memory().available
    h = TestHistory({n: Figures(1.0, 0.01, int(available * 0.3)) for n in "abcdef"})
    choice = choose_jobs(h, list("abcdef"), cores=2, budget=int(available * 0.95))
    assert choice.jobs == 3 and "by memory" in choice.reason
