"""store/redis_store.py and mirrored.py against a real redis-server, started
here on a free loopback port in a temporary directory: results reach Redis,
the password is never printed, and a server stopped mid-run loses nothing."""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import paralleltest, write_test
from mozparallel.store.redis_store import RedisStore
from mozparallel.store.sqlite_store import SQLiteStore

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
pytestmark = pytest.mark.skipif(not os.path.exists(REDIS_SERVER), reason="redis-server is not installed")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """One redis-server on 127.0.0.1; saves to its directory on SIGTERM so
    what it held can be checked after a restart."""

    def __init__(self, directory, password=None):
        self.directory = directory
        self.port = _free_port()
        self.password = password
        self.proc = None

    def start(self):
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                "--save", "3600 1", "--appendonly", "no", "--daemonize", "no", "--logfile", "redis.log"]
        if self.password:
            argv += ["--requirepass", self.password]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start on port %d" % self.port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis-data")
    os.makedirs(server.directory)
    server.start()
    yield server
    server.stop()


def _suite(directory, n, body="echo 1..1\necho ok 1\n"):
    """``n`` passing tests in ``directory``, and an empty objdir (``obj``) beside it."""
    os.makedirs(directory, exist_ok=True)
    os.makedirs(os.path.join(os.path.dirname(str(directory)), "obj"), exist_ok=True)
    return [write_test(directory, "t%02d.sh" % i, body) for i in range(n)]


def _local(tmp_path):
    return SQLiteStore(str(tmp_path / "obj" / ".mozparallel" / "history.sqlite"))


def test_results_reach_redis_and_the_local_store(tmp_path, redis_server):
    _suite(tmp_path / "s", 5)
    proc = paralleltest(["-j", "2", "--objdir", str(tmp_path / "obj"), "--store", redis_server.url,
                         str(tmp_path / "s")], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recorded in %s" % redis_server.url in proc.stdout
    remote = RedisStore(redis_server.url)
    [run] = remote.runs()
    assert run.status == "OK" and run.ended and run.cores == os.cpu_count() and run.jobs == 2
    results = remote.recent_results()
    assert sorted(r.test for r in results) == ["s/t%02d.sh" % i for i in range(5)]
    assert all(r.run_id == run.run_id and r.wall > 0 and r.cpu is not None for r in results)
    assert set(remote.durations(["s/t00.sh", "s/nope"])) == {"s/t00.sh"}
    fields = ("run_id", "test", "wall", "status", "peak_rss_kb")
    assert remote.recent_rows(10, fields) == [tuple(getattr(r, f) for f in fields) for r in results]
    local = _local(tmp_path)
    assert [r.run_id for r in local.runs()] == [run.run_id]
    assert len(local.results_of_run(run.run_id)) == 5
    # history reads the shared store.
    (tmp_path / "elsewhere").mkdir()
    proc = paralleltest(["history", "--store", redis_server.url, "--format", "json",
                         "--objdir", str(tmp_path / "elsewhere")], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert '"runs": 1' in proc.stdout and "s/t00.sh" in proc.stdout
    remote.close()


def test_password_from_environment_and_never_printed(tmp_path):
    secret = "s3cret-Pa55"
    server = RedisServer(tmp_path, password=secret).start()
    try:
        _suite(tmp_path / "s", 2)
        args = ["--objdir", str(tmp_path / "obj"), "--store", server.url, str(tmp_path / "s")]
        proc = paralleltest(args, cwd=str(tmp_path), env={"MOZPARALLEL_REDIS_PASSWORD": secret})
        assert proc.returncode == 0 and "warning" not in proc.stdout.lower(), proc.stdout + proc.stderr
        assert secret not in proc.stdout + proc.stderr
        assert len(RedisStore(server.url, env={"REDISCLI_AUTH": secret}).recent_results()) == 2
        # In the URL, and wrong: one warning without it, the run recorded locally.
        bad = server.url.replace("redis://", "redis://:wrong-%s@" % secret)
        proc = paralleltest(["--objdir", str(tmp_path / "obj"), "--store", bad, str(tmp_path / "s")],
                            cwd=str(tmp_path))
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert secret not in out and out.count("history store redis://127.0.0.1:%d/0 failed" % server.port) == 1
        assert len(_local(tmp_path).runs()) == 2
    finally:
        server.stop()


STOPS_REDIS = """
echo 1..1
if [ -n "$REDIS_PID" ]; then
    kill -TERM "$REDIS_PID"
    # Until it has exited (a zombie of the test suite by then: state Z).
    while s=$(cut -d' ' -f3 "/proc/$REDIS_PID/stat" 2>/dev/null) && [ "$s" != Z ]; do sleep 0.02; done
fi
echo ok 1
"""


def test_redis_stopped_mid_run_loses_nothing(tmp_path, redis_server):
    n = 12
    _suite(tmp_path / "s", n, "sleep 0.1\necho 1..1\necho ok 1\n")
    write_test(tmp_path / "s", "t05.sh", STOPS_REDIS)     # the 6th test stops the server
    args = ["-j", "2", "--objdir", str(tmp_path / "obj"), "--store", redis_server.url, str(tmp_path / "s")]
    started = time.monotonic()
    proc = paralleltest(args + ["--max-time", "20"], cwd=str(tmp_path),
                        env={"REDIS_PID": str(redis_server.proc.pid)}, timeout=60)
    took = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert redis_server.proc.poll() is not None
    assert out.count("failed") == 1 and "kept in %s" % (tmp_path / "obj" / ".mozparallel" / "history.sqlite") in out
    # Not a speed claim: a stopped server must not make the run wait out the
    # client's timeouts (3 s to connect, 5 s a read, 10 s for the last flush);
    # the run itself takes 1-2 s.
    assert took < 10, took
    local = _local(tmp_path)
    [run] = local.runs()
    assert run.status == "OK"
    assert len(local.results_of_run(run.run_id)) == n

    # The server saved what it had when it stopped: the run's start and the
    # results that came before the stop, not the rest.
    redis_server.start()
    remote = RedisStore(redis_server.url)
    before = {r.test for r in remote.recent_results()}
    assert before and len(before) < n

    # The next run finds the server back and copies the missing run to it.
    proc = paralleltest(args, cwd=str(tmp_path), env={"REDIS_PID": ""})
    assert "failed" not in proc.stdout + proc.stderr
    runs = remote.runs()
    assert len(runs) == 2 and runs[1].run_id == run.run_id and runs[1].status == "OK"
    assert len([r for r in remote.recent_results() if r.run_id == run.run_id]) == n
    remote.close()
