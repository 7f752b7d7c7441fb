"""The runtimes JSON mozilla-central keeps for chunking (``{"path/to/test":
seconds}``), read back (``--runtimes FILE``) so a machine with no history of
its own can still order and chunk by duration. ``paralleltest runtimes
--export`` (commands/runtimes.py) writes it.

``known_durations`` is what a scheduler asks: history first, the file for
the tests history does not know.
"""

import json
import os

from ..errors import InputError


def load_runtimes(path):
    """The file as {test: seconds}; InputError naming it when it is not one."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise InputError("cannot read runtimes file %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise InputError("runtimes file %s is not JSON: %s" % (path, e))
    if not isinstance(data, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in data.values()):
        raise InputError('runtimes file %s is not {"path/to/test": seconds, ...}' % path)
    return {str(k): float(v) for k, v in data.items()}


def match_runtimes(runtimes, tests):
    """{test id: seconds} for ``tests`` (pairs of id and path): a key is the
    id itself or the end of the path (keys are relative to topsrcdir)."""
    out = {}
    for test_id, path in tests:
        if test_id in runtimes:
            out[test_id] = runtimes[test_id]
            continue
        norm = (path or "").replace(os.sep, "/")
        for key, seconds in runtimes.items():
            if norm.endswith("/" + key.lstrip("/")):
                out[test_id] = seconds
                break
    return out


def known_durations(store, tests, command=None, runtimes=None):
    """Expected seconds of ``tests`` (pairs of id and path): the store's
    median of recent runs, else the runtimes file."""
    tests = list(tests)
    known = match_runtimes(runtimes, tests) if runtimes else {}
    if store is not None:
        known.update(store.durations([t for t, _ in tests], command))
    return known
