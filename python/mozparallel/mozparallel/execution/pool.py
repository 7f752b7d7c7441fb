"""The runner pool: keeps J tests running, reads every line as it arrives,
enforces timeouts, and hands each finished test on as a TestResult.

One thread, one epoll loop over every test's stdout, stderr and pidfd: no
reader threads and no polling. Where the other concerns live:

    framing.py  bytes to complete lines (bounded memory per stream)
    ending.py   the stages of ending a test (SIGTERM, SIGKILL, give up)
    leaks.py    processes a test left behind: attribution, report, end
    kill.py     finding a test's process tree, by pid
    metrics.py  CPU and memory of each test's tree
    oom.py      whether the kernel's OOM killer ended a test (its counters)

A line is handed to the test's parser only once it is complete, so two
tests' output never mixes within a line. Silence is measured on the test's
side of the pipe: before a test is killed for silence, whatever it wrote
meanwhile is read first, so a runner that was itself stopped (Ctrl-Z, a
paused VM) never blames a test for its own pause.
"""

import dataclasses
import errno
import os
import selectors
import signal
import time
from dataclasses import dataclass

from ..contract import ENDED_LEAK, ENDED_MEMORY, ENDED_STOPPED, ENDED_TIMEOUT, TestResult, TestSpec, is_unexpected
from ..protocols import ExitInfo
from ..protocols.base import apply_expected_outcome
from . import ending, kill
from .ending import KILL_SETTLE, Stage
from .framing import READ_SIZE, Framer
from .leaks import Leaks
from .metrics import Sampler
from .oom import OomKills
from .process import TOKEN_VAR, spawn, start_guardian

__all__ = ["Pool", "PoolOptions", "TestSpec"]

_STDOUT, _STDERR, _PIDFD, _WAKEUP, _STRAY = range(5)
# Once a test's main process has exited, what it left behind holding its
# output open gets this long (or the silent --timeout, if longer) before it
# is ended as a leak: waiting for end of file must never hang the run.
EXIT_LINGER = 5.0
# With an on_tick hook (the live terminal view), the loop wakes at least this
# often even when no test prints anything.
TICK_EVERY = 0.1


@dataclass
class PoolOptions:
    jobs: int = 1
    timeout: float | None = None
    max_time: float | None = None
    kill_grace: float = 5.0
    log_subtests: bool = False
    bail: bool = False                  # stop the run at the first Bail out!
    max_failures: int | None = None
    allow_leaks: bool = False
    sample_metrics: bool = True         # psutil samples of each tree (metrics.py)
    # --max-test-memory: a test whose tree's RSS goes over it is ended and
    # run again alone (as one killed by the OOM killer), without the cap.
    max_test_memory: int | None = None
    # Set by a caller that runs many pools under one guardian of its own (a
    # distributed worker: one guardian per worker process, not per test):
    # the pool's tokens start with it and the pool starts no guardian.
    guarded_prefix: str | None = None
    own_pids: tuple = ()                # the caller's own children (its guardian): never leaks


class Running:
    """State of one running test; named fields, no dict of strings."""

    __slots__ = (
        "spec", "proc", "parser", "slot", "token", "started", "started_wall",
        "last_output", "framers", "open_fds", "reaped", "stage",
        "stage_deadline", "end_reason", "end_kind", "unexpected", "pid_text",
        "exited_at", "leaked", "killed", "oom_base",
    )

    def __init__(self, spec, parser, slot, token):
        self.spec = spec
        self.parser = parser
        self.slot = slot
        self.token = token
        self.proc = None
        self.started = self.last_output = time.monotonic()
        self.started_wall = time.time()
        self.framers = {}               # fd -> framing.Framer
        self.open_fds = set()
        self.reaped = None
        self.stage = Stage.RUNNING      # ending.py
        self.stage_deadline = None
        self.end_reason = None
        self.end_kind = None            # contract.ENDED_*, or None (ended on its own)
        self.unexpected = False
        self.pid_text = ""
        self.exited_at = None           # when the main process was reaped
        self.leaked = []                # "pid (command line)" of processes it left
        self.killed = set()             # pids we signalled to end it
        self.oom_base = None            # the OOM kill count before it started (oom.py)


