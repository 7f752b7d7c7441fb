"""Head start: a run's first tests start before the runner is fully up.

Before the pool can start a test, the runner imports mozlog and itself,
reads the manifests, mozinfo and the history, and decides J: about 0.15 s
of Python on this machine, during which every slot is idle -- 2% of a
suite that takes 8 s, on every run. So a run of ``paralleltest`` that ends
normally writes down, in its state directory (``head-start.json``), the
tests that the next run of the same command would start first: the J
longest by this run's measurements (or the first J of a fixed order), each
with its exact command, directory and environment, plus a fingerprint of
what the choice came from (the command line, working directory,
environment, machine, and the size and mtime of the test arguments and
manifests).

The next run reads that file first thing, before importing anything heavy.
When everything still matches, it starts the run's guardian and those
tests at once (this module imports only the standard library and
``process.py``), then comes up as usual. Its pool adopts each of them only
if the run's own plan has that test with exactly the same command,
directory and environment; anything else is killed (its whole session, and
the guardian ends whatever left it) and logged as a warning. A stale file
can therefore cost a wrongly started test, never a wrong result. The time
a test spent before adoption counts in its wall time and its timeouts; its
``test_start`` is logged when the runner adopts it, after ``suite_start``.

Not used under mach (mach's own start-up comes first), with ``--broker``,
``--resume``, ``--verify``, ``--repeat``, ``--run-until-failure``, an
unseeded ``--schedule shuffle``, a Redis store or ``--store none``, nor for
``run-sequentially`` tests; ``--no-head-start`` turns it off.
"""

import json
import os
import signal
import subprocess
import sys
import time

from .process import TOKEN_VAR, become_subreaper, spawn, start_guardian

FILENAME = "head-start.json"
DISABLE = "--no-head-start"
FORMAT = 1
KEEP = 8                # commands remembered per state directory
BUDGET_SHARE = 0.95     # as schedule/gate.py: the share of available memory tests may use


def state_dir_from_argv(argv, environ):
    """The state directory (``<objdir>/.mozparallel``) from the raw command
    line, as ``store.state_dir`` finds it once options are parsed; run.py
    checks that the two agree before using or saving anything."""
    objdir = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--objdir" and i + 1 < len(argv):
            objdir = argv[i + 1]
        elif arg.startswith("--objdir="):
            objdir = arg[len("--objdir="):]
    base = objdir or environ.get("MOZ_OBJDIR") or os.getcwd()
    return os.path.join(os.path.abspath(base), ".mozparallel")


def begin(argv, environ=None):
    """Read the saved head start of this command and start its tests; the
    HeadStart returned also saves the next one. None when turned off."""
    argv = list(argv)
    if DISABLE in argv:
        return None
    environ = dict(os.environ if environ is None else environ)
    environ.pop(TOKEN_VAR, None)
    head = HeadStart(argv, environ, state_dir_from_argv(argv, environ))
    entry = head.saved_entry()
    if entry is not None and _inputs_unchanged(entry.get("inputs") or ()) and _memory_fits(entry):
        head.start(entry)
    return head


class Prespawned:
    """A test started by the head start, waiting for the pool to adopt it."""

    __slots__ = ("id", "argv", "cwd", "env", "token", "seq", "proc", "started", "started_wall")

    def __init__(self, test, token, seq, proc, started, started_wall):
        self.id = test["id"]
        self.argv = test["argv"]
        self.cwd = test.get("cwd")
        self.env = test.get("env") or None
        self.token = token
        self.seq = seq
        self.proc = proc
        self.started = started              # time.monotonic() just before the spawn
        self.started_wall = started_wall

    def matches(self, spec):
        """Whether ``spec`` (a TestSpec of this run) is exactly this command."""
        return (spec.id == self.id and list(spec.argv) == self.argv and spec.cwd == self.cwd
                and (spec.env or None) == self.env)


