"""Which tests ran at the same time as a test: its *company*. From the
start and end of each test of one round, live (monotonic times) or from
the store (``start_offset``/``end_offset`` of each result of one run). Two
tests overlap when each started before the other ended. Pure functions.
"""


def company_of(test, spans):
    """The tests of ``spans`` (``{test: (start, end)}``) that overlapped
    ``test``; None when the times of ``test`` are not known."""
    mine = spans.get(test)
    if mine is None or mine[0] is None or mine[1] is None:
        return None
    start, end = mine
    return frozenset(other for other, (s, e) in spans.items()
                     if other != test and s is not None and e is not None and s < end and start < e)


def spans_of_results(results):
    """``{test: (start_offset, end_offset)}`` of the ResultRecords of one run."""
    return {r.test: (r.start_offset, r.end_offset) for r in results}


def start_offsets(test, spans, company):
    """``{other: seconds}``: when each test of ``company`` started, relative
    to ``test`` (negative: before it). None where a time is missing."""
    mine = spans.get(test, (None, None))[0]
    out = {}
    for other in company:
        theirs = spans.get(other, (None, None))[0]
        out[other] = None if mine is None or theirs is None else round(theirs - mine, 6)
    return out
