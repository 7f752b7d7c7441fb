"""The verdict lines of the flaky rounds (flaky/rounds.py): which tests
were intermittent, which failed every time, which were unstable alone or
under load. Text only; reads the rounds' outcomes."""


def history_of(rounds, test, kinds):
    return [r.outcomes[test] for r in rounds if r.kind in kinds and test in r.outcomes]


def kind_rounds(rounds, *kinds):
    return [r for r in rounds if r.kind in kinds]


def intermittent_ids(rounds, specs):
    """Tests whose main-run failure was followed by a passing re-run
    (--retries): not unexpected in the end."""
    out = []
    for spec in specs:
        outcomes = history_of(rounds, spec.id, ("", "repeat", "retry"))
        failed = [o for o in outcomes if o.unexpected]
        if failed and len(failed) < len(outcomes) and history_of(rounds, spec.id, ("retry",)):
            out.append(spec.id)
    return out


def rerun_lines(rounds, specs, n, stopped):
    retried = [s.id for s in specs if history_of(rounds, s.id, ("retry",))]
    intermittent, real = [], []
    for spec in specs:
        outcomes = history_of(rounds, spec.id, ("", "repeat", "retry"))
        failed = [o for o in outcomes if o.unexpected]
        if not failed:
            continue
        note = "%s (failed %d of %d attempts: %s)" % (spec.id, len(failed), len(outcomes),
                                                      ", ".join(sorted({o.status for o in failed})))
        (intermittent if len(failed) < len(outcomes) else real).append(note)
    if not intermittent and not real:
        return []
    lines = ["mozparallel: --retries %d: %d test(s) failed and were re-run one at a time"
             % (n, len(retried))]
    if stopped:
        lines[0] += " (the run stopped early, %s: the verdicts below are incomplete)" % stopped
    lines.append("mozparallel: intermittent (passed on another attempt): %s" % ("; ".join(intermittent) or "none"))
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
