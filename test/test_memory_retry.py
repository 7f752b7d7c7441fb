"""Memory measured, not declared: a test whose processes go over
--max-test-memory, or that the kernel's OOM killer kills (a real one, in a
memory-limited cgroup), is run again alone; both attempts are in the raw
log, the first one not unexpected, the run judged by the re-run, whose
peak is stored. A SIGKILL the OOM counter does not explain stays a crash."""

import contextlib
import os
import sqlite3
import subprocess

import pytest

from conftest import PYTHON, VENV_PYTHON, paralleltest, read_raw, write_python_test, write_test
from mozparallel.contract import is_unexpected
from mozparallel.execution.oom import OomKills, counter_path, read_count

MiB = 2 ** 20

BIG = """import time
print("1..2", flush=True)
time.sleep(%(wait)s)
x = bytearray(%(mb)d * 1024 * 1024)
for i in range(0, len(x), 4096):
    x[i] = 1
print("ok 1 - holds %(mb)d MiB", flush=True)
time.sleep(0.6)
print("%(last)s 2 - done", flush=True)
raise SystemExit(%(status)d)
"""


def big_test(directory, name, mb, wait=0.0, fails=False):
    return write_python_test(directory, name, BIG % {"mb": mb, "wait": wait, "last": "not ok" if fails else "ok",
                                                     "status": fails})


def small_tests(directory, n, mb=0, sleep=0.8):
    names = []
    for i in range(n):
        name = "small%d.py" % i
        write_python_test(directory, name, "import time\nx = bytearray(%d * 1024 * 1024)\nfor i in range(0, len(x), 4096):\n"
                          "    x[i] = 1\ntime.sleep(%s)\nprint('1..1')\nprint('ok 1')\n" % (mb, sleep))
        names.append(name)
    return names


def attempts(events, test):
    """[(start index, test_end)] of each attempt of ``test``."""
    out, start = [], None
    for i, e in enumerate(events):
        if e.get("test") != test:
            continue
        if e["action"] == "test_start":
            start = i
        elif e["action"] == "test_end":
            out.append((start, e))
    return out


def alone(events, start, end_event):
    """No other test was running while the attempt from ``start`` to its end ran."""
    open_ = set()
    for i, e in enumerate(events):
        if e["action"] == "test_start":
            open_.add(e["test"])
        elif e["action"] == "test_end":
            open_.discard(e["test"])
        if i == start:
            if open_ - {e["test"]}:
                return False
        if start < i and e is not end_event and e["action"] == "test_start":
            return False
        if e is end_event:
            return True
    return False


def stored_peaks(objdir, test):
    db = sqlite3.connect(os.path.join(str(objdir), ".mozparallel", "history.sqlite"))
    try:
        return [row[0] for row in db.execute("SELECT peak_rss_kb FROM results WHERE test = ?", (test,))]
    finally:
        db.close()


def check_retried(events, test, first_says):
    (s1, first), (s2, second) = attempts(events, test)
    assert first_says in first["message"] and "run again alone" in first["message"]
    assert first["status"] in ("ERROR", "CRASH") and "expected" not in first      # not unexpected
    assert first["extra"]["memory_retry"]["expected"] == "OK"
    assert alone(events, s2, second)
    assert second["extra"]["memory_retry"]["reason"] in first["message"]
    return first, second


