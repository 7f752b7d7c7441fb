"""Shared test support: run the real command line in a subprocess, read its
raw log, and check that nothing the run started is left alive."""

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(TOP, "test", "fixtures")
SHARED_BENCH = os.path.join(os.path.dirname(TOP), "shared", "bench")
# The real interpreter, not a pyenv shim (about 100 ms a start here): for
# fixtures' shebangs. The runner itself runs under the venv's interpreter.
PYTHON = os.path.realpath(sys.executable)
VENV_PYTHON = sys.executable


def read_raw(path):
    """The events of a mozlog raw log, in order."""
    with open(path, errors="replace") as f:
        return [json.loads(line) for line in f if line.strip()]


def ends_by_test(events):
    return {e["test"]: e for e in events if e["action"] == "test_end"}


def write_test(directory, name, body, shebang="#!/bin/sh", mode=0o755):
    """Write an executable test script and return its path."""
    path = os.path.join(str(directory), name)
    with open(path, "w") as f:
        f.write(shebang + "\n" + body)
    os.chmod(path, mode)
    return path


def write_python_test(directory, name, body):
    return write_test(directory, name, body, shebang="#!" + PYTHON)


def gen_suite(out, profile, *extra):
    """A ../shared/bench suite (seeded: the same files every time) in ``out``."""
    subprocess.run([PYTHON, os.path.join(SHARED_BENCH, "gen_suite.py"), "--profile", profile,
                    "--out", str(out)] + list(extra), check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def mixed(tmp_path_factory):
    """The bench's mixed-failures suite (60 tests, expected.json), generated once."""
    return gen_suite(tmp_path_factory.mktemp("mixed"), "mixed-failures")


def bare_files(suite, dest):
    """The test files of a generated suite (``t*``), copied into ``dest``
    without the suite's manifest.ini: given one by one, files a manifest
    lists keep its keys (``expected = ...``, selection/resolve.py); this is
    for runs that want them as plain files."""
    import shutil

    files = []
    for p in sorted(suite.glob("t*")):
        if p.name != "tests.txt":
            files.append(shutil.copy2(str(p), str(dest)))
    return files


def assert_mixed_outcomes(raw, mixed):
    """Every one of the 60 mixed-failures files got an outcome expected.json accepts."""
    sys.path.insert(0, SHARED_BENCH)
    import raw_outcomes

    expected = json.load(open(os.path.join(str(mixed), "expected.json")))["tests"]
    got = raw_outcomes.outcomes(str(raw))
    wrong = {n: (got.get(n), e["accept"]) for n, e in expected.items() if got.get(n) not in e["accept"]}
    assert not wrong
    assert len(got) == 60


def marked_processes(marker):
    """Live processes whose environment or command line carries ``marker``."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or ()) or \
                    proc.environ().get("MOZPARALLEL_TEST_MARKER") == marker:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
        except psutil.Error:
            pass
    return found


@pytest.fixture
def marker(tmp_path):
    """A unique string: pass it in the environment of a run
    (``MOZPARALLEL_TEST_MARKER``), then assert ``marked_processes(marker)``
    is empty afterwards."""
    return "mozparallel-test-%d-%s" % (os.getpid(), tmp_path.name)


_STATE = {}     # the running test's own objdir for runs started from the checkout


@pytest.fixture(autouse=True)
def _own_objdir(tmp_path_factory):
    """A run started from the checkout (no ``cwd``, or one inside it) keeps its state
    (history, report) in an objdir of the test's own, given as
    $MOZ_OBJDIR, not in the checkout's ./.mozparallel shared by every test.
    ``--objdir`` or an ``env`` with MOZ_OBJDIR still win."""
    _STATE["factory"], _STATE["dir"] = tmp_path_factory, None
    yield
    _STATE.clear()


def _test_objdir():
    if _STATE.get("dir") is None and _STATE.get("factory") is not None:
        _STATE["dir"] = str(_STATE["factory"].mktemp("objdir"))
    return _STATE.get("dir")


def paralleltest(args, cwd=None, env=None, timeout=120, marker=None, **kwargs):
    """Run ``python -m mozparallel ARGS`` and return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.pop("MOZ_OBJDIR", None)
    in_checkout = cwd is None or os.path.abspath(str(cwd)) + os.sep == TOP + os.sep or \
        os.path.abspath(str(cwd)).startswith(TOP + os.sep)
    if in_checkout and _test_objdir():
        full_env["MOZ_OBJDIR"] = _test_objdir()
    if marker:
        full_env["MOZPARALLEL_TEST_MARKER"] = marker
    if env:
        full_env.update(env)
    return subprocess.run([VENV_PYTHON, "-m", "mozparallel"] + list(args), cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def wait_gone(marker, seconds=5.0):
    """Marked processes still alive after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        left = marked_processes(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a skip is a failure: every tool a test needs is installed by
    test/run, so a skip there would hide missing work."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped:
        report.outcome = "failed"
        report.longrepr = "skipped under CI (CI must install what this test needs): %s" % (
            report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr,)
