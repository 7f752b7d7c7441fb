"""Delivery of events to mozlog: the one object the pool and the run report
through.

Parsers and the pool build mozlog-shaped dicts; ``EventLog.emit`` hands each
to the run's ``StructuredLogger`` by calling the method named after its
action, so mozlog's schema and state checks apply. The logger is passed in,
never global.

Two measured costs are avoided on the per-line path (a chatty test prints
1M lines): mozlog's per-call validation (about 14 us an event) and
``StreamHandler``'s encode/decode round trip plus a flush per write.
``test_status`` and ``process_output`` dicts, already in mozlog's normal
form, go straight to the logger's handlers (the same handlers and
formatters, in the same order), and the streams of mozlog's
``StreamHandler``s are written without a flush per event: the pool calls
``flush()`` after each batch of input, so every finished result reaches the
files within one loop turn (nothing is lost by a SIGKILLed runner beyond
the batch being written).

Each running test has its own mozlog ``thread``: the ``test_start`` event
names it (``"thread": "slot-3"``, from the pool's slot, or a fleet
worker's), and every later event of that test carries it until its
``test_end``. Formatters that keep per-thread state (``grouped`` keeps the
running test of each thread) then see concurrent tests as concurrent. An
event of no running test keeps the runner's own thread name.
"""

import json
import os
import sys
import threading
import time
from contextlib import contextmanager

from mozlog.handlers import BufferHandler, LogLevelFilter, StreamHandler

# Actions sent straight to the handlers; everything else goes through the
# logger's methods (and its state checks: suite/test started, and so on).
FAST_ACTIONS = frozenset(("test_status", "process_output"))


_JSON_ENCODE = json.encoder.c_make_encoder(
    None, None, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True,
) if json.encoder.c_make_encoder is not None else None


_ENCODE_STR = json.encoder.encode_basestring_ascii


class JsonLine:
    """What mozlog's JSONFormatter writes (``json.dumps(data) + "\\n"``),
    byte for byte: a plain subtest (a million of them on a chatty run) by
    a template whose constant parts are encoded once, anything else through
    the C encoder directly."""

    TEMPLATE = '{"action": "test_status", "time": %d%s%s, "subtest": %s, "status": %s}\n'

    def __init__(self):
        self._constant = (None, None, None)
        self._middle = ""
        self._test = self._test_text = None

    def __call__(self, data):
        # 8 keys and test_status: mozlog's base five (no component) plus the
        # three required fields test, subtest, status, always in this order.
        if len(data) == 8 and data["action"] == "test_status":
            constant = self._constant
            if data["pid"] != constant[1] or data["thread"] != constant[0] \
                    or data["source"] != constant[2]:
                self._constant = constant = (data["thread"], data["pid"], data["source"])
                self._middle = ', "thread": %s, "pid": %d, "source": %s, "test": ' % (
                    _ENCODE_STR(constant[0]), constant[1], _ENCODE_STR(constant[2]))
            test = data["test"]
            if test != self._test:      # events come in runs of one test
                self._test, self._test_text = test, _ENCODE_STR(test)
            return self.TEMPLATE % (data["time"], self._middle, self._test_text,
                                    _ENCODE_STR(data["subtest"]), _ENCODE_STR(data["status"]))
        return "".join(_JSON_ENCODE(data, 0)) + "\n"

    def pass_line(self, now, thread, pid, source, test, subtest):
        """The line of a plain passing subtest, from its fields."""
        constant = self._constant
        if pid != constant[1] or thread != constant[0] or source != constant[2]:
            self(dict(action="test_status", time=now, thread=thread, pid=pid, source=source,
                      test=test, subtest=subtest, status="PASS"))
        if test != self._test:
            self._test, self._test_text = test, _ENCODE_STR(test)
        return self.TEMPLATE % (now, self._middle, self._test_text, _ENCODE_STR(subtest), '"PASS"')


def _is_mozlog_json(formatter):
    return getattr(formatter, "__qualname__", "") == "JSONFormatter.<locals>.<lambda>"


