"""From selected tests (selection/) to the TestSpecs the pool runs: the
command (``--exec``, or the manifest's ``exec``/``command``, or the file
itself), the protocol, the per-test limits and expectations from the
manifest keys, and the resource locks (the manifest key ``resources`` and
``--resource PATTERN=NAMES``)."""

import fnmatch
import math
import os
import shlex

from ..contract import TestSpec
from ..errors import UsageError
from ..schedule.locks import check_counts, format_resource, parse_resources


def command_path(argv_path):
    """The test file as the command itself: the path as typed, a bare name
    with ``./`` (as a shell user types it: else the system would look it up
    on $PATH)."""
    return argv_path if os.sep in argv_path else os.curdir + os.sep + argv_path


def build_specs(selected, exec_cmd=None, protocol="auto", env=(), wrapper=None, resource_rules=()):
    """(TestSpecs of the tests that will run, SelectedTests that will not).
    ``env``: (NAME, VALUE) pairs for every test; ``wrapper``: a command put
    in front of every test's (--debugger); ``resource_rules``: (glob,
    resources text) pairs of ``--resource``."""
    wrapper_argv = []
    if wrapper:
        try:
            wrapper_argv = shlex.split(wrapper)
        except ValueError as e:
            raise UsageError("cannot split --debugger %r: %s" % (wrapper, e))
    extra_env = dict(env) or None
    exec_argv = None
    if exec_cmd is not None:
        try:
            exec_argv = shlex.split(exec_cmd)
        except ValueError as e:
            raise UsageError("cannot split --exec %r: %s" % (exec_cmd, e))
        if not exec_argv:
            raise UsageError("--exec is empty")
    specs, skipped, not_executable = [], [], []
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
            if os.path.isfile(t.path) and not os.access(t.path, os.X_OK):
                not_executable.append(t)
        specs.append(TestSpec(
            id=t.id, argv=wrapper_argv + argv, path=t.path, group=t.group, env=extra_env,
            protocol=_protocol_key(keys, protocol),
            timeout=_float_key(keys, "timeout"),
            max_time=_float_key(keys, "max-time"),
            expected_fail=str(keys.get("expected", "pass")).lower() == "fail",
            expected_outcome=_expected_outcome(keys),
            sequential=keys.get("run-sequentially"),
            resources=_resources(t, resource_rules),
            cwd=os.path.dirname(t.path) if keys.get("cwd") == "here" else None,
        ))
    if not_executable:
        raise UsageError(_not_executable(not_executable))
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


# What to suggest for --exec, by the file's extension.
INTERPRETERS = {".t": "perl", ".pl": "perl", ".js": "node", ".mjs": "node", ".py": "python3", ".sh": "sh",
                ".bats": "bats", ".rb": "ruby"}


def _not_executable(tests):
    """One line: which files cannot be run as they are, and what to pass."""
    first = tests[0]
    name = first.id
    more = " (and %d more)" % (len(tests) - 1) if len(tests) > 1 else ""
    interpreter = INTERPRETERS.get(os.path.splitext(first.path)[1])
    hint = "--exec %s" % interpreter if interpreter else "--exec INTERPRETER"
    return ("%s%s is not executable and no command runs it: give its interpreter with %s "
            "(or make it executable, or set exec = ... in its manifest)" % (name, more, hint))


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
        number = float(value)
    except ValueError:
        raise UsageError("manifest key %s = %r is not a number" % (name, value))
    if not math.isfinite(number) or number < 0:
        raise UsageError("manifest key %s = %r is not a number of seconds (finite, 0 or more)" % (name, value))
    return number
