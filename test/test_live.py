"""reporting/live.py and reporting/eta.py: the mach reporter driven in a
real pseudo-terminal (footer appears, updates, is gone at the end), the same
run without a terminal (no control characters, progress lines), -v and
--show-output, and the ETA arithmetic."""

import fcntl
import json
import io
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

from mozlog.structuredlog import log_actions

from conftest import VENV_PYTHON, paralleltest, write_python_test, write_test

from mozparallel.bench.eta import probe_run
from mozparallel.reporting.eta import RunEstimate, format_seconds, remaining_makespan
from mozparallel.reporting.html import ReportCollector
from mozparallel.reporting.live import LiveOptions, LiveReporter

FOOTER_HEAD = re.compile(r"^(\d+)/(\d+) done: .* \| (\d+) running \| .* elapsed \| ETA \S+$")
RUNNING_LINE = re.compile(r"^\s+(\d+\.\d+)s\s+(\S+)$")


class Screen:
    """Just enough of a terminal for our output: text, CR, LF, cursor up
    (CSI n A), erase below (CSI J); colours and private modes are ignored.
    Any other control sequence fails the test."""

    def __init__(self):
        self.lines = [""]
        self.row = self.col = 0

    def feed(self, text):
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\x1b":
                m = re.match(r"\x1b\[(\??)([0-9;]*)([A-Za-z])", text[i:])
                assert m, "unknown escape %r" % text[i:i + 12]
                private, arg, cmd = m.groups()
                if cmd == "A" and not private:
                    self.row = max(0, self.row - int(arg or 1))
                elif cmd == "J" and not private:
                    del self.lines[self.row + 1:]
                    self.lines[self.row] = self.lines[self.row][:self.col]
                elif cmd == "m" or (private and cmd in "hl"):
                    pass
                else:
                    raise AssertionError("unexpected sequence %r" % m.group(0))
                i += len(m.group(0))
                continue
            if c == "\r":
                self.col = 0
            elif c == "\n":
                self.row += 1
                self.col = 0
                if self.row == len(self.lines):
                    self.lines.append("")
            else:
                line = self.lines[self.row].ljust(self.col)
                self.lines[self.row] = line[:self.col] + c + line[self.col + 1:]
                self.col += 1
            i += 1

    def text(self):
        return [line.rstrip() for line in self.lines]


