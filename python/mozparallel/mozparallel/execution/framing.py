"""Line framing of a test's output: bytes from a pipe in, complete lines
out, decoded as UTF-8 (bad bytes replaced). A line is held until it ends,
as a list of the pieces read (joined once, so a long line costs linear
time). A line longer than ``MAX_LINE`` characters (a test printing 300 MB
without a newline) is handed on in pieces of that size, so what is held
per stream never exceeds about ``MAX_LINE`` plus one read, whatever the
test prints. Only the first piece of such a line is a line: the others are
marked (``pieces``), and the pool logs them as output without parsing them
(a piece that begins "not ok" is not a result). The pool (pool.py) decides
what a line means; nothing here knows a protocol.
"""

import codecs

READ_SIZE = 1 << 16
# The longest piece of one line handed on at once (characters). TAP, TBPL
# and mozlog lines are short; a longer line is almost always a dump, and
# its pieces reach the log one after another.
MAX_LINE = 1 << 20


class Framer:
    """One stream's framing state: the pieces of its unfinished line and
    its incremental decoder (created on the first read).

    After ``feed`` (or ``end``), ``pieces`` is None when every string
    returned is a line (or the first piece of one), else ``(lead, tail)``:
    the first ``lead`` and the last ``tail`` strings returned are later
    pieces of a line longer than MAX_LINE (there are none in between)."""

    __slots__ = ("pending", "held", "decoder", "cut", "pieces")

    def __init__(self):
        self.pending = None     # pieces of the unfinished line, or None
        self.held = 0           # characters in ``pending``
        self.decoder = None
        self.cut = False        # the line being read was handed on in part already
        self.pieces = None

    def feed(self, data):
        """Complete lines in ``data`` (bytes, not empty), without their "\\n";
        [] when it only continues a line. See ``pieces``."""
        decoder = self.decoder
        if decoder is None:
            decoder = self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = decoder.decode(data)
        pending = self.pending
        if "\n" not in text:
            if pending is None:
                self.pending, self.held = [text], len(text)
            else:
                pending.append(text)
                self.held += len(text)
            if self.held < MAX_LINE:
                return []
            pieces = self._cut()
            # All later pieces, or the first piece and later ones.
            self.pieces = (len(pieces), 0) if self.cut else (0, len(pieces) - 1)
            self.cut = True
            return pieces
        if pending is not None:
            pending.append(text)
            text = "".join(pending)
        lines = text.split("\n")
        rest = lines.pop()
        if rest:
            self.pending, self.held = [rest], len(rest)
        else:
            self.pending, self.held = None, 0
        if self.cut or len(rest) >= MAX_LINE:
            self._mark(lines, rest)     # a line longer than MAX_LINE: rare
        else:
            self.pieces = None
        return lines

    def _mark(self, lines, rest):
        """Set ``pieces`` for ``lines``: the first ends a line cut before
        (if one was), and ``rest`` (what follows the last newline) is cut
        if it is long enough already."""
        lead = 1 if self.cut else 0
        self.cut = False
        tail = 0
        if len(rest) >= MAX_LINE:
            pieces = self._cut()
            lines.extend(pieces)
            tail = len(pieces) - 1
            self.cut = True
        self.pieces = (lead, tail)

    def _cut(self):
        """The held text in pieces of MAX_LINE; keeps what is left over."""
        text = "".join(self.pending)
        pieces = [text[i:i + MAX_LINE] for i in range(0, len(text) - MAX_LINE + 1, MAX_LINE)]
        rest = text[len(pieces) * MAX_LINE:]
        self.pending, self.held = ([rest], len(rest)) if rest else (None, 0)
        return pieces

    def end(self):
        """What is left at end of file: the last line without a newline, or
        "" (``pieces`` is (1, 0) when it ends a line handed on in part)."""
        tail = "".join(self.pending or ())
        if self.decoder is not None:
            tail += self.decoder.decode(b"", True)
        self.pieces = (1, 0) if self.cut else None
        self.pending, self.held, self.cut = None, 0, False
        return tail
