"""The manifest condition language (``skip-if``, ``run-if``, ``fail-if``),
evaluated the way mozilla-central's manifestparser does today.

A condition value holds one expression per line; the lines are OR-ed. Unlike
manifestparser 2.1.0 this never silently drops text it cannot read: a single
``=``, a stray character or a trailing token is a ``ConditionError``. An
unknown name is ``""``, as upstream does, unless the evaluator is strict,
where it is an ``UnknownName`` error; ``unknown_names`` says which names a
value reads that the values lack (for a warning). Knows nothing of files:
callers add the manifest and the line to the message.
"""

import re


class ConditionError(Exception):
    """An expression that cannot be read or evaluated."""


class UnknownName(ConditionError):
    def __init__(self, name, text):
        super().__init__("unknown name %r in condition %r" % (name, text))
        self.name = name


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<name>[A-Za-z_]\w*)
    | (?P<int>[0-9]+)
    | "(?P<dq>[^"]*)" | '(?P<sq>[^']*)'
    | (?P<op>==|!=|<=|>=|<|>|\|\||&&|!|\(|\))
    | (?P<bad>\S)
    )""", re.VERBOSE | re.DOTALL)

# Binding powers as in manifestparser: || < && < comparisons; ``!`` binds
# tightest (``!a == b`` is ``(!a) == b``).
_BINARY = {"||": 10, "&&": 20, "==": 30, "!=": 30, "<": 30, ">": 30, "<=": 30, ">=": 30}
_NOT_POWER = 100


def _tokens(text):
    text = text.strip()
    out, pos, end = [], 0, len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:           # nothing but whitespace left
            break
        pos = m.end()
        kind = m.lastgroup
        if kind == "bad":
            ch = m.group("bad")
            if ch == "=":
                raise ConditionError("single '=' in condition %r (use '==')" % text)
            raise ConditionError("unexpected %r in condition %r" % (ch, text))
        if kind == "name":
            word = m.group("name")
            if word in ("true", "false"):
                out.append(("lit", word == "true"))
            else:
                out.append(("name", word))
        elif kind == "int":
            out.append(("lit", int(m.group("int"))))
        elif kind in ("dq", "sq"):
            out.append(("lit", m.group(kind)))
        else:
            out.append(("op", m.group("op")))
    return out


class Condition:
    """One compiled expression: ``names`` it reads and ``evaluate(values)``."""

    __slots__ = ("text", "names", "_fn")

    def __init__(self, text):
        self.text = text
        self.names = set()
        self._fn = _Compiler(text, _tokens(text), self.names).compile()

    def evaluate(self, values, strict=True):
        """The raw value of the expression (truthiness is what matters)."""
        if strict:
            for name in self.names:
                if name not in values:
                    raise UnknownName(name, self.text)
        try:
            return self._fn(values)
        except TypeError as e:  # e.g. 'linux' < 3
            raise ConditionError("cannot evaluate %r: %s" % (self.text, e))


class _Compiler:
    """A Pratt parser that turns tokens into nested closures."""

    def __init__(self, text, tokens, names):
        self.text, self.tokens, self.names, self.i = text, tokens, names, 0

    def compile(self):
        if not self.tokens:
            raise ConditionError("empty condition")
        fn = self.expression(0)
        if self.i < len(self.tokens):
            raise ConditionError("unexpected %r in condition %r"
                                 % (str(self.tokens[self.i][1]), self.text))
        return fn

    def next(self):
        if self.i >= len(self.tokens):
            raise ConditionError("condition ends too early: %r" % self.text)
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def peek_power(self):
        if self.i < len(self.tokens):
            kind, value = self.tokens[self.i]
            if kind == "op":
                return _BINARY.get(value, 0)
            raise ConditionError("unexpected %r in condition %r (missing && or ||?)"
                                 % (str(value), self.text))
        return 0

    def expression(self, power):
        left = self.prefix()
        while power < self.peek_power():
            op = self.next()[1]
            left = _binary(op, left, self.expression(_BINARY[op]))
        return left

    def prefix(self):
        kind, value = self.next()
        if kind == "lit":
            return lambda v, value=value: value
        if kind == "name":
            self.names.add(value)
            return lambda v, name=value: v.get(name, "")
        if value == "!":
            inner = self.expression(_NOT_POWER)
            return lambda v: not inner(v)
        if value == "(":
            inner = self.expression(0)
            if self.next() != ("op", ")"):
                raise ConditionError("missing ')' in condition %r" % self.text)
            return inner
        raise ConditionError("unexpected %r in condition %r" % (value, self.text))


def _binary(op, a, b):
    # Both sides are always evaluated, as upstream does.
    if op == "||":
        return lambda v: a(v) or b(v)
    if op == "&&":
        return lambda v: a(v) and b(v)
    if op == "==":
        return lambda v: a(v) == b(v)
    if op == "!=":
        return lambda v: a(v) != b(v)
    if op == "<":
        return lambda v: a(v) < b(v)
    if op == ">":
        return lambda v: a(v) > b(v)
    if op == "<=":
        return lambda v: a(v) <= b(v)
    return lambda v: a(v) >= b(v)


def condition_lines(value):
    """The expressions of a condition value: one per non-empty line."""
    return [line.strip() for line in value.splitlines() if line.strip()]


class Evaluator:
    """Evaluates condition values against one set of values, caching each
    distinct value (a big suite repeats the same few conditions)."""

    def __init__(self, values, strict=True):
        self.values = values
        self.strict = strict
        self._results = {}
        self._unknown = {}

    def first_true(self, value):
        """The first line of ``value`` that is true, or None (lines are
        OR-ed). A ``ConditionError`` carries the failing line as
        ``.condition``."""
        try:
            return self._results[value]
        except KeyError:
            pass
        hit = None
        for line in condition_lines(value):
            try:
                if Condition(line).evaluate(self.values, self.strict):
                    hit = line
                    break
            except ConditionError as e:
                e.condition = line
                raise
        self._results[value] = hit
        return hit


    def unknown_names(self, value):
        """The names the lines of ``value`` read (every line, also after a
        true one) that the values lack, in order of appearance."""
        try:
            return self._unknown[value]
        except KeyError:
            pass
        names = []
        for line in condition_lines(value):
            try:
                read = Condition(line).names
            except ConditionError as e:
                e.condition = line
                raise
            names += sorted(n for n in read if n not in self.values and n not in names)
        self._unknown[value] = names
        return names


def parse(text, strict=True, **values):
    """Evaluate one expression (convenience for tests and tools)."""
    return Condition(text).evaluate(values, strict)
