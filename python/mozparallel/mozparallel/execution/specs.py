"""From selected tests (selection/) to the TestSpecs the pool runs: the
command (``--exec``, or the manifest's ``exec``/``command``, or the file
itself), the protocol, and the per-test limits and expectations from the
manifest keys."""

import os
import shlex

from ..contract import TestSpec
from ..errors import UsageError


def command_path(argv_path):
    """The test file as the command itself: the path as typed, a bare name
    with ``./`` (as a shell user types it: else the system would look it up
    on $PATH)."""
    return argv_path if os.sep in argv_path else os.curdir + os.sep + argv_path


def build_specs(selected, exec_cmd=None, protocol="auto"):
    """(TestSpecs of the tests that will run, SelectedTests that will not)."""
    exec_argv = None
    if exec_cmd:
        try:
            exec_argv = shlex.split(exec_cmd)
        except ValueError as e:
            raise UsageError("cannot split --exec %r: %s" % (exec_cmd, e))
        if not exec_argv:
            raise UsageError("--exec is empty")
    specs, skipped = [], []
    for t in selected:
        if t.disabled:
            skipped.append(t)
            continue
        keys = t.keys
        command = keys.get("exec") or keys.get("command")
        if command:
            argv = shlex.split(command) + [t.argv_path]
        elif exec_argv:
            argv = exec_argv + [t.argv_path]
        else:
            argv = [command_path(t.argv_path)]
        specs.append(TestSpec(
            id=t.id, argv=argv, path=t.path, group=t.group,
            protocol=_protocol_key(keys, protocol),
            timeout=_float_key(keys, "timeout"),
            max_time=_float_key(keys, "max-time"),
            expected_fail=str(keys.get("expected", "pass")).lower() == "fail",
            expected_outcome=_expected_outcome(keys),
            sequential=keys.get("run-sequentially"),
            cwd=os.path.dirname(t.path) if keys.get("cwd") == "here" else None,
        ))
    return specs, skipped


def _protocol_key(keys, default):
    from ..protocols import PARSERS

    name = keys.get("protocol") or default or "auto"
    if name not in PARSERS:
        raise UsageError("manifest key protocol = %r is not one of %s" % (name, ", ".join(sorted(PARSERS))))
    return name


def _expected_outcome(keys):
    from ..protocols.base import OUTCOME_STATUS

    value = str(keys.get("expected", "")).lower()
    return value if value in OUTCOME_STATUS else None


def _float_key(keys, name):
    value = keys.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError("manifest key %s = %r is not a number" % (name, value))
