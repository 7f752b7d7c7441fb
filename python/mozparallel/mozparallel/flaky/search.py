"""The experiments that tell parallel-unsafe from intermittent and name the
test that breaks another: ``confirm`` (after a failure beside other tests
passed when re-run alone) and ``bisect`` (halving the tests that overlapped
the failure). Both drive a *lab*: an object that runs probes and returns
their Attempts (interference.py), without knowing how (rounds.py runs them
in the run's pool; commands/bisect.py in its own).

    lab.beside(kind, offsets, order) -> Attempt   the victim beside these tests
                                                  ({test: start offset}, probe.py)
    lab.alone(decisive) -> Attempt                the victim alone (``decisive``:
                                                  a pass makes it parallel-unsafe)
    lab.say(text)                                 one line for people

Every verdict is interference.classify over all the attempts so far, the
same rule the store is read with afterwards.
"""

from dataclasses import dataclass, field

from .interference import (BESIDE, BISECT, CONFIRM_ALONE, CONFIRM_BESIDE, OTHERS_FIRST, PARALLEL_UNSAFE,
                           VICTIM_FIRST, Verdict, classify)

# Probes a bisect may run (``--max-rounds``).
MAX_ROUNDS = 20
# Probes of the victim beside the named test(s) only, at the end.
FINAL_PROBES = 2

FOUND = "found"                     # one test breaks it
SET = "set"                         # these tests together break it (neither half alone)
NOT_REPRODUCED = "not-reproduced"   # did not fail again beside the tests that overlapped its failure
FAILS_ALONE = "fails-alone"         # failed alone: not (only) interference
UNRELIABLE = "unreliable"           # a probe contradicted the others
LIMIT = "round-limit"               # stopped at the round limit


def reproduce(lab, kind, offsets, attempts):
    """Run the victim beside ``offsets`` in one start order, then the other
    if it passed; the order that made it fail, or None. Appends the
    attempts; returns (order, probes run)."""
    runs = 0
    for order in (OTHERS_FIRST, VICTIM_FIRST):
        a = lab.beside(kind, offsets, order)
        attempts.append(a)
        runs += 1
        if a.failed:
            return order, runs
    return None, runs


def confirm(lab, offsets, attempts):
    """After a failure beside other tests (``offsets``: who overlapped it,
    when) and a passing re-run alone: probe until ``classify`` can decide.
    Stops at the first result that rules parallel-unsafe out. Returns the
    Verdict; ``attempts`` (a list) gets every probe."""
    order, _ = reproduce(lab, BESIDE, offsets, attempts)
    if order is None:
        return classify(attempts)
    for _ in range(2 * (CONFIRM_BESIDE + CONFIRM_ALONE)):
        verdict = classify(attempts)
        if not _unconfirmed(verdict):
            return verdict
        if verdict.confirmed < CONFIRM_BESIDE:
            attempts.append(lab.beside(BESIDE, offsets, verdict.order))
            verdict = classify(attempts)
            if not _unconfirmed(verdict):
                return verdict
        if verdict.alone_passes < CONFIRM_ALONE:
            decisive = verdict.confirmed >= CONFIRM_BESIDE and verdict.alone_passes == CONFIRM_ALONE - 1
            attempts.append(lab.alone(decisive))
    return classify(attempts)


def _unconfirmed(verdict):
    return verdict.kind != PARALLEL_UNSAFE and verdict.why.startswith("not confirmed")


@dataclass
class Finding:
    victim: str
    status: str                     # FOUND, SET, NOT_REPRODUCED, FAILS_ALONE, UNRELIABLE, LIMIT
    culprits: tuple                 # the test(s) named, or the candidates left
    rounds: int                     # probes this search ran
    limit: int
    candidates: int                 # tests it started from
    verdict: Verdict                # of every attempt known at the end
    steps: list = field(default_factory=list)   # one line per probe

    @property
    def named(self):
        return self.status in (FOUND, SET)

    def describe(self):
        v = self.verdict
        head = "%s: " % self.victim
        rounds = "%d round(s) of at most %d, from %d candidate(s)" % (self.rounds, self.limit, self.candidates)
        if self.status == FOUND:
            return head + "%s breaks it (named in %s); it failed in %d of %d probes beside %s, passed %d of %d " \
                "alone; verdict: %s" % (self.culprits[0], rounds, v.confirmed, v.confirmed, self.culprits[0],
                                        v.alone_passes, v.alone_runs, v.kind)
        if self.status == SET:
            return head + "%s together break it, neither half alone (%s); verdict: %s" % (
                ", ".join(self.culprits), rounds, v.kind)
        reason = {NOT_REPRODUCED: "did not fail again beside the tests that overlapped its failure",
                  FAILS_ALONE: "failed alone too: not (only) other tests",
                  UNRELIABLE: "the probes contradict each other (it is intermittent, or the timing matters)",
                  LIMIT: "stopped at the round limit"}[self.status]
        left = "; %d candidate(s) left: %s" % (len(self.culprits), ", ".join(self.culprits)) if self.culprits else ""
        return head + "no culprit named: %s (%s)%s; verdict: %s" % (reason, rounds, left, v.kind)


