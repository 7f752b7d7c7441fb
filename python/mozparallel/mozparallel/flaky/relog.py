"""How re-run attempts appear in the log (--retries). Wraps the run's
EventLog; never touches a process.

An attempt that will be run again is logged the way xpcshell logs a test
that failed in parallel in automation: ``expected`` set to the status, so
it is not unexpected, with the real expectation under ``extra["rerun"]``.
The passing attempt of a test that failed before carries the earlier
failures in ``known_intermittent`` and ``extra["intermittent"]``; a test
that fails every attempt keeps its last failure unexpected. So the stream
(and the exit status read from it) says intermittent or real failure, and
a consumer still sees every attempt.

Each failing attempt names the tests that overlapped it in time
(``extra["rerun"]["overlapped"]``, from the test_start and test_end events
of its round). During a probe (search.py: a test run again beside chosen
tests, or alone, to tell parallel-unsafe from intermittent) every failure
is pending, and every test_end is marked as a repeat (``extra["rerun"]``
with ``probe``), so no view counts a probed test twice. A test that history
marks as always failing (``no_rerun``) is not re-run: its failures stay
unexpected.
"""

import time

from ..contract import is_unexpected


def _unexpected(ev):
    """mozlog's rule on the normal form: a subtest's expectation defaults to
    PASS, a test's to OK."""
    if "expected" in ev:
        return is_unexpected(ev)
    default = "OK" if ev["action"] == "test_end" else "PASS"
    return ev.get("status") not in (default, "SKIP", None)


class RerunLog:
    """The run's EventLog, with the attempts of re-run tests rewritten."""

    def __init__(self, events):
        self.inner = events
        self.will_rerun = True      # False while the last attempt of each test runs
        self.label = ""             # what the current attempt is ("run 2", "re-run 1")
        self.failures = {}          # test id -> [failed attempt: {status, message, attempt}]
        self._failed_now = {}       # test id -> unexpected statuses of the running attempt
        self.no_rerun = frozenset()     # tests not re-run (always failing): failures stay unexpected
        self.probe = None               # the victim while a probe runs (search.py), else None
        self.verdicts = {}              # test id -> (verdict, text) for its passing attempt
        self._spans = {}                # test id -> [start, end or None] in the current round
        self.clock = time.monotonic

    def start_round(self, label, probe=None):
        """A new round (``probe``: its victim, for a probe)."""
        self.label = label
        self.probe = probe
        self._spans = {}

    def __getattr__(self, name):    # flush, info, warning...: the EventLog's own
        return getattr(self.inner, name)

    def emit(self, ev):
        self.inner.emit(self._rewrite(ev))

    def emit_many(self, evs):
        rewrite = self._rewrite
        # A plain passing subtest (most events) cannot need rewriting.
        self.inner.emit_many([ev if ev["action"] == "test_status" and ev["status"] == "PASS"
                              and "expected" not in ev else rewrite(ev) for ev in evs])

    def emit_all(self, evs):
        for ev in evs:
            self.emit(ev)

    def _rewrite(self, ev):
        action = ev["action"]
        if action == "test_start":
            self._failed_now[ev["test"]] = []
            self._spans[ev["test"]] = [self.clock(), None]
            return ev
        if action not in ("test_status", "test_end"):
            return ev
        test = ev["test"]
        if action == "test_end" and test in self._spans:
            self._spans[test][1] = self.clock()
        if self.probe is not None and test != self.probe:
            return self._as_company(ev)
        failed_now = self._failed_now.setdefault(test, [])
        if _unexpected(ev):
            failed_now.append(ev["status"])
            if action == "test_end":
                self._remember(test, ev, failed_now)
            if test in self.no_rerun and self.probe is None:
                return ev
            if self.will_rerun or self.probe is not None:
                return self._as_pending(ev)
            if action == "test_end" and len(self.failures[test]) > 1:
                return _with_extra(ev, "rerun", {"verdict": "failed every attempt",
                                                 "attempts": self._attempts(test)})
            return ev
        if action != "test_end":
            return ev
        if failed_now:              # an unexpected subtest (the end itself is OK): the attempt failed
            self._remember(test, ev, failed_now)
            if self.will_rerun:
                return self._as_pending(ev)
            if len(self.failures[test]) > 1:
                return _with_extra(ev, "rerun", {"verdict": "failed every attempt",
                                                 "attempts": self._attempts(test)})
            return ev
        if test in self.failures:
            return self._as_intermittent(ev)
        return ev

    def _remember(self, test, end, failed_now):
        self.failures.setdefault(test, []).append({
            "status": failed_now[-1] if end["status"] in ("OK", "PASS") else end["status"],
            "message": end.get("message") or "", "attempt": self.label})

    def _attempts(self, test):
        return [dict(f) for f in self.failures.get(test, [])]

    def overlapped(self, test):
        """The tests of this round that overlapped ``test`` in time, sorted."""
        start, end = self._spans.get(test, (None, None))
        if start is None:
            return []
        end = self.clock() if end is None else end
        return sorted(other for other, (s, e) in self._spans.items()
                      if other != test and s < end and (e is None or e > start))

    def _as_pending(self, ev):
        default = "OK" if ev["action"] == "test_end" else "PASS"
        note = {"expected": ev.get("expected", default),
                "note": "failed; judged by the re-runs or repeats that follow (--retries)"}
        if ev["action"] == "test_end":
            note["overlapped"] = self.overlapped(ev["test"])
        if self.probe is not None:
            note["probe"] = self.label
            note["note"] = "failed in a probe (%s); judged by the verdict that follows" % self.label
        out = _with_extra(ev, "rerun", note)
        out["expected"] = ev["status"]
        return out

    def _as_company(self, ev):
        """A test run beside the probed one: never unexpected, never counted again."""
        if _unexpected(ev):
            out = _with_extra(ev, "rerun", {"expected": ev.get("expected"), "probe": self.label,
                                            "note": "failed beside %s in a probe" % self.probe})
            out["expected"] = ev["status"]
            return out
        if ev["action"] == "test_end":
            return _with_extra(ev, "rerun", {"probe": self.label})
        return ev

    def _as_intermittent(self, ev):
        failed = self.failures[ev["test"]]
        statuses = sorted({f["status"] for f in failed})
        out = _with_extra(ev, "intermittent", {"failed_attempts": self._attempts(ev["test"]),
                                               "passed": self.label})
        out["known_intermittent"] = statuses
        verdict = self.verdicts.get(ev["test"])
        if verdict is not None:
            out["extra"]["interference"] = {"verdict": verdict[0], "evidence": verdict[1]}
            out["message"] = "%s: %s" % verdict
        elif self.probe is not None:
            out["message"] = "passed alone (%s) after %d failure(s) (%s); judged by the verdict that follows" % (
                self.label, len(failed), ", ".join(statuses))
        else:
            out["message"] = "intermittent: failed %d time(s) (%s), then passed (%s)" % (
                len(failed), ", ".join(statuses), self.label)
        return out


def _with_extra(ev, key, value):
    """A copy of ``ev`` with ``extra[key] = value`` (the pool keeps the
    original: the store records what really happened)."""
    out = dict(ev)
    extra = dict(out.get("extra") or {})
    extra[key] = value
    out["extra"] = extra
    return out
