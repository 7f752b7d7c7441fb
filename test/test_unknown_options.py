"""A misspelled option is one line naming it and the option it resembles,
exit 2, from ``paralleltest`` and from the standalone ``./mach`` (PyPI mach
1.0.0, whose dispatcher turns left-over arguments into its own three-line
message with exit 1 unless the parser refuses them first). TEST arguments
may come on both sides of options."""

import os
import subprocess

import pytest

from conftest import TOP, paralleltest, read_raw, write_test


def mach(args, cwd):
    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    return subprocess.run([os.path.join(TOP, "mach"), "parallel-test"] + list(args), cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def one_test(tmp_path):
    write_test(tmp_path, "t1.t", 'echo "1..1"\necho "ok 1"\n')
    return tmp_path


def test_misspelled_log_option_names_the_right_one(one_test):
    args = ["--log-errorsumary", "es.log", "t1.t"]
    for name, proc in (("paralleltest", paralleltest(args, cwd=one_test)),
                       ("mach parallel-test", mach(args, one_test))):
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.splitlines() == [
            "%s: error: unrecognized option --log-errorsumary (did you mean --log-errorsummary?)" % name]
        assert proc.stdout == ""
        assert not (one_test / "es.log").exists() and not (one_test / ".mozparallel").exists()


def test_several_unknown_options_and_one_without_a_likeness(one_test):
    proc = mach(["--jbos=2", "--frobnicate", "t1.t"], one_test)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "mach parallel-test: error: unrecognized options --jbos (did you mean --jobs?), --frobnicate"]
    sub = paralleltest(["history", "--formt", "json"], cwd=one_test)
    assert sub.returncode == 2
    assert sub.stderr.splitlines() == [
        "paralleltest history: error: unrecognized option --formt (did you mean --format?)"]


def test_abbreviations_still_work_and_tests_may_follow_options(one_test):
    write_test(one_test, "t2.t", 'echo "1..1"\necho "ok 1"\n')
    # --log-errorsum: argparse's abbreviation of --log-errorsummary; t2.t after an option.
    proc = mach(["t1.t", "--log-errorsum", "es.log", "--log-raw", "run.raw", "-j", "1", "t2.t"], one_test)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ends = [e["test"] for e in read_raw(one_test / "run.raw") if e["action"] == "test_end"]
    assert sorted(ends) == ["t1.t", "t2.t"]
    assert (one_test / "es.log").exists()
    # After "--" everything is a TEST, even what looks like an option.
    write_test(one_test, "-dash.t", 'echo "1..1"\necho "ok 1"\n')
    proc = paralleltest(["--log-raw", "dash.raw", "--", "-dash.t"], cwd=one_test)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [e["test"] for e in read_raw(one_test / "dash.raw") if e["action"] == "test_end"] == ["-dash.t"]