def _closest_first(candidates, offsets):
    return sorted(candidates, key=lambda t: (offsets.get(t) is None, abs(offsets.get(t) or 0.0), t))


def bisect(lab, victim, offsets, attempts, limit=MAX_ROUNDS):
    """Name the test(s) that make ``victim`` fail. ``offsets``: the tests
    that overlapped a failure of it, ``{test: start offset}``;
    ``attempts``: what is known of it already (its failure at least).

    The candidates are the tests in the company of every failure so far.
    Once the failure is reproduced beside all of them, each round runs it
    beside one half (the tests that started closest to it first): the half
    that makes it fail is kept; when neither does, the whole set is tried
    again (it then takes tests of both halves: SET) . At the end it runs
    beside the named test(s) only, ``FINAL_PROBES`` times, and alone until
    passes alone are enough for a verdict. At most ``limit`` probes; at
    most 2 + 2·ceil(log2 n) + 1 + FINAL_PROBES plus the missing runs alone
    for n candidates when every probe behaves."""
    attempts = list(attempts)
    known = classify(attempts)
    candidates = [t for t in offsets if not known.culprits or t in known.culprits] or list(offsets)
    candidates = _closest_first(candidates, offsets)
    finding = Finding(victim, "", (), 0, limit, len(candidates), known)

    def probe(kind, tests, order):
        a = lab.beside(kind, {t: offsets.get(t) for t in tests}, order)
        attempts.append(a)
        finding.rounds += 1
        finding.steps.append("round %d: beside %d test(s) (%s%s), %s: %s" % (
            finding.rounds, len(tests), ", ".join(tests[:4]), ", ..." if len(tests) > 4 else "", order,
            "failed (%s)" % a.status if a.failed else "passed"))
        lab.say("bisect %s, %s" % (victim, finding.steps[-1]))
        return a

    def alone(decisive=False):
        a = lab.alone(decisive)
        attempts.append(a)
        finding.rounds += 1
        finding.steps.append("round %d: alone: %s" % (finding.rounds, "failed (%s)" % a.status if a.failed
                                                       else "passed"))
        lab.say("bisect %s, %s" % (victim, finding.steps[-1]))
        return a

    def done(status, culprits=()):
        finding.status, finding.culprits = status, tuple(culprits)
        finding.verdict = classify(attempts)
        return finding

    def spent():
        return finding.rounds >= limit

    order = known.order
    if order is None:
        for o in (OTHERS_FIRST, VICTIM_FIRST):
            if spent():
                return done(LIMIT, candidates)
            a = probe(BESIDE, candidates, o)
            if a.failed:
                order = o
                candidates = [t for t in candidates if a.company is None or t in a.company] or candidates
                break
        else:
            return done(NOT_REPRODUCED)
    if known.alone_runs == 0:
        if spent():
            return done(LIMIT, candidates)
        if alone().failed:
            return done(FAILS_ALONE)
    while len(candidates) > 1:
        half = (len(candidates) + 1) // 2
        for part in (candidates[:half], candidates[half:]):
            if spent():
                return done(LIMIT, candidates)
            a = probe(BISECT, part, order)
            if a.failed:
                candidates = [t for t in part if a.company is None or t in a.company] or part
                break
        else:
            if spent():
                return done(LIMIT, candidates)
            if probe(BESIDE, candidates, order).failed:
                return _final(probe, alone, attempts, candidates, order, spent, done, SET)
            return done(UNRELIABLE, candidates)
    return _final(probe, alone, attempts, candidates, order, spent, done, FOUND)


def _final(probe, alone, attempts, culprits, order, spent, done, status):
    """The victim beside the named test(s) only, FINAL_PROBES times, then
    alone until the passes alone are enough for a verdict."""
    for _ in range(FINAL_PROBES):
        if spent():
            return done(LIMIT, culprits)
        if not probe(BESIDE, culprits, order).failed:
            return done(UNRELIABLE, culprits)
    while classify(attempts).alone_passes < CONFIRM_ALONE:
        if spent():
            return done(LIMIT, culprits)
        if alone(classify(attempts).alone_passes == CONFIRM_ALONE - 1).failed:
            return done(FAILS_ALONE, culprits)
    return done(status, culprits)
