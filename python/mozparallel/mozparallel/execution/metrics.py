"""Figures of each test's whole process tree: CPU seconds, peak memory (the
sum of RSS over the tree), and how many processes it started.

The exit accounting of the OS (``wait4`` rusage of the main process) is
exact for the main process and every descendant waited for on the way up,
so it is the base. A psutil sample of the tree, every ``SAMPLE_EVERY``
seconds once a test is ``FIRST_SAMPLE`` old, adds what rusage cannot see:
RSS summed over the tree's processes (rusage only has the largest single
one), the processes seen, and the CPU of descendants that were orphaned
(re-parented to the runner, a subreaper) and so never waited for by the test.
The pool decides when to call; this module only measures.
"""

import os
from dataclasses import dataclass

from .lazy import psutil
from .process import TOKEN_VAR

# Most tests of a big suite end within a few tens of ms; not sampling them
# keeps the cost on ``tiny`` (1000 x 1 ms tests) at the bookkeeping only.
FIRST_SAMPLE = 0.08
SAMPLE_EVERY = 0.2
# Tests due within this much of each other are sampled in the same wakeup.
COALESCE = 0.05
# The runner's peak is re-read at most every 0.1 s; it may have grown a
# little since.
INHERITED_SLACK_KB = 2048


@dataclass
class TreeFigures:
    """What ends up in ``test_end``'s ``extra``."""

    cpu_user: float          # seconds, whole tree
    cpu_system: float
    peak_rss_kb: int | None  # largest sum of RSS over the tree at one time
    maxrss_kb: int           # largest single process (rusage; see figures())
    processes: int           # processes seen (at least the main one)
    samples: int             # samples taken (0: figures come from rusage only)

    def as_extra(self):
        return {
            "cpu_user": round(self.cpu_user, 6),
            "cpu_system": round(self.cpu_system, 6),
            "peak_rss_kb": self.peak_rss_kb,
            "maxrss_kb": self.maxrss_kb,
            "processes": self.processes,
            "samples": self.samples,
        }


class _Seen:
    """The last sample of one process of the tree."""

    __slots__ = ("proc", "detached", "user", "system")

    def __init__(self, proc, detached):
        self.proc = proc
        self.detached = detached    # nobody in the tree will wait for it
        self.user = self.system = 0.0


class TreeMetrics:
    """Samples of one test's tree (main process plus orphans carrying its token)."""

    def __init__(self, main_pid, started, inherited_kb=0):
        self.main_pid = main_pid
        self.inherited_kb = inherited_kb    # the runner's high-water RSS at spawn
        self.next_sample = started + FIRST_SAMPLE
        self.seen = {}              # pid -> _Seen
        self.peak_rss = 0           # bytes
        self.samples = 0

    def sample(self, orphans=()):
        """One look at the tree: the main process and its descendants, plus
        ``orphans`` (pids re-parented to the runner that carry our token)."""
        total_rss = 0
        stack = [(self.main_pid, False)] + [(pid, True) for pid in orphans]
        visited = set()
        while stack:
            pid, detached = stack.pop()
            if pid in visited:
                continue
            visited.add(pid)
            seen = self._lookup(pid, detached)
            if seen is None:
                continue
            seen.detached = detached
            try:
                with seen.proc.oneshot():
                    t = seen.proc.cpu_times()
                    total_rss += seen.proc.memory_info().rss
            except psutil.Error:
                continue
            # A detached process counts with the children it waited for.
            seen.user = t.user + t.children_user
            seen.system = t.system + t.children_system
            stack.extend((child, False) for child in children_of(pid))
        self.samples += 1
        if total_rss > self.peak_rss:
            self.peak_rss = total_rss

    def _lookup(self, pid, detached):
        seen = self.seen.get(pid)
        if seen is not None:
            return seen
        try:
            proc = psutil.Process(pid)
        except psutil.Error:
            return None
        seen = self.seen[pid] = _Seen(proc, detached)
        return seen

    def figures(self, reaped):
        """Combine the samples with the main process's exact rusage
        (``reaped``: process.Reaped, or None when it was never reaped)."""
        user = reaped.user if reaped is not None else 0.0
        system = reaped.system if reaped is not None else 0.0
        for pid, seen in self.seen.items():
            if pid != self.main_pid and seen.detached:
                user += seen.user
                system += seen.system
        maxrss_kb = reaped.maxrss_kb if reaped is not None else 0
        # Linux carries the high-water RSS of the memory a process replaces
        # across exec, so a test's ru_maxrss is at least the runner's own
        # peak at spawn (measured: 22 MB for a 9 MB python test). It says
        # something about the test only when it is above that.
        peak = self.peak_rss // 1024 if self.samples else None
        if maxrss_kb > self.inherited_kb + INHERITED_SLACK_KB:
            peak = max(peak or 0, maxrss_kb)
        return TreeFigures(
            cpu_user=user, cpu_system=system,
            peak_rss_kb=peak,
            maxrss_kb=maxrss_kb,
            processes=max(1, len(self.seen)),
            samples=self.samples,
        )


