"""docs/ builds with Sphinx (warnings are errors, the Markdown pages
through MyST), its examples run as written, and what it says of the
command line is what ``--help`` says."""

import os
import re
import subprocess

from conftest import TOP, VENV_PYTHON, paralleltest, read_raw

DOCS = os.path.join(TOP, "docs")


def test_sphinx_build_with_warnings_as_errors(tmp_path):
    out = tmp_path / "html"
    proc = subprocess.run([VENV_PYTHON, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), DOCS, str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in os.listdir(DOCS):
        name, ext = os.path.splitext(page)
        if ext in (".rst", ".md"):
            assert (out / (name + ".html")).exists(), page
    # The Markdown pages are rendered, not copied as text: their tables are
    # HTML tables and their fenced blocks highlighted code.
    for page in ("distributed", "performance"):
        html = (out / (page + ".html")).read_text()
        assert "<table" in html and "|---|" not in html, page
        assert 'class="highlight' in html, page
    # A cross-reference from a reST page to a Markdown one resolves.
    assert 'href="distributed.html"' in (out / "usage.html").read_text()


def _usage_examples():
    text = open(os.path.join(DOCS, "usage.rst")).read()
    block = text.split("Examples\n--------", 1)[1].split(".. code-block:: sh", 1)[1]
    return [l.strip() for l in block.splitlines() if l.strip() and not l.strip().startswith("#")]


def _perl_suite(top):
    """t/ of ordinary (not executable) .t files, as in a Perl distribution:
    two pass, one fails; a helper module beside them."""
    (top / "t").mkdir()
    for name, ok in (("00-load.t", True), ("10-hello.t", True), ("20-broken.t", False)):
        (top / "t" / name).write_text(
            "use strict;\nprint \"1..2\\n\";\nprint \"ok 1 - first\\n\";\n"
            "print \"%s 2 - second\\n\";\n" % ("ok" if ok else "not ok"))
        os.chmod(top / "t" / name, 0o644)
    (top / "t" / "Helper.pm").write_text("package Helper;\n1;\n")


def test_usage_examples_run_on_a_perl_suite(tmp_path):
    """Each command of usage.rst's examples, run by a shell in a Perl-style
    tree (``paralleltest`` from the venv, ``./mach`` this checkout's), runs
    every .t file of t/ (none executable) and nothing else."""
    _perl_suite(tmp_path)
    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    env["PATH"] = os.path.dirname(VENV_PYTHON) + os.pathsep + env["PATH"]
    examples = _usage_examples()
    assert len(examples) == 3 and any(e.startswith("./mach ") for e in examples)
    for i, command in enumerate(examples):
        raw = tmp_path / ("example%d.raw" % i)
        line = re.sub(r"^\./mach ", os.path.join(TOP, "mach") + " ", command) + " --log-raw " + str(raw)
        proc = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)
        # 20-broken.t fails: exit status 1, not a usage error.
        assert proc.returncode == 1, command + "\n" + proc.stdout + proc.stderr
        events = read_raw(raw)
        ends = {e["test"]: e["status"] for e in events if e["action"] == "test_end"}
        assert ends == dict.fromkeys(["t/00-load.t", "t/10-hello.t", "t/20-broken.t"], "OK"), command
        # 20-broken.t fails by its point (one failure, one line; its end says it ran to its end).
        assert [e["test"] for e in events if e["action"] == "test_status" and "expected" in e] \
            == ["t/20-broken.t"], command
    # The second example's extra logs were written.
    assert "TEST-UNEXPECTED-FAIL" in (tmp_path / "run.tbpl").read_text()
    assert "20-broken.t" in (tmp_path / "errors.json").read_text()


def test_directory_without_tests_names_what_it_takes(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "README").write_text("no tests here\n")
    proc = paralleltest(["--exec", "perl", "t"], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "paralleltest: error: no test files (executable or .t) in directory: t"]


def test_help_lists_subcommands_and_errorsummary_and_says_what_usage_says():
    from mozparallel.cli import SUBCOMMANDS

    help_text = paralleltest(["--help"]).stdout
    usage = open(os.path.join(DOCS, "usage.rst")).read()
    # -j: the same default in both.
    jobs_help = " ".join(help_text.split("-j JOBS, --jobs JOBS", 1)[1].split("-e CMD", 1)[0].split())
    assert "'auto' (the default)" in jobs_help
    assert "``auto`` (the default)" in usage and "number of CPUs" not in usage
    # Every mozlog formatter, errorsummary included, is offered.
    for name in ("raw", "tbpl", "mach", "errorsummary", "xunit", "html", "grouped", "unittest", "tap"):
        assert re.search(r"^  --log-%s LOG_" % name, help_text, re.M), name
    # The subcommands, each with its description, after the options.
    epilog = help_text.split("subcommands (paralleltest NAME --help", 1)[1]
    listed = re.findall(r"^  (\w+) +\S", epilog, re.M)
    assert listed == list(SUBCOMMANDS)
    assert "history   What recent runs recorded" in epilog
    for name in SUBCOMMANDS:
        assert "``%s``" % name in usage, name


def test_mach_help_lists_subcommands_once():
    """mach prints its own "Sub Commands:" list: the parser's epilog is only
    for the standalone command."""
    from mozparallel.cli import build_parser

    assert "subcommands (" not in build_parser(prog="mach parallel-test").format_help()
    assert "subcommands (" in build_parser().format_help()