class BatchedStreamHandler:
    """mozlog's ``StreamHandler`` without the flush per message (and without
    its encode/decode round trip: our text is decoded with ``replace``, so it
    holds no surrogates)."""

    def __init__(self, stream, formatter):
        self.stream = stream
        self.formatter = formatter
        self._pending = []          # formatted text not yet written
        self._write = self._pending.append
        # setup_logging wraps the formatter in a LogLevelFilter, which only
        # filters ``log`` actions: the fast path skips it.
        inner = formatter
        while isinstance(inner, LogLevelFilter):
            inner = inner.inner
        if _JSON_ENCODE is not None and _is_mozlog_json(inner):
            inner = JsonLine()
        self.unfiltered_formatter = inner

    def __call__(self, data):
        self._put(self.formatter(data))

    def write_pass(self, now, thread, pid, source, test, subtest):
        """A plain passing subtest, for a raw JSON stream (see EventLog)."""
        self._write(self.unfiltered_formatter.pass_line(now, thread, pid, source, test, subtest))

    def write_unfiltered(self, data):
        """``__call__`` for an action that is never ``log``."""
        self._put(self.unfiltered_formatter(data))

    def _put(self, formatted):
        if formatted:
            if isinstance(formatted, bytes):
                formatted = formatted.decode("utf-8", "replace")
            self._write(formatted)

    def flush(self):
        try:
            if self._pending:
                text = "".join(self._pending)
                self._pending.clear()
                self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass


def _batch_streams(logger):
    """Swap each of the logger's StreamHandlers (also inside a
    LogLevelFilter) for a BatchedStreamHandler; return the new ones."""
    batched = []
    for handler in list(logger.handlers):
        outer, inner = None, handler
        while isinstance(inner, LogLevelFilter):
            outer, inner = inner, inner.inner
        if type(inner) is not StreamHandler:
            continue
        fast = BatchedStreamHandler(inner.stream, inner.formatter)
        batched.append(fast)
        if outer is not None:
            outer.inner = fast
        else:
            logger.remove_handler(handler)
            logger.add_handler(fast)
    return batched


@contextmanager
def _thread_named(name):
    """mozlog's logger methods stamp ``threading.current_thread().name``:
    while one runs for a test, the thread carries that test's name."""
    thread = threading.current_thread()
    own = thread.name
    thread.name = name
    try:
        yield
    finally:
        thread.name = own


