"""Issue 17, hardening: what a hostile user, a hostile test name or a
failing disk does to a run. Real processes throughout: a real redis-server
with a password, a real full tmpfs, real signals, prove for the TAP."""

import json
import os
import shlex
import shutil
import signal
import sqlite3
import stat
import subprocess
import time

import pytest

from conftest import VENV_PYTHON, ends_by_test, paralleltest, read_raw, wait_gone, write_test
from test_redis_store import REDIS_SERVER, RedisServer
from mozparallel.redact import redact_argv

# A run's own credentials (in the URL and its environment), a test's own
# secret (passed to tests, never stored) and one in --exec.
URL_PASSWORD = "url-Pa55-7f3e1c"
ENV_SECRETS = {"AWS_SECRET_ACCESS_KEY": "aws-s3cr3t-91ab", "MOZPARALLEL_REDIS_PASSWORD": "env-Pa55-0d2f",
               "REDISCLI_AUTH": "cli-Pa55-55e0"}
EXEC_SECRET = "ghp-t0ken-4c1d"

# Fails unless the runner's credentials stayed out of the test's environment
# and the test's own secret reached it; then waits for the file RELEASE (if
# it is not "-").
CHECKS_ENV = """
echo 1..2
if [ -z "$MOZPARALLEL_REDIS_PASSWORD" ] && [ -z "$REDISCLI_AUTH" ]; then echo ok 1; else echo not ok 1 - runner credentials; fi
if [ -n "$AWS_SECRET_ACCESS_KEY" ]; then echo ok 2; else echo not ok 2 - own secret lost; fi
while [ %s != - ] && [ ! -e %s ]; do sleep 0.05; done
"""


def _env(extra=None):
    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    env.update(extra or {})
    return env


