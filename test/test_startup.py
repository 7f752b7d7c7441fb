"""The fixed cost of a run: the standalone entry point ends the process
without the interpreter's teardown (cli.console_main) yet leaves every
file complete, and the venv's editable install is a plain path .pth."""

import glob
import os
import sqlite3
import subprocess
import sys
import sysconfig

from conftest import VENV_PYTHON, paralleltest, read_raw, write_test

# ``paralleltest`` (conftest) runs ``python -m mozparallel``: console_main.
# This is the ordinary exit, for comparison.
ORDINARY_EXIT = "import sys\nfrom mozparallel.cli import main\nsys.exit(main())"


def _suite(directory):
    """20 TAP tests, one failing, two writing thousands of points."""
    paths = []
    for i in range(20):
        if i == 7:
            body = 'printf "1..2\\nok 1\\nnot ok 2 - broken\\n"\n'
        elif i in (3, 12):
            body = 'i=1; echo "1..3000"; while [ $i -le 3000 ]; do echo "ok $i - point $i"; i=$((i+1)); done\n'
        else:
            body = 'printf "1..1\\nok 1\\n"\n'
        paths.append(write_test(directory, "t%02d.sh" % i, body))
    return paths


def _run(tmp_path, name, command=None):
    out = tmp_path / name
    out.mkdir()
    args = ["-j", "4", "-r", "tap", "--log-subtests", "all", "--objdir", str(out),
            "--log-raw", str(out / "raw.log"), "--log-tbpl", str(out / "tbpl.log")] + _suite(tmp_path / "suite")
    if command is None:
        proc = paralleltest(args, cwd=str(tmp_path))
    else:
        proc = subprocess.run([VENV_PYTHON, "-c", command] + args, cwd=str(tmp_path),
                              capture_output=True, text=True, timeout=120)
    return proc, out


def _outline(events):
    """What a raw log says, without times, pids and the interleaving of
    tests running at once."""
    kept = ("suite_start", "test_start", "test_status", "test_end", "suite_end")
    return sorted(((e["action"], e.get("test"), e.get("subtest"), e.get("status")) for e in events
                   if e["action"] in kept), key=repr)


def test_files_are_complete_after_the_fast_exit(tmp_path):
    (tmp_path / "suite").mkdir()
    proc, out = _run(tmp_path, "fast")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.rstrip().endswith("1 unexpected, 0 skipped, 0 expected failures")

    events = read_raw(out / "raw.log")      # every line parses: nothing half written
    ends = [e for e in events if e["action"] == "test_end"]
    assert len(ends) == 20
    assert [e["status"] for e in ends].count("OK") == 20       # the failing one by its point
    assert sum(1 for e in events if e["action"] == "test_status") == 2 * 3000 + 2 + 17
    assert events[0]["action"] == "suite_start" and events[-1]["action"] == "suite_end"

    tbpl = (out / "tbpl.log").read_text()
    assert tbpl.count("TEST-START") == 20
    assert "TEST-UNEXPECTED-FAIL | suite/t07.sh | broken" in tbpl
    assert tbpl.rstrip().splitlines()[-1].startswith("SUITE-END")

    db = sqlite3.connect(str(out / ".mozparallel" / "history.sqlite"))
    try:
        runs = db.execute("SELECT status, ended FROM runs").fetchall()
        results = db.execute("SELECT test, status FROM results").fetchall()
    finally:
        db.close()
    assert len(runs) == 1 and runs[0][0] == "UNEXPECTED" and runs[0][1] is not None
    assert sorted(results) == sorted(("suite/t%02d.sh" % i, "OK" if i != 7 else "FAIL") for i in range(20))

    # The same run with the interpreter's ordinary exit writes the same.
    slow, slow_out = _run(tmp_path, "ordinary", ORDINARY_EXIT)
    assert slow.returncode == proc.returncode
    assert _outline(read_raw(slow_out / "raw.log")) == _outline(events)


CONSOLE = """
import atexit, sys, threading, time
import mozparallel.cli as cli

class Teardown:
    def __del__(self):
        print("teardown ran", flush=True)

keep = Teardown()      # freed only by the interpreter's teardown
atexit.register(lambda: print("atexit ran"))

def fake_main():
    print("main ran")  # still in stdout's buffer (a pipe) when main returns
    if "thread" in sys.argv:
        threading.Thread(target=time.sleep, args=(0.2,)).start()
    return None if "none" in sys.argv else 3

cli.main = fake_main
cli.console_main()
"""


def _console(*argv):
    return subprocess.run([VENV_PYTHON, "-c", CONSOLE] + list(argv), capture_output=True, text=True, timeout=30)


