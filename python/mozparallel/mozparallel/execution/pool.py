"""The runner pool: keeps J tests running, reads every line as it arrives,
enforces timeouts, and reports through the run's ``EventLog``.

One thread, one epoll loop over every test's stdout, stderr and pidfd: no
reader threads and no polling. A line is handed to the test's parser only
once it is complete, so two tests' output never mixes within a line. The
pool decides when silence means "kill"; ``kill.py`` knows how.
"""

import codecs
import errno
import os
import selectors
import signal
import time
from dataclasses import dataclass

from ..contract import ENDED_LEAK, ENDED_STOPPED, ENDED_TIMEOUT, TestResult, TestSpec, is_unexpected
from ..protocols import ExitInfo
from ..protocols.base import apply_expected_outcome
from . import kill
from .metrics import Sampler
from .process import TOKEN_VAR, spawn, start_guardian

READ_SIZE = 1 << 16
_STDOUT, _STDERR, _PIDFD, _WAKEUP, _STRAY = range(5)
# A line is held until it ends, as a list of the pieces read (joined once,
# so a long line costs linear time); one longer than about MAX_LINE (a test
# printing 100 MB without a newline) is handed on in pieces of that size.
MAX_LINE = 8 << 20
MAX_LINE_PIECES = MAX_LINE // READ_SIZE
# Once a test's main process has exited, what it left behind holding its
# output open gets this long (or the silent --timeout, if longer) before it
# is ended as a leak: waiting for end of file must never hang the run.
EXIT_LINGER = 5.0
# After SIGKILL, how long to wait for the pipes to close before giving up on
# them (a process we could not see still holds them).
KILL_SETTLE = 5.0
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
    # Set by a caller that runs many pools under one guardian of its own (a
    # distributed worker: one guardian per worker process, not per test):
    # the pool's tokens start with it and the pool starts no guardian.
    guarded_prefix: str | None = None
    own_pids: tuple = ()                # the caller's own children (its guardian): never leaks