def run_in_pty(args, cwd, rows=40, cols=120, timeout=60, env=None):
    """Run paralleltest on a pseudo-terminal; return (output text, exit status)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, TERM="xterm", **(env or {}))
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([VENV_PYTHON, "-m", "mozparallel"] + args, cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:         # EIO: the child side closed
                break
            if not data:
                break
            out += data
        status = proc.wait(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out.decode("utf-8", "replace"), status


def sleepy_suite(directory):
    for name, seconds in (("a_long.sh", 1.4), ("b_long.sh", 1.1), ("c_short.sh", 0.3), ("d_short.sh", 0.4)):
        write_test(directory, name, "sleep %s\necho 1..1\necho ok 1\n" % seconds)
    write_test(directory, "e_fail.sh", "echo 1..1\necho 'not ok 1 - broken'\necho '# diag-line'\n")


def test_footer_appears_updates_and_is_cleared_in_a_pty(tmp_path):
    sleepy_suite(tmp_path)
    out, status = run_in_pty(["-j", "2", "--protocol", "tap", str(tmp_path)], cwd=str(tmp_path))
    assert status == 1, out

    frames = [f for f in out.split("\x1b[?2026h") if f]
    footers = []
    for frame in frames:
        screen_part = frame.split("\x1b[?2026l")[0]
        # The footer is what follows the last line ending in the frame.
        tail = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", line) for line in re.split(r"\n", screen_part)]
        heads = [i for i, line in enumerate(tail) if FOOTER_HEAD.match(line)]
        if heads:
            footers.append(tail[heads[-1]:])
    # It appears, and is redrawn several times a second: a 1.4 s test gives many frames.
    assert len(footers) >= 5, out
    # It updates: some test's running time grows from one frame to a later one.
    seen = {}
    for footer in footers:
        for line in footer[1:]:
            m = RUNNING_LINE.match(line)
            if m:
                seen.setdefault(m.group(2), []).append(float(m.group(1)))
    assert any(max(v) - min(v) >= 0.3 for v in seen.values()), seen
    assert any(m and int(m.group(1)) > 0 for m in (FOOTER_HEAD.match(f[0]) for f in footers))

    screen = Screen()
    screen.feed(out)
    final = screen.text()
    # Cleared at the end: no footer line is left on the screen...
    while final and not final[-1]:
        final.pop()
    assert final[-1].startswith("mozparallel: 5 tests in"), final
    slowest = final.index("Slowest tests:")
    assert not [line for i, line in enumerate(final) if FOOTER_HEAD.match(line)
                or (RUNNING_LINE.match(line) and not slowest < i < len(final) - 1)], final
    # ...and what is left is every result once, the failure's output, the summary.
    results = [line for line in final if re.match(r"^\[\d/5\] ", line)]
    assert len(results) == 5, final
    assert sum("e_fail.sh" in line for line in results) == 1
    assert "    # diag-line" in final
    assert any(line.startswith("Unexpected results: 1") for line in final)
    assert any(line.startswith("mozparallel: 5 tests in") for line in final)


def test_without_a_terminal_no_control_characters_and_progress_lines(tmp_path):
    sleepy_suite(tmp_path)
    write_test(tmp_path, "f_colour.sh", "printf '\\033[31mred\\033[0m\\r\\n'\necho 1..1\necho 'not ok 1'\n")
    proc = paralleltest(["-j", "2", "--protocol", "tap", "--progress-every", "0.3", str(tmp_path)],
                        cwd=str(tmp_path))
    assert proc.returncode == 1
    out = proc.stdout
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), repr(out)
    progress = [line for line in out.splitlines() if line.startswith("progress: ")]
    assert len(progress) >= 2, out
    assert all(" running | " in line and "ETA " in line for line in progress)
    assert "?[31mred?[0m" in out        # the test's own escapes are neutralised
    assert len(re.findall(r"^\[\d/6\] ", out, re.M)) == 6


def test_verbose_streams_whole_lines_prefixed(tmp_path):
    write_python_test(tmp_path, "a_partial.py", """
import sys, time
print("1..1")
for i in range(5):
    sys.stdout.write("alpha-%d-" % i); sys.stdout.flush(); time.sleep(0.03)
    sys.stdout.write("end\\n"); sys.stdout.flush()
print("ok 1 - first")
""")
    write_python_test(tmp_path, "b_chatty.py", """
import sys, time
print("1..1")
for i in range(10):
    print("# beta %d" % i); sys.stdout.flush(); time.sleep(0.01)