class EventLog:
    def __init__(self, logger):
        self.logger = logger
        self._methods = {}
        self._streams = _batch_streams(logger)
        self._pid = os.getpid()
        self._thread = threading.current_thread().name
        self._threads = {}          # running test id -> its thread ("slot-3")
        # --log-X-buffer N: mozlog's BufferHandler holds test_status and log
        # messages until told to flush (a harness does it on a failure):
        # flushed at each unexpected result, so a failure is never held back.
        self._buffered = any(isinstance(h, BufferHandler) for h in logger.handlers)
        self._source = logger.name
        self._component = logger.component
        self._fast_source = None
        self._fast = ([], [])
        self._batch_handlers = None
        self._now_ms = None

    def emit(self, ev):
        """One event. One that names a running test (a ``log`` may, for
        that: mozlog's ``log`` has no test field, so it only picks the
        thread) carries that test's thread."""
        action = ev["action"]
        if action in FAST_ACTIONS:
            self._emit_fast(ev)
            return
        del ev["action"]
        thread = None
        test = ev.get("test")
        if test is not None:
            if action == "test_start":
                given = ev.pop("thread", None)
                if given:
                    self._threads[test] = given
            thread = self._threads.get(test)
            if action == "test_end":
                self._threads.pop(test, None)
        failure = ev.get("level") in ("ERROR", "CRITICAL") if action == "log" else \
            ev.get("expected") not in (None, ev.get("status")) and ev.get("status") != "SKIP"
        if action == "log":
            method = getattr(self.logger, ev["level"].lower())
            ev = {"message": ev["message"]}
        else:
            method = self._methods.get(action)
            if method is None:
                method = self._methods[action] = getattr(self.logger, action)
        if thread is None:
            method(**ev)
        else:
            with _thread_named(thread):
                method(**ev)
        if failure and self._buffered:
            self.logger.send_message("buffer", "flush")

    def _fast_handlers(self):
        """``(all, not_quiet, pass_writers)``: the logger's handlers with
        LogLevelFilters peeled off (they only filter ``log`` actions, never
        the fast ones); those that want expected subtests (a handler is
        quiet when it declares ``ignores_expected_subtests``); and, when
        every one of those writes raw JSON, their writers, so that a plain
        passing point is written without building its dict at all."""
        handlers = self.logger.handlers
        if handlers != self._fast_source:
            self._fast_source = list(handlers)
            peeled = []
            for handler in handlers:
                while isinstance(handler, LogLevelFilter):
                    handler = handler.inner
                quiet = getattr(handler, "ignores_expected_subtests", False)
                target = handler
                if isinstance(handler, BatchedStreamHandler):
                    quiet = getattr(handler.unfiltered_formatter, "ignores_expected_subtests", False)
                    target = handler.write_unfiltered
                peeled.append((handler, target, quiet))
            loud = [(h, t) for h, t, quiet in peeled if not quiet]
            writers = None
            if all(isinstance(h, BatchedStreamHandler) and isinstance(h.unfiltered_formatter, JsonLine)
                   for h, _ in loud) and not self._component:
                writers = [h for h, _ in loud]
            self._fast = ([t for _, t, _ in peeled], [t for _, t in loud], writers)
        return self._fast

    def emit_many(self, events):
        """Emit a batch (one read's worth): one timestamp for all of them."""
        now = self._now_ms = int(time.time() * 1000)
        self._batch_handlers = fast_handlers = self._fast_handlers()
        writers = fast_handlers[2]
        fast = FAST_ACTIONS
        threads, own = self._threads, self._thread
        for ev in events:
            action = ev["action"]
            if writers is not None and action == "test_status" and len(ev) == 4 \
                    and ev["status"] == "PASS":
                # A plain passing point: only raw JSON writers want it.
                test = ev["test"]
                for writer in writers:
                    writer.write_pass(now, threads.get(test, own), self._pid, self._source,
                                      test, ev["subtest"])
            elif action in fast:
                self._emit_fast(ev)
            else:
                self.emit(ev)
                self._batch_handlers = fast_handlers = self._fast_handlers()
                writers = fast_handlers[2]
        self._now_ms = None
        self._batch_handlers = None

    def _emit_fast(self, ev):
        now = self._now_ms
        if now is None:
            now = int(time.time() * 1000)
        if ev["action"] == "test_status":
            # mozlog's normal form: a subtest's default expectation is PASS,
            # and ``expected`` is dropped when the result is as expected.
            status = ev["status"]
            if "expected" in ev:
                if ev["expected"] == status or status == "SKIP":
                    del ev["expected"]
            elif status != "PASS" and status != "SKIP":
                ev["expected"] = "PASS"
        thread = self._threads.get(ev.get("test"), self._thread)
        if self._component:
            data = {"action": ev["action"], "time": now, "thread": thread, "pid": self._pid,
                    "source": self._source, "component": self._component, **ev}
        else:
            data = {"action": ev["action"], "time": now, "thread": thread, "pid": self._pid,
                    "source": self._source, **ev}
        fast = self._batch_handlers or self._fast_handlers()
        handlers = fast[1] if "expected" not in data and data["action"] == "test_status" else fast[0]
        for handler in handlers:
            try:
                handler(data)
            except Exception as e:  # a failing handler must not silence the others
                print("mozparallel: log handler failed: %r" % (e,), file=sys.__stderr__)
        if self._buffered and "expected" in data:
            self.logger.send_message("buffer", "flush")

    def flush(self):
        for stream in self._streams:
            stream.flush()

