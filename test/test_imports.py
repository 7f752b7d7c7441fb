"""The package's shape, read from its source with ``ast`` (nothing is
imported): data flows one way, select -> schedule -> execute -> events ->
report, and no module imports one above it; there is no import cycle; no
library module imports cli.py; every runtime dependency in pyproject.toml
is imported by the package."""

import ast
import os
import re
import tomllib

from conftest import TOP

PACKAGE = os.path.join(TOP, "python", "mozparallel", "mozparallel")

# Lowest first. A module may import from its own layer or any below it.
# docs/architecture.rst draws the same table.
LAYERS = [
    ("errors", "contract", "compat", "redact", "statedir", "extras"),
    ("protocols", "selection", "store"),
    ("schedule",),
    ("execution",),
    ("events", "reporting"),
    ("flaky", "distributed"),
    ("settings", "options", "interrupt"),
    ("run", "commands", "bench"),
    ("cli", "__main__"),
]


def modules():
    """{dotted name: path} of every module of the package."""
    out = {}
    for directory, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                rel = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, ".")
                out[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return out


def imports_of(name, path, known):
    """Modules of the package that ``name`` imports (at any depth of its code)."""
    tree = ast.parse(open(path).read(), path)
    base = name.split(".") if path.endswith("__init__.py") else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "mozparallel")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base[:len(base) - (node.level - 1)]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mozparallel":
                continue
            for alias in node.names:
                sub = target + "." + alias.name
                found.add(sub if sub in known else target)
    return {m for m in found if m in known and m != name}


def graph():
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def layer_of(name):
    top = name.split(".")[1] if "." in name else ""
    for i, members in enumerate(LAYERS):
        if top in members:
            return i
    raise AssertionError("module %s is in no layer of LAYERS: add it" % name)


def cycles(g):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def test_scanner_sees_a_cycle_and_a_climb():
    """The checks below can fail: a made-up graph with both faults."""
    g = {"mozparallel.run": {"mozparallel.cli"}, "mozparallel.cli": {"mozparallel.run"},
         "mozparallel.store.x": {"mozparallel.reporting.y"}, "mozparallel.reporting.y": set()}
    assert cycles(g) == [["mozparallel.cli", "mozparallel.run"]]
    assert layer_of("mozparallel.store.x") < layer_of("mozparallel.reporting.y")


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_no_module_imports_one_above_it():
    climbs = sorted("%s -> %s" % (m, d) for m, deps in graph().items() for d in deps
                    if layer_of(d) > layer_of(m))
    assert climbs == []


def test_no_library_module_imports_cli():
    assert sorted(m for m, deps in graph().items() if "mozparallel.cli" in deps) == ["mozparallel.__main__"]


def _project():
    with open(os.path.join(TOP, "python", "mozparallel", "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _imported():
    source = "\n".join(open(p).read() for p in modules().values())
    return set(re.findall(r"^\s*(?:from|import) ([A-Za-z_][A-Za-z0-9_]*)", source, re.M))


def _names(requirements):
    return {re.split(r"[<>=!\[ ;]", d)[0].lower() for d in requirements}


def test_every_runtime_dependency_is_imported():
    declared = _names(_project()["dependencies"])
    assert declared and not {d for d in declared if d not in _imported()}


def test_every_optional_dependency_is_imported():
    """An extra (``mozilla``, ``redis``, ``distributed``) declares only what
    some module imports: manifestparser by selection/mozilla_reader.py."""
    declared = set().union(*(_names(r) for r in _project()["optional-dependencies"].values()))
    assert "manifestparser" in declared
    assert not {d for d in declared if d not in _imported()}


def test_no_test_starts_before_its_run_and_no_environment_is_stored(tmp_path):
    """The same command three times in one objdir: every test_start comes
    after that run's suite_start (no test is started speculatively), and
    nothing under the objdir holds the environment."""
    import json
    import subprocess

    from conftest import VENV_PYTHON, write_test

    secret = "s3cr3t-%d" % os.getpid()
    tests = [write_test(tmp_path, "t%d.sh" % i, "echo 1..1\nsleep 0.%d\necho ok 1\n" % i) for i in range(4)]
    objdir = tmp_path / "obj"
    env = dict(os.environ, MOZ_OBJDIR=str(objdir), AWS_SECRET_ACCESS_KEY=secret)
    for n in range(3):
        raw = tmp_path / ("raw%d.log" % n)
        proc = subprocess.run([VENV_PYTHON, "-m", "mozparallel", "-j", "2", "--log-raw", str(raw), "-r", "tap"]
                              + tests, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        events = [json.loads(line) for line in raw.read_text().splitlines()]
        suite_start = next(e["time"] for e in events if e["action"] == "suite_start")
        starts = [e for e in events if e["action"] == "test_start"]
        assert len(starts) == 4 and all(e["time"] >= suite_start for e in starts)
    stored = [p for p in objdir.rglob("*") if p.is_file()]
    assert stored
    for path in stored:
        data = path.read_bytes()
        assert secret.encode() not in data and b"AWS_SECRET_ACCESS_KEY" not in data, path