print("ok 1 - second")
""")
    proc = paralleltest(["-j", "2", "-v", "--protocol", "tap", str(tmp_path)], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for i in range(5):
        assert "a_partial.py | alpha-%d-end" % i in lines
    for i in range(10):
        assert "b_chatty.py | # beta %d" % i in lines
    assert "a_partial.py | PASS first" in lines        # -v logs every point
    # Nothing printed twice after the end (--show-output is none with -v).
    assert sum("beta 3" in line for line in lines) == 1


def test_show_output(tmp_path):
    write_test(tmp_path, "ok.sh", "echo 1..1\necho '# pass-note'\necho ok 1\n")
    write_test(tmp_path, "bad.sh", "echo 1..1\necho '# fail-note'\necho 'not ok 1'\necho err-line >&2\n")
    def out(*extra):
        return paralleltest(["-j", "2", "--protocol", "tap"] + list(extra) + [str(tmp_path)], cwd=str(tmp_path)).stdout
    default, every, none = out(), out("--show-output", "all"), out("--show-output", "none")
    assert "    # fail-note" in default and "    err-line" in default and "pass-note" not in default
    assert "    # fail-note" in every and "    # pass-note" in every
    assert "note" not in none and "err-line" not in none
    assert "Unexpected results: 1" in none


def test_reporter_alone_summary_and_no_escapes_off_terminal():
    clock = [100.0]
    stream = io.StringIO()
    live = LiveReporter(stream, RunEstimate(2, {"a": 2.0, "b": 1.0, "c": 4.0}, ["a", "b", "c"]),
                        LiveOptions(terminal=False, progress_every=1.0), clock=lambda: clock[0])
    live({"action": "suite_start", "tests": {"default": ["a", "b", "c"]}, "time": 0})
    live({"action": "test_start", "test": "a"})
    live({"action": "test_start", "test": "b"})
    assert live.eta() == 5.0              # b ends at 1, then c (4 s) on that slot
    clock[0] += 1.5
    live.tick()
    assert "progress: 0/3 done" in stream.getvalue() and "ETA 4s" in stream.getvalue()
    live({"action": "test_status", "test": "b", "subtest": "s1", "status": "FAIL", "expected": "PASS",
          "message": "boom"})
    live({"action": "process_output", "test": "b", "data": "noise", "process": "1"})
    live({"action": "test_end", "test": "b", "status": "OK", "extra": {"wall": 1.5}})
    live({"action": "test_end", "test": "a", "status": "OK", "extra": {"wall": 1.6}})
    live({"action": "test_start", "test": "c"})
    live({"action": "test_end", "test": "c", "status": "SKIP", "message": "not today"})
    live.end_of_run()
    live({"action": "suite_end"})
    text = stream.getvalue()
    assert "\x1b" not in text
    assert "[2/3] PASS  a (1.60s)" in text
    assert "[1/3] FAIL  b (1.50s): FAIL s1 - boom" in text
    assert "    noise" in text
    assert "[3/3] SKIP  c: not today" in text
    assert "Unexpected results: 1\n  b  FAIL s1 - boom" in text
    assert "Slowest tests:\n     1.60s  a\n     1.50s  b\n" in text


def test_action_methods_are_mozlog_actions():
    # Dispatch by name silently ignores a misspelt action.
    for cls in (LiveReporter, ReportCollector):
        names = {n for n in vars(cls) if not n.startswith("_")}
        actionish = {n for n in names if n.startswith(("test_", "suite_", "process_")) or n == "log"}
        assert actionish and actionish <= set(log_actions()), (cls, actionish - set(log_actions()))


def test_remaining_makespan():
    assert remaining_makespan([], [], 4) == 0.0
    assert remaining_makespan([2.0, 0.5], [1.0, 1.0, 3.0], 2) == 5.0   # 0.5+1+1 on one, 2+3 on the other
    # LPT order packs better than the list order on the same work.
    assert remaining_makespan([], [1, 1, 1, 3], 2) == 4
    assert remaining_makespan([], [3, 1, 1, 1], 2) == 3


def test_estimate_uses_history_then_this_runs_durations():
    est = RunEstimate(2, {}, ["a", "b", "c", "d"])
    assert est.remaining({}) is None            # nothing known yet
    est.started("a")
    est.started("b")
    est.ended("a", 2.0)
    est.started("c")
    # No history: unknown tests are assumed to take this run's median (2 s).
    assert est.remaining({"b": 1.0, "c": 0.0}) == 3.0
    est = RunEstimate(2, {"a": 1.0, "b": 1.0, "c": 1.0, "d": 5.0}, ["a", "b", "c", "d"])
    est.started("a")
    est.started("b")
    # A test past its expected time is about to end, not negative.
    assert est.remaining({"a": 3.0, "b": 0.5}) == 5.5
    # This run is 20% slower than its history: once 3 known tests have
    # ended, what is left is scaled alike.
    est = RunEstimate(1, {t: 1.0 for t in "abcdef"}, list("abcdef"))
    for t in "abc":
        est.started(t)
        est.ended(t, 1.2)
    assert abs(est.pace() - 1.2) < 1e-9
    assert abs(est.remaining({}) - 3.6) < 1e-9
    assert format_seconds(None) == "--" and format_seconds(75) == "1m15s" and format_seconds(3.4) == "3s"


def test_history_reaches_the_eta_of_the_next_run(tmp_path):
    """The live view's ETA at every tick (bench/eta.py's probe: the real
    code path, only the recording added). A first run knows nothing until a
    test ends; the second has the first one's history: an ETA from its first
    tick, coming down as tests end. (How right it is, on the bench's skewed
    suite: ``python -m mozparallel.bench.eta``.)"""
    for i in range(8):
        os.makedirs(tmp_path / "suite", exist_ok=True)
        write_test(tmp_path / "suite", "t%d.sh" % i, "echo 1..1; sleep 1; echo ok 1\n")
    runs = []
    for n in (1, 2):
        proc, ticks = probe_run(["-j", "4", "suite"], str(tmp_path), str(tmp_path / ("ticks%d.json" % n)),
                                timeout=120)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        runs.append(ticks)
    # Every test known: no "(N of them known)".
    assert re.search(r"^mozparallel: 8 tests, 4 at a time \(-j 4\); about \S+ by history$", proc.stdout, re.M), \
        proc.stdout[-3000:]
    first, second = runs
    assert first[0][1] is None and first[0][2] == 0             # nothing known, nothing done yet
    etas = [eta for _, eta, _ in second[:-1]]
    assert etas and None not in etas
    assert etas[0] > etas[-1]
    assert second[-1][2] == 8


def test_the_schedule_line_is_one_short_line_on_a_terminal_and_the_reasoning_at_v(tmp_path):
    """An 80-column terminal: the run starts with one line that fits (tests,
    J, expected time); the reasoning is in the raw log, and on screen at -v."""
    for i in range(3):
        write_test(tmp_path, "t%d.sh" % i, "echo 1..1\necho ok 1\n")
    raw = tmp_path / "raw.log"
    out, status = run_in_pty(["--store", "none", "--log-raw", str(raw), "."], cwd=str(tmp_path), cols=80)
    assert status == 0, out
    screen = Screen()
    screen.feed(out)
    lines = [line for line in screen.text() if line]
    cores = os.cpu_count()
    jobs = min(cores, 3)
    assert lines[0] == "mozparallel: 3 tests, %d at a time (-j auto)" % jobs, lines
    assert not [line for line in lines if "J=" in line or "jobs on" in line]
    debug = [json.loads(l)["message"] for l in raw.read_text().splitlines() if '"DEBUG"' in l]
    assert [m for m in debug if m.startswith("mozparallel: schedule history; J=%d (-j auto: " % jobs)]
    proc = paralleltest(["--store", "none", "-v", "."], cwd=str(tmp_path))
    reason = "no CPU history for these tests: one per core (%d cores)" % cores
    if cores > 3:
        reason += "; then 3: only 3 tests"
    assert proc.stdout.splitlines()[:2] == [
        "mozparallel: schedule history; J=%d (-j auto: %s)" % (jobs, reason),
        "mozparallel: no history for these tests"], proc.stdout


def test_fleet_runs_name_their_worker_in_the_footer_and_the_result_line():
    """With --broker a test's thread is its worker process ("name/pid"): the
    footer's running tests and the finished line name it; a local slot's
    thread ("slot-N") is not shown."""
    clock = [10.0]
    stream = io.StringIO()
    live = LiveReporter(stream, None, LiveOptions(terminal=True), clock=lambda: clock[0])
    live({"action": "suite_start", "tests": {"default": ["a", "b"]}, "time": 0})
    live({"action": "test_start", "test": "a", "thread": "w1@host/4242"})
    live({"action": "test_start", "test": "b", "thread": "slot-2"})
    clock[0] += 1.0
    footer = live._footer(clock[0])
    assert any(line.endswith("a  on w1@host/4242") for line in footer), footer
    assert any(line.endswith("  b") for line in footer), footer
    live({"action": "test_end", "test": "a", "status": "OK", "extra": {"wall": 1.0, "worker": "w1@host/4242"}})
    live.close()
    assert " a (1.00s) on w1@host/4242\n" in stream.getvalue()
    assert "a" not in live.workers
