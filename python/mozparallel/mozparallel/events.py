"""Delivery of events to mozlog: the one object the pool and the run report
through.

Parsers and the pool build mozlog-shaped dicts; ``EventLog.emit`` hands each
to the run's ``StructuredLogger`` by calling the method named after its
action, so mozlog's schema and state checks apply. The logger is passed in,
never global.
"""


class EventLog:
    def __init__(self, logger):
        self.logger = logger
        self._methods = {}

    def emit(self, ev):
        action = ev.pop("action")
        if action == "log":
            getattr(self.logger, ev["level"].lower())(ev["message"])
            return
        method = self._methods.get(action)
        if method is None:
            method = self._methods[action] = getattr(self.logger, action)
        method(**ev)

    def emit_all(self, events):
        for ev in events:
            self.emit(ev)

    def info(self, message):
        self.logger.info(message)

    def warning(self, message):
        self.logger.warning(message)

    def error(self, message):
        self.logger.error(message)
