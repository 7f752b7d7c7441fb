"""``paralleltest annotate``: manifest edits from the history
(flaky/annotations.py), written keeping every other byte
(selection/edits.py), and --retries and --rerun-failures leaving
always-failing tests alone.

fixtures/interference/xpcshell.toml is an excerpt of a real manifest,
mozilla-central's netwerk/test/unit/xpcshell.toml (mozilla/gecko-dev at
006a93fb, MPL-2.0): comments before keys, inside arrays, after them,
arrays on one line and on many, with and without a trailing comma. Its
tests are xpcshell tests that cannot run here, so their history is written
into a real store through the store's own API; the .ini test runs real
processes.
"""

import difflib
import os
import shutil
import time
import tomllib

from conftest import FIXTURES, paralleltest, read_raw, write_test

from mozparallel.store.records import ResultRecord, RunRecord
from mozparallel.store.sqlite_store import SQLiteStore

MOZINFO = {"os": "linux", "os_version": "v12", "arch": "x86_64", "debug": False}
MOZINFO_ARGS = ["--mozinfo", "os=linux", "--mozinfo", "os_version=v12", "--mozinfo", "arch=x86_64",
                "--mozinfo", "debug=false"]


class History:
    """Runs written through SQLiteStore, one family at a time."""

    def __init__(self, path):
        self.store = SQLiteStore(path)
        self.clock = time.time() - 3600
        self.n = 0

    def run(self, results, kind="", parent=None, jobs=4, argv=(), mozinfo=MOZINFO):
        """``results``: [(test, status, start, end)]; returns the run id."""
        self.n += 1
        self.clock += 10
        run_id = "run-%03d" % self.n
        self.store.record_run_start(RunRecord(run_id, self.clock, jobs=jobs, mozinfo=dict(mozinfo), argv=list(argv),
                                              kind=kind, parent_run=parent))
        for test, status, start, end in results:
            self.store.record_result(run_id, ResultRecord(test, status=status, expected="OK", wall=end - start,
                                                          start_offset=start, end_offset=end))
        self.store.record_run_end(run_id, self.clock + 5, "OK")
        return run_id

    def parallel_unsafe(self, victim, culprit, bystander):
        root = self.run([(culprit, "OK", 0.0, 1.2), (victim, "ERROR", 0.1, 0.2), (bystander, "OK", 0.0, 0.5)])
        self.run([(victim, "OK", 0.0, 1.0)], kind="retry", parent=root, jobs=1)
        for _ in range(3):
            self.run([(culprit, "OK", 0.0, 1.2), (victim, "ERROR", 0.5, 0.6)], kind="beside", parent=root, jobs=2,
                     argv=["probe", victim, "others-first"])
            self.run([(victim, "OK", 0.0, 1.0)], kind="alone", parent=root, jobs=1, argv=["probe", victim, "alone"])
        self.run([(victim, "OK", 0.0, 1.0)], kind="alone", parent=root, jobs=1, argv=["probe", victim, "alone"])

    def always_failing(self, failing, other="test_doomentry.js", mozinfo=MOZINFO):
        """One run in which each of ``failing`` ({test: status}) fails, then its re-run alone."""
        root = self.run([(t, s, 0.0, 0.5) for t, s in failing.items()] + [(other, "OK", 0.0, 0.5)], mozinfo=mozinfo)
        self.run([(t, s, 0.0, 0.5) for t, s in failing.items()], kind="retry", parent=root, jobs=1,
                 mozinfo=mozinfo)


def only_insertions(old, new):
    """The text ``new`` inserted into ``old`` (every byte of ``old`` kept, in
    order), or AssertionError."""
    ops = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    changed = [(tag, old[i1:i2]) for tag, i1, i2, _, _ in ops if tag not in ("equal", "insert")]
    assert not changed, changed
    return [new[j1:j2] for tag, _, _, j1, j2 in ops if tag == "insert"]


