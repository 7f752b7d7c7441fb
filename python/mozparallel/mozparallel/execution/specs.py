"""From selected tests (selection/) to the TestSpecs the pool runs: the
command (``--exec``, or the manifest's ``exec``/``command``, or the file
itself), the protocol, the per-test limits and expectations from the
manifest keys, and the resource locks (the manifest key ``resources`` and
``--resource PATTERN=NAMES``)."""

import fnmatch
import os
import shlex

from ..contract import TestSpec
from ..errors import UsageError
from ..schedule.locks import check_counts, format_resource, parse_resources


def build_specs(selected, exec_cmd=None, protocol="auto", resource_rules=()):
    """(TestSpecs of the tests that will run, SelectedTests that will not).
    ``resource_rules``: (glob, resources text) pairs of ``--resource``."""
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
            argv = shlex.split(command) + [t.path]
        elif exec_argv:
            argv = exec_argv + [t.path]
        else:
            argv = [t.path]
        specs.append(TestSpec(
            id=t.id, argv=argv, path=t.path, group=t.group,
            protocol=_protocol_key(keys, protocol),
            timeout=_float_key(keys, "timeout"),
            max_time=_float_key(keys, "max-time"),
            expected_fail=str(keys.get("expected", "pass")).lower() == "fail",
            expected_outcome=_expected_outcome(keys),
            sequential=keys.get("run-sequentially"),
            resources=_resources(t, resource_rules),
            cwd=os.path.dirname(t.path) if keys.get("cwd") == "here" else None,
        ))
    try:
        check_counts((s.id, parse_resources(" ".join(s.resources))) for s in specs if s.resources)
    except ValueError as e:
        raise UsageError(str(e))
    return specs, skipped


def _resources(test, rules):
    """The test's locks: its manifest key ``resources``, then every
    ``--resource`` glob that matches its id, its path or its file name."""
    found = {}
    value = test.keys.get("resources")
    if value not in (None, ""):
        try:
            found.update(parse_resources(value))
        except ValueError as e:
            raise UsageError("manifest %s, test %s: resources = %r: %s" % (test.group, test.id, value, e))
    for pattern, text in rules:
        if _matches(pattern, test):
            for name, count in parse_resources(text):
                found.setdefault(name, count)
    return tuple(format_resource(name, count) for name, count in found.items())


def _matches(pattern, test):
    names = (test.id, test.path, os.path.basename(test.path)) if test.path else (test.id,)
    return any(fnmatch.fnmatchcase(n, pattern) for n in names)


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
