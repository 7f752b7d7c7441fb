"""The history snapshot the scheduler works from: for each test, its typical
wall time, CPU time and peak memory, and how much it failed lately. Built once per run by ``load_history``
from whatever exists (the store, a ``--runtimes`` file); policies, ``-j auto``
and chunks only ever see this snapshot, never a store.
"""

from dataclasses import dataclass, field

from ..contract import unexpected_status
from ..store.records import median

# Results of a test looked at (newest first) for its typical figures.
RECENT = 5
# Recent runs read from the store for CPU and memory figures.
RECENT_RUNS = 20
# A failure counts half as much this many runs later (--schedule failures-first).
FAILURE_HALF_LIFE = 3.0


@dataclass(frozen=True)
class Figures:
    """Typical figures of one test; None where nothing was recorded."""

    wall: float | None = None       # median wall seconds
    cpu: float | None = None        # median CPU seconds (user + system, whole tree)
    peak_rss: int | None = None     # bytes: the largest recent peak of the tree
    failures: float = 0.0           # unexpected results of the recent runs, each weighted by its age


@dataclass
class TestHistory:
    """A snapshot: test id -> Figures, plus where it came from (for the log)."""

    __test__ = False    # not a pytest test class, whatever its name

    figures: dict = field(default_factory=dict)
    source: str = "none"

    def wall(self, test_id):
        f = self.figures.get(test_id)
        return None if f is None else f.wall

    def failures(self, test_id):
        """The test's failure score: 0.0 when it has not failed lately."""
        f = self.figures.get(test_id)
        return 0.0 if f is None else f.failures

    def known(self, test_ids):
        """The ids among ``test_ids`` with a known wall time."""
        return [t for t in test_ids if self.wall(t) is not None]

    def expected_walls(self, test_ids):
        """{id: seconds} for every id; tests never seen get the median of the
        known ones (0 when none is known), so a plan can still be made."""
        known = [self.wall(t) for t in test_ids if self.wall(t) is not None]
        default = median(known) if known else 0.0
        return {t: (self.wall(t) if self.wall(t) is not None else default) for t in test_ids}

    def __len__(self):
        return len(self.figures)


# The fields of a stored result a snapshot is made of (``recent_rows``).
ROW = ("test", "status", "wall", "cpu_user", "cpu_system", "peak_rss_kb", "maxrss_kb", "expected", "run_id")
_TEST, _STATUS, _WALL, _USER, _SYSTEM, _PEAK, _MAXRSS, _EXPECTED, _RUN = range(len(ROW))


def history_from_results(results, recent=RECENT):
    """A snapshot from result records (objects with the ``ROW`` fields),
    newest last."""
    return history_from_rows([tuple(getattr(r, f, None) for f in ROW) for r in results], recent)


def history_from_rows(rows, recent=RECENT, only=None):
    """A snapshot from ``ROW`` tuples of stored results, newest last (the
    results of one run together); of the tests in ``only`` (None: all).
    Every row's run counts in the age of a failure."""
    by_test = {}
    runs = {}                       # run id -> its place, oldest first
    failed = {}                     # test -> [place of each run it failed in]
    for row in rows:
        place = runs.setdefault(row[_RUN], len(runs))
        if only is not None and row[_TEST] not in only:
            continue
        if _failed(row[_STATUS], row[_EXPECTED]):
            failed.setdefault(row[_TEST], []).append(place)
        if row[_STATUS] == "SKIP" or row[_WALL] is None:
            continue
        by_test.setdefault(row[_TEST], []).append(row)
    newest = len(runs) - 1
    figures = {}
    for test, rs in by_test.items():
        rs = rs[-recent:]
        cpus = [(r[_USER] or 0.0) + (r[_SYSTEM] or 0.0) for r in rs if r[_USER] is not None or r[_SYSTEM] is not None]
        peaks = [max(r[_PEAK] or 0, r[_MAXRSS] or 0) * 1024 for r in rs]
        peaks = [p for p in peaks if p > 0]
        figures[test] = Figures(
            wall=median(r[_WALL] for r in rs),
            cpu=median(cpus) if cpus else None,
            peak_rss=max(peaks) if peaks else None,
            failures=failure_score(newest - p for p in failed.get(test, ())),
        )
    return figures


def failure_score(ages):
    """Each failure ``age`` runs ago (0: the newest run) counts
    0.5 ** (age / FAILURE_HALF_LIFE): recent and frequent failures score most."""
    return round(sum(0.5 ** (age / FAILURE_HALF_LIFE) for age in ages), 6)


def _failed(status, expected):
    """An unexpected result; a record without ``expected`` (older stores)
    failed when it is neither OK, PASS nor SKIP."""
    if expected:
        return unexpected_status(status, expected)
    return status not in ("OK", "PASS", "SKIP", None, "")


def merge_walls(figures, walls):
    """Add wall times (a runtimes file) for tests ``figures`` does not know."""
    out = dict(figures)
    for test, seconds in walls.items():
        if out.get(test) is None or out[test].wall is None:
            old = out.get(test) or Figures()
            out[test] = Figures(wall=float(seconds), cpu=old.cpu, peak_rss=old.peak_rss, failures=old.failures)
    return out


def load_history(store, test_ids, runtimes=None, warn=None, tests=None):
    """The snapshot for ``test_ids`` from the run's open ``store`` (None: no
    store) and a ``--runtimes`` file. Never fails a run: an unreadable
    store is reported through ``warn``. ``tests`` (SelectedTests) lets
    runtimes keyed by path match ids."""
    from ..store import StoreError

    ids = set(test_ids)
    figures, sources = {}, []
    if store is not None:
        try:
            figures = history_from_rows(store.recent_rows(RECENT_RUNS, ROW), only=ids)
            missing = [t for t in ids if t not in figures]
            if missing:     # older than the recent runs: wall times only
                figures = merge_walls(figures, store.durations(missing))
            if figures:
                sources.append("%d tests from %s" % (len(figures), store.description))
        except (StoreError, OSError) as e:
            if warn:
                warn("history not read: %s" % e)
    if runtimes:
        walls = _runtimes_for(runtimes, tests or (), ids)
        before = len(figures)
        figures = merge_walls(figures, walls)
        sources.append("%d more from %s" % (len(figures) - before, runtimes))
    return TestHistory({t: f for t, f in figures.items() if t in ids}, "; ".join(sources) or "none")


def _runtimes_for(path, tests, ids):
    """{id: seconds} from a mozilla-central runtimes file (runtimes_file.py reads
    and matches it: keys are paths relative to the source root)."""
    from .runtimes_file import load_runtimes, match_runtimes

    pairs = [(t.id, t.path) for t in tests if t.id in ids] or [(t, None) for t in ids]
    return match_runtimes(load_runtimes(path), pairs)
