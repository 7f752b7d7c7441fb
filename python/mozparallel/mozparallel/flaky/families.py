"""Verdicts from the store: each recorded run with the rounds that followed
it (its *family*: the runs whose ``parent_run`` it is, re-runs and probes)
is judged by interference.classify, test by test, exactly as the rounds
judged it live. Also: which tests failed every attempt of their last few
families (``always_failing``), on this platform.

Only tests that failed somewhere are looked at (the company of each of
their attempts is the overlap of start and end offsets in its run), so a
large history costs little. Pure functions over RunRecords and
ResultRecords.
"""

from dataclasses import dataclass

from ..contract import unexpected_status
from .interference import ALWAYS_FAILING, INTERMITTENT, PARALLEL_UNSAFE, PROBE_KINDS, attempt, classify
from .overlap import company_of, spans_of_results, start_offsets
from .probe import probe_of

# mozinfo keys that say which platform a run was on (what a skip-if
# condition is built from, annotations.py): os, version, CPU, build type.
PLATFORM_KEYS = ("os", "os_version", "arch", "debug", "asan", "tsan", "ccov")
# Families in which a test failed every attempt before it counts as
# always failing (--retries and --rerun-failures stop running it again).
ALWAYS_FAILING_RUNS = 3


def same_platform(a, b, keys=PLATFORM_KEYS):
    """Whether mozinfo ``a`` and ``b`` agree on the platform keys ``a`` has."""
    return all(a.get(k) == b.get(k) for k in keys if k in a)


@dataclass
class Family:
    root: str                       # the run the others follow
    started: float                  # when its first run started
    mozinfo: dict
    attempts: dict                  # test -> [Attempt], oldest first
    failures: dict                  # test -> [(run_id, kind, {other: start offset})] of each failure beside others


def families(runs, results, tests=None):
    """[Family], oldest first, of ``results`` (ResultRecords) and ``runs``
    (their RunRecords). Only tests that failed somewhere (or ``tests``)."""
    run_of = {r.run_id: r for r in runs}
    by_run = {}
    for r in results:
        by_run.setdefault(r.run_id, []).append(r)
    if tests is None:
        tests = {r.test for r in results if r.status != "SKIP" and unexpected_status(r.status, r.expected)}
    out = {}
    for run_id, rs in by_run.items():
        run = run_of.get(run_id)
        if run is None:
            continue
        root = run.parent_run or run.run_id
        fam = out.get(root)
        if fam is None:
            parent = run_of.get(root, run)
            fam = out[root] = Family(root, parent.started, dict(parent.mozinfo or {}), {}, {})
        victim, order = probe_of(run.argv) if run.kind in PROBE_KINDS or run.kind == "alone" else (None, None)
        spans = None
        for r in rs:
            if r.test not in tests or r.status == "SKIP" or (victim is not None and r.test != victim):
                continue
            if spans is None:
                spans = spans_of_results(rs)
            company = company_of(r.test, spans)
            failed = unexpected_status(r.status, r.expected)
            fam.attempts.setdefault(r.test, []).append(
                attempt(run.kind, failed, r.status, company, run.jobs, order))
            if failed and company:
                fam.failures.setdefault(r.test, []).append((run_id, run.kind, start_offsets(r.test, spans, company)))
    return sorted(out.values(), key=lambda f: f.started)


def verdicts(fams):
    """{test: [(Family, Verdict)]}, oldest family first; only families where
    the test failed."""
    out = {}
    for fam in fams:
        for test, attempts in fam.attempts.items():
            v = classify(attempts)
            if v.kind is not None:
                out.setdefault(test, []).append((fam, v))
    return out


def counts(judged):
    """{PARALLEL_UNSAFE: n, INTERMITTENT: n, ALWAYS_FAILING: n} over a
    test's ``[(Family, Verdict)]``."""
    out = {PARALLEL_UNSAFE: 0, INTERMITTENT: 0, ALWAYS_FAILING: 0}
    for _, v in judged:
        out[v.kind] += 1
    return out


def always_failing(fams, mozinfo=None, least=ALWAYS_FAILING_RUNS):
    """{test: [Verdict]} of the tests that failed every attempt of each of
    their ``least`` or more families (on the platform of ``mozinfo``, when
    given), passed in none, and failed alone at least once (a test that
    only ever ran beside others may be parallel-unsafe)."""
    judged = {}
    for fam in fams:
        if mozinfo is not None and not same_platform(mozinfo, fam.mozinfo):
            continue
        for test, attempts in fam.attempts.items():
            judged.setdefault(test, []).append(classify(attempts))
    out = {}
    for test, vs in judged.items():
        if len(vs) >= least and all(v.kind == ALWAYS_FAILING for v in vs) and any(v.alone_runs for v in vs):
            out[test] = vs
    return out


def newest_failure(fams, test):
    """(Family, run_id, {other: start offset}) of the newest failure of
    ``test`` beside other tests in a run that was not a probe (else in a
    probe), or None."""
    for fam in reversed(fams):
        found = fam.failures.get(test)
        if found:
            run_id, _, offsets = ([f for f in found if f[1] not in PROBE_KINDS] or found)[-1]
            return fam, run_id, offsets
    return None
