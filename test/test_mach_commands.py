"""mach_commands.py works with today's function-style mach decorators (a
minimal stand-in here, as mozilla-central has no PyPI release) and with the
PyPI mach 1.0.0 through mozparallel.compat."""

import argparse
import importlib.util
import os
import sys
import types

from conftest import TOP


class StandInMach:
    """Today's mach.decorators, reduced to what registration records."""

    def __init__(self):
        self.commands = {}
        mod = types.ModuleType("mach.decorators")
        registry = self.commands

        class Command:
            def __init__(self, name, category=None, description=None, parser=None,
                         virtualenv_name=None, **kwargs):
                assert category == "testing"
                assert isinstance(virtualenv_name, str)
                self.meta = dict(name=name, category=category, description=description,
                                 parser=parser, virtualenv_name=virtualenv_name, **kwargs)

            def __call__(self, func):
                registry[self.meta["name"]] = (func, self.meta, list(getattr(func, "_args", [])))
                return func

        def CommandArgument(*args, **kwargs):
            def deco(func):
                func._args = [(args, kwargs)] + list(getattr(func, "_args", []))
                return func
            return deco

        def SubCommand(command, subcommand, description=None, parser=None, **kwargs):
            def deco(func):
                registry["%s %s" % (command, subcommand)] = (func, dict(parser=parser), [])
                return func
            return deco

        mod.Command, mod.CommandArgument, mod.SubCommand = Command, CommandArgument, SubCommand
        self.module = mod


def load_with(mach_decorators):
    pkg = types.ModuleType("mach")
    saved = {k: sys.modules.get(k) for k in ("mach", "mach.decorators")}
    sys.modules["mach"], sys.modules["mach.decorators"] = pkg, mach_decorators
    try:
        spec = importlib.util.spec_from_file_location("mc_under_test", os.path.join(TOP, "mach_commands.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_function_style_registration_and_dispatch(tmp_path, monkeypatch):
    mach = StandInMach()
    load_with(mach.module)
    func, meta, _ = mach.commands["parallel-test"]
    parser = meta["parser"]() if callable(meta["parser"]) else meta["parser"]
    assert isinstance(parser, argparse.ArgumentParser)
    test = tmp_path / "t.sh"
    test.write_text("#!/bin/sh\necho 1..1\necho ok 1\n")
    test.chmod(0o755)
    raw = tmp_path / "out.raw"
    kwargs = vars(parser.parse_args(["-r", "tap", "--log-raw", str(raw), str(test)]))
    context = types.SimpleNamespace(topobjdir=str(tmp_path / "obj"), topsrcdir=TOP)
    monkeypatch.chdir(tmp_path)
    assert func(context, **kwargs) == 0
    assert '"action": "suite_end"' in raw.read_text()


def test_library_does_not_import_mach():
    import subprocess
    code = ("import sys, mozparallel.cli, mozparallel.run; "
            "print(any(m == 'mach' or m.startswith('mach.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_compat_patch_is_idempotent_and_lets_old_packages_import():
    from mozparallel import compat
    compat.patch_stdlib()
    compat.patch_stdlib()
    import collections
    import collections.abc
    assert collections.Iterable is collections.abc.Iterable
    import manifestparser  # noqa: F401  (imports collections.MutableSequence)
    import mach.main  # noqa: F401  (imports collections.Iterable)


def test_every_paralleltest_subcommand_is_a_mach_subcommand(tmp_path, monkeypatch, capsys):
    from mozparallel.cli import SUBCOMMANDS

    mach = StandInMach()
    load_with(mach.module)
    registered = {k.split(" ", 1)[1] for k in mach.commands if " " in k}
    assert registered == set(SUBCOMMANDS)
    func, meta, _ = mach.commands["parallel-test simulate"]
    parser = meta["parser"]()
    kwargs = vars(parser.parse_args(["--synthetic", "200", "--workers", "1,4", "--format", "json"]))
    context = types.SimpleNamespace(topobjdir=str(tmp_path), topsrcdir=TOP)
    assert func(context, **kwargs) == 0
    import json
    out = json.loads(capsys.readouterr().out)
    assert out