class HeadStart:
    def __init__(self, argv, environ, state_dir):
        self.argv = argv
        self.environ = environ              # the environment as the run began (no test token)
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, FILENAME)
        self.run_token = None               # set when tests were started
        self.guardian = None
        self.waiting = []                   # Prespawned, until the pool takes them
        self.last_seq = 0                   # the pool's tokens go on from here

    # -- this run ------------------------------------------------------------
    def saved_entry(self):
        key = self._key()
        for entry in self._read():
            if all(entry.get(k) == v for k, v in key.items()):
                return entry if _well_formed(entry) else None
        return None

    def start(self, entry):
        """Start the guardian, then the saved tests (a test that cannot be
        started is left to the pool, which reports why)."""
        become_subreaper()
        token = "%d-%d" % (os.getpid(), int(time.time() * 1000))
        guardian = start_guardian(token + "-", float(entry.get("kill_grace", 5.0)))
        if guardian is None:
            return
        self.run_token, self.guardian = token, guardian
        for seq, test in enumerate(entry.get("tests") or (), 1):
            env = dict(self.environ)
            env.update(test.get("env") or {})
            env[TOKEN_VAR] = "%s-%d" % (token, seq)
            started, started_wall = time.monotonic(), time.time()
            try:
                proc = spawn(test["argv"], cwd=test.get("cwd"), env=env)
            except (OSError, ValueError, subprocess.SubprocessError):
                continue
            self.waiting.append(Prespawned(test, env[TOKEN_VAR], seq, proc, started, started_wall))
        self.last_seq = len(entry.get("tests") or ())

    def take(self):
        """The started tests, for the pool to adopt (once)."""
        waiting, self.waiting = self.waiting, []
        return waiting

    def kill(self, pre):
        """End a started test the run will not adopt: its whole session now
        (the guardian ends anything that left it when the runner exits)."""
        try:
            os.killpg(pre.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            pre.proc.popen.wait()
        except OSError:
            pass
        for stream in (pre.proc.popen.stdout, pre.proc.popen.stderr):
            if stream is not None:
                stream.close()
        pre.proc.close_pidfd()

    def abandon(self):
        """The run ended before its pool took the started tests (an error,
        Ctrl-C during start-up): kill them. The guardian is not told the run
        is done, so on exit it ends what escaped their sessions."""
        for pre in self.take():
            self.kill(pre)

    # -- the next run --------------------------------------------------------
    def save_next(self, tests, inputs, jobs, kill_grace, memory=0, max_memory=None):
        """Write down what the next run of this command starts first.
        ``tests``: dicts with id, argv, cwd, env in order; ``inputs``: the
        files whose change makes the choice stale."""
        entry = dict(self._key())
        entry.update({
            "inputs": [_stat(p) for p in sorted(set(inputs))],
            "kill_grace": kill_grace,
            "memory": int(memory or 0),
            "max_memory": max_memory,
            "jobs": jobs,
            "tests": list(tests),
        })
        key = self._key()
        kept = [e for e in self._read() if not all(e.get(k) == v for k, v in key.items())]
        data = {"format": FORMAT, "entries": [entry] + kept[:KEEP - 1]}
        os.makedirs(self.state_dir, exist_ok=True)
        tmp = "%s.%d.tmp" % (self.path, os.getpid())
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, self.path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    # -- helpers -------------------------------------------------------------
    def _key(self):
        return {"argv": self.argv, "cwd": os.getcwd(), "env": self.environ,
                "host": list(os.uname()), "python": sys.executable}

    def _read(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return []
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return []
        return [e for e in data.get("entries") or () if isinstance(e, dict)]


def next_first(specs, planned, walls, by_duration, jobs):
    """The specs the next run of this command starts first: with the
    ``history`` policy the ``jobs`` longest (``walls``: id -> seconds, this
    run's measurements), as its LongestFirst will order them; else the first
    ``jobs`` of ``planned`` (ids in this run's fixed order). Stops before a
    run-sequentially test (it runs alone, never at the start beside others)."""
    by_id = {s.id: s for s in specs}
    if by_duration:
        order = sorted(specs, key=lambda s: (walls.get(s.id) is not None, -(walls.get(s.id) or 0.0),
                                             s.path or s.id, s.id))
    else:
        order = [by_id[t] for t in planned if t in by_id]
    first = []
    for spec in order[:jobs]:
        if spec.sequential:
            break
        first.append(spec)
    return first


def as_saved(spec):
    return {"id": spec.id, "argv": list(spec.argv), "cwd": spec.cwd, "env": spec.env or None}


def _well_formed(entry):
    """The parts of a saved entry the head start uses have their types (a
    file edited by hand or by another version is ignored, never a crash)."""
    def strings(value):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    def number(value, optional=False):
        return (optional and value is None) or (isinstance(value, (int, float)) and not isinstance(value, bool))

    tests = entry.get("tests")
    if not isinstance(tests, list) or not number(entry.get("kill_grace")) \
            or not number(entry.get("memory")) or not number(entry.get("max_memory"), optional=True):
        return False
    for test in tests:
        if not isinstance(test, dict) or not isinstance(test.get("id"), str) \
                or not strings(test.get("argv")) or not test["argv"] \
                or not (test.get("cwd") is None or isinstance(test.get("cwd"), str)):
            return False
        env = test.get("env")
        if env is not None and not (isinstance(env, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
            return False
    return True


def _stat(path):
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, st.st_mtime_ns, st.st_size]


def _inputs_unchanged(inputs):
    return all(isinstance(i, list) and len(i) == 3 and _stat(i[0]) == i for i in inputs)


def _memory_fits(entry):
    """The saved tests' recorded peak memory fits what is available now
    (or --max-memory), as the run's memory gate would require."""
    need = entry.get("memory") or 0
    if not need:
        return True
    budget = entry.get("max_memory")
    if not budget:
        available = _available_memory()
        if available is None:
            return False
        budget = available * BUDGET_SHARE
    return need <= budget


def _available_memory():
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
