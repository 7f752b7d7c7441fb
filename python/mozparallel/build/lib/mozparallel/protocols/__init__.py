"""Protocol parsers: pure functions of lines, one module per protocol.

``make_parser(name, test, ...)`` is the one place that maps a protocol name
(``tap``, ``tbpl``, ``mozlog`` or ``auto``) to its parser class.
"""

from .base import ExitInfo, Parser, end_event
from .detect import AutoParser
from .mozlog_raw import MozlogParser, parse_mozlog
from .tap import TapParser, parse_tap
from .tbpl import TbplParser, parse_tbpl

PARSERS = {"tap": TapParser, "tbpl": TbplParser, "mozlog": MozlogParser, "auto": AutoParser}


def protocol_names():
    return sorted(PARSERS)


def make_parser(name, test, **kwargs):
    try:
        cls = PARSERS[name]
    except KeyError:
        raise ValueError("unknown protocol %r (choose from %s)" % (name, ", ".join(protocol_names())))
    return cls(test, **kwargs)


__all__ = ["ExitInfo", "Parser", "end_event", "TapParser", "TbplParser", "MozlogParser",
           "AutoParser", "parse_tap", "parse_tbpl", "parse_mozlog", "make_parser",
           "protocol_names", "PARSERS"]
