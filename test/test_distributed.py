"""The fleet on a real redis-server and real ``paralleltest worker``
processes started with default options (no tuning flags, as a user starts
them), each in its own directory with its own copy of the suite, on
loopback: 16 tests of 1-2 s, and what fleets meet. A worker SIGKILLed with
everything it started, the broker paused, the coordinator interrupted or
cancelled from elsewhere, a worker holding the wrong tree, a test longer
than every timeout the fleet has, the coordinator killed and resumed.

Every test appends "start NAME" and "end NAME" to one file (the workers
run on this machine): how many times each test really ran, and when."""

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

import psutil
import pytest

from conftest import VENV_PYTHON, ends_by_test, paralleltest, read_raw, wait_gone, write_test

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
COUNT = 16

pytestmark = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, directory):
        self.port = free_port()
        self.directory = directory
        directory.mkdir(exist_ok=True)
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.proc = None
        self.start()

    def start(self):
        import redis

        self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.directory)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self):
        self.client.close()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def broker(tmp_path):
    server = Redis(tmp_path / "redis")
    yield server
    server.stop()


def write_suite(directory, runs_log, long_test=None):
    """16 tests of 1 to 2 s (and maybe one of ``long_test`` seconds), each
    writing its start and end to ``runs_log``."""
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(COUNT):
        seconds = 1.0 + (i % 5) * 0.25
        name = "t%02d.sh" % i
        names.append("suite/" + name)
        write_test(directory, name, "echo 1..1\necho 'start %s' >> %s\nsleep %s\necho 'end %s' >> %s\n"
                   "echo 'ok 1 - slept'\n" % (name, runs_log, seconds, name, runs_log))
    if long_test:
        # Named to sort first: with no history the scheduler sends unseen tests by path.
        write_test(directory, "a_long.sh", "echo 1..1\necho 'start a_long.sh' >> %s\nsleep %s\n"
                   "echo 'end a_long.sh' >> %s\necho 'ok 1 - slept'\n" % (runs_log, long_test, runs_log))
        names.insert(0, "suite/a_long.sh")
    return names


def runs(runs_log):
    """[(start or end, test file name)] of the runs log, in order."""
    try:
        with open(runs_log) as f:
            return [tuple(line.split()) for line in f if line.strip()]
    except OSError:
        return []


def started_count(runs_log):
    counts = {}
    for what, name in runs(runs_log):
        if what == "start":
            counts[name] = counts.get(name, 0) + 1
    return counts


class Worker:
    """``paralleltest worker --broker URL --name NAME``, nothing else: default options."""

    def __init__(self, name, directory, url, marker, extra=()):
        env = dict(os.environ, MOZPARALLEL_TEST_MARKER=marker)
        env.pop("MOZ_OBJDIR", None)
        self.name = name
        self.directory = directory
        self.log = open(directory / "worker.log", "w")
        self.proc = subprocess.Popen(
            [VENV_PYTHON, "-m", "mozparallel", "worker", "--broker", url, "--name", name] + list(extra),
            cwd=directory, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def tree(self):
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return []

    def runs_a_test(self):
        for p in self.tree():
            try:
                if any(arg.endswith(".sh") for arg in p.cmdline()):
                    return True
            except psutil.Error:
                pass
        return False

    def vanish(self):
        """SIGKILL the worker, its process group and every process under it."""
        tree = self.tree()
        os.killpg(self.proc.pid, signal.SIGKILL)
        for p in tree:
            try:
                p.kill()
            except psutil.Error:
                pass
        self.proc.wait()

    def stop(self, wait=15):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                self.vanish()
        self.log.close()


def wait_for_workers(server, names, timeout=30):
    deadline = time.monotonic() + timeout
    keys = ["mozparallel:fleet:worker:" + n for n in names]
    while server.client.exists(*keys) < len(keys):
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.05)