def test_console_main_skips_only_the_teardown():
    proc = _console()
    assert proc.returncode == 3
    assert proc.stdout.splitlines() == ["main ran", "atexit ran"]
    assert _console("none").returncode == 0


def test_console_main_waits_for_a_live_thread_the_ordinary_way():
    proc = _console("thread")
    assert proc.returncode == 3
    assert proc.stdout.splitlines() == ["main ran", "atexit ran", "teardown ran"]


def test_editable_install_is_a_plain_path():
    """No import hook in the venv's .pth files (it cost 12-16 ms a start)."""
    site = sysconfig.get_paths()["purelib"]
    pths = glob.glob(os.path.join(site, "__editable__*mozparallel*.pth"))
    assert pths, "mozparallel is not installed editable in %s" % site
    for pth in pths:
        lines = [line for line in open(pth).read().splitlines() if line.strip()]
        assert lines and not any(line.startswith("import") for line in lines), (pth, lines)
    assert not glob.glob(os.path.join(site, "__editable__*mozparallel*finder.py"))
    assert sys.modules.get("__editable___mozparallel_0_1_0_finder") is None


# Loaded only where needed: a manifest (tomllib, the manifest readers), a
# chunked run (hashlib). secrets (run ids) is not used at all: it loads OpenSSL.
NOT_ON_THE_PLAIN_PATH = ("tomllib", "hashlib", "_hashlib", "hmac", "secrets",
                         "mozparallel.selection.manifest", "mozparallel.selection.toml_format")


def _imported(args, cwd):
    proc = subprocess.run([VENV_PYTHON, "-X", "importtime", "-m", "mozparallel"] + args, cwd=str(cwd),
                          capture_output=True, text=True, timeout=60)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert lines, proc.stderr
    return proc, {line.rsplit("|", 1)[1].strip() for line in lines}


def test_a_plain_run_imports_only_what_it_needs(tmp_path):
    test = write_test(tmp_path, "t.sh", 'printf "1..1\\nok 1\\n"\n')
    proc, modules = _imported(["-r", "tap", "--objdir", str(tmp_path), test], tmp_path)
    assert proc.returncode == 0
    assert "mozparallel.run" in modules
    assert not modules & set(NOT_ON_THE_PLAIN_PATH)

    manifest = tmp_path / "m.toml"
    manifest.write_text('["t.sh"]\n')
    # A new objdir: no history, so chunks by hash.
    (tmp_path / "new").mkdir()
    proc, modules = _imported(["-r", "tap", "--objdir", str(tmp_path / "new"), "--total-chunks", "2",
                               "--this-chunk", "1", str(manifest)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {"tomllib", "hashlib", "mozparallel.selection.manifest"} <= modules


def test_median_is_the_statistics_median():
    import random
    import statistics

    from mozparallel.store.records import median

    rng = random.Random(1)
    for n in range(1, 40):
        values = [rng.choice((rng.randint(0, 9), rng.random())) for _ in range(n)]
        assert median(values) == statistics.median(values)
        assert type(median(values)) is type(statistics.median(values))
    assert median(iter([3, 1, 2])) == 2


MOZINFO_CHECK = r'''
import json, sys
from mozparallel.selection.mozinfo_values import live_values
values = live_values(sys.argv[1])
print(json.dumps({"values": values, "imported": "mozinfo" in sys.modules}))
'''


def test_live_mozinfo_is_cached_in_the_state_dir_until_what_it_comes_from_changes(tmp_path):
    """mozinfo runs five programs at import; the second run reads the values
    the first one kept, and a change of a variable mozinfo reads (or of the
    cached key) makes it detect again."""
    import json
    import subprocess

    from conftest import VENV_PYTHON

    def look(env=None):
        full = dict(os.environ, **(env or {}))
        out = subprocess.run([VENV_PYTHON, "-c", MOZINFO_CHECK, str(tmp_path)], env=full,
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    gone = tmp_path / "not-created"
    subprocess.run([VENV_PYTHON, "-c", MOZINFO_CHECK, str(gone)], capture_output=True, text=True, check=True)
    assert not gone.exists()        # a cache never creates the state directory
    first = look()
    assert first["imported"] and (tmp_path / "mozinfo-live.json").exists()
    second = look()
    assert not second["imported"] and second["values"] == first["values"]
    assert second["values"]["os"] == "linux" and second["values"]["arch"] == first["values"]["processor"]
    assert look({"MOZ_AUTOMATION": "1"})["imported"]        # mozinfo reads it: detected again
    cache = json.loads((tmp_path / "mozinfo-live.json").read_text())
    cache["key"]["uname"][2] = "another kernel"
    (tmp_path / "mozinfo-live.json").write_text(json.dumps(cache))
    assert look()["imported"]