class Pool:
    """Runs the tests a scheduler hands out, ``jobs`` at a time."""

    def __init__(self, events, make_parser, options, env=None, on_result=None, on_tick=None):
        self.events = events
        self.make_parser = make_parser
        self.options = options
        self.base_env = dict(os.environ if env is None else env)
        self.on_result = on_result          # callable(TestResult), after the test_end is logged
        self.on_tick = on_tick              # callable(), after every loop turn, at least every TICK_EVERY s
        self.running = {}                   # main pid -> Running (pid 0: never started)
        self.free_slots = list(range(options.jobs, 0, -1))
        self.sel = selectors.EpollSelector()
        self.unexpected_count = 0
        self.stop_reason = None             # set: start nothing new
        self.stop_hard = False
        self._end_running = None            # set: end the tests running now, then go on (--keep-going)
        self._seq = 0
        self._run_token = "%d-%d" % (os.getpid(), int(time.time() * 1000))
        if options.guarded_prefix:
            self._run_token = options.guarded_prefix + self._run_token
        self._wakeup_r = self._wakeup_w = None
        self.scheduler = None
        self.sampler = Sampler(enabled=options.sample_metrics)
        self.watch = None                   # kill.ChildWatch, from run()
        self.leaks = Leaks(events, self._watch_stray, allow=options.allow_leaks)
        self.guardian = None
        self.finished_ids = set()           # tests that ended on their own (not stopped)
        self.memory_retries = 0             # tests ended for memory and handed back to run alone
        self._test_of_token = {}
        self.oom = None                     # oom.OomKills, from run()

    # -- public ------------------------------------------------------------
    def run(self, scheduler):
        self.scheduler = scheduler
        kill.become_subreaper()
        self.watch = kill.ChildWatch()
        if self.options.guarded_prefix is None:
            self.guardian = start_guardian(self._run_token + "-", self.options.kill_grace)
        if self.guardian is not None:
            self.watch.ignored.add(self.guardian.pid)
        self.watch.ignored.update(self.options.own_pids)
        self.sampler.ignored = self.watch.ignored
        self.oom = OomKills()
        self._wakeup_r, self._wakeup_w = os.pipe()
        os.set_blocking(self._wakeup_r, False)
        os.set_blocking(self._wakeup_w, False)
        self.sel.register(self._wakeup_r, selectors.EVENT_READ, (None, _WAKEUP))
        try:
            self._loop(scheduler)
        finally:
            self._end_all_now()
            if self.guardian is not None:
                self.guardian.done()
            self.watch.close()
            self.sel.unregister(self._wakeup_r)
            os.close(self._wakeup_r)
            os.close(self._wakeup_w)
            self.sel.close()

    def stop(self, reason, hard=False):
        """Start nothing new and end the running tests (graceful unless
        ``hard``). Safe to call from a signal handler."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if hard:
            self.stop_hard = True
        if self._wakeup_w is not None:
            try:
                os.write(self._wakeup_w, b"x")
            except OSError:
                pass

    def end_running(self, reason):
        """End the tests running now (each an unexpected ERROR, not recorded)
        and go on with the rest. Safe to call from a signal handler."""
        self._end_running = reason
        if self._wakeup_w is not None:
            try:
                os.write(self._wakeup_w, b"x")
            except OSError:
                pass

    # -- the loop ----------------------------------------------------------
    def _loop(self, scheduler):
        select = self.sel.select
        while True:
            if self._end_running is not None:
                reason, self._end_running = self._end_running, None
                for r in list(self.running.values()):
                    self._begin_kill(r, ENDED_STOPPED, reason)
            if self.stop_reason is not None:
                self._stop_running()
            else:
                self._fill(scheduler)
            if not self.running and not self.leaks.strays.by_fd:
                break
            timeout = _sooner(self._next_deadline(), self.sampler.next_due())
            if self.on_tick is not None:
                timeout = TICK_EVERY if timeout is None else min(timeout, TICK_EVERY)
            ready = select(timeout)
            if not ready:
                # Timed out -- or the runner itself was stopped while waiting
                # (select returns nothing once its time is up, PEP 475).
                # What the tests wrote meanwhile is read before any of them
                # is judged silent.
                ready = select(0)
            self._handle(ready)
            self._check_deadlines(scheduler)
            sampled = self.sampler.sample_due(time.monotonic(), self.running)
            if sampled and self.options.max_test_memory:
                self._check_memory(sampled)
            self.events.flush()
            if self.on_tick is not None:
                self.on_tick()

    def _handle(self, ready):
        for key, _ in ready:
            r, kind = key.data
            if kind == _STDOUT or kind == _STDERR:
                self._read(r, key.fd, kind)
            elif kind == _PIDFD:
                self._reaped(r)
            elif kind == _STRAY:
                self.sel.unregister(key.fd)
                self.leaks.strays.ended(key.fd)
            else:
                try:
                    os.read(self._wakeup_r, 512)
                except OSError:
                    pass

    def _watch_stray(self, fd):
        self.sel.register(fd, selectors.EVENT_READ, (None, _STRAY))

    def _fill(self, scheduler):
        # Which test may run now (locks, run-sequentially, memory) is the
        # scheduler's business: schedule/locks.py, schedule/gate.py.
        while self.free_slots:
            spec = scheduler.next_test(self.free_slots[-1])
            if spec is None:
                return
            self._start(spec)

    def _start(self, spec):
        slot = self.free_slots.pop()
        self._seq += 1
        token = "%s-%d" % (self._run_token, self._seq)
        self._test_of_token[token] = spec.id
        parser = self.make_parser(spec)
        r = Running(spec, parser, slot, token)
        r.oom_base = self.oom.baseline(r.started) if self.oom is not None else None
        self.events.emit({"action": "test_start", "test": spec.id, "thread": "slot-%d" % slot})
        env = self.base_env
        if spec.env:
            env = dict(env)
            env.update(spec.env)
        else:
            env = dict(env)
        env[TOKEN_VAR] = token
        try:
            r.proc = spawn(spec.argv, cwd=spec.cwd, env=env)
        except (OSError, ValueError, subprocess_error()) as e:
            self._finish(r, ExitInfo(returncode=None, spawn_error=_os_error_text(e, spec.argv)))
            return
        self._watch(r)

    def _watch(self, r):
        """Read a started test's output and watch for its end."""
        r.pid_text = str(r.proc.pid)
        register = self.sel.register
        register(r.proc.stdout_fd, selectors.EVENT_READ, (r, _STDOUT))
        register(r.proc.stderr_fd, selectors.EVENT_READ, (r, _STDERR))
        register(r.proc.pidfd, selectors.EVENT_READ, (r, _PIDFD))
        r.open_fds.update((r.proc.stdout_fd, r.proc.stderr_fd))
        self.running[r.proc.pid] = r
        self.sampler.start(r.token, r.proc.pid, r.started)

    def _read(self, r, fd, kind):
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        r.last_output = time.monotonic()
        if not data:
            self._eof(r, fd, kind)
            return
        framer = r.framers.get(fd)
        if framer is None:
            framer = r.framers[fd] = Framer()
        lines = framer.feed(data)
        if not lines:
            return
        if kind == _STDOUT:
            self._feed(r, lines)
        else:
            self._stderr(r, lines)

    def _feed(self, r, lines):
        evs = r.parser.feed_lines(lines)
        if evs:
            self._deliver(r, evs)

    def _stderr(self, r, lines):
        emit = self.events.emit
        process = r.pid_text + " stderr"
        test = r.spec.id
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            emit({"action": "process_output", "process": process, "data": line, "test": test})

    def _deliver(self, r, evs):
        for ev in evs:
            if ev["action"] == "process_output":
                ev["process"] = r.pid_text
            elif "expected" in ev and is_unexpected(ev):
                r.unexpected = True
        self.events.emit_many(evs)

    def _eof(self, r, fd, kind):
        framer = r.framers.pop(fd, None)
        tail = framer.end() if framer is not None else ""
        if tail:
            if kind == _STDOUT:
                self._feed(r, [tail])
            else:
                self._stderr(r, [tail])
        self.sel.unregister(fd)
        r.proc.close_pipe(fd)
        r.open_fds.discard(fd)
        if r.reaped is not None and not r.open_fds:
            self._complete(r)

    def _reaped(self, r):
        reaped = r.proc.reap()
        if reaped is None:
            return
        r.reaped = reaped
        self.sel.unregister(r.proc.pidfd)
        r.proc.close_pidfd()
        if not r.open_fds:
            self._complete(r)
        else:
            r.exited_at = time.monotonic()

    # -- time --------------------------------------------------------------
    def _limits(self, r):
        spec, opts = r.spec, self.options
        timeout = spec.timeout if spec.timeout is not None else opts.timeout
        max_time = spec.max_time if spec.max_time is not None else opts.max_time
        return timeout, max_time

    def _next_deadline(self):
        now = time.monotonic()
        soonest = None
        for r in self.running.values():
            if r.stage:
                d = r.stage_deadline
            else:
                timeout, max_time = self._limits(r)
                d = r.last_output + timeout if timeout else None
                if r.exited_at is not None:     # what it left is waited for, not its run time
                    d2 = r.exited_at + max(EXIT_LINGER, timeout or 0)
                    d = d2 if d is None else min(d, d2)
                elif max_time:
                    d2 = r.started + max_time
                    d = d2 if d is None else min(d, d2)
            if d is not None and (soonest is None or d < soonest):
                soonest = d
        if self.leaks.strays.by_fd:
            d = self.leaks.strays.next_deadline()
            if soonest is None or d < soonest:
                soonest = d
        if soonest is None:
            return None
        return max(0.0, soonest - now)

    def _check_deadlines(self, scheduler):
        now = time.monotonic()
        for r in list(self.running.values()):
            if r.stage:
                if now >= r.stage_deadline:
                    self._escalate(r, now)
                continue
            timeout, max_time = self._limits(r)
            if timeout and now - r.last_output >= timeout:
                self._begin_kill(r, ENDED_TIMEOUT, "no output for %gs; killed with its process tree" % timeout)
            elif r.exited_at is not None:
                # Its main process has exited, in time: --max-time judges a
                # test while it runs (what arrived while the runner itself
                # was paused is read before this). What it left holding its
                # output gets EXIT_LINGER.
                if now - r.exited_at >= max(EXIT_LINGER, timeout or 0):
                    self._begin_kill(r, ENDED_LEAK, "exited, but processes it left kept its output open for %gs"
                                     % max(EXIT_LINGER, timeout or 0))
            elif max_time and now - r.started >= max_time:
                self._begin_kill(r, ENDED_TIMEOUT, "ran longer than --max-time %gs; killed with its process tree" % max_time)
        if self.leaks.strays.by_fd:
            for fd in self.leaks.strays.due(now, KILL_SETTLE):
                self.sel.unregister(fd)

    def _check_memory(self, sampled):
        """End the tests whose tree went over --max-test-memory (not a
        retry: that one runs alone, without the cap)."""
        limit = self.options.max_test_memory
        over = dict(self.sampler.over(sampled, limit))
        if not over:
            return
        for r in list(self.running.values()):
            peak = over.get(r.token)
            if peak is not None and not r.stage and r.spec.memory_retry is None:
                self._begin_kill(r, ENDED_MEMORY, "its processes used %s, over --max-test-memory %s"
                                 % (_mib(peak), _mib(limit)))

    # -- ending tests ------------------------------------------------------
    def _begin_kill(self, r, kind, reason, grace=None):
        if r.stage:
            return
        r.end_kind, r.end_reason = kind, reason
        grace = self.options.kill_grace if grace is None else grace
        pids = self._tree(r)
        if r.reaped is not None and pids:
            # The main process has exited: whatever is left is a leak.
            r.leaked = self.leaks.report(r.spec.id, pids)
        ending.begin(r, pids, grace, time.monotonic())

    def _escalate(self, r, now):
        if ending.escalate(r, self._tree(r), now):
            return
        # Still not closed after SIGKILL: give up on the pipes, keep the result.
        for fd in list(r.open_fds):
            self.sel.unregister(fd)
            r.proc.close_pipe(fd)
        r.open_fds.clear()
        if r.reaped is None:
            r.reaped = r.proc.reap()
            if r.proc.pidfd is not None:
                self.sel.unregister(r.proc.pidfd)
                r.proc.close_pidfd()
        self._complete(r)

    def _stop_running(self):
        for r in list(self.running.values()):
            if not r.stage:
                self._begin_kill(r, ENDED_STOPPED, "ended by the runner: " + self.stop_reason,
                                 grace=0 if self.stop_hard else None)
            elif self.stop_hard and r.stage == Stage.TERM_SENT:
                self._escalate(r, time.monotonic())
        if self.stop_hard and self.leaks.strays.by_fd:
            self.leaks.strays.hurry()

    def _tree(self, r):
        """Live pids of ``r``'s test: its main process unless reaped, its
        descendants, and adopted processes carrying its token."""
        return kill.tree_pids(r.proc.pid, r.token, self.watch, self.running,
                              include_main=r.reaped is None)

    def _end_all_now(self):
        """Last resort (an exception in the loop): leave no process behind."""
        for r in list(self.running.values()):
            pids = self._tree(r)
            pids.add(r.proc.pid)
            kill.signal_pids(pids, signal.SIGKILL)
            kill.signal_group(r.proc.pid, signal.SIGKILL)
            try:
                os.waitpid(r.proc.pid, 0)
            except ChildProcessError:
                pass
        self.running.clear()
        for fd in list(self.leaks.strays.by_fd):
            self.sel.unregister(fd)
        self.leaks.strays.kill_all()
        prefix = self._run_token + "-"
        for pid in self.watch.unknown(()):
            if (kill.token_of(pid) or "").startswith(prefix):
                kill.signal_pids(kill.descendants([pid]), signal.SIGKILL)
        kill.reap_adopted(self.watch)

    def _complete(self, r):
        """The process is reaped and its pipes are closed: report it."""
        self.running.pop(r.proc.pid, None)
        reaped = r.reaped
        leaked = r.leaked
        # The one look per test for processes it left: every one of them is
        # now our child (we are a subreaper), so one read of our children
        # list finds them, whatever session or group they moved to. With
        # none, nothing of its tree is alive and there is nothing to sample.
        adopted = self.watch.unknown(self.running)
        if adopted:
            self.sampler.last_look(r.token, self.running)
            grace = 0 if self.stop_hard else self.options.kill_grace
            leaked = leaked + self.leaks.sort_adopted(r, adopted, self.running, self._test_of_token,
                                                      self.watch, grace)
        exit = ExitInfo(returncode=None)
        if reaped is not None:
            if reaped.returncode < 0:
                exit.signal = -reaped.returncode
            else:
                exit.returncode = reaped.returncode
        if r.end_kind is None and reaped is not None and reaped.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL):
            count = self.oom.took(r.oom_base)
            if count is not None:
                r.end_kind = ENDED_MEMORY
                r.end_reason = "killed by the kernel's OOM killer (oom_kill of %s: %d)" % (self.oom.source, count)
        if r.end_kind == ENDED_TIMEOUT:
            exit.timeout = r.end_reason
        elif r.end_kind in (ENDED_STOPPED, ENDED_MEMORY):
            exit.stopped = r.end_reason
        elif leaked and not self.options.allow_leaks:
            why = r.end_reason if r.end_kind == ENDED_LEAK else "left %d process(es) running after it exited" % len(leaked)
            exit.stopped = "%s: %s" % (why, ", ".join(leaked))
        self._finish(r, exit, leaked)

    def _finish(self, r, exit, leaked=()):
        evs = r.parser.finish(exit)
        end = evs[-1]
        if r.spec.expected_outcome:
            apply_expected_outcome(end, r.spec.expected_outcome)
        extra = end.setdefault("extra", {})
        extra.update(self.sampler.finish(r.token, r.reaped))
        wall = time.monotonic() - r.started
        extra["wall"] = round(wall, 6)
        if self.scheduler is not None:
            self.scheduler.finished(r.spec.id, wall)
        extra["slot"] = r.slot
        if leaked:
            extra["leaked"] = list(leaked)
        retry = None
        if r.spec.memory_retry is not None:
            extra["memory_retry"] = dict(r.spec.memory_retry)
        elif r.end_kind == ENDED_MEMORY and self.stop_reason is None:
            retry = self._not_judged(r, end)
        self._deliver(r, evs)
        self.free_slots.append(r.slot)
        if retry is not None:
            # Not a result yet: no on_result, no --max-failures; the
            # scheduler hands it out again once nothing runs.
            self.memory_retries += 1
            self.scheduler.retry_alone(retry)
            return
        if r.unexpected:
            self.unexpected_count += 1
        if r.end_kind != ENDED_STOPPED:
            self.finished_ids.add(r.spec.id)
        if self.on_result is not None:
            self.on_result(TestResult(r.spec, end, r.unexpected, r.started, r.end_kind))
        opts = self.options
        if r.unexpected and opts.max_failures and self.unexpected_count >= opts.max_failures \
                and self.stop_reason is None:
            self.stop("--max-failures %d reached" % opts.max_failures, hard=True)
        if opts.bail and r.parser is not None and r.parser.bailout is not None \
                and self.stop_reason is None:
            self.stop("Bail out! in %s (--bail)" % r.spec.id, hard=True)

    @staticmethod
    def _not_judged(r, end):
        """A test ended for memory is not judged by this attempt: its
        ``test_end`` is logged as it ended but expected (the expectation
        kept in ``extra["memory_retry"]``). Returns the spec of the re-run,
        alone, carrying this attempt's figures."""
        extra = end["extra"]
        first = {"reason": r.end_reason, "status": end["status"], "message": end.get("message") or "",
                 "peak_rss_kb": extra.get("peak_rss_kb"), "wall": extra.get("wall")}
        extra["memory_retry"] = {"expected": end.get("expected", end["status"]), "reason": r.end_reason,
                                 "note": "not judged: run again alone"}
        end["expected"] = end["status"]
        end["message"] = "%s; run again alone" % r.end_reason
        return dataclasses.replace(r.spec, sequential="memory retry", memory_retry=first)


def _sooner(a, b):
    """The earlier of a relative timeout and an absolute monotonic time."""
    if b is None:
        return a
    b = max(0.0, b - time.monotonic())
    return b if a is None else min(a, b)


def _mib(n):
    return "%.0f MiB" % (n / 2.0 ** 20)


def _os_error_text(e, argv):
    """The OS error of a test that could not start, naming what was missing."""
    if not isinstance(e, OSError):
        return str(e)
    name = e.filename or (argv[0] if argv else "")
    text = "%s: %s" % (e.strerror or str(e), name)
    if e.errno == errno.ENOENT and name and os.path.isfile(name):
        interpreter = _shebang(name)
        if interpreter:
            text = "bad interpreter %s (the #! line of %s): %s" % (interpreter, name, e.strerror)
    elif e.errno == errno.ENOEXEC:
        text += " (neither a binary nor a script with a #! line)"
    return text


def _shebang(path):
    try:
        with open(path, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    return first[2:].strip().decode("utf-8", "replace") or None


def subprocess_error():
    import subprocess
    return subprocess.SubprocessError