def test_annotate_write_on_a_real_mozilla_central_manifest_keeps_every_other_byte(tmp_path):
    manifest = tmp_path / "xpcshell.toml"
    shutil.copy(os.path.join(FIXTURES, "interference", "xpcshell.toml"), manifest)
    original = manifest.read_text()
    db = str(tmp_path / "history.sqlite")
    h = History(db)
    h.parallel_unsafe("test_altsvc_pref.js", "test_aboutblank.js", "test_about_protocol.js")
    failing = {"test_URIs.js": "ERROR", "test_dns_retry.js": "CRASH", "test_dooh.js": "TIMEOUT",
               "test_http2-proxy-failing.js": "CRASH"}
    for _ in range(3):
        h.always_failing(failing)
    # The same failures on a debug build, where test_URIs.js passes: only `debug` matters for it.
    h.always_failing({t: s for t, s in failing.items() if t != "test_URIs.js"}, other="test_URIs.js",
                     mozinfo=dict(MOZINFO, debug=True))
    h.store.close()

    proc = paralleltest(["annotate", "xpcshell.toml", "--store", db] + MOZINFO_ARGS, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert manifest.read_text() == original
    diff = proc.stdout
    proc = paralleltest(["annotate", "xpcshell.toml", "--store", db, "--write"] + MOZINFO_ARGS, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == diff
    new = manifest.read_text()

    only_insertions(original, new)      # every byte of the original is there, in order
    condition = "os == 'linux' && os_version == 'v12' && arch == 'x86_64' && !debug"
    lines = diff.splitlines()
    assert lines[:2] == ["--- a/xpcshell.toml", "+++ b/xpcshell.toml"]
    assert [line for line in lines[2:] if line.startswith("-")] == [
        '-skip-if = ["socketprocess_networking"]',                  # an element added after it
        "-  \"os == 'win'\" # https://bugzilla.mozilla.org/show_bug.cgi?id=1881334",   # a comma added
    ]
    assert [line for line in lines[2:] if line.startswith("+")] == [
        '+fail-if = [',
        '+  "!debug", # paralleltest: ERROR in every attempt of 3 runs',
        '+]',
        '+run-sequentially = "parallel-unsafe: breaks test_altsvc_pref.js" # paralleltest: test_altsvc_pref.js '
        'fails beside it (run run-001)',
        '+run-sequentially = "parallel-unsafe: fails beside test_aboutblank.js" # paralleltest: failed in 3 of 3 '
        'probes beside test_aboutblank.js, passed 5 of 5 alone (run run-001)',
        '+  "%s", # paralleltest: CRASH in every attempt of 3 runs' % condition,
        '+skip-if = ["socketprocess_networking",',
        '+  "%s", # paralleltest: TIMEOUT in every attempt of 3 runs' % condition,
        '+]',
        "+  \"os == 'win'\", # https://bugzilla.mozilla.org/show_bug.cgi?id=1881334",
        '+  "%s", # paralleltest: CRASH in every attempt of 3 runs' % condition,
    ]

    entries = tomllib.loads(new)
    assert entries["test_dns_retry.js"]["skip-if"][-1] == condition
    assert entries["test_dooh.js"]["skip-if"] == ["socketprocess_networking", condition]
    assert entries["test_alt-data_simple.js"] == tomllib.loads(original)["test_alt-data_simple.js"]
    # The runner reads the result as intended.
    from mozparallel.selection.manifest import ManifestReader
    for name in entries:
        (tmp_path / name).touch()
    by_name = {os.path.basename(t.path): t for t in ManifestReader(MOZINFO, strict=False)(str(manifest),
                                                                                           str(tmp_path))}
    assert by_name["test_dns_retry.js"].disabled == "skip-if: %s" % condition
    assert by_name["test_dooh.js"].disabled == "skip-if: %s" % condition
    assert by_name["test_URIs.js"].keys["expected"] == "fail"
    assert by_name["test_aboutblank.js"].keys["run-sequentially"] == "parallel-unsafe: breaks test_altsvc_pref.js"

    # Nothing left to propose once written.
    proc = paralleltest(["annotate", "xpcshell.toml", "--store", db] + MOZINFO_ARGS, cwd=tmp_path)
    assert proc.stdout == "" and "nothing to propose" in proc.stderr


def test_ini_manifest_always_failing_tests_get_fail_if_and_skip_if_and_are_not_rerun(tmp_path):
    """Real processes, an .ini manifest: a test that fails every time
    (not ok, exit 1) and one that crashes (SIGSEGV), three runs with
    --retries 1; the fourth run does not retry them, --rerun-failures
    leaves them out; annotate
    proposes fail-if for the first and skip-if for the second; after
    --write the suite is green."""
    counter = tmp_path / "broken.count"
    write_test(tmp_path, "broken.sh", "printf . >> %s\necho 1..1\necho 'not ok 1 - broken'\nexit 1\n" % counter)
    write_test(tmp_path, "crash.sh", "echo 1..1\nkill -SEGV $$\n")
    write_test(tmp_path, "ok.sh", "echo 1..1\necho ok 1\n")
    manifest = tmp_path / "tests.ini"
    manifest.write_text("[DEFAULT]\n# shell tests\n\n[broken.sh]\nfail-if = os == 'win'  # not on windows\n\n"
                        "[crash.sh]\nskip-if =\n  os == 'mac'  # bug 1\n  os == 'android'\n\n[ok.sh]\n")
    original = manifest.read_text()
    db = str(tmp_path / "history.sqlite")
    for _ in range(3):
        proc = paralleltest(["--retries", "1", "--store", db, "-r", "tbpl", "tests.ini"] + MOZINFO_ARGS,
                            cwd=tmp_path)
        assert proc.returncode == 1
    assert len(counter.read_text()) == 6                # each run: the run and its re-run
    raw = str(tmp_path / "run.raw")
    proc = paralleltest(["--retries", "2", "--store", db, "--log-raw", raw, "tests.ini"] + MOZINFO_ARGS,
                        cwd=tmp_path)
    assert proc.returncode == 1
    assert len(counter.read_text()) == 7                # not re-run
    messages = [e["message"] for e in read_raw(raw) if e["action"] == "log"]
    assert "mozparallel: not re-run, failed every attempt of its last recorded runs: broken.sh, crash.sh" in messages

    proc = paralleltest(["--rerun-failures", "--store", db, "tests.ini"] + MOZINFO_ARGS, cwd=tmp_path)
    assert "paralleltest: warning: --rerun-failures: not run, failed every attempt of its last recorded runs " \
           "here: broken.sh, crash.sh" in proc.stderr, proc.stderr
    assert len(counter.read_text()) == 7

    proc = paralleltest(["annotate", "tests.ini", "--store", db, "--write"] + MOZINFO_ARGS, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    condition = "os == 'linux' && os_version == 'v12' && arch == 'x86_64' && !debug"
    only_insertions(original, manifest.read_text())
    assert manifest.read_text() == (
        "[DEFAULT]\n# shell tests\n\n"
        "[broken.sh]\nfail-if = os == 'win'  # not on windows\n"
        "  %s  # paralleltest: FAIL in every attempt of 4 runs\n\n"
        "[crash.sh]\nskip-if =\n  os == 'mac'  # bug 1\n  os == 'android'\n"
        "  %s  # paralleltest: CRASH in every attempt of 4 runs\n\n"
        "[ok.sh]\n" % (condition, condition))
    proc = paralleltest(["--store", db, "-r", "tbpl", "tests.ini"] + MOZINFO_ARGS, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "TEST-FAIL | broken.sh" in proc.stdout and "TEST-SKIP | crash.sh" in proc.stdout


def test_ini_edits_insert_lines_only_and_keep_line_endings():
    from mozparallel.selection.edits import Edit, EditError, apply_edits

    text = ("[DEFAULT]\r\nsubsuite = net\r\n\r\n[a.js]\r\n[b.js]\r\nrequesttimeoutfactor = 2\r\n"
            "# about c.js\r\n\r\n[c.js]\r\nskip-if = os == 'mac'")
    new = apply_edits("m.ini", text, [
        Edit("a.js", "run-sequentially", "parallel-unsafe: breaks b.js", "paralleltest: evidence"),
        Edit("b.js", "run-sequentially", "parallel-unsafe: fails beside a.js"),
        Edit("c.js", "skip-if", "os == 'linux'", "paralleltest: CRASH"),
        Edit("c.js", "skip-if", "os == 'mac'"),                   # already there: nothing
    ])
    assert new == ("[DEFAULT]\r\nsubsuite = net\r\n\r\n[a.js]\r\n# paralleltest: evidence\r\n"
                   "run-sequentially = parallel-unsafe: breaks b.js\r\n[b.js]\r\nrequesttimeoutfactor = 2\r\n"
                   "run-sequentially = parallel-unsafe: fails beside a.js\r\n# about c.js\r\n\r\n[c.js]\r\n"
                   "skip-if = os == 'mac'\r\n  os == 'linux'  # paralleltest: CRASH")
    only_insertions(text, new)
    try:
        apply_edits("m.ini", text, [Edit("d.js", "skip-if", "true")])
    except EditError as e:
        assert str(e) == "m.ini: no [d.js] section to edit"
    else:
        raise AssertionError("no error for a missing section")


def test_annotate_names_a_bad_manifest_in_one_line(tmp_path):
    proc = paralleltest(["annotate", "missing.toml", "--store", str(tmp_path / "h.sqlite")], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["paralleltest annotate: error: no such manifest: missing.toml"]
