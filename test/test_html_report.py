"""reporting/html.py: the report of a real run, opened in headless Chromium
through the DevTools protocol (over --remote-debugging-pipe, no port): one
bar per test that ran, one lane per worker, no console error, no network
request; a screenshot goes to test-artifacts/."""

import base64
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import TOP, VENV_PYTHON, paralleltest, write_python_test, write_test
from test_redis_store import RedisServer

from mozparallel.reporting.html import ReportCollector, render

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(TOP, "test-artifacts")


class DevTools:
    """A tiny client of Chromium's DevTools protocol over the pipe Chromium
    reads on fd 3 and writes on fd 4 (NUL-terminated JSON messages)."""

    def __init__(self, profile):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            # Out of the way first, so neither dup2 overwrites the other's source.
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             "--user-data-dir=" + profile, "--remote-debugging-pipe", "--window-size=1280,1600",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # fds 3 and 4 are set up after the fork; pass_fds keeps them open.
            preexec_fn=child_fds, pass_fds=(3, 4), start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, session=None, timeout=30, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._read_message(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except (OSError, RuntimeError, TimeoutError, EOFError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


SECRET = "s3cr3t-pw-%d" % os.getpid()
ENV_TOKEN = "ghp_envtoken%d" % os.getpid()


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    """Two real runs of one suite with their history in a real
    password-protected redis-server: the first all as expected; the second
    (the report) with an ERROR, a CRASH, a TIMEOUT, an expected FAIL, a
    skip, passes and a test holding 40 MiB."""
    d = tmp_path_factory.mktemp("html")
    server = RedisServer(d / "redis", password=SECRET)
    os.makedirs(server.directory)
    server.start()
    try:
        yield _two_runs(d, "redis://:%s@127.0.0.1:%d/0" % (SECRET, server.port))
    finally:
        server.stop()


def _two_runs(d, store):
    suite = d / "suite"
    suite.mkdir()
    for i in range(4):
        write_test(suite, "p%d.sh" % i, "sleep 0.%d\necho 1..1\necho ok 1 - fine\n" % (i + 2))
    # Broken only when BREAK is set (the second run).
    broken = 'if [ -z "$BREAK" ]; then echo 1..1; echo ok 1; exit 0; fi\n'
    write_test(suite, "f_fail.sh", broken + "echo 1..2\necho ok 1\necho 'not ok 2 - the answer </script><b>x'\n"
                                            "echo '# got 41, wanted 42'\nexit 1\n")
    write_test(suite, "f_crash.sh", broken + "echo 1..3\necho ok 1\nsleep 0.2\nkill -SEGV $$\n")
    write_test(suite, "f_hang.sh", broken + "echo 1..2\necho ok 1 - started\nsleep 30\n")
    write_test(suite, "s_skip.sh", "echo '1..0 # SKIP no display here'\n")
    write_python_test(suite, "big.py", "import time\nblock = bytearray(40 << 20)\n"
                                       "for i in range(0, len(block), 4096): block[i] = 1\n"
                                       "time.sleep(0.5)\nprint('1..1')\nprint('ok 1 - held 40 MiB')\n")
    known = d / "known"
    known.mkdir()
    write_test(known, "x_known.sh", "echo 1..1\necho 'not ok 1 - known bug 1234'\nexit 1\n")
    (known / "manifest.toml").write_text('["x_known.sh"]\nfail-if = "true"\n')
    out = d / "out" / "report.html"
    (d / "out").mkdir()
    args = ["-j", "3", "-t", "1", "--store", store, "--report-html", str(out), "suite", "known/manifest.toml"]
    first = paralleltest(args, cwd=str(d), env={"GITHUB_TOKEN": ENV_TOKEN})
    assert first.returncode == 0, first.stdout + first.stderr
    second = paralleltest(args, cwd=str(d), env={"BREAK": "1", "GITHUB_TOKEN": ENV_TOKEN})
    assert second.returncode == 1, second.stdout + second.stderr
    history = paralleltest(["history", "--store", store, "--runs", "1", "--format", "json"], cwd=str(d))
    assert history.returncode == 0, history.stderr
    return d, out, json.loads(history.stdout)


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """A complete run, then the same run interrupted (SIGINT) while one test
    still runs: (directory, report.html's bytes after the complete run)."""
    d = tmp_path_factory.mktemp("interrupted")
    write_test(d, "a_quick.sh", "echo 1..1\necho ok 1\n")
    write_test(d, "b_slow.sh", 'echo 1..1\nif [ -n "$SLOW" ]; then sleep 30; fi\necho ok 1\n')
    args = [VENV_PYTHON, "-m", "mozparallel", "-j", "1", "--schedule", "list", "--log-raw", "raw.log",
            "--report-html", "mine.html", "a_quick.sh", "b_slow.sh"]
    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    subprocess.run(args, cwd=str(d), env=env, capture_output=True, timeout=60, check=True)
    complete = (d / ".mozparallel" / "report.html").read_bytes()
    os.unlink(d / "raw.log")
    proc = subprocess.Popen(args, cwd=str(d), env=dict(env, SLOW="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not any(e["action"] == "test_start" and e["test"] == "b_slow.sh" for e in _events(d / "raw.log")):
        assert time.monotonic() < deadline, "b_slow.sh never started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    return d, complete, err


def _events(path):
    """The complete events of a raw log being written."""
    try:
        lines = path.read_text().splitlines(keepends=True)
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.endswith("\n")]


def test_report_written_to_file_and_state_dir_self_contained(report_run):
    d, out, _ = report_run
    page = out.read_text()
    assert os.path.exists(d / ".mozparallel" / "report.html")
    # No address anything could fetch: the only URL is the SVG namespace.
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", page))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "<link" not in page and "src=" not in page
    # The failing test's output, with </script> in it, is data, not markup.
    assert page.count("</script>") == 2


def test_report_shows_no_secret(report_run):
    """The command line is shown with the Redis password masked; the
    environment (a token in it) is never shown."""
    d, out, _ = report_run
    for page in (out.read_text(), (d / ".mozparallel" / "report.html").read_text()):
        assert SECRET not in page and ENV_TOKEN not in page
        data = json.loads(_data_of(page))
        assert "--store 'redis://:***@127.0.0.1:" in data["command"] or \
            "--store redis://:***@127.0.0.1:" in data["command"]
        assert data["command"].endswith("--report-html %s suite known/manifest.toml" % out)
        assert data["cwd"] == str(d)


def test_report_memory_is_the_figure_history_shows(report_run):
    """Peak memory in the report is what ``paralleltest history`` shows for
    the same run (peak RSS of the tree, MiB), not ru_maxrss with the
    runner's own ~22 MiB in it."""
    d, out, history = report_run
    tests = {t["test"]: t for t in json.loads(_data_of(out.read_text()))["tests"]}
    rows = {r["test"]: r for r in history["biggest_memory"]}
    assert rows and set(rows) <= set(tests)
    for name, row in rows.items():
        assert tests[name]["peak_rss_kb"] / 1024 == pytest.approx(row["median"], abs=1e-3), name
    assert 40 <= rows["suite/big.py"]["median"] < 80
    # A shell test that slept (so was sampled) is a few MiB, not the floor.
    assert rows["suite/p3.sh"]["median"] < 15


def test_report_in_headless_chromium(report_run, interrupted_run, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (tools/install-system-deps.sh installs it)")
    d, out, history = report_run
    data = json.loads(_data_of(out.read_text()))
    tests = data["tests"]
    ran = [t for t in tests if t["slot"] is not None]
    assert len(tests) == len(ran) == 10     # the skipping file ran too
    memory = {r["test"]: r["median"] for r in history["biggest_memory"]}

    cdp = DevTools(str(tmp_path / "profile"))
    try:
        target = next(t for t in cdp.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        session = cdp.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            cdp.send(domain + ".enable", session=session)

        def js(expr):
            res = cdp.send("Runtime.evaluate", session=session, expression=expr, returnByValue=True)
            assert "exceptionDetails" not in res, res
            return res["result"].get("value")

        def open_page(path):
            cdp.events.clear()
            cdp.send("Page.navigate", session=session, url="file://" + str(path))
            cdp.wait_event("Page.loadEventFired")

        def screenshot(name):
            shot = cdp.send("Page.captureScreenshot", session=session, format="png", captureBeyondViewport=True)
            os.makedirs(ARTIFACTS, exist_ok=True)
            png = base64.b64decode(shot["data"])
            with open(os.path.join(ARTIFACTS, name), "wb") as f:
                f.write(png)
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000

        open_page(out)
        assert js("document.querySelectorAll('#timeline .bar').length") == len(ran) == 10
        assert js("document.querySelectorAll('#timeline .lane').length") == 3
        assert js("document.querySelectorAll('#timeline .bar.outcome-unexpected').length") == 3
        assert js("document.querySelectorAll('#timeline .bar.outcome-expected-fail').length") == 1
        assert js("document.querySelectorAll('#timeline .bar.outcome-skip').length") == 1
        # Every bar sits in its worker's lane and inside the timeline, and is
        # labelled with its file's name, readable in full on the long ones.
        bars = js("""Array.from(document.querySelectorAll('#timeline .bar')).map(b => {
            const r = b.getBoundingClientRect(), t = b.parentElement.getBoundingClientRect();
            return {inside: r.left >= t.left - 1 && r.right <= t.right + 1 && r.width > 0,
                    label: b.textContent, test: b.getAttribute('aria-label'), width: r.width,
                    clipped: b.scrollWidth > b.clientWidth};})""")
        assert all(b["inside"] for b in bars), bars
        assert all(b["test"].endswith("/" + b["label"]) for b in bars), bars
        wide = [b for b in bars if b["width"] > 150]
        assert len(wide) >= 4 and not any(b["clipped"] for b in wide), bars
        # The header: the command line (password masked) and run_info.
        facts = js("document.getElementById('facts').textContent")
        assert "redis://:***@127.0.0.1" in facts and SECRET not in facts and str(d) in facts
        assert js("document.querySelectorAll('#run-info tbody tr').length") == len(data["run_info"]) > 5
        assert "\"linux\"" in js("document.getElementById('run-info').textContent")
        assert js("document.getElementById('interrupted').hidden") is True
        assert SECRET not in js("document.documentElement.outerHTML")
        # The table: failures first, each with its status and first message.
        rows = js("""Array.from(document.querySelectorAll('#tests tbody tr')).map(tr =>
            Array.from(tr.children).map(td => td.textContent))""")
        assert [r[0] for r in rows[:3]] == ["suite/f_hang.sh", "suite/f_crash.sh", "suite/f_fail.sh"]
        assert rows[3][0] == "known/x_known.sh" and rows[-1][0] == "suite/s_skip.sh"
        by = {r[0]: r for r in rows}
        assert by["suite/f_hang.sh"][1] == "TIMEOUTexpected OK"
        assert by["suite/f_hang.sh"][2].startswith("no output for 1")
        assert by["suite/f_crash.sh"][1] == "CRASHexpected OK" and "SIGSEGV" in by["suite/f_crash.sh"][2]
        assert by["suite/f_fail.sh"][1] == "FAILexpected OK"       # by its failing point
        assert by["suite/f_fail.sh"][2].startswith("not ok 2 - the answer </script><b>x")
        assert by["known/x_known.sh"][1] == "FAILexpected" and "known bug 1234" in by["known/x_known.sh"][2]
        assert by["suite/p0.sh"][1] == "OK" and by["suite/s_skip.sh"][1] == "SKIP"
        # Memory: the figure and unit of 'paralleltest history'.
        assert js("document.querySelector('#tests th[data-key=\"peak_rss_kb\"]').textContent") == "Peak memory (MiB)"
        for name, median in memory.items():
            assert float(by[name][5]) == pytest.approx(median, abs=0.051), name
        # The filter box: a status word keeps its tests, in the table and on the timeline.
        shown = js("""(() => { const f = document.getElementById('filter'); f.value = 'timeout';
            f.dispatchEvent(new Event('input'));
            return [Array.from(document.querySelectorAll('#tests tbody tr')).filter(tr => !tr.hidden)
                        .map(tr => tr.firstChild.textContent),
                    document.querySelectorAll('#timeline .bar:not(.dim)').length,
                    document.getElementById('shown').textContent]; })()""")
        assert shown == [["suite/f_hang.sh"], 1, "1 of 10 tests shown"]
        shown = js("""(() => { const f = document.getElementById('filter'); f.value = '';
            f.dispatchEvent(new Event('input'));
            const only = document.getElementById('only-unexpected'); only.click();
            return Array.from(document.querySelectorAll('#tests tbody tr')).filter(tr => !tr.hidden).length; })()""")
        assert shown == 3
        js("document.getElementById('only-unexpected').click()")
        # Click the failing test's bar: its numbers and output show.
        detail = js("""(() => { const bars = Array.from(document.querySelectorAll('#timeline .bar'));
            const bar = bars.find(b => b.getAttribute('aria-label').endsWith('f_fail.sh'));
            bar.click(); return document.getElementById('detail').textContent; })()""")
        assert "f_fail.sh" in detail and "FAIL (expected OK)" in detail and "peak memory" in detail
        assert "the answer </script><b>x" in detail and "got 41, wanted 42" in detail
        # Sort by CPU, largest first, by clicking its header.
        cpus = js("""(() => { document.querySelector('#tests th[data-key="cpu"]').click();
            return Array.from(document.querySelectorAll('#tests tbody tr td:nth-child(5)'))
                        .map(td => td.textContent); })()""")
        numbers = [float(c) for c in cpus if c != "-"]
        assert numbers == sorted(numbers, reverse=True) and len(numbers) == 10
        js("document.querySelector('#tests th[data-key=\"rank\"]').click()")
        # History: two runs; each bar's colour is its legend entry's.
        chart = js("""(() => {
            const legend = {};
            document.querySelectorAll('#history-legend [data-kind]').forEach(s => {
                if (s.getClientRects().length) legend[s.dataset.kind] = [s.textContent,
                    getComputedStyle(s.querySelector('.swatch')).backgroundColor]; });
            const bars = Array.from(document.querySelectorAll('#history-chart rect')).map(r =>
                [r.getAttribute('class'), getComputedStyle(r).fill]);
            return {legend, bars}; })()""")
        assert [b[0] for b in chart["bars"]] == ["hist-ok", "hist-unexpected hist-current"]
        assert set(chart["legend"]) == {"hist-ok", "hist-unexpected", "hist-current"}
        assert chart["legend"]["hist-ok"][0] == "every result as expected"
        assert chart["legend"]["hist-unexpected"][0] == "unexpected results"
        for kinds, fill in chart["bars"]:
            assert fill == chart["legend"][kinds.split()[0]][1], chart
        assert chart["legend"]["hist-ok"][1] != chart["legend"]["hist-unexpected"][1]
        screenshot("html-report.png")
        _no_errors_no_requests(cdp.events)

        # The interrupted run's report: marked, linking to the complete one.
        idir = interrupted_run[0]
        open_page(idir / ".mozparallel" / "report-interrupted.html")
        banner = js("document.getElementById('interrupted').hidden ? '' : "
                    "document.getElementById('interrupted').textContent")
        assert banner.startswith("Interrupted run (interrupted by SIGINT): 1 of 2 tests did not finish")
        assert js("document.querySelector('#interrupted a').href") == \
            "file://" + str(idir / ".mozparallel" / "report.html")
        assert js("document.getElementById('title').textContent").startswith("Interrupted: ")
        assert js("Array.from(document.querySelectorAll('#history-chart rect')).map(r => r.getAttribute('class'))") \
            == ["hist-ok", "hist-interrupted hist-current"]
        screenshot("html-report-interrupted.png")
        _no_errors_no_requests(cdp.events)
    finally:
        cdp.close()


def _no_errors_no_requests(events):
    errors = [e for e in events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []
    requests = [e["params"]["request"]["url"] for e in events
                if e.get("method") == "Network.requestWillBeSent"]
    assert all(u.startswith("file://") for u in requests), requests


def test_interrupted_run_keeps_the_last_complete_report(interrupted_run):
    """An interrupted run writes NAME-interrupted.html beside each report,
    says so, and leaves the complete run's report as it was; the next
    complete run removes the stale interrupted one."""
    d, complete, err = interrupted_run
    state = d / ".mozparallel"
    assert (state / "report.html").read_bytes() == complete
    assert (d / "mine.html").exists() and (d / "mine-interrupted.html").exists()
    data = json.loads(_data_of((state / "report-interrupted.html").read_text()))
    assert data["interrupted"] == "interrupted by SIGINT"
    assert (data["unfinished"], data["planned"]) == (1, 2)
    assert data["complete_report"] == "report.html"
    assert json.loads(_data_of((d / "mine-interrupted.html").read_text()))["complete_report"] == "mine.html"
    assert "report of the interrupted run: %s" % (state / "report-interrupted.html") in err
    assert "1 of 2 tests did not finish" in err
    ok = paralleltest(["-j", "1", "--report-html", "mine.html", "a_quick.sh", "b_slow.sh"], cwd=str(d))
    assert ok.returncode == 0, ok.stderr
    assert not (state / "report-interrupted.html").exists() and not (d / "mine-interrupted.html").exists()
    assert json.loads(_data_of((state / "report.html").read_text()))["interrupted"] is None


def test_command_line_secrets_masked():
    from mozparallel.redact import redact_argv

    argv = ["paralleltest", "--store", "redis://:pw1@127.0.0.1:6379/0", "--broker=rediss://bob:pw2@h:6380/1",
            "--redis-password", "pw3", "--api-token=pw4", "REDISCLI_AUTH=pw5", "https://pw6@example.org/x",
            "--author", "me", "t/auth.t", "--mozinfo", "os=linux", "redis://127.0.0.1:6379/0"]
    shown = redact_argv(argv)
    assert not any("pw%d" % i in " ".join(shown) for i in range(1, 7)), shown
    assert shown == ["paralleltest", "--store", "redis://:***@127.0.0.1:6379/0", "--broker=rediss://bob:***@h:6380/1",
                     "--redis-password", "***", "--api-token=***", "REDISCLI_AUTH=***", "https://***@example.org/x",
                     "--author", "me", "t/auth.t", "--mozinfo", "os=linux", "redis://127.0.0.1:6379/0"]


def test_history_chart_and_escaping_without_a_run():
    c = ReportCollector()
    c.suite_start({"time": 1000, "extra": {"jobs": 1}})
    c.test_start({"test": "a", "time": 1000})
    c.test_end({"test": "a", "status": "OK", "time": 1500, "extra": {"wall": 0.5, "slot": 1}})
    c.test_start({"test": "old", "time": 1000})
    c.test_end({"test": "old", "status": "OK", "time": 1000,
                "extra": {"wall": 9.0, "slot": 1, "resumed_from": "r0"}})
    c.suite_end({"time": 1600})
    assert c.tests[1]["start"] is None      # --resume: in the table, not on the timeline
    data = c.report_data(history=[{"label": "r1", "wall": 0.7}, {"label": "r2", "wall": 0.6, "current": True}])
    page = render(data)
    assert json.loads(_data_of(page))["history"][1]["wall"] == 0.6
    assert data["tests"][0]["start"] == 0.0 and data["wall"] == 0.6


def test_a_test_whose_start_was_logged_late_is_drawn_from_its_real_start():
    """A test whose test_start was logged after it began (a fleet worker's
    result arrives with its wall time): its bar and the run's wall time go
    from the process's real start (end - wall)."""
    c = ReportCollector()
    c.suite_start({"time": 10000, "extra": {"jobs": 2}})
    c.test_start({"test": "early", "time": 10100})        # adopted 0.3 s after it started
    c.test_start({"test": "later", "time": 10150})
    c.test_end({"test": "later", "status": "OK", "time": 10650, "extra": {"wall": 0.5, "slot": 2}})
    c.test_end({"test": "early", "status": "OK", "time": 11800, "extra": {"wall": 2.0, "slot": 1}})
    c.suite_end({"time": 11810})
    data = c.report_data()
    by = {t["test"]: t for t in data["tests"]}
    assert by["early"]["start"] == 0.0 and by["later"]["start"] == 0.35
    assert data["started"] == 9800 and abs(data["wall"] - 2.01) < 1e-9


def _data_of(page):
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)
    return m.group(1)


def test_report_html_path_checked_before_running(tmp_path):
    write_test(tmp_path, "t.sh", "echo 1..1\necho ok 1\n")
    proc = paralleltest(["--report-html", str(tmp_path / "missing" / "r.html"), str(tmp_path / "t.sh")],
                        cwd=str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--report-html" in proc.stderr and "missing" in proc.stderr
    assert proc.stdout == ""
