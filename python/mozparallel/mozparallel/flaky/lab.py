"""Probes run as rounds (rounds.py): the *lab* search.py drives, and the
attempts of a test read back from the rounds of a run, with the tests that
overlapped each (overlap.py) from the start and end times of the round's
results."""

from ..schedule import ListOrder
from .interference import ALONE, PROBE_KINDS, attempt
from .overlap import company_of, start_offsets
from .probe import Staggered, start_plan


class Stopped(Exception):
    """The run was stopped while probing: no verdict."""


def spans_of_round(rnd):
    return {test: (o.started, o.ended) for test, o in rnd.outcomes.items()}


def attempts_in_rounds(rounds, test):
    """The Attempts of ``test`` in ``rounds`` (oldest first); a probe counts
    only for its victim."""
    out = []
    for rnd in rounds:
        o = rnd.outcomes.get(test)
        if o is None or (rnd.victim is not None and rnd.victim != test):
            continue
        company = company_of(test, spans_of_round(rnd))
        out.append(attempt(rnd.kind, o.unexpected, o.status, company, rnd.jobs, rnd.order))
    return out


def newest_failure_offsets(rounds, test):
    """``{other: start offset}`` of the tests that overlapped the newest
    failure of ``test`` beside others in a round that was not a probe."""
    for rnd in reversed(rounds):
        o = rnd.outcomes.get(test)
        if o is None or not o.unexpected or rnd.victim is not None:
            continue
        spans = spans_of_round(rnd)
        company = company_of(test, spans)
        if company:
            return start_offsets(test, spans, company)
    return {}


class RoundsLab:
    """search.py's lab over FlakyRounds: each probe is a round of the run
    (recorded, logged), the victim ``victim`` beside tests of ``specs``."""

    def __init__(self, rounds, victim, specs):
        self.rounds = rounds
        self.victim = victim
        self.spec_of = {s.id: s for s in specs}
        self.count = 0

    def beside(self, kind, offsets, order):
        offsets = {t: d for t, d in offsets.items() if t in self.spec_of and t != self.victim}
        plan = start_plan(self.victim, offsets, order)
        self.count += 1
        label = "probe %d: %s beside %d test(s), %s" % (self.count, self.victim, len(offsets), order)
        rnd = self.rounds.probe_round(kind, label, Staggered([(d, self.spec_of[t]) for d, t in plan]),
                                      len(plan), self.victim, order)
        return self._attempt(rnd, kind, order)

    def alone(self, decisive=False):
        self.count += 1
        label = "probe %d: %s alone" % (self.count, self.victim)
        rnd = self.rounds.probe_round(ALONE, label, ListOrder([self.spec_of[self.victim]]), 1, self.victim,
                                      None, decisive=decisive)
        return self._attempt(rnd, ALONE, None)

    def say(self, text):
        self.rounds.logger.info("mozparallel: " + text)

    def _attempt(self, rnd, kind, order):
        o = rnd.outcomes.get(self.victim)
        if o is None or rnd.stopped:
            raise Stopped(rnd.stopped or "the probe did not run")
        company = company_of(self.victim, spans_of_round(rnd))
        return attempt(kind, o.unexpected, o.status, company, rnd.jobs, order if kind in PROBE_KINDS else None)
