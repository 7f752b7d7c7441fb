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
"""

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
            return ev
        if action not in ("test_status", "test_end"):
            return ev
        test = ev["test"]
        failed_now = self._failed_now.setdefault(test, [])
        if _unexpected(ev):
            failed_now.append(ev["status"])
            if action == "test_end":
                self._remember(test, ev, failed_now)
            if self.will_rerun:
                return self._as_pending(ev)
            if action == "test_end" and len(self.failures[test]) > 1:
                return _with_extra(ev, "rerun", {"verdict": "failed every attempt",
                                                 "attempts": self._attempts(test)})
            return ev
        if action != "test_end":
            return ev
        if failed_now:              # an unexpected subtest: the attempt failed
            self._remember(test, ev, failed_now)
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

    def _as_pending(self, ev):
        default = "OK" if ev["action"] == "test_end" else "PASS"
        out = _with_extra(ev, "rerun", {
            "expected": ev.get("expected", default),
            "note": "failed; judged by the re-runs or repeats that follow (--retries)"})
        out["expected"] = ev["status"]
        return out

    def _as_intermittent(self, ev):
        failed = self.failures[ev["test"]]
        statuses = sorted({f["status"] for f in failed})
        out = _with_extra(ev, "intermittent", {"failed_attempts": self._attempts(ev["test"]),
                                               "passed": self.label})
        out["known_intermittent"] = statuses
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