class Fleet:
    def __init__(self, tmp_path, server, marker, long_test=None):
        self.tmp_path = tmp_path
        self.server = server
        self.marker = marker
        self.runs_log = tmp_path / "runs.log"
        self.workers = []
        self.long_test = long_test
        self.coordinator = tmp_path / "coordinator"
        self.names = write_suite(self.coordinator / "suite", self.runs_log, long_test)
        self.store = tmp_path / "history.sqlite"

    def add_worker(self, name, suite=True, extra=()):
        directory = self.tmp_path / name
        directory.mkdir()
        if suite:
            write_suite(directory / "suite", self.runs_log, self.long_test)
        worker = Worker(name, directory, self.server.url, self.marker, extra)
        self.workers.append(worker)
        return worker

    def args(self, log, *extra):
        return ["--broker", self.server.url, "-r", "tbpl", "--log-raw", str(log), "--store", str(self.store)] + \
            list(extra) + self.names

    def start(self, log, *extra):
        env = dict(os.environ)
        env.pop("MOZ_OBJDIR", None)
        return subprocess.Popen([VENV_PYTHON, "-m", "mozparallel"] + self.args(log, *extra), cwd=self.coordinator,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def stop(self):
        for w in self.workers:          # all at once: each waits for its slots
            if w.proc.poll() is None:
                os.killpg(w.proc.pid, signal.SIGTERM)
        for w in self.workers:
            w.stop()


@pytest.fixture
def fleet(tmp_path, broker, marker):
    """Two workers with default options, and the coordinator's directory."""
    f = Fleet(tmp_path, broker, marker)
    for name in ("w1@test", "w2@test"):
        f.add_worker(name)
    wait_for_workers(broker, ["w1@test", "w2@test"])
    yield f
    f.stop()
    assert wait_gone(marker) == []


@pytest.fixture
def small_fleet(fleet):
    """The same, running 8 of the 16 tests (for what does not need them all)."""
    fleet.names = fleet.names[:8]
    return fleet


def ends_of(events):
    return [e for e in events if e["action"] == "test_end"]


def check_once(events, names, passed=True):
    ends = ends_of(events)
    starts = [e for e in events if e["action"] == "test_start"]
    assert sorted(e["test"] for e in ends) == sorted(names)
    assert sorted(e["test"] for e in starts) == sorted(names)
    if passed:
        summary = [e["message"] for e in events if e["action"] == "log" and "tests in" in e.get("message", "")]
        assert "%d tests in" % len(names) in summary[0] and "%d passed, 0 unexpected" % len(names) in summary[0]
    return ends_by_test(events)


def wait_until(check, timeout, proc=None, what="condition"):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        assert proc is None or proc.poll() is None, "the coordinator ended first: %s" % (proc.communicate(),)
        time.sleep(0.02)


def logs(events, level=None):
    return [e["message"] for e in events if e["action"] == "log" and (level is None or e["level"] == level)]


def test_a_worker_vanishes_mid_run(fleet, tmp_path):
    """Mid-run, a worker running tests is SIGKILLed with all it started (a
    spot node vanishing): its tests run again, from their start, on the
    other worker; every test is reported once, recorded once; the run ends
    within 30 s of the kill, and the log says what was re-queued."""
    log = tmp_path / "run.log"
    run = fleet.start(log)
    wait_until(lambda: sum(1 for e in _events(log) if e["action"] == "test_end") >= 4, 30, run, "4 results")
    wait_until(lambda: fleet.workers[0].runs_a_test(), 10, run, "w1 running a test")
    killed_at = time.monotonic()
    fleet.workers[0].vanish()
    out, err = run.communicate(timeout=60)
    done_at = time.monotonic()
    assert run.returncode == 0, out + err
    events = read_raw(log)
    ends = check_once(events, fleet.names)
    assert all(e["extra"].get("wall") and "cpu_user" in e["extra"] for e in ends.values())
    lost = [m for m in logs(events, "WARNING") if m.startswith("mozparallel: worker w1@test lost; ")]
    assert len(lost) == 1 and lost[0].endswith(" re-queued"), logs(events)
    requeued = lost[0][len("mozparallel: worker w1@test lost; "):-len(" re-queued")].split(", ")
    # The tests it was running ran again, from their start, on the survivor.
    counts = started_count(fleet.runs_log)
    assert {t for t, n in counts.items() if n == 2} == {t.split("/")[1] for t in requeued}
    assert all(ends[t]["extra"]["worker"].startswith("w2@test") for t in requeued)
    print("after the kill: %.1fs" % (done_at - killed_at))
    assert done_at - killed_at < 30
    db = sqlite3.connect(str(fleet.store))
    run_id = events[0]["extra"]["run_id"]
    rows = db.execute("SELECT test FROM results WHERE run_id = ?", (run_id,)).fetchall()
    db.close()
    assert sorted(r[0] for r in rows) == sorted(fleet.names)


def test_broker_paused_for_5s_mid_run(fleet, tmp_path):
    log = tmp_path / "run.log"
    report = tmp_path / "report.html"
    run = fleet.start(log, "--report-html", str(report))
    wait_until(lambda: sum(1 for e in _events(log) if e["action"] == "test_end") >= 3, 30, run, "3 results")
    os.kill(fleet.server.proc.pid, signal.SIGSTOP)
    time.sleep(5)
    os.kill(fleet.server.proc.pid, signal.SIGCONT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, out + err
    ends = check_once(read_raw(log), fleet.names)
    # Both workers were used, and nothing was taken for lost: every test ran exactly once.
    assert {e["extra"]["worker"].split("/")[0] for e in ends.values()} == {"w1@test", "w2@test"}
    assert started_count(fleet.runs_log) == {t.split("/")[1]: 1 for t in fleet.names}
    # Each test's events carry its worker slot as their mozlog thread.
    for e in read_raw(log):
        if e["action"] in ("test_start", "test_end"):
            assert e["thread"] == ends[e["test"]]["extra"]["worker"], e
    # The view names the workers; the report has one lane per worker process, across machines.
    assert {"mozparallel: worker %s joined (%d slots)" % (w.name, os.cpu_count()) for w in fleet.workers} <= \
        set(logs(read_raw(log), "INFO"))
    data = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', report.read_text(), re.S)
    tests = json.loads(data.group(1))["tests"]
    lanes = {}
    for t in tests:
        lanes.setdefault(t["slot"], set()).add(t["worker"])
    assert all(len(names) == 1 for names in lanes.values())
    processes = [names.pop() for names in lanes.values()]
    assert len(set(processes)) == len(processes) <= 2 * os.cpu_count()
    assert {p.split("/")[0] for p in processes} == {"w1@test", "w2@test"}


def test_broker_restarted_empty_mid_run(small_fleet, tmp_path):
    """redis-server stopped, and started again 3 s later with nothing (no
    persistence): the run reconnects, queues again what the broker lost,
    and ends with every test reported once."""
    fleet = small_fleet
    log = tmp_path / "run.log"
    run = fleet.start(log)
    wait_until(lambda: sum(1 for e in _events(log) if e["action"] == "test_end") >= 3, 30, run, "3 results")
    fleet.server.proc.kill()
    fleet.server.proc.wait()
    time.sleep(3)
    fleet.server.start()
    out, err = run.communicate(timeout=90)
    assert run.returncode == 0, out + err
    events = read_raw(log)
    check_once(events, fleet.names)
    assert any("lost run" in m and "queued again" in m for m in logs(events, "WARNING")), logs(events)
    assert any(m.startswith("mozparallel: broker %s back after " % fleet.server.url) for m in logs(events))
    for w in fleet.workers:
        w.stop(wait=3)      # Celery's own reconnection loop (back off up to 30 s) delays a warm shutdown


def test_ctrl_c_ends_the_run_everywhere(fleet, tmp_path):
    log = tmp_path / "run.log"
    run = fleet.start(log)
    wait_until(lambda: sum(1 for e in _events(log) if e["action"] == "test_end") >= 2, 30, run, "2 results")
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=20)
    assert run.returncode == 130, out + err
    ended = time.monotonic()
    assert "--resume" in err
    events = read_raw(log)
    assert any("cancelled" in m and "queued tests dropped" in m for m in logs(events)), logs(events)
    # Every test the log started has an end; those ended on their workers say so.
    ends = ends_by_test(events)
    assert {e["test"] for e in events if e["action"] == "test_start"} == set(ends)
    stopped = [t for t, e in ends.items() if e["status"] == "ERROR"]
    assert stopped and all(ends[t]["message"] == "ended on its worker: interrupted by SIGINT" for t in stopped)
    starts = len([r for r in runs(fleet.runs_log) if r[0] == "start"])
    # Within 3 s no test of the run runs or starts anywhere.
    wait_until(lambda: not any(w.runs_a_test() for w in fleet.workers), 3, None, "running tests to end")
    time.sleep(max(0.0, ended + 3 - time.monotonic()))
    assert len([r for r in runs(fleet.runs_log) if r[0] == "start"]) == starts
    assert starts < COUNT
    assert not any(w.runs_a_test() for w in fleet.workers)


def test_cancel_from_elsewhere(small_fleet, tmp_path):
    fleet = small_fleet
    log = tmp_path / "run.log"
    run = fleet.start(log)
    wait_until(lambda: sum(1 for e in _events(log) if e["action"] == "test_end") >= 2, 30, run, "2 results")
    run_id = _events(log)[0]["extra"]["run_id"]
    proc = paralleltest(["cancel", run_id, "--broker", fleet.server.url], cwd=tmp_path, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "run %s cancelled" % run_id in proc.stdout
    out, err = run.communicate(timeout=30)
    assert run.returncode == 1, out + err
    events = read_raw(log)
    ends = ends_by_test(events)
    assert sorted(ends) == sorted(fleet.names)
    missing = sorted(t for t, e in ends.items() if e["status"] == "ERROR")
    assert missing and all("run cancelled" in ends[t]["message"] for t in missing)
    assert not any(w.runs_a_test() for w in fleet.workers)
    # A cancelled run can be carried on: --resume runs what did not finish.
    second = tmp_path / "second.log"
    proc = paralleltest(fleet.args(second, "--resume", run_id), cwd=fleet.coordinator, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ends = check_once(read_raw(second), fleet.names)
    assert {t for t, e in ends.items() if "resumed_from" not in e["extra"]} == set(missing)
    # An unknown run: one line, exit 2.
    proc = paralleltest(["cancel", "no-such-run", "--broker", fleet.server.url], cwd=tmp_path, timeout=30)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no-such-run" in proc.stderr


def test_wrong_tree_takes_nothing_and_a_long_test_runs_once(tmp_path, broker, marker):
    # Longer than every timeout of the fleet: the lease (5 s), a slot's idle
    # exit (2 s), a slot request's wait (10 s).
    fleet = Fleet(tmp_path, broker, marker, long_test=11)
    fleet.add_worker("w1@test")
    fleet.add_worker("w2@test")
    empty = fleet.add_worker("empty@test", suite=False)
    try:
        wait_for_workers(broker, ["w1@test", "w2@test", "empty@test"])
        log = tmp_path / "run.log"
        proc = paralleltest(fleet.args(log), cwd=fleet.coordinator, timeout=90)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        events = read_raw(log)
        ends = check_once(events, fleet.names)
        assert not any(e["extra"]["worker"].startswith("empty@test") for e in ends.values())
        refused = [m for m in logs(events, "ERROR") if m.startswith("mozparallel: worker empty@test refused run")]
        assert refused and "suite/" in refused[0] and "missing under %s" % empty.directory in refused[0]
        assert started_count(fleet.runs_log) == {t.split("/")[1]: 1 for t in fleet.names}
        assert ends["suite/a_long.sh"]["extra"]["wall"] > 11
    finally:
        fleet.stop()
    assert wait_gone(marker) == []


def test_retries_and_a_test_no_worker_can_start(fleet, tmp_path):
    """--retries on the fleet; a test whose file no worker can execute is
    handed back by each, with the reason, then reported as an ERROR naming
    every worker's reason (not passed round forever)."""
    for directory in [fleet.coordinator] + [w.directory for w in fleet.workers]:
        write_test(directory / "suite", "t00.sh", "echo 1..1\necho 'not ok 1 - always'\n")
    for w in fleet.workers:
        os.chmod(w.directory / "suite" / "t02.sh", 0o644)
    log = tmp_path / "run.log"
    args = fleet.args(log, "--retries", "1", "-r", "mach")
    args = args[:-len(fleet.names)] + ["suite/t00.sh", "suite/t01.sh", "suite/t02.sh"]
    proc = paralleltest(args, cwd=fleet.coordinator, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    events = read_raw(log)
    attempts = [e for e in ends_of(events) if e["test"] == "suite/t00.sh"]
    assert len(attempts) == 2       # the run's and the retry's (judged by their failing point)
    assert any("real failures (failed every attempt): suite/t00.sh" in m for m in logs(events))
    # The mach view says which worker process ran each test.
    line = next(line for line in proc.stdout.splitlines() if "suite/t01.sh" in line and "PASS" in line)
    assert re.search(r" on w[12]@test/\d+$", line), proc.stdout
    handed = [m for m in logs(events, "WARNING") if "could not start suite/t02.sh; handed back" in m]
    assert {m.split()[2] for m in handed} == {"w1@test", "w2@test"}
    end = ends_of(events)[[e["test"] for e in ends_of(events)].index("suite/t02.sh")]
    assert end["status"] == "ERROR" and end["message"].startswith("no worker could start it: ")
    assert "w1@test: cannot start: " in end["message"] and "w2@test: cannot start: " in end["message"]
    assert started_count(fleet.runs_log).get("t02.sh") is None


def test_coordinator_killed_then_resumed(small_fleet, tmp_path):
    fleet = small_fleet
    first = tmp_path / "first.log"
    run = fleet.start(first)
    wait_until(lambda: sum(1 for e in _events(first) if e["action"] == "test_end") >= 3, 30, run, "3 results")
    run.kill()          # the coordinator vanishes; the workers carry on with what is queued
    run.wait()
    events = read_raw(first)
    run_id = events[0]["extra"]["run_id"]
    before = {e["test"] for e in events if e["action"] == "test_end"}
    assert 3 <= len(before) < len(fleet.names)

    second = tmp_path / "second.log"
    proc = paralleltest(fleet.args(second, "--resume", run_id), cwd=fleet.coordinator, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    resumed = read_raw(second)
    ends = check_once(resumed, fleet.names)
    assert {t for t, e in ends.items() if e["extra"].get("resumed_from") == run_id} == before
    # Every test ran once over both coordinators: nothing ran twice.
    assert started_count(fleet.runs_log) == {t.split("/")[1]: 1 for t in fleet.names}

    merged = tmp_path / "merged.log"
    proc = paralleltest(["merge", str(first), str(second), "--log-raw", str(merged), "-r", "tbpl"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(e["test"] for e in read_raw(merged) if e["action"] == "test_end") == sorted(fleet.names)


def test_broker_gone_for_good_then_resumed(small_fleet, tmp_path):
    fleet = small_fleet
    log = tmp_path / "run.log"
    run = fleet.start(log, "--broker-patience", "2")
    wait_until(lambda: sum(1 for e in _events(log) if e["action"] == "test_end") >= 2, 30, run, "2 results")
    fleet.server.proc.kill()
    fleet.server.proc.wait()
    out, err = run.communicate(timeout=30)
    assert run.returncode == 1, out + err
    events = read_raw(log)
    ends = ends_by_test(events)
    assert sorted(ends) == sorted(fleet.names)
    missing = sorted(t for t, e in ends.items() if e["status"] == "ERROR")
    assert missing and all("broker %s unreachable" % fleet.server.url in ends[t]["message"]
                           for t in missing)
    named = [m for m in logs(events, "ERROR") if "not reported" in m]
    assert named and all(t in named[0] for t in missing) and "--resume" in named[0]
    # The broker back (empty: it kept nothing), the workers reconnect; --resume runs what was missing.
    fleet.server.start()
    wait_for_workers(fleet.server, ["w1@test", "w2@test"])
    second = tmp_path / "second.log"
    run_id = events[0]["extra"]["run_id"]
    proc = paralleltest(fleet.args(second, "--resume", run_id), cwd=fleet.coordinator, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ends = check_once(read_raw(second), fleet.names)
    assert {t for t, e in ends.items() if "resumed_from" not in e["extra"]} >= set(missing)
    for w in fleet.workers:
        w.stop(wait=3)      # Celery's own reconnection loop (back off up to 30 s) delays a warm shutdown


def _events(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out
