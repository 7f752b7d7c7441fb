"""mach_commands.py and docs/gecko-integration.rst against today's mach, as
mozilla-central documents it (mach is not on PyPI in that form, so the
documented behaviour is written down here, not imported):

* the decorators' signatures (python/mach/mach/decorators.py):
  ``Command(name, metrics_path=None, **kwargs)`` whose keywords go to
  ``_MachCommand``; ``SubCommand(command, subcommand, description=None,
  parser=None, metrics_path=None, virtualenv_name=None)``;
* how mach picks a command's Python site before loading it
  (command_util.py): it reads the ``@Command``/``@SubCommand`` calls of the
  file's syntax tree, positional string literals for the names and the
  ``virtualenv_name`` literal, without running the file;
* how the dispatcher hands a command its parser (dispatcher.py): the
  ``parser`` callable is called once, ``" " + command`` is appended to its
  ``prog``, ``parse_known_args`` must leave nothing, the function gets the
  options as keywords and returns an int;
* the site file format (requirements.py) and the ``moz.build`` lines.

And with the PyPI mach 1.0.0 through mozparallel.compat."""

import argparse
import ast
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import tomllib
import types

import pytest

from conftest import FIXTURES, TOP

MACH_COMMANDS_PY = os.path.join(TOP, "mach_commands.py")
GUIDE = os.path.join(TOP, "docs", "gecko-integration.rst")
LOCATION = "testing/mozparallel/"      # where the guide puts this repository in a checkout


# -- today's mach, as documented ------------------------------------------------

def _mach_command(name=None, subcommand=None, category=None, description=None, conditions=None, parser=None,
                  order=None, virtualenv_name=None, ok_if_tests_disabled=False, no_auto_log=False, hidden=False):
    """The keywords _MachCommand takes (what Command passes on)."""
    if ok_if_tests_disabled and category != "testing":
        raise ValueError("ok_if_tests_disabled is for testing commands only")
    return dict(name=name, subcommand=subcommand, category=category, description=description,
                conditions=conditions or [], parser=parser, virtualenv_name=virtualenv_name)


def documented_command(name, metrics_path=None, **kwargs):
    return _mach_command(name=name, **kwargs)


def documented_subcommand(command, subcommand, description=None, parser=None, metrics_path=None,
                          virtualenv_name=None):
    return _mach_command(name=command, subcommand=subcommand, description=description, parser=parser,
                         virtualenv_name=virtualenv_name)


# build/mach_initialize.py's CATEGORIES
MACH_CATEGORIES = {"build", "post-build", "testing", "ci", "devenv", "build-dev", "misc", "release", "disabled"}
# python/mach/mach/requirements.py's actions
SITE_ACTIONS = {"requires-python", "pth", "vendored", "vendored-fallback", "packages.txt", "pypi", "pypi-optional",
                "thunderbird-packages.txt"}


class StandInMach:
    """Today's mach.decorators with the documented signatures: a keyword
    they do not take is a TypeError, as it is in mach."""

    def __init__(self):
        self.commands = {}
        mod = types.ModuleType("mach.decorators")
        registry = self.commands

        class Command:
            def __init__(self, name, metrics_path=None, **kwargs):
                self.meta = documented_command(name, metrics_path, **kwargs)

            def __call__(self, func):
                assert self.meta["category"] in MACH_CATEGORIES
                registry[self.meta["name"]] = (func, self.meta, list(getattr(func, "_args", [])))
                return func

        def CommandArgument(*args, **kwargs):
            def deco(func):
                func._args = [(args, kwargs)] + list(getattr(func, "_args", []))
                return func
            return deco

        class SubCommand:
            def __init__(self, command, subcommand, description=None, parser=None, metrics_path=None,
                         virtualenv_name=None):
                self.meta = documented_subcommand(command, subcommand, description, parser, metrics_path,
                                                  virtualenv_name)

            def __call__(self, func):
                # "Command referenced by sub-command does not exist" otherwise.
                assert self.meta["name"] in registry
                registry["%s %s" % (self.meta["name"], self.meta["subcommand"])] = (func, self.meta, [])
                return func

        mod.Command, mod.CommandArgument, mod.SubCommand = Command, CommandArgument, SubCommand
        self.module = mod

    def dispatch(self, name, context, argv):
        """What today's dispatcher and registrar do with a command line."""
        func, meta, _ = self.commands[name]
        parser = meta["parser"]() if callable(meta["parser"]) else meta["parser"]
        parser.prog = parser.prog + " " + name
        namespace, extra = parser.parse_known_args(argv)
        assert not extra, extra
        result = func(context, **vars(namespace))
        result = result or 0
        assert isinstance(result, int)
        return result

    def dispatch_from_command(self, name, context, argv=None, **kwargs):
        """What today's ``Registrar.dispatch`` does when a command calls
        another (``mach test`` does: ``dispatch(mach_command, context,
        argv=extra_args, test_objects=tests, log=log, **suite_kwargs)``): the
        keywords become the parser's defaults, then argv is parsed."""
        func, meta, _ = self.commands[name]
        parser = meta["parser"]() if callable(meta["parser"]) else meta["parser"]
        parser.prog = parser.prog + " " + name
        parser.set_defaults(**kwargs)
        namespace, unknown = parser.parse_known_args(argv or [])
        assert not unknown, unknown
        return func(context, **vars(namespace)) or 0


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


