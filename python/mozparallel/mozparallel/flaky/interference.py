"""Telling a test that other tests break (parallel-unsafe) from one that
fails by itself now and then (intermittent), from its attempts in one run
and the rounds that followed it. One rule, used live by the rounds
(rounds.py) and afterwards on the store (families.py). Pure functions.

An *attempt* is one run of the test: whether it failed, which tests
overlapped it in time (its company, overlap.py), whether it ran alone (one
test at a time, or nothing overlapped it), and for a *probe* (the test run
on purpose beside chosen tests, search.py) which side started first.

The rule, for the attempts of one test:

- no failure: nothing to say;
- every attempt failed: **always-failing**;
- failed at least once alone (and passed at least once): **intermittent**;
- otherwise the *culprits* are the tests in the company of every failure;
  **parallel-unsafe** when they are not empty, every probe that had all of
  them in its company (in the start order that first reproduced the
  failure) failed, every probe that had none of them passed, at least
  ``CONFIRM_BESIDE`` such probes failed, and the test passed alone at
  least ``CONFIRM_ALONE`` times;
- anything else: **intermittent** (not enough evidence of another cause).

A test failing at random with probability p meets the parallel-unsafe
rule by chance only if its coin falls the same way in every one of those
runs: with the confirmation of search.py (a first probe that may try both
start orders, two more probes, four more runs alone after the passing
re-run) at most (1-(1-p)^2)·p^2·(1-p)^4: about 1.1% for p = 0.3, at most
1.4% for any p (test_interference.py simulates it).
"""

from dataclasses import dataclass, field

PARALLEL_UNSAFE = "parallel-unsafe"
INTERMITTENT = "intermittent"
ALWAYS_FAILING = "always-failing"

# Failing probes beside the culprits, and passes alone, before a test is
# called parallel-unsafe.
CONFIRM_BESIDE = 3
CONFIRM_ALONE = 5

# Round kinds (RunRecord.kind) of the probes: the test of interest (the
# victim) run beside chosen tests ("beside": the company of its failure, or
# its culprits; "bisect": a part of them), or alone.
BESIDE = "beside"
BISECT = "bisect"
ALONE = "alone"
PROBE_KINDS = (BESIDE, BISECT)
# Start orders of a probe (search.py): the tests that started close to the
# victim in its failure start before it, or after it.
OTHERS_FIRST = "others-first"
VICTIM_FIRST = "victim-first"


@dataclass(frozen=True)
class Attempt:
    kind: str                       # the round: "" (a run), repeat, retry, beside, bisect, alone
    failed: bool                    # unexpected, by mozlog's rule
    status: str
    company: frozenset | None       # tests that overlapped it in time; None: not known
    alone: bool                     # run one test at a time, or nothing overlapped it
    order: str | None = None        # a probe's start order (OTHERS_FIRST / VICTIM_FIRST)

    @property
    def probe(self):
        return self.kind in PROBE_KINDS


def attempt(kind, failed, status, company, jobs, order=None):
    """An Attempt; ``jobs``: tests its round ran at once."""
    return Attempt(kind, bool(failed), status, company,
                   alone=jobs == 1 or company == frozenset(), order=order)


@dataclass(frozen=True)
class Verdict:
    kind: str | None                # PARALLEL_UNSAFE, INTERMITTENT, ALWAYS_FAILING or None (never failed)
    attempts: int = 0
    failures: int = 0
    statuses: tuple = ()            # statuses of the failures, sorted
    culprits: frozenset = field(default_factory=frozenset)  # in the company of every failure
    beside_failures: int = 0        # failures with others overlapping
    confirmed: int = 0              # failing probes with every culprit beside it, in the reproducing order
    alone_runs: int = 0
    alone_passes: int = 0
    order: str | None = None        # the start order that reproduced the failure
    why: str = ""                   # for people: why not parallel-unsafe

    def evidence(self):
        """The short form, for a manifest comment."""
        if self.kind == PARALLEL_UNSAFE:
            return "failed in %d of %d probes beside %s, passed %d of %d alone" % (
                self.confirmed, self.confirmed, _names(self.culprits, 2), self.alone_passes, self.alone_runs)
        return self.describe()

    def describe(self):
        """``failed 4 of 8 attempts (ERROR); ...`` for the verdict lines."""
        text = "failed %d of %d attempts (%s)" % (self.failures, self.attempts, ", ".join(self.statuses))
        if self.kind == PARALLEL_UNSAFE:
            text += ", each beside %s; failed in %d of %d probes beside %s (%s), passed %d of %d alone" % (
                _names(self.culprits), self.confirmed, self.confirmed, "it" if len(self.culprits) == 1 else "them",
                self.order, self.alone_passes, self.alone_runs)
        elif self.why:
            text += "; " + self.why
        return text


def _names(tests, most=5):
    tests = sorted(tests)
    shown = ", ".join(tests[:most])
    return shown + (" and %d more" % (len(tests) - most) if len(tests) > most else "")


def classify(attempts):
    """The Verdict of one test's ``attempts`` (oldest first)."""
    attempts = list(attempts)
    fails = [a for a in attempts if a.failed]
    alone = [a for a in attempts if a.alone]
    base = dict(attempts=len(attempts), failures=len(fails), statuses=tuple(sorted({a.status for a in fails})),
                alone_runs=len(alone), alone_passes=sum(1 for a in alone if not a.failed))
    if not fails:
        return Verdict(None, **base)
    if len(fails) == len(attempts):
        return Verdict(ALWAYS_FAILING, **base)
    if any(a.failed for a in alone):
        return Verdict(INTERMITTENT, why="failed alone too", **base)
    beside = [a for a in fails if a.company]
    if len(beside) < len(fails):
        return Verdict(INTERMITTENT, why="a failure with no known company", **base)
    culprits = frozenset.intersection(*(a.company for a in beside))
    base.update(culprits=culprits, beside_failures=len(beside))
    if not culprits:
        return Verdict(INTERMITTENT, why="no test overlapped every failure", **base)
    probes = [a for a in attempts if a.probe and a.company is not None]
    failing = [a for a in probes if a.failed]
    if not failing:
        return Verdict(INTERMITTENT, why="not reproduced beside other tests", **base)
    order = failing[0].order
    with_all = [a for a in probes if a.order == order and culprits <= a.company]
    with_none = [a for a in probes if not culprits & a.company]
    base.update(order=order, confirmed=sum(1 for a in with_all if a.failed))
    if any(not a.failed for a in with_all):
        return Verdict(INTERMITTENT, why="passed beside %s too" % _names(culprits), **base)
    if any(a.failed for a in with_none):
        return Verdict(INTERMITTENT, why="failed without %s too" % _names(culprits), **base)
    if len(with_all) < CONFIRM_BESIDE or base["alone_passes"] < CONFIRM_ALONE:
        return Verdict(INTERMITTENT, why="not confirmed (%d of %d probes beside, %d of %d runs alone)" % (
            len(with_all), CONFIRM_BESIDE, base["alone_passes"], CONFIRM_ALONE), **base)
    return Verdict(PARALLEL_UNSAFE, **base)
