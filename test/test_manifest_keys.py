"""Misspelled manifest keys (``skip_if``, ``fail-iff``, ``run_if``,
``run-sequentialy``) do nothing in any reader: each is one warning, once
per key for the whole run, naming the manifest, the line and the key it
resembles. Keys like none of the known ones (harnesses add their own) and
the known ones stay silent. Through the real command line, with both
readers."""

import pytest

from conftest import paralleltest, write_test

INI = """\
[DEFAULT]
skip_if = os == "nosuchos"
head = head_a.js

[a.sh]
fail-iff = true
run-sequentialy = binds a port
scheme = https

[b.sh]
skip_if = true
my-harness-flag = 1
"""

TOML = """\
["c.sh"]
run_if = ["false"]
suport-files = "data/*"
requesttimeoutfactor = 2
"""


@pytest.fixture
def suite(tmp_path):
    for name in ("a.sh", "b.sh", "c.sh"):
        write_test(tmp_path, name, 'echo "1..1"\necho "ok 1"\n')
    (tmp_path / "m.ini").write_text(INI)
    (tmp_path / "m.toml").write_text(TOML)
    return tmp_path


def _warnings(stderr):
    return [line for line in stderr.splitlines() if line.startswith("paralleltest: warning: ")]


def test_each_misspelled_key_is_one_warning_naming_file_line_and_key(suite):
    proc = paralleltest(["--list", "m.ini", "m.toml"], cwd=suite)
    assert proc.returncode == 0, proc.stderr
    assert _warnings(proc.stderr) == [
        "paralleltest: warning: m.ini:2: unknown key 'skip_if' in [DEFAULT], ignored: did you mean 'skip-if'?",
        "paralleltest: warning: m.ini:6: unknown key 'fail-iff' in [a.sh], ignored: did you mean 'fail-if'?",
        "paralleltest: warning: m.ini:7: unknown key 'run-sequentialy' in [a.sh], ignored: "
        "did you mean 'run-sequentially'?",
        "paralleltest: warning: m.toml:2: unknown key 'run_if' in [c.sh], ignored: did you mean 'run-if'?",
        "paralleltest: warning: m.toml:3: unknown key 'suport-files' in [c.sh], ignored: "
        "did you mean 'support-files'?",
    ]
    # What the warnings explain: the misspelled keys did nothing.
    assert proc.stdout.splitlines()[:3] == ["RUN   a.sh", "RUN   b.sh", "RUN   c.sh"]


def test_the_mozilla_reader_warns_the_same(suite):
    # manifestparser is pinned in requirements.txt (PyPI 2.1.0: .ini only).
    own = paralleltest(["--list", "--manifest-reader", "own", "m.ini"], cwd=suite)
    mozilla = paralleltest(["--list", "--manifest-reader", "mozilla", "m.ini"], cwd=suite)
    assert own.returncode == mozilla.returncode == 0, mozilla.stderr
    assert _warnings(mozilla.stderr) == _warnings(own.stderr) and len(_warnings(own.stderr)) == 3


def test_correct_keys_and_unlike_keys_are_silent(tmp_path):
    write_test(tmp_path, "a.sh", 'echo "1..1"\necho "ok 1"\n')
    (tmp_path / "m.toml").write_text(
        '[DEFAULT]\nhead = "head.js"\ntail = ""\nfirefox-appdir = "browser"\n'
        'prefs = ["a.b=true"]\n\n["a.sh"]\nskip-if = ["false"]\nrun-sequentially = "port"\n'
        'https_first_disabled = true\nbug = 123\nmy-harness-flag = 1\nskip = true\n')
    proc = paralleltest(["--log-raw", "r.raw", "m.toml"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _warnings(proc.stderr) == []
