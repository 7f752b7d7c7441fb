"""Chunks for CI (``--total-chunks N --this-chunk K``, 1-based, as Mozilla
harnesses name them): which tests run on which machine. With known
durations, balanced bin packing on expected duration; without, a stable
hash of the test id, so machines agree without talking. The partition
depends only on the test ids, a frozen runtimes file and N.
"""

import heapq
from dataclasses import dataclass, field

# Improvement passes after the greedy packing (each moves or swaps one pair).
MAX_PASSES = 2000
# Pairs of tests looked at for a swap in one pass; beyond, moves only (with
# thousands of tests the greedy packing is already within the smallest test).
MAX_PAIRS = 250000


@dataclass
class ChunkPlan:
    total: int
    method: str                          # "duration" or "hash"
    chunks: list = field(default_factory=list)     # chunk index (0-based) -> [test id]
    expected: list = field(default_factory=list)   # chunk index -> seconds (None: unknown)

    def chunk_of(self):
        """{test id: 1-based chunk}."""
        return {t: i + 1 for i, ids in enumerate(self.chunks) for t in ids}

    def balance(self):
        """max/min of the expected durations (None when unknown or a chunk is empty)."""
        if self.method != "duration" or not self.expected or min(self.expected) <= 0:
            return None
        return max(self.expected) / min(self.expected)


def hash_chunk(test_id, total):
    """0-based chunk of a test by a hash of its id (same on every machine)."""
    import hashlib      # here: only chunked runs pay for loading OpenSSL (about 3 ms)

    digest = hashlib.sha256(test_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % total


def plan_chunks(test_ids, total, history):
    """The ChunkPlan of ``test_ids`` into ``total`` chunks from ``history``
    (a run plans from ``frozen_plan``)."""
    if total < 1:
        raise ValueError("total chunks must be at least 1")
    ids = sorted(set(test_ids))
    if not history.known(ids):
        chunks = [[] for _ in range(total)]
        for t in ids:
            chunks[hash_chunk(t, total)].append(t)
        return ChunkPlan(total, "hash", chunks, [None] * total)
    walls = history.expected_walls(ids)
    chunks, loads = _pack(ids, walls, total)
    return ChunkPlan(total, "duration", chunks, loads)


def frozen_plan(test_ids, total, runtimes=None, tests=None):
    """The ChunkPlan every machine computes alike: from the test ids and a
    frozen runtimes file (``--runtimes``) only, never the store's history,
    which changes as chunks run (chunks run one after another in one objdir
    each planned from what the previous one had just recorded: they
    overlapped and left tests out). Without a runtimes file: by hash.
    ``tests`` (SelectedTests) lets runtimes keyed by path match ids."""
    from .history import load_history

    return plan_chunks(test_ids, total, load_history(None, test_ids, runtimes=runtimes, tests=tests))


def plan_record(plan, this_chunk):
    """What a chunk's log carries of the plan (suite_start's extra), for
    ``merge`` to check the chunks together ran every test exactly once."""
    return {"total": plan.total, "this": this_chunk, "method": plan.method, "chunks": plan.chunks}


def _pack(ids, walls, total):
    """Greedy longest-first into the lightest chunk, then moves and swaps
    between the heaviest and the lightest chunk while that narrows the gap."""
    chunks = [[] for _ in range(total)]
    loads = [0.0] * total
    # The lightest chunk (ties: the lowest index) from a heap: O(n log N)
    # rather than a scan of every chunk for every test.
    lightest = [(0.0, k) for k in range(total)]
    for t in sorted(ids, key=lambda t: (-walls[t], t)):
        load, i = heapq.heappop(lightest)
        chunks[i].append(t)
        loads[i] = load + walls[t]
        heapq.heappush(lightest, (loads[i], i))
    for _ in range(MAX_PASSES):
        hi = max(range(total), key=lambda k: (loads[k], -k))
        lo = min(range(total), key=lambda k: (loads[k], k))
        gap = loads[hi] - loads[lo]
        best = _best_exchange(chunks[hi], chunks[lo], walls, gap)
        if best is None:
            break
        give, take, delta = best
        chunks[hi].remove(give)
        chunks[lo].append(give)
        if take is not None:
            chunks[lo].remove(take)
            chunks[hi].append(take)
        loads[hi] -= delta
        loads[lo] += delta
    return [sorted(c) for c in chunks], loads


def _best_exchange(heavy, light, walls, gap):
    """(test to move from heavy, test to move back or None, net seconds
    moved) that brings the two loads closest, or None if nothing helps."""
    best, best_gap = None, gap - 1e-9
    for g in heavy:
        d = walls[g]
        if 0 < d < gap and abs(gap - 2 * d) < best_gap:
            best, best_gap = (g, None, d), abs(gap - 2 * d)
        if len(heavy) * len(light) > MAX_PAIRS:
            continue
        for t in light:
            d = walls[g] - walls[t]
            if 0 < d < gap and abs(gap - 2 * d) < best_gap:
                best, best_gap = (g, t, d), abs(gap - 2 * d)
    return best


def mark_other_chunks(tests, plan, this_chunk):
    """The hook selection uses: a test of another chunk keeps its place in
    the list with ``disabled = "another chunk (K of N)"``. Tests already left
    out (skip-if, ...) are spread by hash so each is reported by one chunk.
    Returns the ids that belong to other chunks."""
    chunk_of = plan.chunk_of()
    others = set()
    for t in tests:
        k = chunk_of.get(t.id)
        if k is None:
            k = hash_chunk(t.id, plan.total) + 1
        if k != this_chunk:
            t.disabled = "another chunk (%d of %d)" % (k, plan.total)
            others.add(t.id)
    return others


CHUNK_ENV = (
    # (index variable, total variable or None, index base)
    ("JOB_COMPLETION_INDEX", None, 0),          # Kubernetes Indexed Job
    ("TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS", 0),   # Bazel test sharding
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", 1),       # GitLab CI parallel
)


def chunk_from_env(environ):
    """(this_chunk 1-based, total or None, variable name) from the first CI
    variable set, or None. Raises ValueError naming a bad value."""
    for index_var, total_var, base in CHUNK_ENV:
        text = environ.get(index_var)
        if text in (None, ""):
            continue
        index = _whole(index_var, text) - base + 1
        total = _whole(total_var, environ[total_var]) if total_var and environ.get(total_var) else None
        return index, total, index_var
    return None


def _whole(name, text):
    try:
        value = int(text)
    except ValueError:
        raise ValueError("%s is not a whole number: %r" % (name, text))
    if value < 0:
        raise ValueError("%s is negative: %r" % (name, text))
    return value


def resolve_chunk(total, this, environ):
    """(this, total) from the options, else the CI environment; (None, None)
    when the run is not chunked. Raises ValueError naming the problem."""
    source = "--this-chunk"
    if this is None:
        found = chunk_from_env(environ)
        if found is not None:
            this, env_total, source = found
            if total is None:
                total = env_total
    if total is None and this is None:
        return None, None
    if total is None:
        raise ValueError("%s %d given without --total-chunks" % (source, this))
    if this is None:
        this, source = 1, "the default"       # as xpcshell's and mochitest's --this-chunk
    if not 1 <= this <= total:
        raise ValueError("chunk %d (from %s) is not between 1 and --total-chunks %d" % (this, source, total))
    return this, total
