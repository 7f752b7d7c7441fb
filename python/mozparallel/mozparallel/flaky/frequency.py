"""Failure frequency from recorded results: which tests changed outcome
across recent runs, how often they fail, and how many runs it takes to
see a failure with 95% confidence (the figure mozci asks for). Pure
functions over ResultRecords; history.py reads the store and prints.
"""

import math

from ..contract import unexpected_status

CONFIDENCE = 0.95


def reruns_for_confidence(rate, confidence=CONFIDENCE):
    """Smallest n with 1 - (1 - rate)^n >= confidence: runs needed to see at
    least one failure of a test failing with probability ``rate``. None for
    a test that never fails."""
    if rate <= 0:
        return None
    if rate >= 1:
        return 1
    n = max(1, math.ceil(math.log(1 - confidence) / math.log(1 - rate)))
    # The logarithms can land a hair off an exact boundary: settle on the
    # inequality itself.
    while 1 - (1 - rate) ** n < confidence:
        n += 1
    while n > 1 and 1 - (1 - rate) ** (n - 1) >= confidence:
        n -= 1
    return n


def failed(result):
    """Unexpected by mozlog's rule (a skip never is)."""
    return unexpected_status(result.status, result.expected)


def flaky_tests(results):
    """Tests among ``results`` (oldest run first) that both failed and
    passed, most often failing first. Every recorded result counts, re-runs
    (``--retries``) included: each is a run of the test like any
    other."""
    by_test = {}
    for r in results:
        if r.status != "SKIP":
            by_test.setdefault((r.test, r.command), []).append(r)
    rows = []
    for (test, command), rs in by_test.items():
        outcomes = [failed(r) for r in rs]
        failures = sum(outcomes)
        if not failures or failures == len(outcomes):
            continue
        rate = failures / len(outcomes)
        statuses = {}
        for r in rs:
            if failed(r):
                statuses[r.status] = statuses.get(r.status, 0) + 1
        rows.append({
            "test": test, "command": command, "runs": len(outcomes), "failures": failures,
            "rate": round(rate, 4),
            "changes": sum(1 for a, b in zip(outcomes, outcomes[1:]) if a != b),
            "failure_statuses": statuses,
            "reruns_for_95": reruns_for_confidence(rate),
            "last": rs[-1].status,
        })
    rows.sort(key=lambda row: (-row["rate"], row["test"], row["command"]))
    return rows


def add_verdicts(rows, fams):
    """Add to each row how many of the recorded runs (each with its re-runs
    and probes, families.py) judged the test parallel-unsafe, intermittent
    or always failing, and the tests it failed beside when parallel-unsafe;
    returns the totals over the runs."""
    from .families import counts, verdicts
    from .interference import PARALLEL_UNSAFE

    judged = verdicts(fams)
    totals = {}
    for row in rows:
        theirs = judged.get(row["test"], [])
        row["verdicts"] = counts(theirs)
        unsafe = [v for _, v in theirs if v.kind == PARALLEL_UNSAFE]
        row["fails_beside"] = sorted(unsafe[-1].culprits) if unsafe else []
    for theirs in judged.values():
        for kind, n in counts(theirs).items():
            totals[kind] = totals.get(kind, 0) + n
    return totals


def format_flaky(rows, runs, totals=None):
    lines = ["Flaky tests of the last %d run(s) (failed in some runs, passed in others):" % runs]
    if not rows:
        lines.append("  (none: every test kept its outcome)")
        return "\n".join(lines) + "\n"
    lines.append("  %6s  %9s  %12s  %s" % ("rate", "failed", "runs for 95%", "test"))
    for row in rows:
        statuses = ", ".join("%s %d" % kv for kv in sorted(row["failure_statuses"].items()))
        verdict = ""
        if row.get("verdicts"):
            v = row["verdicts"]
            verdict = "; parallel-unsafe in %d run(s), intermittent in %d" % (
                v["parallel-unsafe"], v["intermittent"])
            if row.get("fails_beside"):
                verdict += ", fails beside %s" % ", ".join(row["fails_beside"])
        lines.append("  %5.1f%%  %4d/%-4d  %12d  %s%s  (%s; last %s%s)" % (
            100 * row["rate"], row["failures"], row["runs"], row["reruns_for_95"], row["test"],
            "  [%s]" % row["command"] if row["command"] else "", statuses, row["last"], verdict))
    lines.append("  'runs for 95%': runs needed to see a failure with 95% confidence, "
                 "smallest n with 1-(1-rate)^n >= 0.95")
    if totals is not None:
        lines.append("  verdicts (a run with its re-runs and probes): %d parallel-unsafe (failed beside other "
                     "tests, passed alone), %d intermittent" % (totals.get("parallel-unsafe", 0),
                                                                totals.get("intermittent", 0)))
    return "\n".join(lines) + "\n"
