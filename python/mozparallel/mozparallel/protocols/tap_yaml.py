"""TAP's YAML diagnostics blocks (``  ---`` ... ``  ...`` after a test
point): their top-level keys, as TAP producers write them. Enough for
diagnostics; not a YAML parser, and no YAML library is imported."""

import re

_YAML_KEY = re.compile(r"^([^\s#:'\"-][^:]*):(?:\s+(.*))?$")
_BLOCK_SCALAR = re.compile(r"^[|>][-+]?\d*$")


def yaml_fields(block, indent):
    """The top-level keys of a TAP YAML block: plain and quoted scalars and
    block scalars (``|``, ``>``) as strings, anything nested as its text.
    Enough for the diagnostics producers write; not a YAML parser."""
    fields, i, n = {}, 0, len(block)
    while i < n:
        line = block[i]
        i += 1
        if indent_of(line) != indent:
            continue
        m = _YAML_KEY.match(line[indent:].rstrip())
        if not m:
            continue
        key, value = m.group(1).strip(), (m.group(2) or "").strip()
        nested = []
        while i < n and (not block[i].strip() or indent_of(block[i]) > indent):
            nested.append(block[i])
            i += 1
        while nested and not nested[-1].strip():
            nested.pop()
        if value and not _BLOCK_SCALAR.match(value):
            fields[key] = yaml_scalar(value)
            continue
        depth = min((indent_of(x) for x in nested if x.strip()), default=indent)
        lines = [x[depth:] for x in nested]
        if value.startswith(">"):
            fields[key] = " ".join(x.strip() for x in lines if x.strip())
        else:
            fields[key] = "\n".join(lines)
    return fields


def yaml_scalar(value):
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
    return value


def indent_of(line):
    return len(line) - len(line.lstrip(" "))


__all__ = ["indent_of", "yaml_fields", "yaml_scalar"]
