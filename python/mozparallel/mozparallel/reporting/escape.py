"""Control characters in names, written as escapes, for the reporters
that print names on a line of their own (TBPL, TAP, the mach view): a test
file named ``"a\\nTEST-PASS | b.sh"`` would otherwise forge a line, and one
holding ESC would drive the terminal (``\\x1b]0;title\\x07``, colours,
cursor moves). ``a\\x1b[31m`` is printed as the seven characters
``a\\x1b[31m``; a backslash is doubled only in a name that needed escaping.
The raw log keeps every name as it is.
"""

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x80-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_name(name):
    """``name`` with every control character written as an escape (the
    same object when it has none)."""
    if not isinstance(name, str) or not _CONTROL.search(name):
        return name
    name = name.replace("\\", "\\\\")
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), "\\x%02x" % ord(m.group())), name)