def test_over_max_test_memory_runs_again_alone_and_passes(tmp_path):
    big_test(tmp_path, "big.py", 150, wait=0.1)
    names = ["big.py"] + small_tests(tmp_path, 4)
    raw = tmp_path / "raw.log"
    obj = tmp_path / "obj"
    obj.mkdir()
    r = paralleltest(["-j", "3", "--max-test-memory", "100M", "--max-failures", "1", "--objdir", str(obj),
                      "--log-raw", str(raw)] + names, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    events = read_raw(raw)
    first, second = check_retried(events, "big.py", "over --max-test-memory 100 MiB")
    assert first["extra"]["peak_rss_kb"] > 100 * 1024
    assert second["status"] == "OK" and "expected" not in second
    assert second["extra"]["peak_rss_kb"] >= 150 * 1024          # measured alone, uncapped
    # The first attempt really ran beside others: it was not alone.
    assert not alone(events, *attempts(events, "big.py")[0])
    # Reported as a memory retry, not as intermittent; the re-run's peak is what is stored.
    assert "RETRY big.py" in r.stdout and "[memory retry, alone]" in r.stdout
    assert "1 ended for memory and judged by a re-run alone" in r.stdout and "intermittent" not in r.stdout
    assert stored_peaks(obj, "big.py") == [second["extra"]["peak_rss_kb"]]
    page = (obj / ".mozparallel" / "report.html").read_text()
    assert page.count('"outcome":"memory-retry"') == 1 and page.count('"test":"big.py"') == 2


def test_a_re_run_that_fails_is_one_unexpected_failure(tmp_path):
    big_test(tmp_path, "big.py", 150, fails=True)
    names = ["big.py"] + small_tests(tmp_path, 2)
    raw = tmp_path / "raw.log"
    r = paralleltest(["-j", "3", "--max-test-memory", "100M", "--store", "none", "--log-raw", str(raw)] + names,
                     cwd=tmp_path)
    assert r.returncode == 1
    events = read_raw(raw)
    first, second = check_retried(events, "big.py", "over --max-test-memory")
    # The re-run's failing point (or its end) is the one unexpected result.
    failed = [e for e in events if e["action"] in ("test_status", "test_end") and is_unexpected(e)]
    assert [e["test"] for e in failed] in (["big.py"], ["big.py", "big.py"])
    assert events.index(failed[0]) > attempts(events, "big.py")[1][0]
    assert "1 unexpected" in r.stdout


def test_sigkill_the_oom_counter_does_not_explain_is_a_crash(tmp_path):
    write_test(tmp_path, "killed.sh", 'echo "1..1"\nkill -9 $$\n')
    raw = tmp_path / "raw.log"
    r = paralleltest(["--store", "none", "--log-raw", str(raw), "killed.sh"], cwd=tmp_path)
    assert r.returncode == 1
    (start, end), = attempts(read_raw(raw), "killed.sh")
    assert end["status"] == "CRASH" and "memory_retry" not in end["extra"]


def test_oom_counter_attribution(tmp_path):
    counter = tmp_path / "memory.events"
    counter.write_text("low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n")
    oom = OomKills(str(counter), "test")
    base = oom.baseline(0.0)
    assert base == 2 and oom.took(base) is None                # no rise: not the OOM killer
    counter.write_text("oom_kill 3\n")
    assert oom.took(base) == 3 and oom.took(base) is None      # one rise, one test
    counter.write_text("oom_kill 4\n")
    assert oom.took(4) is None                                 # a rise before the test started
    # This process's own counter is found (cgroup v1 or v2), else the machine's.
    path, _ = counter_path()
    assert read_count(path or "/proc/vmstat") is not None
    # A fake /proc/self/cgroup: v1 memory line, and a v2 unified line.
    (tmp_path / "memory" / "a" / "b").mkdir(parents=True)
    (tmp_path / "memory" / "a" / "b" / "memory.oom_control").write_text("oom_kill 0\n")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "memory.events").write_text("oom_kill 0\n")
    for content, want in (("4:memory:/a/b\n0::/\n", "memory/a/b/memory.oom_control"),
                          ("0::/x\n", "x/memory.events")):
        (tmp_path / "cgroup").write_text(content)
        assert counter_path(str(tmp_path / "cgroup"), str(tmp_path))[0] == str(tmp_path / want)


@contextlib.contextmanager
def memory_cgroup(limit):
    """A child of this process's memory cgroup limited to ``limit`` bytes
    (cgroup v1 or v2); its cgroup.procs file, or None where one cannot be made."""
    path, _ = counter_path()
    if path is None:
        yield None
        return
    parent = os.path.dirname(path)
    child = os.path.join(parent, "mozparallel-test-%d" % os.getpid())
    try:
        os.mkdir(child)
    except OSError:
        yield None
        return
    try:
        limit_file = "memory.max" if path.endswith("memory.events") else "memory.limit_in_bytes"
        try:
            with open(os.path.join(child, limit_file), "w") as f:
                f.write(str(limit))
        except OSError:
            yield None
            return
        yield os.path.join(child, "cgroup.procs")
    finally:
        for _ in range(50):
            try:
                os.rmdir(child)
                break
            except OSError:
                import time
                time.sleep(0.1)


def test_a_test_the_oom_killer_kills_runs_again_alone_and_passes(tmp_path):
    # 300 MiB for everything: the runner, three tests of 60 MiB and one of
    # 180 MiB cannot all fit; alone the big one can.
    with memory_cgroup(300 * MiB) as procs:
        if procs is None:
            pytest.skip("no memory cgroup can be made here (needs root and a cgroup v1/v2 memory controller)")
        big_test(tmp_path, "big.py", 180, wait=0.3)
        names = ["big.py"] + small_tests(tmp_path, 3, mb=60, sleep=1.5)
        raw = tmp_path / "raw.log"
        obj = tmp_path / "obj"
        obj.mkdir()

        def enter():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

        r = subprocess.run([VENV_PYTHON, "-m", "mozparallel", "-j", "4", "--objdir", str(obj), "--log-raw", str(raw)]
                           + names, cwd=tmp_path, capture_output=True, text=True, timeout=120, preexec_fn=enter)
    assert r.returncode == 0, r.stdout + r.stderr
    events = read_raw(raw)
    first, second = check_retried(events, "big.py", "killed by the kernel's OOM killer (oom_kill of cgroup")
    assert second["status"] == "OK" and second["extra"]["peak_rss_kb"] >= 180 * 1024
    assert "1 ended for memory and judged by a re-run alone" in r.stdout
    assert stored_peaks(obj, "big.py") == [second["extra"]["peak_rss_kb"]]
    assert PYTHON   # the fixtures' interpreter (conftest) is what the tests ran under
