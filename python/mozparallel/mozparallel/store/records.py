"""What the store keeps: one record per run and one per test result, and the
small interface every store implements (SQLite, Redis, the two together).

The scheduler and history only ever see these records and numbers; where
they are kept is the business of the store modules.
"""

from dataclasses import asdict, dataclass, field, fields
from typing import Protocol

# How many recent results of a test its expected duration is the median of.
DURATION_SAMPLES = 5


@dataclass
class RunRecord:
    run_id: str
    started: float                  # epoch seconds
    jobs: int = 1
    cores: int = 0
    memory: int = 0                 # bytes of RAM on the machine
    hostname: str = ""
    mozinfo: dict = field(default_factory=dict)
    argv: list = field(default_factory=list)
    ended: float | None = None      # None: still running, or the runner was killed
    status: str | None = None       # OK, UNEXPECTED or INTERRUPTED
    # A follow-up round of another run (flaky/): "retry" (--retries),
    # "repeat", "verify-alone" or "verify-load"; "" for an ordinary run.
    kind: str = ""
    parent_run: str | None = None   # the run it follows up, for a follow-up round


@dataclass
class ResultRecord:
    test: str                       # the test id of the logs
    command: str = ""               # what ran it ("" = the file itself)
    status: str = ""
    expected: str = ""
    wall: float | None = None       # seconds
    cpu_user: float | None = None   # seconds, whole tree
    cpu_system: float | None = None
    peak_rss_kb: int | None = None  # sum over the tree
    maxrss_kb: int | None = None
    processes: int | None = None
    slot: int | None = None
    start_offset: float | None = None   # seconds after the run started
    end_offset: float | None = None
    run_id: str = ""                # filled in on the way out of a store
    run_started: float | None = None

    @property
    def cpu(self):
        if self.cpu_user is None and self.cpu_system is None:
            return None
        return (self.cpu_user or 0.0) + (self.cpu_system or 0.0)


RESULT_FIELDS = tuple(f.name for f in fields(ResultRecord) if f.name not in ("run_id", "run_started"))
RUN_FIELDS = tuple(f.name for f in fields(RunRecord))
# What ``recent_rows`` can return of a result.
ROW_FIELDS = RESULT_FIELDS + ("run_id",)


def check_row_fields(names):
    """``names`` if each is a field ``recent_rows`` knows; else ValueError."""
    unknown = [n for n in names if n not in ROW_FIELDS]
    if unknown:
        raise ValueError("not a result field: %s" % ", ".join(unknown))
    return tuple(names)


def result_to_dict(result):
    d = asdict(result)
    d.pop("run_id")
    d.pop("run_started")
    return d


def result_from_dict(d, run_id="", run_started=None):
    known = {k: d.get(k) for k in RESULT_FIELDS if k in d}
    return ResultRecord(run_id=run_id, run_started=run_started, **known)


class Store(Protocol):
    description: str        # where it is, for people; never holds a password

    def record_run_start(self, run: RunRecord) -> None: ...
    def record_result(self, run_id: str, result: ResultRecord) -> None: ...
    def record_run_end(self, run_id: str, ended: float, status: str) -> None: ...
    def durations(self, test_ids, command=None) -> dict: ...
    def recent_results(self, runs=10, command=None) -> list: ...
    def recent_rows(self, runs=10, fields=("test", "wall")) -> list: ...
    def runs(self, limit=10) -> list: ...
    def close(self) -> None: ...


def median_durations(results_by_test, command=None):
    """{test: median wall of its newest DURATION_SAMPLES results} from
    ``{test: [ResultRecord, newest first]}``; skipped results do not count."""
    out = {}
    for test, results in results_by_test.items():
        walls = [r.wall for r in results
                 if r.wall is not None and r.status != "SKIP"
                 and (command is None or r.command == command)][:DURATION_SAMPLES]
        if walls:
            out[test] = median(walls)
    return out


def median(values):
    """The median of some numbers, computed as ``statistics.median``
    does; for the store and the scheduler, without the 3 ms that importing
    statistics costs every run."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of no values")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