class Running:
    """State of one running test; named fields, no dict of strings."""

    __slots__ = (
        "spec", "proc", "parser", "slot", "token", "started", "started_wall",
        "last_output", "bufs", "decoders", "open_fds", "reaped", "kill_stage",
        "kill_deadline", "end_reason", "end_kind", "unexpected", "pid_text",
        "stderr_text", "exited_at", "leaked", "killed",
    )

    def __init__(self, spec, parser, slot, token):
        self.spec = spec
        self.parser = parser
        self.slot = slot
        self.token = token
        self.proc = None
        self.started = self.last_output = time.monotonic()
        self.started_wall = time.time()
        self.bufs = {}
        self.decoders = {}
        self.open_fds = set()
        self.reaped = None
        self.kill_stage = 0
        self.kill_deadline = None
        self.end_reason = None
        self.end_kind = None            # contract.ENDED_*, or None (ended on its own)
        self.unexpected = False
        self.pid_text = ""
        self.stderr_text = ""
        self.exited_at = None           # when the main process was reaped
        self.leaked = []                # "pid (command line)" of processes it left
        self.killed = set()             # pids we signalled to end it


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
        self._held = None                   # a run-sequentially test waiting for quiet
        self._seq = 0
        self._run_token = "%d-%d" % (os.getpid(), int(time.time() * 1000))
        if options.guarded_prefix:
            self._run_token = options.guarded_prefix + self._run_token
        self._wakeup_r = self._wakeup_w = None
        self.scheduler = None
        self.sampler = Sampler(enabled=options.sample_metrics)
        self.watch = None                   # kill.ChildWatch, from run()
        self.strays = kill.Strays()         # leaked processes being ended
        self.guardian = None
        self.finished_ids = set()           # tests that ended on their own (not stopped)
        self._test_of_token = {}

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

    # -- the loop ----------------------------------------------------------
    def _loop(self, scheduler):
        select = self.sel.select
        while True:
            if self.stop_reason is not None:
                self._stop_running()
            else:
                self._fill(scheduler)
            if not self.running and not self.strays.by_fd:
                break
            timeout = _sooner(self._next_deadline(), self.sampler.next_due())
            if self.on_tick is not None:
                timeout = TICK_EVERY if timeout is None else min(timeout, TICK_EVERY)
            for key, _ in select(timeout):
                r, kind = key.data
                if kind == _STDOUT or kind == _STDERR:
                    self._read(r, key.fd, kind)
                elif kind == _PIDFD:
                    self._reaped(r)
                elif kind == _STRAY:
                    self.sel.unregister(key.fd)
                    self.strays.ended(key.fd)
                else:
                    try:
                        os.read(self._wakeup_r, 512)
                    except OSError:
                        pass
            self._check_deadlines(scheduler)
            self.sampler.sample_due(time.monotonic(), self.running)
            self.events.flush()
            if self.on_tick is not None:
                self.on_tick()

    def _fill(self, scheduler):
        while self.free_slots:
            if self._held is not None:
                if self.running:
                    return
                spec, self._held = self._held, None
            else:
                if any(r.spec.sequential for r in self.running.values()):
                    return
                spec = scheduler.next_test(self.free_slots[-1])
                if spec is None:
                    return
                if spec.sequential and self.running:
                    self._held = spec
                    return
            self._start(spec)
            if spec.sequential:
                return

    def _start(self, spec):
        slot = self.free_slots.pop()
        self._seq += 1
        token = "%s-%d" % (self._run_token, self._seq)
        self._test_of_token[token] = spec.id
        parser = self.make_parser(spec)
        r = Running(spec, parser, slot, token)
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
        decoder = r.decoders.get(fd)
        if decoder is None:
            decoder = r.decoders[fd] = codecs.getincrementaldecoder("utf-8")("replace")
        text = decoder.decode(data)
        pending = r.bufs.get(fd)        # pieces of an unfinished line, joined once it ends
        if "\n" not in text:
            if pending is None:
                r.bufs[fd] = [text]
                return
            pending.append(text)
            if len(pending) < MAX_LINE_PIECES:
                return
            lines = ["".join(pending)]
            r.bufs[fd] = None
        else:
            if pending is not None:
                pending.append(text)
                text = "".join(pending)
            lines = text.split("\n")
            rest = lines.pop()
            r.bufs[fd] = [rest] if rest else None
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
        decoder = r.decoders.get(fd)
        tail = "".join(r.bufs.pop(fd, None) or ()) + (decoder.decode(b"", True) if decoder else "")
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
            if r.kill_stage:
                d = r.kill_deadline
            else:
                timeout, max_time = self._limits(r)
                d = None
                if timeout:
                    d = r.last_output + timeout
                if max_time:
                    d2 = r.started + max_time
                    d = d2 if d is None else min(d, d2)
                if r.exited_at is not None:
                    d2 = r.exited_at + max(EXIT_LINGER, timeout or 0)
                    d = d2 if d is None else min(d, d2)
            if d is not None and (soonest is None or d < soonest):
                soonest = d
        if self.strays.by_fd:
            d = self.strays.next_deadline()
            if soonest is None or d < soonest:
                soonest = d
        if soonest is None:
            return None
        return max(0.0, soonest - now)

    def _check_deadlines(self, scheduler):
        now = time.monotonic()
        for r in list(self.running.values()):
            if r.kill_stage:
                if now >= r.kill_deadline:
                    self._escalate(r, now)
                continue
            timeout, max_time = self._limits(r)
            if timeout and now - r.last_output >= timeout:
                self._begin_kill(r, ENDED_TIMEOUT, "no output for %gs; killed with its process tree" % timeout)
            elif max_time and now - r.started >= max_time:
                self._begin_kill(r, ENDED_TIMEOUT, "ran longer than --max-time %gs; killed with its process tree" % max_time)
            elif r.exited_at is not None and now - r.exited_at >= max(EXIT_LINGER, timeout or 0):
                self._begin_kill(r, ENDED_LEAK, "exited, but processes it left kept its output open for %gs"
                                 % max(EXIT_LINGER, timeout or 0))
        if self.strays.by_fd:
            for fd in self.strays.due(now, KILL_SETTLE):
                self.sel.unregister(fd)

    # -- ending tests ------------------------------------------------------
    def _begin_kill(self, r, kind, reason, grace=None):
        if r.kill_stage:
            return
        r.end_kind, r.end_reason = kind, reason
        grace = self.options.kill_grace if grace is None else grace
        pids = self._tree(r)
        r.killed |= pids
        if r.reaped is not None and pids:
            # The main process has exited: whatever is left is a leak.
            r.leaked = self._report_leaks(r.spec.id, pids)
        if grace > 0:
            kill.signal_pids(pids, signal.SIGTERM)
            kill.signal_group(r.proc.pid, signal.SIGTERM)
            r.kill_stage = 1
            r.kill_deadline = time.monotonic() + grace
        else:
            kill.signal_pids(pids, signal.SIGKILL)
            kill.signal_group(r.proc.pid, signal.SIGKILL)
            r.kill_stage = 2
            r.kill_deadline = time.monotonic() + KILL_SETTLE

    def _escalate(self, r, now):
        if r.kill_stage == 1:
            pids = self._tree(r)
            r.killed |= pids
            kill.signal_pids(pids, signal.SIGKILL)
            kill.signal_group(r.proc.pid, signal.SIGKILL)
            r.kill_stage = 2
            r.kill_deadline = now + KILL_SETTLE
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
            if not r.kill_stage:
                self._begin_kill(r, ENDED_STOPPED, "ended by the runner: " + self.stop_reason,
                                 grace=0 if self.stop_hard else None)
            elif self.stop_hard and r.kill_stage == 1:
                self._escalate(r, time.monotonic())
        if self.stop_hard and self.strays.by_fd:
            self.strays.hurry()

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
        for fd in list(self.strays.by_fd):
            self.sel.unregister(fd)
        self.strays.kill_all()
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
            leaked = leaked + self._adopted_leaks(r, adopted)
        exit = ExitInfo(returncode=None)
        if reaped is not None:
            if reaped.returncode < 0:
                exit.signal = -reaped.returncode
            else:
                exit.returncode = reaped.returncode
        if r.end_kind == ENDED_TIMEOUT:
            exit.timeout = r.end_reason
        elif r.end_kind == ENDED_STOPPED:
            exit.stopped = r.end_reason
        elif leaked and not self.options.allow_leaks:
            why = r.end_reason if r.end_kind == ENDED_LEAK else "left %d process(es) running after it exited" % len(leaked)
            exit.stopped = "%s: %s" % (why, ", ".join(leaked))
        self._finish(r, exit, leaked)

    def _adopted_leaks(self, r, adopted):
        """Sort the runner's unexpected children: zombies are reaped,
        those of tests still running are left to them, the runner's own
        are ignored from now on, and the rest, with their descendants, are
        reported and ended. Returns what ``r`` leaked."""
        running_tokens = {x.token for x in self.running.values()}
        my_session = os.getsid(0)
        mine, earlier, dying = [], {}, []
        for pid in adopted:
            if kill.is_zombie(pid):
                kill.reap(pid)
                continue
            if pid in r.killed:
                dying.append(pid)   # killed with the test and on its way out
                continue
            owner = kill.token_of(pid)
            if owner is None:
                sid = kill.session_of(pid)
                if sid is None:
                    continue
                if sid == my_session:
                    self.watch.ignored.add(pid)     # started by the runner itself
                    continue
                owner = next((x.token for x in self.running.values() if x.proc.pid == sid), r.token)
            if owner in running_tokens:
                continue
            if owner == r.token or owner not in self._test_of_token:
                mine.append(pid)
            else:
                earlier.setdefault(self._test_of_token[owner], []).append(pid)
        if dying:
            for fd in self.strays.add(dying, time.monotonic() + KILL_SETTLE, signal.SIGKILL):
                self.sel.register(fd, selectors.EVENT_READ, (None, _STRAY))
        for test, roots in sorted(earlier.items()):
            pids = kill.descendants(roots)
            self._report_leaks(test, pids, late=True)
            self._end_strays(pids)
        if not mine:
            return []
        pids = kill.descendants(mine)
        described = self._report_leaks(r.spec.id, pids)
        self._end_strays(pids)
        return described

    def _report_leaks(self, test, pids, late=False):
        """The mozlog ``log`` naming each leaked pid and command line."""
        described = ["%d (%s)" % (pid, kill.cmdline(pid)) for pid in sorted(pids)]
        if described:
            self.events.emit({
                "action": "log", "level": "WARNING" if self.options.allow_leaks else "ERROR",
                "message": "%s leaked %d process(es)%s: %s" % (
                    test, len(described), " (found after its result)" if late else "",
                    ", ".join(described)),
            })
        return described

    def _end_strays(self, pids):
        """SIGTERM now, SIGKILL after --kill-grace (kill.Strays)."""
        grace = self.options.kill_grace if not self.stop_hard else 0
        for fd in self.strays.add(pids, time.monotonic() + grace):
            self.sel.register(fd, selectors.EVENT_READ, (None, _STRAY))

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
        self._deliver(r, evs)
        self.free_slots.append(r.slot)
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
        if opts.bail and r.parser is not None and getattr(r.parser, "bailout", None) is not None \
                and self.stop_reason is None:
            self.stop("Bail out! in %s (--bail)" % r.spec.id, hard=True)


def _sooner(a, b):
    """The earlier of a relative timeout and an absolute monotonic time."""
    if b is None:
        return a
    b = max(0.0, b - time.monotonic())
    return b if a is None else min(a, b)


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
