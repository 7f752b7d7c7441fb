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
    choice = choose_jobs(snapshot(6, 1.0, 0.0, peak=3 * GiB), ids(6), cores=2, available=10 * GiB)
    assert choice.jobs == 3 and "capped at 3 by memory" in choice.reason


def test_memory_does_not_cap_when_it_fits():
    assert choose_jobs(snapshot(40, 1.0, 0.0, peak=GiB // 10), ids(40), cores=2, available=10 * GiB).jobs == 16
