"""The verdict lines of the flaky rounds (flaky/rounds.py): which tests
were intermittent, which failed every time, which were unstable alone or
under load. Text only; reads the rounds' outcomes."""

from .interference import PARALLEL_UNSAFE


def history_of(rounds, test, kinds):
    return [r.outcomes[test] for r in rounds if r.kind in kinds and test in r.outcomes]


def kind_rounds(rounds, *kinds):
    return [r for r in rounds if r.kind in kinds]


# The attempts of a test that --retries judges (rerun_lines), and
# the rounds that make a test unexpected without it (any failure in any).
ATTEMPTS = ("", "repeat", "retry")
ALL_ROUNDS = ("", "repeat", "retry", "verify-alone", "verify-load")


def intermittent_ids(rounds, specs):
    """Tests that failed and passed on another attempt (--retries: a
    retry, or one of the --repeat runs): not unexpected in the end, as
    rerun_lines says and the exit status has it."""
    out = []
    for spec in specs:
        outcomes = history_of(rounds, spec.id, ATTEMPTS)
        failed = [o for o in outcomes if o.unexpected]
        if failed and len(failed) < len(outcomes):
            out.append(spec.id)
    return out


def unexpected_ids(rounds, specs, rerun):
    """Tests unexpected in the end: with --retries, those that failed
    every attempt; without, those unexpected in any round (an unstable test
    under --verify, a failing run of --repeat or --run-until-failure)."""
    out = []
    for spec in specs:
        outcomes = history_of(rounds, spec.id, ATTEMPTS if rerun else ALL_ROUNDS)
        failed = [o for o in outcomes if o.unexpected]
        if failed and (not rerun or len(failed) == len(outcomes)):
            out.append(spec.id)
    return out


def rerun_lines(rounds, specs, n, stopped, interference=None):
    """``interference``: {test id: interference.Verdict} of the tests probed
    (failed beside others, passed alone)."""
    interference = interference or {}
    retried = [s.id for s in specs if history_of(rounds, s.id, ("retry",))]
    intermittent, real, unsafe = [], [], []
    for spec in specs:
        outcomes = history_of(rounds, spec.id, ATTEMPTS)
        failed = [o for o in outcomes if o.unexpected]
        if not failed:
            continue
        verdict = interference.get(spec.id)
        if verdict is not None and verdict.kind == PARALLEL_UNSAFE:
            unsafe.append("%s (%s)" % (spec.id, verdict.describe()))
            continue
        note = "%s (failed %d of %d attempts: %s)" % (spec.id, len(failed), len(outcomes),
                                                      ", ".join(sorted({o.status for o in failed})))
        if verdict is not None:
            note = note[:-1] + "; probed: %s)" % verdict.describe()
        (intermittent if len(failed) < len(outcomes) else real).append(note)
    if not intermittent and not real and not unsafe:
        return []
    lines = ["mozparallel: --retries %d: %d test(s) failed and were re-run one at a time"
             % (n, len(retried))]
    if stopped:
        lines[0] += " (the run stopped early, %s: the verdicts below are incomplete)" % stopped
    lines.append("mozparallel: intermittent (passed on another attempt): %s" % ("; ".join(intermittent) or "none"))
    if unsafe:
        lines.append("mozparallel: parallel-unsafe (failed beside other tests, passed alone): %s" % "; ".join(unsafe))
    lines.append("mozparallel: real failures (failed every attempt): %s" % ("; ".join(real) or "none"))
    return lines


def until_failure_lines(rounds, cap):
    runs = kind_rounds(rounds, "", "repeat")
    failing = [r for r in runs if r.any_unexpected]
    if not failing:
        return ["mozparallel: --run-until-failure: no unexpected result in %d run(s)" % len(runs)]
    rnd = failing[0]
    number = runs.index(rnd) + 1
    tests = ", ".join("%s %s" % (t, o.status) for t, o in rnd.outcomes.items() if o.unexpected)
    return ["mozparallel: --run-until-failure: first unexpected result in run %d of at most %d "
            "(took %d runs): %s" % (number, cap, number, tests)]


def repeat_lines(rounds, specs, repeat):
    runs = kind_rounds(rounds, "", "repeat")
    lines = ["mozparallel: --repeat %d: each test ran %d time(s)" % (repeat, len(runs))]
    changed = []
    for spec in specs:
        outcomes = history_of(rounds, spec.id, ("", "repeat"))
        failed = [o for o in outcomes if o.unexpected]
        if failed:
            changed.append("%s (unexpected in %d of %d: %s)" % (
                spec.id, len(failed), len(outcomes), ", ".join(sorted({o.status for o in failed}))))
    lines.append("mozparallel: unexpected results: %s" % ("; ".join(changed) or "none"))
    return lines


def verify_lines(rounds, specs, jobs):
    alone_n = len(kind_rounds(rounds, "verify-alone"))
    load_n = len(kind_rounds(rounds, "", "verify-load"))
    lines = ["mozparallel: --verify: each test %d time(s) alone, %d time(s) under load (J=%d)"
             % (alone_n, load_n, jobs)]
    unstable = 0
    for spec in specs:
        parts, bad = [], False
        for mode, kinds in (("alone", ("verify-alone",)), ("under load", ("", "verify-load"))):
            outcomes = history_of(rounds, spec.id, kinds)
            failed = [o for o in outcomes if o.unexpected]
            if failed:
                bad = True
                parts.append("%s unstable (%d of %d unexpected: %s)" % (
                    mode, len(failed), len(outcomes), ", ".join(sorted({o.status for o in failed}))))
            else:
                parts.append("%s stable (%d run(s))" % (mode, len(outcomes)))
        unstable += bad
        lines.append("mozparallel: verify %s: %s" % (spec.id, "; ".join(parts)))
    lines.append("mozparallel: --verify: %d of %d test(s) unstable" % (unstable, len(specs)))
    return lines
