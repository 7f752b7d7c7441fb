"""Line framing of a test's output: bytes from a pipe in, complete lines
out, decoded as UTF-8 (bad bytes replaced). A line is held until it ends,
as a list of the pieces read (joined once, so a long line costs linear
time). A line longer than ``MAX_LINE`` characters (a test printing 300 MB
without a newline) is handed on in pieces of that size, so what is held
per stream never exceeds about ``MAX_LINE`` plus one read, whatever the
test prints. The pool (pool.py) decides what a line means; nothing here
knows a protocol.
"""

import codecs

READ_SIZE = 1 << 16
# The longest piece of one line handed on at once (characters). TAP, TBPL
# and mozlog lines are short; a longer line is almost always a dump, and
# its pieces reach the log one after another.
MAX_LINE = 1 << 20


class Framer:
    """One stream's framing state: the pieces of its unfinished line and
    its incremental decoder (created on the first read)."""

    __slots__ = ("pending", "held", "decoder")

    def __init__(self):
        self.pending = None     # pieces of the unfinished line, or None
        self.held = 0           # characters in ``pending``
        self.decoder = None

    def feed(self, data):
        """Complete lines in ``data`` (bytes, not empty), without their "\\n";
        [] when it only continues a line."""
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
            return self._cut()
        if pending is not None:
            pending.append(text)
            text = "".join(pending)
        lines = text.split("\n")
        rest = lines.pop()
        if rest:
            self.pending, self.held = [rest], len(rest)
        else:
            self.pending, self.held = None, 0
        if len(rest) >= MAX_LINE:
            lines.extend(self._cut())
        return lines

    def _cut(self):
        """The held text in pieces of MAX_LINE; keeps what is left over."""
        text = "".join(self.pending)
        pieces = [text[i:i + MAX_LINE] for i in range(0, len(text) - MAX_LINE + 1, MAX_LINE)]
        rest = text[len(pieces) * MAX_LINE:]
        self.pending, self.held = ([rest], len(rest)) if rest else (None, 0)
        return pieces

    def end(self):
        """What is left at end of file: the last line without a newline, or ""."""
        tail = "".join(self.pending or ())
        if self.decoder is not None:
            tail += self.decoder.decode(b"", True)
        self.pending, self.held = None, 0
        return tail
