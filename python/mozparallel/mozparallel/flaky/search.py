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
        if v.why:
            reason += ": " + v.why
        left = "; %d candidate(s) left: %s" % (len(self.culprits), ", ".join(self.culprits)) if self.culprits else ""
        return head + "no culprit named: %s (%s)%s; verdict: %s" % (reason, rounds, left, v.kind)


def _closest_first(candidates, offsets):
    return sorted(candidates, key=lambda t: (offsets.get(t) is None, abs(offsets.get(t) or 0.0), t))


class _Spent(Exception):
    """The round limit is reached."""


class _Search:
    def __init__(self, lab, victim, offsets, attempts, limit, candidates):
        self.lab, self.victim, self.offsets, self.limit = lab, victim, offsets, limit
        self.attempts = attempts
        self.finding = Finding(victim, "", (), 0, limit, len(candidates), classify(attempts))
        self.left = candidates          # what is known to contain the culprits, for a stop midway

    def _step(self, text):
        self.finding.rounds += 1
        self.finding.steps.append("round %d: %s" % (self.finding.rounds, text))
        self.lab.say("bisect %s, %s" % (self.victim, self.finding.steps[-1]))

    def _spend(self):
        if self.finding.rounds >= self.limit:
            raise _Spent()

    def probe(self, kind, tests, order):
        self._spend()
        a = self.lab.beside(kind, {t: self.offsets.get(t) for t in tests}, order)
        self.attempts.append(a)
        self._step("beside %d test(s) (%s%s), %s: %s" % (
            len(tests), ", ".join(tests[:4]), ", ..." if len(tests) > 4 else "", order,
            "failed (%s)" % a.status if a.failed else "passed"))
        return a

    def alone(self):
        self._spend()
        v = classify(self.attempts)
        a = self.lab.alone(v.confirmed >= CONFIRM_BESIDE and v.alone_passes == CONFIRM_ALONE - 1)
        self.attempts.append(a)
        self._step("alone: %s" % ("failed (%s)" % a.status if a.failed else "passed"))
        return a

    def done(self, status, culprits=()):
        self.finding.status, self.finding.culprits = status, tuple(culprits)
        self.finding.verdict = classify(self.attempts)
        return self.finding

    def minimal(self, fixed, candidates, order):
        """The smallest part of ``candidates`` that, beside ``fixed``, still
        makes the victim fail: keep the half that does; when neither half
        does, the culprits are in both: the part of each half needed with
        the other."""
        while len(candidates) > 1:
            self.left = fixed + candidates
            half = (len(candidates) + 1) // 2
            for part in (candidates[:half], candidates[half:]):
                a = self.probe(BISECT, fixed + part, order)
                if a.failed:
                    candidates = [t for t in part if a.company is None or t in a.company] or part
                    break
            else:
                first, second = candidates[:half], candidates[half:]
                needed = self.minimal(fixed + second, first, order)
                return needed + self.minimal(fixed + needed, second, order)
        return candidates


def bisect(lab, victim, offsets, attempts, limit=MAX_ROUNDS):
    """Name the test(s) that make ``victim`` fail. ``offsets``: the tests
    that overlapped a failure of it, ``{test: start offset}``;
    ``attempts``: what is known of it already (its failure at least).

    The candidates are the tests in the company of every failure so far.
    Once the failure is reproduced beside all of them (in one start order
    or the other), each round runs the victim beside one half (the tests
    that started closest to it first), and the half that makes it fail is
    kept; when neither half does, the culprits are in both, and each half
    is narrowed with the other beside it (a SET of tests that break it
    only together). Then the victim runs beside the named test(s) only,
    ``FINAL_PROBES`` times, and alone until the passes alone are enough
    for a verdict. At most ``limit`` probes; for one culprit among n
    candidates, at most 2 + 2·ceil(log2 n) + FINAL_PROBES plus the missing
    runs alone when every probe behaves."""
    attempts = list(attempts)
    known = classify(attempts)
    candidates = [t for t in offsets if not known.culprits or t in known.culprits] or list(offsets)
    search = _Search(lab, victim, offsets, attempts, limit, _closest_first(candidates, offsets))
    try:
        return _bisect(search, known)
    except _Spent:
        return search.done(LIMIT, search.left)


def _bisect(search, known):
    candidates = search.left
    order = known.order
    if order is None:
        for o in (OTHERS_FIRST, VICTIM_FIRST):
            a = search.probe(BESIDE, candidates, o)
            if a.failed:
                order = o
                candidates = [t for t in candidates if a.company is None or t in a.company] or candidates
                break
        else:
            return search.done(NOT_REPRODUCED)
    if known.alone_runs == 0 and search.alone().failed:
        return search.done(FAILS_ALONE)
    culprits = search.minimal([], candidates, order)
    search.left = culprits
    for _ in range(FINAL_PROBES):
        a = search.probe(BESIDE, culprits, order)
        if not a.failed or (a.company is not None and not set(culprits) <= a.company):
            return search.done(UNRELIABLE, culprits)
    while classify(search.attempts).alone_passes < CONFIRM_ALONE:
        if search.alone().failed:
            return search.done(FAILS_ALONE, culprits)
    if classify(search.attempts).kind != PARALLEL_UNSAFE:
        return search.done(UNRELIABLE, culprits)
    return search.done(FOUND if len(culprits) == 1 else SET, culprits)
