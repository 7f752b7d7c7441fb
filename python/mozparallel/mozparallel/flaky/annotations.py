"""What the history says to write into the manifests, Mozilla style
(``paralleltest annotate``): pure functions from families (families.py)
and the current mozinfo to Proposals.

- ``run-sequentially`` on a test judged parallel-unsafe in its newest
  family where it failed, naming the test(s) that break it, and on each of
  those (at most ``MOST_NAMED``; with more, only on the victim, asking for
  ``paralleltest bisect``);
- a condition in ``fail-if`` for a test that failed every attempt of its
  last runs on this platform (families.always_failing) with ordinary
  failures (FAIL, ERROR: it runs to the end, so the harness sees the day
  it passes), in ``skip-if`` when it crashed or timed out (running it only
  costs time).

The condition is built from the mozinfo keys that matter: the platform
keys (families.PLATFORM_KEYS) on which this platform differs from every
other platform where the test passed; with no such platform recorded, all
the platform keys this mozinfo has.
"""

from dataclasses import dataclass

from .families import PLATFORM_KEYS, always_failing, same_platform, verdicts
from .interference import PARALLEL_UNSAFE

MOST_NAMED = 3
# Failure statuses that fail-if (expected = fail) covers; any other means skip-if.
FAIL_STATUSES = ("FAIL", "ERROR")


@dataclass(frozen=True)
class Proposal:
    test: str               # the test id of the history
    key: str                # run-sequentially, fail-if or skip-if
    value: str              # the reason, or the condition
    comment: str            # the evidence
    why: str                # for people


def condition_value(key, value):
    """One term of a manifest condition for mozinfo ``key`` = ``value``."""
    if isinstance(value, bool):
        return key if value else "!" + key
    if isinstance(value, (int, float)):
        return "%s == %s" % (key, value)
    text = str(value)
    quote = "'" if "'" not in text else '"'
    return "%s == %s%s%s" % (key, quote, text, quote)


def condition_for(mozinfo, passed_on=()):
    """The condition for ``mozinfo`` (a test that fails there); ``passed_on``:
    mozinfo dicts of platforms where the test passed."""
    keys = [k for k in PLATFORM_KEYS if mozinfo.get(k) is not None]
    matter = [k for k in keys if any(info.get(k) != mozinfo[k] for info in passed_on)]
    return " && ".join(condition_value(k, mozinfo[k]) for k in (matter or keys)) or "true"


def propose(fams, mozinfo):
    """[Proposal] from ``fams`` (families.families, oldest first) for the
    platform of ``mozinfo``."""
    out = []
    marked = set()
    for test, judged in sorted(verdicts(fams).items()):
        fam, v = judged[-1]
        if v.kind != PARALLEL_UNSAFE:
            continue
        culprits = sorted(v.culprits)
        evidence = "paralleltest: %s (run %s)" % (v.evidence(), fam.root)
        if len(culprits) <= MOST_NAMED:
            names = ", ".join(culprits)
            out.append(Proposal(test, "run-sequentially", "parallel-unsafe: fails beside %s" % names, evidence,
                                "%s fails beside %s and passes alone" % (test, names)))
            marked.add(test)
            for other in culprits:
                if other not in marked:
                    marked.add(other)
                    out.append(Proposal(other, "run-sequentially", "parallel-unsafe: breaks %s" % test,
                                        "paralleltest: %s fails beside it (run %s)" % (test, fam.root),
                                        "%s makes %s fail" % (other, test)))
        elif test not in marked:
            marked.add(test)
            out.append(Proposal(test, "run-sequentially",
                                "parallel-unsafe: fails beside other tests (%d candidates)" % len(culprits),
                                evidence + "; name the culprit: paralleltest bisect %s" % test,
                                "%s fails beside others; %d candidates left" % (test, len(culprits))))
    failing = always_failing(fams, mozinfo)
    for test, vs in sorted(failing.items()):
        statuses = sorted({s for v in vs for s in v.statuses})
        key = "fail-if" if all(s in FAIL_STATUSES for s in statuses) else "skip-if"
        passed_on = [f.mozinfo for f in fams if test in f.attempts and not same_platform(mozinfo, f.mozinfo)
                     and any(not a.failed for a in f.attempts[test])]
        condition = condition_for(mozinfo, passed_on)
        evidence = "paralleltest: %s in every attempt of %d runs" % ("/".join(statuses), len(vs))
        out.append(Proposal(test, key, condition, evidence, "%s failed every attempt (%s) of its last %d runs here"
                            % (test, "/".join(statuses), len(vs))))
    return out
