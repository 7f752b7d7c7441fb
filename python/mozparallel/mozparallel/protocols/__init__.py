"""Protocol parsers: pure functions of lines, one module per protocol.

``make_parser(name, test, ...)`` is the one place that maps a protocol name
to its parser class.
"""

from .base import ExitInfo, Parser, end_event
from .tap import TapParser, parse_tap

PARSERS = {"tap": TapParser}


def protocol_names():
    return sorted(PARSERS)


def make_parser(name, test, **kwargs):
    try:
        cls = PARSERS[name]
    except KeyError:
        raise ValueError("unknown protocol %r (choose from %s)" % (name, ", ".join(protocol_names())))
    return cls(test, **kwargs)


__all__ = ["ExitInfo", "Parser", "end_event", "TapParser", "parse_tap", "make_parser", "protocol_names"]
