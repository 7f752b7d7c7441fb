"""The values conditions are evaluated against: the live ``mozinfo.info``,
then the objdir's ``mozinfo.json`` (where a gecko build records ``debug``,
``asan``, ``tsan``...), then ``--mozinfo KEY=VALUE`` from the command line,
each overriding the one before. ``arch`` (missing from PyPI mozinfo 1.2.3)
is added as the processor, as upstream mozinfo does.
"""

import json
import os

from .discover import InputError


def parse_override(text):
    """``KEY=VALUE`` -> (key, value); ``true``/``false`` become booleans,
    digits an int, ``none``/``null`` None, anything else stays a string."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError("not KEY=VALUE: %r" % text)
    value = value.strip()
    lowered = value.lower()
    if lowered in ("true", "false"):
        return key, lowered == "true"
    if lowered in ("none", "null"):
        return key, None
    if value.lstrip("-").isdigit():
        return key, int(value)
    return key, value


def live_values():
    import mozinfo

    values = dict(mozinfo.info)
    if "arch" not in values and values.get("processor"):
        values["arch"] = values["processor"]
    return values


def objdir_values(objdir):
    """The objdir's ``mozinfo.json`` as a dict ({} when there is none)."""
    if not objdir:
        return {}
    path = os.path.join(objdir, "mozinfo.json")
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError("cannot read %s: %s" % (path, e))
    if not isinstance(data, dict):
        raise InputError("%s: not a JSON object" % path)
    return data


def load_values(objdir=None, overrides=()):
    """Live mozinfo, then ``<objdir>/mozinfo.json``, then ``overrides``
    (``KEY=VALUE`` strings or (key, value) pairs)."""
    values = live_values()
    values.update(objdir_values(objdir))
    for item in overrides:
        if isinstance(item, str):
            try:
                item = parse_override(item)
            except ValueError as e:
                raise InputError("--mozinfo: %s" % e)
        values[item[0]] = item[1]
    return values