def test_function_style_registration_and_dispatch(tmp_path, monkeypatch, capsys):
    mach = StandInMach()
    load_with(mach.module)
    test = tmp_path / "t.sh"
    test.write_text("#!/bin/sh\necho 1..1\necho ok 1\n")
    test.chmod(0o755)
    raw = tmp_path / "out.raw"
    context = types.SimpleNamespace(topobjdir=str(tmp_path / "obj"), topsrcdir=TOP)
    monkeypatch.chdir(tmp_path)
    assert mach.dispatch("parallel-test", context, ["-r", "tap", "--log-raw", str(raw), "t.sh"]) == 0
    assert '"action": "suite_end"' in raw.read_text()
    # Errors name the command as today's mach names it (it appends it to prog).
    mach = StandInMach()
    load_with(mach.module)
    with pytest.raises(SystemExit) as stop:
        mach.dispatch("parallel-test", context, ["--jobs", "x", "t.sh"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == \
        "mach parallel-test: error: argument -j/--jobs: not a job count: 'x' (a number or 'auto')\n"
    with pytest.raises(SystemExit):
        mach.dispatch("parallel-test history", context, ["--format", "x"])
    assert capsys.readouterr().err.startswith("mach parallel-test history: error: argument --format")


def test_mach_test_dispatch_with_test_objects_goes_through_the_manifests(tmp_path, monkeypatch):
    """``mach test netwerk/test/unit/test_runif_win.js ...`` resolved by
    TestResolver and routed to parallel-test (docs/gecko-integration.rst):
    the test objects' source files run as their manifests select them,
    though TestResolver's ``path`` points into the objdir's _tests."""
    import json
    import shutil

    top = tmp_path / "gecko"
    shutil.copytree(os.path.join(FIXTURES, "gecko"), top, symlinks=True)
    objdir = top / "obj-gecko"
    unit = "netwerk/test/unit"

    def test_object(name):      # as TestResolver.resolve_tests yields an xpcshell test
        rel = "%s/%s" % (unit, name)
        return {"name": name, "flavor": "xpcshell", "subsuite": "", "manifest": str(top / unit / "xpcshell.toml"),
                "manifest_relpath": unit + "/xpcshell.toml", "srcdir_relpath": rel, "file_relpath": rel,
                "dir_relpath": unit, "path": str(objdir / "_tests" / "xpcshell" / rel),
                "here": str(objdir / "_tests" / "xpcshell" / unit)}

    mach = StandInMach()
    load_with(mach.module)
    context = types.SimpleNamespace(topobjdir=str(objdir), topsrcdir=str(top))
    monkeypatch.chdir(top)
    raw = tmp_path / "out.raw"
    status = mach.dispatch_from_command(
        "parallel-test", context, argv=["--log-raw", str(raw)], log=object(), subsuite=None,
        test_objects=[test_object("test_runif_win.js"), test_object("test_failif_linux.js"),
                      test_object("test_plain.js")])
    assert status == 0      # the installed copies in _tests fail when run: not those
    ends = {e["test"]: (e["status"], e.get("message")) for e in map(json.loads, raw.read_text().splitlines())
            if e["action"] == "test_end"}
    assert ends == {unit + "/test_runif_win.js": ("SKIP", "run-if: os == 'win'"),
                    unit + "/test_failif_linux.js": ("FAIL", "not ok 1 - known to fail on 64-bit linux; "
                                                             "Non-zero exit status: 1"),
                    unit + "/test_plain.js": ("OK", None)}


def test_guide_routes_a_subsuite_of_mach_test_to_parallel_test():
    """The guide's moztest/resolve.py lines, run against the shapes they
    edit there: get_suite_definition then finds parallel-test for
    (xpcshell, parallel), as mach test asks it, and xpcshell-test for the
    rest."""
    blocks = [b for b in guide_blocks("python") if "TEST_SUITES" in b]
    assert len(blocks) == 1
    sandbox = {"TEST_SUITES": {"xpcshell": {"aliases": ("x",), "mach_command": "xpcshell-test",
                                            "kwargs": {"test_file": "all"}}},
               "_test_flavors": {"xpcshell": "xpcshell"}, "_test_subsuites": {}}
    exec(blocks[0], sandbox)

    def get_suite_definition(flavor, subsuite=None):    # resolve.py's, for these two cases
        name = sandbox["_test_subsuites"].get((flavor, subsuite)) if subsuite else None
        name = name or sandbox["_test_flavors"].get(flavor)
        return name, sandbox["TEST_SUITES"].get(name, {})

    name, suite = get_suite_definition("xpcshell", "parallel")
    commands = [ast.literal_eval(call.args[0]) for _, kind, call in decorator_calls() if kind == "Command"]
    assert suite["mach_command"] in commands and "pt" in suite["aliases"]
    assert get_suite_definition("xpcshell", "")[1]["mach_command"] == "xpcshell-test"
    # The kwargs mach test passes for a suite by name are options parallel-test's parser has.
    mach = StandInMach()
    load_with(mach.module)
    parser = mach.commands["parallel-test"][1]["parser"]()
    assert all(key in vars(parser.parse_args([])) for key in suite["kwargs"])


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
    context = types.SimpleNamespace(topobjdir=str(tmp_path), topsrcdir=TOP)
    assert mach.dispatch("parallel-test simulate", context,
                         ["--synthetic", "200", "--workers", "1,4", "--format", "json"]) == 0
    import json
    out = json.loads(capsys.readouterr().out)
    assert out


# -- the guide's lines ------------------------------------------------------------

def guide_blocks(language):
    """The ``.. code-block:: LANGUAGE`` blocks of docs/gecko-integration.rst."""
    lines = open(GUIDE).read().splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.strip() == ".. code-block:: %s" % language:
            body = []
            for text in lines[i + 1:]:
                if text and not text.startswith(" "):
                    break
                body.append(text)
            indent = min(len(t) - len(t.lstrip()) for t in body if t.strip())
            blocks.append("\n".join(t[indent:] for t in body).strip() + "\n")
    return blocks


def decorator_calls():
    """(function name, decorator name, ast.Call) of mach_commands.py."""
    tree = ast.parse(open(MACH_COMMANDS_PY).read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) \
                        and deco.func.id in ("Command", "SubCommand", "CommandArgument"):
                    found.append((node.name, deco.func.id, deco))
    return found


def test_guide_mach_commands_entry_loads_this_file():
    entries = [b for b in guide_blocks("python") if "MachCommandReference" in b]
    assert len(entries) == 1
    table = eval("{" + entries[0] + "}", {"MachCommandReference":
                                          lambda module, command_dependencies=None: (module, command_dependencies)})
    commands = [ast.literal_eval(call.args[0]) for _, kind, call in decorator_calls() if kind == "Command"]
    assert list(table) == commands == ["parallel-test"]
    module, dependencies = table["parallel-test"]
    assert module.startswith(LOCATION) and dependencies is None
    assert os.path.isfile(os.path.join(TOP, module[len(LOCATION):]))
    # The alphabetical place the guide gives.
    assert "package-multi-locale" < "parallel-test" < "pastebin"
    assert '``"package-multi-locale"``, before\n``"pastebin"``' in open(GUIDE).read()


def test_mach_reads_the_python_test_site_from_the_decorators_without_running_them():
    """As command_util.py does: literal names, literal virtualenv_name; a
    sub-command's own name if it gives one, else its command's. The
    registrar then activates a site only for a handler that names one, so
    every sub-command names it too."""
    sites, own = {}, {}
    for _, kind, call in decorator_calls():
        if kind == "CommandArgument":
            continue
        names = [a.value for a in call.args]
        assert all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args), kind
        keywords = {k.arg: k.value for k in call.keywords}
        site = keywords.get("virtualenv_name")
        assert isinstance(site, ast.Constant) and isinstance(site.value, str), names
        if kind == "Command":
            sites[names[0]] = site.value
        else:
            own[" ".join(names)] = site.value
    for name, site in own.items():
        sites[name] = site or sites[name.split(" ")[0]]
    from mozparallel.cli import SUBCOMMANDS
    assert set(sites.values()) == {"python-test"} and len(sites) == 1 + len(SUBCOMMANDS)
    assert "2. Its Python site: ``python/sites/python-test.txt``" in open(GUIDE).read()


def test_decorator_calls_bind_to_the_documented_signatures():
    module_globals = {}
    for _, kind, call in decorator_calls():
        # Placeholders for the values: only which parameters are given matters.
        args = [ast.literal_eval(a) if isinstance(a, ast.Constant) else object() for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) if isinstance(k.value, ast.Constant) else object()
                  for k in call.keywords}
        if kind == "Command":
            meta = documented_command(*args, **kwargs)
            assert meta["category"] in MACH_CATEGORIES and meta["category"] == "testing"
        elif kind == "SubCommand":
            inspect.signature(documented_subcommand).bind(*args, **kwargs)
        module_globals[kind] = True
    assert module_globals == {"Command": True, "SubCommand": True}


