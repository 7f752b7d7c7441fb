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
import subprocess
import time

import pytest

from conftest import TOP, paralleltest, write_test

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


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    """A real run of 9 tests (6 pass, 2 unexpected, 1 skipping itself) on 3 workers."""
    d = tmp_path_factory.mktemp("html")
    suite = d / "suite"
    suite.mkdir()
    for i in range(6):
        write_test(suite, "p%d.sh" % i, "sleep 0.%d\necho 1..1\necho ok 1 - fine\n" % (i + 1))
    write_test(suite, "f_fail.sh", "echo 1..2\necho ok 1\necho 'not ok 2 - the answer </script><b>x'\n"
                                   "echo '# got 41, wanted 42'\nexit 1\n")
    write_test(suite, "f_crash.sh", "echo 1..3\necho ok 1\nkill -SEGV $$\n")
    write_test(suite, "s_skip.sh", "echo '1..0 # SKIP not here'\n")
    out = d / "out" / "report.html"
    (d / "out").mkdir()
    proc = paralleltest(["-j", "3", "--report-html", str(out), str(suite)], cwd=str(d))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return d, out


def test_report_written_to_file_and_state_dir_self_contained(report_run):
    d, out = report_run
    page = out.read_text()
    assert os.path.exists(d / ".mozparallel" / "report.html")
    # No address anything could fetch: the only URL is the SVG namespace.
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", page))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "<link" not in page and "src=" not in page
    # The failing test's output, with </script> in it, is data, not markup.
    assert page.count("</script>") == 2


def test_report_in_headless_chromium(report_run, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (tools/install-system-deps.sh installs it)")
    d, out = report_run
    tests = [e for e in json.loads(_data_of(out.read_text()))["tests"]]
    ran = [t for t in tests if t["slot"] is not None]
    assert len(tests) == len(ran) == 9     # the skipping file ran too

    cdp = DevTools(str(tmp_path / "profile"))
    try:
        target = next(t for t in cdp.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        session = cdp.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            cdp.send(domain + ".enable", session=session)
        cdp.send("Page.navigate", session=session, url="file://" + str(out))
        cdp.wait_event("Page.loadEventFired")

        def js(expr):
            res = cdp.send("Runtime.evaluate", session=session, expression=expr, returnByValue=True)
            assert "exceptionDetails" not in res, res
            return res["result"].get("value")

        assert js("document.querySelectorAll('#timeline .bar').length") == len(ran) == 9
        assert js("document.querySelectorAll('#timeline .lane').length") == 3
        assert js("document.querySelectorAll('#timeline .bar.outcome-unexpected').length") == 2
        assert js("document.querySelectorAll('#timeline .bar.outcome-skip').length") == 1
        assert js("document.querySelectorAll('#tests tbody tr').length") == 9
        # Every bar sits in its worker's lane and inside the timeline.
        geometry = js("""Array.from(document.querySelectorAll('#timeline .bar')).map(b => {
            const r = b.getBoundingClientRect(), t = b.parentElement.getBoundingClientRect();
            return [r.left >= t.left - 1, r.right <= t.right + 1, r.width > 0];})""")
        assert all(all(g) for g in geometry), geometry
        # Click the failing test's bar: its numbers and output show.
        detail = js("""(() => { const bars = Array.from(document.querySelectorAll('#timeline .bar'));
            const bar = bars.find(b => b.getAttribute('aria-label').endsWith('f_fail.sh'));
            bar.click(); return document.getElementById('detail').textContent; })()""")
        assert "f_fail.sh" in detail and "duration" in detail and "peak memory" in detail
        assert "not ok 2 - the answer </script><b>x" in detail or "the answer </script><b>x" in detail
        assert "got 41, wanted 42" in detail
        # Sort by CPU, largest first, by clicking its header.
        cpus = js("""(() => { document.querySelector('#tests th[data-key="cpu"]').click();
            return Array.from(document.querySelectorAll('#tests tbody tr td:nth-child(4)'))
                        .map(td => td.textContent); })()""")
        numbers = [float(c) for c in cpus if c != "-"]
        assert numbers == sorted(numbers, reverse=True) and len(numbers) == 9
        shot = cdp.send("Page.captureScreenshot", session=session, format="png", captureBeyondViewport=True)
        os.makedirs(ARTIFACTS, exist_ok=True)
        png = base64.b64decode(shot["data"])
        with open(os.path.join(ARTIFACTS, "html-report.png"), "wb") as f:
            f.write(png)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
    finally:
        cdp.close()

    errors = [e for e in cdp.events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []
    requests = [e["params"]["request"]["url"] for e in cdp.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert all(u.startswith("file://") for u in requests), requests


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
