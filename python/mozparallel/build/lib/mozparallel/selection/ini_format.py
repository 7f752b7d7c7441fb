"""Read an ``.ini`` manifest into sections, with mozilla-central's rules.

``[DEFAULT]`` (any case) holds defaults; ``key = value`` or ``key: value``
(``=`` is tried first); ``#`` starts a comment at the start of a line or
after whitespace; a line indented deeper than its key continues the value
(joined with a newline); a blank line ends it. Unlike manifestparser 2.1.0
every error names the line.
"""

from .sections import DEFAULT_SECTION, ManifestError, ParsedManifest, Section


def _strip_comment(text):
    # A '#' starts an inline comment only when whitespace precedes it.
    at = text.find("#")
    while at > 0:
        if text[at - 1].isspace():
            return text[:at].rstrip()
        at = text.find("#", at + 1)
    return text


def parse_ini(path, text):
    default, sections, seen = None, [], {}
    current = None
    key = None
    key_indent = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            key = None
            continue
        if stripped[0] == "#":
            continue
        if "#" in stripped:
            stripped = _strip_comment(stripped)
        if len(stripped) > 2 and stripped[0] == "[" and stripped[-1] == "]":
            name = stripped[1:-1].strip()
            is_default = name.lower() == DEFAULT_SECTION.lower()
            if is_default:
                name = DEFAULT_SECTION
            if name in seen:
                raise ManifestError(path, number, "duplicate section [%s] (first at line %d)"
                                    % (name, seen[name]))
            seen[name] = number
            current = Section(name, number)
            if is_default:
                default = current
            else:
                sections.append(current)
            key = None
            continue
        if current is None:
            raise ManifestError(path, number, "expected a comment or a [section], found %r" % stripped)
        indent = len(line) - len(line.lstrip(" "))
        if key is not None and indent > key_indent:
            previous = current.keys[key]
            current.keys[key] = previous + "\n" + stripped if previous else stripped
            continue
        for separator in ("=", ":"):
            if separator in stripped:
                key, value = stripped.split(separator, 1)
                key, value = key.strip(), value.strip()
                break
        else:
            raise ManifestError(path, number, "not a key = value line: %r" % stripped)
        if not key:
            raise ManifestError(path, number, "empty key in [%s]" % current.name)
        if key in current.keys:
            raise ManifestError(path, number, "duplicate key %r in [%s] (first at line %d)"
                                % (key, current.name, current.key_lines[key]))
        current.keys[key] = value
        current.key_lines[key] = number
        key_indent = indent
    return ParsedManifest(path, default, sections, text)