def test_guide_site_lines_put_the_package_on_the_path():
    lines = [line for block in guide_blocks("text") for line in block.splitlines()]
    pins = dict(line.split("==") for line in open(os.path.join(TOP, "requirements.txt"))
                if "==" in line and not line.startswith("#"))
    with open(os.path.join(TOP, "python", "mozparallel", "pyproject.toml"), "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    pths = []
    for line in lines:
        action, params = line.split(":", 1)
        assert action in SITE_ACTIONS, line
        if action == "pth":
            pths.append(params)
        elif action == "pypi-optional":
            requirement, repercussion = params.split(":")     # as requirements.py splits it
            name, version = requirement.split("==")
            assert pins[name].strip() == version and repercussion
            assert any(name in " ".join(reqs) for reqs in extras.values())
    assert pths == [LOCATION + "python/mozparallel"]
    assert os.path.isfile(os.path.join(TOP, pths[0][len(LOCATION):], "mozparallel", "__init__.py"))


def test_guide_moz_build_lines():
    blocks = [b for b in guide_blocks("python") if "MachCommandReference" not in b and "TEST_SUITES" not in b]
    dirs_block, own_block = blocks
    sandbox = {"DIRS": []}
    exec(dirs_block, sandbox)
    assert sandbox["DIRS"][-1] == LOCATION.rstrip("/").split("/")[-1]
    # "as is": the same statements as the moz.build at the top of this repository.
    with open(os.path.join(TOP, "moz.build")) as f:
        real = f.read()
    assert ast.dump(ast.parse(own_block)) == ast.dump(ast.parse(real))

    class Files:
        def __init__(self, *patterns):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    sandbox = {"Files": Files, "PYTHON_UNITTEST_MANIFESTS": [], "SPHINX_TREES": {}, "SPHINX_PYTHON_PACKAGE_DIRS": []}
    exec(real, sandbox)
    for path in sandbox["PYTHON_UNITTEST_MANIFESTS"] + list(sandbox["SPHINX_TREES"].values()) + \
            sandbox["SPHINX_PYTHON_PACKAGE_DIRS"]:
        assert os.path.exists(os.path.join(TOP, path)), path
    assert sandbox["SPHINX_TREES"] == {"/" + LOCATION.rstrip("/"): "docs"}


def test_mach_help_loads_the_module_where_the_package_is_not_importable(tmp_path):
    """``mach help`` loads every command module in the common site: the
    file must load without mozparallel, and import it only when run."""
    code = """
import importlib.util, sys, types
dec = types.ModuleType("mach.decorators")
dec.Command = lambda *a, **k: (lambda f: f)
dec.SubCommand = lambda *a, **k: (lambda f: f)
sys.modules["mach"], sys.modules["mach.decorators"] = types.ModuleType("mach"), dec
spec = importlib.util.spec_from_file_location("mc", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print("loaded", importlib.util.find_spec("mozparallel"))
try:
    module.setup_argument_parser()
except ModuleNotFoundError as e:
    print(e)
"""
    r = subprocess.run([sys.executable, "-S", "-c", code, MACH_COMMANDS_PY], capture_output=True, text=True,
                       cwd=str(tmp_path), env={"PATH": os.environ["PATH"]})
    assert r.stdout.splitlines() == ["loaded None", "No module named 'mozparallel'"], r.stdout + r.stderr
