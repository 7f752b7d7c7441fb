"""The values conditions are evaluated against: the live ``mozinfo.info``,
then the objdir's ``mozinfo.json`` (where a gecko build records ``debug``,
``asan``, ``tsan``...), then ``--mozinfo KEY=VALUE`` from the command line,
each overriding the one before. ``arch`` (missing from PyPI mozinfo 1.2.3)
is added as the processor, as upstream mozinfo does.
"""

import json
import os

from ..statedir import create_private
from .model import InputError


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


CACHE_NAME = "mozinfo-live.json"
CACHE_FORMAT = 1
# Files whose change can change what mozinfo detects (besides uname and the
# interpreter): the distribution's release files.
_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release", "/etc/lsb-release")
# The environment variables mozinfo 1.2.3 reads while detecting.
_ENV = ("MOZ_AUTOMATION", "OS", "PROCESSOR_ARCHITECTURE", "PROCESSOR_ARCHITEW6432", "WAYLAND_DISPLAY",
        "DISPLAY")


def live_values(cache_dir=None):
    """``mozinfo.info`` of this machine, plus ``arch``.

    Importing mozinfo detects the machine by running five programs
    (``uname -p``, ``file -b`` on the interpreter, ``lsb_release -a``,
    ``uname -rs``, ``ldconfig -p``): 15-20 ms of every run, and as much CPU
    taken from the tests beside it. With ``cache_dir`` (the run's state
    directory, once a run has created it) the values are kept in
    ``mozinfo-live.json`` and reused while nothing they come from has
    changed: the uname fields, the interpreter and the mozinfo package
    (path and mtime), the distribution's release files, the environment
    variables mozinfo reads."""
    key = _machine_key() if cache_dir else None
    if key is not None:
        cached = _read_cache(cache_dir, key)
        if cached is not None:
            return cached
    import mozinfo

    values = dict(mozinfo.info)
    if "arch" not in values and values.get("processor"):
        values["arch"] = values["processor"]
    if key is not None:
        _write_cache(cache_dir, key, values)
    return values


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _machine_key():
    import importlib.util
    import sys

    try:
        # The package, not mozinfo.mozinfo: finding a submodule imports its
        # package, and importing mozinfo is what detects the machine.
        spec = importlib.util.find_spec("mozinfo")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return {
        "format": CACHE_FORMAT,
        "uname": list(os.uname()),
        "python": [sys.executable, _mtime(sys.executable), sys.version],
        "mozinfo": [spec.origin, _mtime(os.path.join(os.path.dirname(spec.origin), "mozinfo.py"))],
        "release": [[p, _mtime(p)] for p in _RELEASE_FILES],
        "env": {name: os.environ.get(name) for name in _ENV},
    }


def _read_cache(cache_dir, key):
    try:
        with open(os.path.join(cache_dir, CACHE_NAME), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("values"), dict):
        return None
    return data["values"]


def _write_cache(cache_dir, key, values):
    path = os.path.join(cache_dir, CACHE_NAME)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        text = json.dumps({"key": key, "values": values})
        if json.loads(text)["values"] != values:
            return      # something JSON does not keep as it is: never cache it
        if not os.path.isdir(cache_dir):
            return      # a cache never creates the state directory (--list in a checkout)
        with os.fdopen(create_private(tmp), "w", encoding="utf-8") as f:     # 0600, as every state file
            f.write(text)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


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


def load_values(objdir=None, overrides=(), cache_dir=None):
    """Live mozinfo, then ``<objdir>/mozinfo.json``, then ``overrides``
    (``KEY=VALUE`` strings or (key, value) pairs). ``cache_dir``: where the
    live values may be kept between runs (see ``live_values``)."""
    values = live_values(cache_dir)
    values.update(objdir_values(objdir))
    for item in overrides:
        if isinstance(item, str):
            try:
                item = parse_override(item)
            except ValueError as e:
                raise InputError("--mozinfo: %s" % e)
        values[item[0]] = item[1]
    return values
