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
"""

import json
import os
import sys
import threading
import time

from mozlog.handlers import LogLevelFilter, StreamHandler

# Actions sent straight to the handlers; everything else goes through the
# logger's methods (and its state checks: suite/test started, and so on).
FAST_ACTIONS = frozenset(("test_status", "process_output"))


_JSON_ENCODE = json.encoder.c_make_encoder(
    None, None, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True,
) if json.encoder.c_make_encoder is not None else None


def _json_line(data):
    """What mozlog's JSONFormatter writes (``json.dumps(data) + "\\n"``),
    through the C encoder directly, without dumps' Python layers."""
    return "".join(_JSON_ENCODE(data, 0)) + "\n"


def _is_mozlog_json(formatter):
    return getattr(formatter, "__qualname__", "") == "JSONFormatter.<locals>.<lambda>"


class BatchedStreamHandler:
    """mozlog's ``StreamHandler`` without the flush per message (and without
    its encode/decode round trip: our text is decoded with ``replace``, so it
    holds no surrogates)."""

    def __init__(self, stream, formatter):
        self.stream = stream
        self.formatter = formatter
        # setup_logging wraps the formatter in a LogLevelFilter, which only
        # filters ``log`` actions: the fast path skips it.
        inner = formatter
        while isinstance(inner, LogLevelFilter):
            inner = inner.inner
        if _JSON_ENCODE is not None and _is_mozlog_json(inner):
            inner = _json_line
        self.unfiltered_formatter = inner

    def __call__(self, data):
        formatted = self.formatter(data)
        if formatted:
            if isinstance(formatted, bytes):
                formatted = formatted.decode("utf-8", "replace")
            self.stream.write(formatted)

    def write_unfiltered(self, data):
        """``__call__`` for an action that is never ``log``."""
        formatted = self.unfiltered_formatter(data)
        if formatted:
            if isinstance(formatted, bytes):
                formatted = formatted.decode("utf-8", "replace")
            self.stream.write(formatted)

    def flush(self):
        try:
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


class EventLog:
    def __init__(self, logger):
        self.logger = logger
        self._methods = {}
        self._streams = _batch_streams(logger)
        self._pid = os.getpid()
        self._thread = threading.current_thread().name
        self._source = logger.name
        self._component = logger.component
        self._fast_source = None
        self._fast = []
        self._now_ms = None

    def emit(self, ev):
        action = ev["action"]
        if action in FAST_ACTIONS:
            self._emit_fast(ev)
            return
        del ev["action"]
        if action == "log":
            getattr(self.logger, ev["level"].lower())(ev["message"])
            return
        method = self._methods.get(action)
        if method is None:
            method = self._methods[action] = getattr(self.logger, action)
        method(**ev)

    def _fast_handlers(self):
        """The logger's handlers with LogLevelFilters peeled off: they only
        filter ``log`` actions, never the fast ones."""
        handlers = self.logger.handlers
        if handlers != self._fast_source:
            self._fast_source = list(handlers)
            peeled = []
            for handler in handlers:
                while isinstance(handler, LogLevelFilter):
                    handler = handler.inner
                if isinstance(handler, BatchedStreamHandler):
                    handler = handler.write_unfiltered
                peeled.append(handler)
            self._fast = peeled
        return self._fast

    def emit_many(self, events):
        """Emit a batch (one read's worth): one timestamp for all of them."""
        self._now_ms = int(time.time() * 1000)
        fast = FAST_ACTIONS
        for ev in events:
            if ev["action"] in fast:
                self._emit_fast(ev)
            else:
                self.emit(ev)
        self._now_ms = None

    def _emit_fast(self, ev):
        now = self._now_ms
        if now is None:
            now = int(time.time() * 1000)
        data = {"action": ev.pop("action"), "time": now,
                "thread": self._thread, "pid": self._pid, "source": self._source}
        if self._component:
            data["component"] = self._component
        if data["action"] == "test_status":
            # mozlog's normal form: a subtest's default expectation is PASS,
            # and ``expected`` is dropped when the result is as expected.
            status = ev["status"]
            expected = ev.get("expected", "PASS")
            if expected == status or status == "SKIP":
                ev.pop("expected", None)
            else:
                ev["expected"] = expected
        data.update(ev)
        for handler in self._fast_handlers():
            try:
                handler(data)
            except Exception as e:  # a failing handler must not silence the others
                print("mozparallel: log handler failed: %r" % (e,), file=sys.__stderr__)

    def emit_all(self, events):
        for ev in events:
            self.emit(ev)

    def flush(self):
        for stream in self._streams:
            stream.flush()

    def info(self, message):
        self.logger.info(message)

    def warning(self, message):
        self.logger.warning(message)

    def error(self, message):
        self.logger.error(message)
