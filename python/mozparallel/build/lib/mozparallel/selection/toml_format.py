"""Read a ``.toml`` manifest into sections, with the standard library.

Normalised as mozilla-central does: booleans become ``"true"``/``"false"``,
arrays (the form of conditions, one per element) are joined with newlines,
and a trailing `` # comment`` inside a string is dropped. Test names must be
quoted (``["test_a.js"]``); an unquoted dotted name is reported, not read as
nested tables. Line numbers come from a light scan of the text.

``tomllib`` is imported when a ``.toml`` manifest is read, not by every run
(about 2 ms).
"""

import re

from .sections import DEFAULT_SECTION, ManifestError, ParsedManifest, Section

_INLINE_COMMENT = re.compile(r"\s#.*$")
_HEADER = re.compile(r"^[ \t]*\[(?!\[)[ \t]*(.*?)[ \t]*\][ \t]*(?:#.*)?$", re.MULTILINE)
_KEY = re.compile(r"""^[ \t]*(?:"([^"\\]*)"|'([^']*)'|([A-Za-z0-9_-]+))[ \t]*=""")


def _header_name(raw):
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        if "\\" in raw and raw[0] == '"':
            import tomllib

            return tomllib.loads("k = " + raw)["k"]
        return raw[1:-1]
    return raw


def _scan_lines(text):
    """(section name -> header line, section name -> {key: line})."""
    header_lines, key_lines = {}, {}
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            m = _HEADER.match(line)
            if m:
                current = _header_name(m.group(1))
                header_lines.setdefault(current, number)
                key_lines.setdefault(current, {})
                continue
        if current is not None and "=" in line:
            m = _KEY.match(line)
            if m:
                key = m.group(1) if m.group(1) is not None else m.group(2) or m.group(3)
                key_lines[current].setdefault(key, number)
    return header_lines, key_lines


def _string(value):
    text = str(value).strip()
    if "#" in text:
        text = _INLINE_COMMENT.sub("", text).rstrip()
    return text


def parse_toml(path, text):
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(path, None, "TOML syntax error: %s" % e)
    header_lines, all_key_lines = _scan_lines(text)
    default, sections = None, []
    for name, table in data.items():
        line = header_lines.get(name)
        if not isinstance(table, dict):
            raise ManifestError(path, _line_of_top_key(text, name),
                                "key %r outside a [section]" % name)
        key_lines = all_key_lines.get(name, {})
        section = Section(name, line or 0, key_lines=key_lines)
        for key, value in table.items():
            if isinstance(value, dict):
                raise ManifestError(path, line or header_lines.get("%s.%s" % (name, key)),
                                    "[%s.%s] is a nested table: quote test names, "
                                    "as in [\"%s.%s\"]" % (name, key, name, key))
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, list):
                value = "\n".join(_string(v) for v in value)
            else:
                value = _string(value)
            section.keys[key] = value
        if name.lower() == DEFAULT_SECTION.lower():
            section.name = DEFAULT_SECTION
            default = section
        else:
            sections.append(section)
    return ParsedManifest(path, default, sections, text)


def _line_of_top_key(text, name):
    for number, line in enumerate(text.splitlines(), 1):
        m = _KEY.match(line)
        if m and name in m.groups():
            return number
    return None