class Sampler:
    """The pool's one sampler: which tests are due, and their figures at the end."""

    def __init__(self, enabled=True):
        self.enabled = enabled
        self.tests = {}             # key (the test's token) -> TreeMetrics
        self._tokens = {}           # adopted pid -> (psutil.Process, token or None)
        self._me = os.getpid()
        self.ignored = set()        # the runner's own children (its guardian): never a test's
        self._own_peak = (0, -1.0)  # (kB, when read): re-read at most every 0.1 s

    def start(self, key, main_pid, started):
        self.tests[key] = TreeMetrics(main_pid, started, self._inherited(started))

    def _inherited(self, now):
        # Reading /proc/self/status costs ~20 us: more than the rest of the
        # bookkeeping of a test that is never sampled.
        kb, when = self._own_peak
        if now - when > 0.1:
            kb = own_peak_rss_kb()
            self._own_peak = (kb, now)
        return kb

    def next_due(self):
        """Monotonic time of the next sample, or None."""
        if not self.enabled or not self.tests:
            return None
        return min(m.next_sample for m in self.tests.values())

    def sample_due(self, now, main_pids):
        """Sample every test due by ``now`` (give or take COALESCE); the
        (key, TreeMetrics) sampled. ``main_pids``: the running tests' main
        processes (not orphans)."""
        if not self.enabled:
            return ()
        due = [(k, m) for k, m in self.tests.items() if m.next_sample <= now + COALESCE]
        if not due:
            return ()
        orphans = self._orphans_by_token(main_pids)
        for key, m in due:
            m.sample(orphans.get(key, ()))
            m.next_sample = now + SAMPLE_EVERY
        return due

    def over(self, due, limit):
        """Keys among ``due`` (what ``sample_due`` returned) whose tree's
        RSS reached ``limit`` bytes, with that peak."""
        return [(key, m.peak_rss) for key, m in due if m.peak_rss > limit]

    def last_look(self, key, main_pids):
        """Sample once more just before the test's leftovers are killed."""
        m = self.tests.get(key)
        if m is not None and self.enabled and m.samples:
            m.sample(self._orphans_by_token(main_pids).get(key, ()))

    def finish(self, key, reaped):
        """The test's figures for ``extra`` (and forget it)."""
        m = self.tests.pop(key, None)
        if m is None:
            if reaped is None:
                return {}
            m = TreeMetrics(0, 0.0, own_peak_rss_kb())
        return m.figures(reaped).as_extra()

    def _orphans_by_token(self, main_pids):
        """Processes re-parented to the runner, grouped by the test token in
        their environment (read once per process)."""
        found = {}
        live = set()
        ignored = self.ignored
        for pid in children_of(self._me):
            if pid in main_pids or pid in ignored:
                continue
            live.add(pid)
            entry = self._tokens.get(pid)
            if entry is None or not entry[0].is_running():
                entry = self._tokens[pid] = _token_of(pid)
            if entry[1] is not None:
                found.setdefault(entry[1], []).append(pid)
        for pid in list(self._tokens):
            if pid not in live:
                del self._tokens[pid]
        return found


def own_peak_rss_kb():
    """The runner's high-water RSS (VmHWM), in kB; 0 if unknown."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _token_of(pid):
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return (_Gone(), None)
    try:
        return (proc, proc.environ().get(TOKEN_VAR))
    except psutil.Error:
        return (proc, None)


class _Gone:
    def is_running(self):
        return False


def children_of(pid):
    """Direct children of ``pid``, read from /proc/PID/task/*/children
    (about 30 us for a process, against about 2 ms for psutil's
    ``children()``, which reads the stat of every process of the machine).
    Falls back to psutil where the kernel lacks that file."""
    base = "/proc/%d/task" % pid
    try:
        tasks = os.listdir(base)
    except OSError:
        return []
    pids = []
    for tid in tasks:
        try:
            with open("%s/%s/children" % (base, tid)) as f:
                pids.extend(int(p) for p in f.read().split())
        except FileNotFoundError:
            if not os.path.exists(base + "/" + tid):
                continue        # the thread ended
            return _psutil_children(pid)
        except (OSError, ValueError):
            continue
    return pids


def _psutil_children(pid):
    try:
        return [p.pid for p in psutil.Process(pid).children()]
    except psutil.Error:
        return []
