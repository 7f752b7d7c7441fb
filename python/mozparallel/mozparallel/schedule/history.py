"""The history snapshot the scheduler works from: for each test, its typical
wall time, CPU time and peak memory. Built once per run by ``load_history``
from whatever exists (the store, a ``--runtimes`` file); policies, ``-j auto``
and chunks only ever see this snapshot, never a store.
"""

from dataclasses import dataclass, field

from ..store.records import median

# Results of a test looked at (newest first) for its typical figures.
RECENT = 5
# Recent runs read from the store for CPU and memory figures.
RECENT_RUNS = 20


@dataclass(frozen=True)
class Figures:
    """Typical figures of one test; None where nothing was recorded."""

    wall: float | None = None       # median wall seconds
    cpu: float | None = None        # median CPU seconds (user + system, whole tree)
    peak_rss: int | None = None     # bytes: the largest recent peak of the tree


@dataclass
class TestHistory:
    """A snapshot: test id -> Figures, plus where it came from (for the log)."""

    __test__ = False    # not a pytest test class, whatever its name

    figures: dict = field(default_factory=dict)
    source: str = "none"

    def wall(self, test_id):
        f = self.figures.get(test_id)
        return None if f is None else f.wall

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
ROW = ("test", "status", "wall", "cpu_user", "cpu_system", "peak_rss_kb", "maxrss_kb")


def history_from_results(results, recent=RECENT):
    """A snapshot from result records (objects with ``test``, ``status``,
    ``wall``, ``cpu_user``, ``cpu_system``, ``peak_rss_kb``, ``maxrss_kb``),
    newest last."""
    return history_from_rows([tuple(getattr(r, f, None) for f in ROW) for r in results], recent)


def history_from_rows(rows, recent=RECENT):
    """A snapshot from ``ROW`` tuples of stored results, newest last."""
    by_test = {}
    for row in rows:
        if row[1] == "SKIP" or row[2] is None:
            continue
        by_test.setdefault(row[0], []).append(row)
    figures = {}
    for test, rs in by_test.items():
        rs = rs[-recent:]
        cpus = [(u or 0.0) + (s or 0.0) for _, _, _, u, s, _, _ in rs if u is not None or s is not None]
        peaks = [max(p or 0, m or 0) * 1024 for _, _, _, _, _, p, m in rs]
        peaks = [p for p in peaks if p > 0]
        figures[test] = Figures(
            wall=median(r[2] for r in rs),
            cpu=median(cpus) if cpus else None,
            peak_rss=max(peaks) if peaks else None,
        )
    return figures


def merge_walls(figures, walls):
    """Add wall times (a runtimes file) for tests ``figures`` does not know."""
    out = dict(figures)
    for test, seconds in walls.items():
        if out.get(test) is None or out[test].wall is None:
            old = out.get(test) or Figures()
            out[test] = Figures(wall=float(seconds), cpu=old.cpu, peak_rss=old.peak_rss)
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
            rows = [r for r in store.recent_rows(RECENT_RUNS, ROW) if r[0] in ids]
            figures = history_from_rows(rows)
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