def _wait_for(path, action, n, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                if sum('"%s"' % action in line for line in f) >= n:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError("fewer than %d %s events after %ss" % (n, action, timeout))


def _redis_dump(client):
    """Every key and value of the server, as text."""
    parts = []
    for key in client.scan_iter("*"):
        kind = client.type(key).decode()
        value = {"hash": client.hgetall, "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                 "string": client.get, "list": lambda k: client.lrange(k, 0, -1),
                 "set": client.smembers}[kind](key)
        parts.append("%r %r" % (key, value))
    return "\n".join(parts)


def test_interrupted_run_writes_and_prints_no_secret(tmp_path, marker):
    """--store redis://:PASSWORD@..., three secrets in the environment and
    one in --exec; Ctrl-C; then the printed command carries the run on.
    Neither run prints or writes any of them, tests never see the runner's
    credentials, and the state directory is 0700 with 0600 files."""
    redis = pytest.importorskip("redis")
    server = RedisServer(tmp_path / "redis", password=URL_PASSWORD)
    os.makedirs(server.directory)
    server.start()
    try:
        objdir, suite = tmp_path / "obj", tmp_path / "obj" / "suite"
        os.makedirs(suite)
        state = objdir / ".mozparallel"
        state.mkdir(mode=0o755)     # as an older version left it: made private by the run
        release = shlex.quote(str(tmp_path / "release"))
        for i in range(8):
            write_test(suite, "t%d.sh" % i, CHECKS_ENV % (("-", "-") if i < 2 else (release, release)))
        url = "redis://:%s@127.0.0.1:%d/0" % (URL_PASSWORD, server.port)
        args = ["-j", "2", "--objdir", str(objdir), "--store", url, "--exec", "env GITHUB_TOKEN=%s /bin/sh" % EXEC_SECRET,
                "--log-raw", str(objdir / "raw.log"), "--log-tbpl", str(objdir / "tbpl.log"),
                "--report-html", str(objdir / "report.html"), "suite"]
        proc = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel"] + args, cwd=str(objdir),
                                env=_env(dict(ENV_SECRETS, MOZPARALLEL_TEST_MARKER=marker)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(objdir / "raw.log", "test_end", 2)
        _wait_for(objdir / "raw.log", "test_start", 4)
        live = {name: stat.S_IMODE(os.stat(state / name).st_mode) for name in os.listdir(state)}
        assert {"history.sqlite", "history.sqlite-wal", "history.sqlite-shm"} <= set(live), live
        assert set(live.values()) == {0o600}, live
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        first = ends_by_test(read_raw(objdir / "raw.log"))
        assert [first[t]["status"] for t in ("suite/t0.sh", "suite/t1.sh")] == ["OK", "OK"], first

        secrets = [URL_PASSWORD, EXEC_SECRET] + list(ENV_SECRETS.values())
        # Neither run's output, no file under the objdir, no Redis key holds one.
        def assert_no_secret(outputs, argv_has):
            assert not [s for s in secrets if s in outputs]
            grep = subprocess.run(["grep", "-r", "-a", "-l"] + [a for s in secrets for a in ("-e", s)]
                                  + [str(objdir)], capture_output=True, text=True)
            assert grep.returncode == 1 and grep.stdout == "", grep.stdout     # 1: nothing matched
            client = redis.Redis(port=server.port, password=URL_PASSWORD)
            dump = _redis_dump(client)
            client.close()
            assert "mozparallel:run:" in dump and "mozparallel:results:" in dump
            assert not [s for s in secrets if s in dump]
            # What is kept: the command lines, masked.
            db = sqlite3.connect(str(state / "history.sqlite"))
            [argv] = [json.loads(a) for (a,) in db.execute("SELECT argv FROM runs")]
            commands = {c for (c,) in db.execute("SELECT command FROM results")}
            db.close()
            assert argv_has in argv and "env GITHUB_TOKEN=*** /bin/sh" in argv, argv
            assert commands == {"env 'GITHUB_TOKEN=***' /bin/sh"}
            # Private: the directory 0700, each file 0600.
            assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
            modes = {name: stat.S_IMODE(os.stat(state / name).st_mode) for name in os.listdir(state)}
            assert modes and set(modes.values()) == {0o600}, modes
            return sorted(modes)

        assert "report-interrupted.html" in assert_no_secret(out + err, "redis://:***@127.0.0.1:%d/0" % server.port)
        # The hint: the URL without its password, and where to give it.
        hint = err.strip().splitlines()
        assert "(the password in a URL is not shown: set $MOZPARALLEL_REDIS_PASSWORD" in hint[-1]
        command = shlex.split(hint[-2])
        assert "redis://127.0.0.1:%d/0" % server.port in command and "env GITHUB_TOKEN=*** /bin/sh" in command
        # ... which carries the run on with the password in the environment.
        (tmp_path / "release").touch()
        again = subprocess.run([VENV_PYTHON, "-m", "mozparallel"] + command[1:] + ["--log-raw", "again.log"],
                               cwd=str(objdir), capture_output=True, text=True, timeout=120,
                               env=_env(dict(ENV_SECRETS, MOZPARALLEL_REDIS_PASSWORD=URL_PASSWORD,
                                             MOZPARALLEL_TEST_MARKER=marker)))
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr
        ran = {t: e["status"] for t, e in ends_by_test(read_raw(objdir / "again.log")).items()
               if "resumed_from" not in (e.get("extra") or {})}
        assert set(ran) == {"suite/t%d.sh" % i for i in range(2, 8)} - set(first) | \
            {t for t, e in first.items() if e["status"] != "OK"}, ran
        assert set(ran.values()) == {"OK"}
        assert "warning" not in again.stderr, again.stderr
        # (--resume records under the same run id: the argv is the second run's)
        written = assert_no_secret(again.stdout + again.stderr, "redis://127.0.0.1:%d/0" % server.port)
        assert {"history.sqlite", "report.html", "mozinfo-live.json"} <= set(written), written
        assert wait_gone(marker) == []
    finally:
        server.stop()


def test_redaction_shapes():
    """Secrets inside one word (--exec), passwords holding "@" or ":", and
    the resume hint's form, which leaves a URL's password out."""
    argv = ["paralleltest", "--store", "redis://:p@ss@h:1/0", "--broker=rediss://u:p:w@h/2",
            "--exec", "env API_TOKEN='a b' AWS_SECRET_ACCESS_KEY=c node --password x --api-key=y t/", "t/"]
    assert redact_argv(argv) == [
        "paralleltest", "--store", "redis://:***@h:1/0", "--broker=rediss://u:***@h/2",
        "--exec", "env API_TOKEN=*** AWS_SECRET_ACCESS_KEY=*** node --password *** --api-key=*** t/", "t/"]
    assert redact_argv(argv, drop_url_passwords=True)[2:4] == ["redis://h:1/0", "--broker=rediss://u@h/2"]
    assert redact_argv(["--password", "x", "--token=a b", "PGPASSWORD=c d", "--mozinfo", "author=me"]) == [
        "--password", "***", "--token=***", "PGPASSWORD=***", "--mozinfo", "author=me"]


def test_wrong_redis_password_warns_and_names_only_the_local_store(tmp_path):
    server = RedisServer(tmp_path, password=URL_PASSWORD).start()
    try:
        for name in ("s", "obj"):
            (tmp_path / name).mkdir()
        write_test(tmp_path / "s", "t.sh", "echo 1..1\necho ok 1\n")
        url = "redis://:wrong-%s@127.0.0.1:%d/0" % (URL_PASSWORD, server.port)
        proc = paralleltest(["--objdir", str(tmp_path / "obj"), "--store", url, str(tmp_path / "s")],
                            cwd=str(tmp_path))
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert out.count("history store redis://127.0.0.1:%d/0 failed" % server.port) == 1
        assert "recorded in redis://" not in out
        assert "recorded in %s" % (tmp_path / "obj" / ".mozparallel" / "history.sqlite") in out
        assert URL_PASSWORD not in out
    finally:
        server.stop()


def _prove(path):
    return subprocess.run(["prove", "--exec", "cat", str(path)], capture_output=True, text=True)


@pytest.mark.skipif(not shutil.which("prove"), reason="prove (perl) is not installed")
def test_tap_reporter_and_log_tap_each_number_their_own_points(tmp_path):
    for name in ("a.sh", "b.sh"):
        write_test(tmp_path, name, "echo 1..1\necho ok 1\n")
    proc = paralleltest(["--store", "none", "-r", "tap", "--log-tap", str(tmp_path / "log.tap"),
                         "--log-tap", str(tmp_path / "again.tap"), "a.sh", "b.sh"], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "stdout.tap").write_text(proc.stdout)
    for name in ("stdout.tap", "log.tap", "again.tap"):
        lines = (tmp_path / name).read_text().splitlines()
        points = [line.split(" - ")[0] for line in lines if line.startswith(("ok", "not ok", "1.."))]
        assert points == ["ok 1", "ok 2", "1..2"], (name, lines)
        check = _prove(tmp_path / name)
        assert check.returncode == 0 and "Result: PASS" in check.stdout, check.stdout
    # The same for TBPL: each stream times each test once.
    proc = paralleltest(["--store", "none", "-r", "tbpl", "--log-tbpl", str(tmp_path / "log.tbpl"),
                         "a.sh", "b.sh"], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stdout, (tmp_path / "log.tbpl").read_text()):
        assert sorted(line.split(" | ")[1] for line in text.splitlines() if line.startswith("TEST-OK")) == \
            ["a.sh", "b.sh"]


def _runs_nothing(tmp_path):
    """A test that leaves a file when it runs; returns that file's path."""
    ran = tmp_path / "ran"
    write_test(tmp_path, "t.sh", "touch %s\necho 1..1\necho ok 1\n" % shlex.quote(str(ran)))
    return ran


def _one_error_line(proc, *words):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "error: " in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("objdir,words", [
    ("/etc/passwd", ("--objdir", "/etc/passwd", "not a directory")),
    ("missing/obj", ("--objdir", "missing/obj", "no such directory")),
])
def test_objdir_must_be_a_directory(tmp_path, objdir, words):
    ran = _runs_nothing(tmp_path)
    for command in ([], ["history"]):
        proc = paralleltest(command + ["--objdir", objdir] + ([] if command else ["t.sh"]), cwd=str(tmp_path))
        _one_error_line(proc, *words)
    assert not ran.exists() and not (tmp_path / "missing").exists()


def test_moz_objdir_naming_a_file(tmp_path):
    ran = _runs_nothing(tmp_path)
    proc = paralleltest(["t.sh"], cwd=str(tmp_path), env={"MOZ_OBJDIR": "/etc/passwd"})
    _one_error_line(proc, "$MOZ_OBJDIR /etc/passwd", "not a directory")
    assert not ran.exists()


def test_log_file_errors_name_the_file(tmp_path):
    ran = _runs_nothing(tmp_path)
    (tmp_path / "obj").mkdir()
    proc = paralleltest(["--objdir", str(tmp_path / "obj"), "--log-raw", "/tmp", "t.sh"], cwd=str(tmp_path))
    line = _one_error_line(proc, "--log-raw", "cannot open log file /tmp: Is a directory")
    assert str(tmp_path / "obj") not in line
    # A missing directory is an error, never created.
    missing = tmp_path / "nonexistent" / "dir" / "x.log"
    proc = paralleltest(["--log-raw", str(missing), "t.sh"], cwd=str(tmp_path))
    _one_error_line(proc, "--log-raw", str(missing), "no such directory")
    assert not (tmp_path / "nonexistent").exists() and not ran.exists()


@pytest.mark.parametrize("args,value", [
    (["--timeout", "nan"], "'nan'"), (["--timeout", "inf"], "'inf'"), (["-t", "-1"], "'-1'"),
    (["--max-time", "NaN"], "'NaN'"), (["--kill-grace", "inf"], "'inf'"), (["--max-failures", "-1"], "'-1'"),
])
def test_bad_numbers_are_refused(tmp_path, args, value):
    ran = _runs_nothing(tmp_path)
    proc = paralleltest(["--store", "none"] + args + ["t.sh"], cwd=str(tmp_path))
    _one_error_line(proc, args[0], value)
    assert not ran.exists()


def test_zero_means_none(tmp_path):
    """--timeout 0, --max-time 0, --max-failures 0: no limit (--help says so)."""
    write_test(tmp_path, "quiet.sh", "echo 1..1\nsleep 0.5\necho ok 1\n")
    write_test(tmp_path, "fails.sh", "echo 1..1\necho not ok 1\n")
    proc = paralleltest(["--store", "none", "-j", "1", "--schedule", "list", "--timeout", "0", "--max-time", "0",
                         "--max-failures", "0", "--log-raw", "raw.log", "fails.sh", "quiet.sh"], cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    ends = ends_by_test(read_raw(tmp_path / "raw.log"))
    events = read_raw(tmp_path / "raw.log")
    ends = ends_by_test(events)
    assert ends["quiet.sh"]["status"] == "OK"
    # fails.sh failed by its point (one failure, one line), and ran to its end.
    assert [e["status"] for e in events if e["action"] == "test_status" and e["test"] == "fails.sh"] == ["FAIL"]


def test_malformed_store_url_is_named_without_its_password(tmp_path):
    ran = _runs_nothing(tmp_path)
    proc = paralleltest(["--store", "redis://:%s@[::1/0" % URL_PASSWORD, "t.sh"], cwd=str(tmp_path))
    line = _one_error_line(proc, "--store", "redis://:***@[::1/0", "Invalid IPv6 URL")
    assert URL_PASSWORD not in line and not ran.exists()


ESC_NAME = "e\x1b]0;pwned\x07\x1b[31mred.sh"


@pytest.mark.parametrize("reporter", ["mach", "tap", "tbpl"])
def test_escape_bytes_in_names_are_escaped(tmp_path, reporter):
    write_test(tmp_path, ESC_NAME, "echo 1..1\necho ok 1\n")
    write_test(tmp_path, "fails\x1b[2J.sh", "echo 1..1\necho not ok 1\n")
    proc = paralleltest(["--store", "none", "-r", reporter, "."], cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "e\\x1b]0;pwned\\x07\\x1b[31mred.sh" in proc.stdout.replace("\\\\", "\\")
    assert "fails\\x1b[2J.sh" in proc.stdout.replace("\\\\", "\\")
    if reporter == "tap" and shutil.which("prove"):
        (tmp_path / "out.tap").write_text(proc.stdout)
        check = _prove(tmp_path / "out.tap")
        assert "Failed 1/2 subtests" in check.stdout, check.stdout


def test_sighup_ends_the_run_like_sigterm(tmp_path, marker):
    for i in range(6):
        write_test(tmp_path, "t%d.sh" % i, "echo 1..1\n%s\necho ok 1\n" % ("true" if i == 0 else "sleep 30"))
    proc = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel", "-j", "2", "--schedule", "list", "-r", "tap",
                             "--log-raw", "raw.log", "."], cwd=str(tmp_path),
                            env=_env({"MOZPARALLEL_TEST_MARKER": marker, "MOZ_OBJDIR": str(tmp_path)}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(tmp_path / "raw.log", "test_end", 1)
    _wait_for(tmp_path / "raw.log", "test_start", 3)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 129, err
    events = read_raw(tmp_path / "raw.log")
    assert events[-1]["action"] == "suite_end"
    ends = ends_by_test(events)
    assert ends["t0.sh"]["status"] == "OK"
    stopped = [e for t, e in ends.items() if t != "t0.sh"]
    assert len(stopped) == 2 and all("interrupted by SIGHUP" in e["message"] for e in stopped)
    run_id = next(e for e in events if e["action"] == "suite_start")["extra"]["run_id"]
    assert "5 of 6 tests did not finish; rerun the tests that did not finish with:" in err
    assert err.strip().splitlines()[-1].endswith("--resume " + run_id)
    assert wait_gone(marker) == []


# -- a full disk ---------------------------------------------------------------
@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs holding an objdir whose history exists, then filled up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (%s): the full-disk test needs one"
                    % (proc.stderr.strip() or "exit %d" % proc.returncode))
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_full_disk_is_one_warning_at_full_speed(tmp_path, full_disk):
    suite = tmp_path / "suite"
    suite.mkdir()
    for name in ("a.sh", "b.sh"):
        write_test(suite, name, "echo 1..1\nsleep 1\necho ok 1\n")
    objdir = full_disk / "obj"
    objdir.mkdir()
    first = paralleltest(["-j", "2", "--objdir", str(objdir), "suite"], cwd=str(tmp_path))
    assert first.returncode == 0 and (objdir / ".mozparallel" / "history.sqlite").exists(), first.stderr
    subprocess.run(["dd", "if=/dev/zero", "of=%s" % (full_disk / "fill"), "bs=64k"], capture_output=True)
    assert os.statvfs(str(full_disk)).f_bavail == 0

    def timed(*extra):
        started = time.monotonic()
        proc = paralleltest(["-j", "2", "--objdir", str(objdir), "--log-raw", str(tmp_path / "raw.log")]
                            + list(extra) + ["suite"], cwd=str(tmp_path))
        return proc, time.monotonic() - started

    full, full_seconds = timed()
    none, none_seconds = timed("--store", "none")
    assert full.returncode == 0 and none.returncode == 0, full.stderr + none.stderr
    warnings = [line for line in full.stderr.splitlines() if "history.sqlite" in line]
    assert len(warnings) == 1 and "no space left on the device" in warnings[0], full.stderr
    # Results still reach the logs.
    assert {t: e["status"] for t, e in ends_by_test(read_raw(tmp_path / "raw.log")).items()} == \
        {"suite/a.sh": "OK", "suite/b.sh": "OK"}
    # A 1 s suite: no stall (it was 30 s waiting on SQLite, 90 s in the issue).
    assert full_seconds < 10, (full_seconds, none_seconds)
    print("full disk: %.2fs, --store none: %.2fs" % (full_seconds, none_seconds))


def test_empty_exec_and_resume_are_refused(tmp_path):
    from conftest import paralleltest, write_test

    t = write_test(tmp_path, "t.sh", "echo 1..1; echo ok 1\n")
    for args, needle in ((["--exec", ""], "--exec is empty"), (["--resume", " "], "--resume needs the id")):
        proc = paralleltest(args + [t], cwd=str(tmp_path))
        assert proc.returncode == 2 and needle in proc.stderr and proc.stderr.count("\n") == 1


def test_bad_log_level_is_one_line(tmp_path):
    from conftest import paralleltest, write_test

    t = write_test(tmp_path, "t.sh", "echo 1..1; echo ok 1\n")
    proc = paralleltest(["--log-raw", "-", "--log-raw-level", "bogus", t], cwd=str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "--log-raw-level: not a log level: 'bogus'" in proc.stderr
