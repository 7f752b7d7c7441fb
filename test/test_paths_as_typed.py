"""A test is given its path exactly as the user typed it, as prove, xargs
and GNU parallel do: relative stays relative (run from the invocation
directory), a directory's files are the directory as typed joined with the
rest, a manifest's entries are the manifest's path as typed joined with the
entry. Each test file here records the ``$0`` / ``sys.argv[0]`` it saw."""

import os
import sqlite3

from conftest import PYTHON, paralleltest, write_test

SHELL = 'echo "$0" >> "$SEEN"\necho "1..1"\necho "ok 1"\n'
PY = 'import os, sys\nopen(os.environ["SEEN"], "a").write(sys.argv[0] + "\\n")\nprint("1..1\\nok 1")\n'


def tree(tmp_path):
    """work/t/a.sh, work/t/deep/b.sh, work/t/c.py, work/sub/m.toml (+ an include with a ../ entry), work/echo.sh."""
    work = tmp_path / "work"
    (work / "t" / "deep").mkdir(parents=True)
    (work / "sub" / "inc").mkdir(parents=True)
    write_test(work / "t", "a.sh", SHELL)
    write_test(work / "t" / "deep", "b.sh", SHELL)
    write_test(work / "t", "c.py", PY, shebang="#!" + PYTHON, mode=0o644)
    write_test(work, "echo.sh", SHELL)
    write_test(work / "sub", "m1.sh", SHELL)
    write_test(work / "sub" / "inc", "m2.sh", SHELL)
    write_test(work / "sub", "here.sh", SHELL)
    write_test(work / "sub", "m3.sh", SHELL)
    (work / "sub" / "m.toml").write_text('["m1.sh"]\n["here.sh"]\ncwd = "here"\n["include:inc/more.ini"]\n')
    (work / "sub" / "inc" / "more.ini").write_text("[m2.sh]\n[../m3.sh]\n")
    return work


def seen_by_tests(args, cwd, tmp_path):
    seen = tmp_path / "seen"
    if seen.exists():
        seen.unlink()
    r = paralleltest(["-j", "2", "-r", "tap"] + args, cwd=cwd, env={"SEEN": str(seen)})
    assert r.returncode == 0, r.stdout + r.stderr
    return sorted(seen.read_text().splitlines())


def test_files_keep_the_path_as_typed(tmp_path):
    work = tree(tmp_path)
    assert seen_by_tests(["t/a.sh", "./t/deep/b.sh"], work, tmp_path) == ["./t/deep/b.sh", "t/a.sh"]
    # A path from another directory stays as typed too.
    assert seen_by_tests(["../t/a.sh"], work / "sub", tmp_path) == ["../t/a.sh"]
    # Absolute stays absolute.
    assert seen_by_tests([str(work / "t" / "a.sh")], work, tmp_path) == [str(work / "t" / "a.sh")]
    # A bare name run as the command itself gets ./ (else it would be looked up on $PATH).
    assert seen_by_tests(["echo.sh"], work, tmp_path) == ["./echo.sh"]


def test_files_keep_the_path_as_typed_with_exec(tmp_path):
    work = tree(tmp_path)
    assert seen_by_tests(["--exec", PYTHON, "t/c.py"], work, tmp_path) == ["t/c.py"]
    assert seen_by_tests(["--exec", "/bin/sh", "echo.sh", "t/a.sh"], work, tmp_path) == ["echo.sh", "t/a.sh"]


def test_directories_join_the_directory_as_typed(tmp_path):
    work = tree(tmp_path)
    assert seen_by_tests(["t"], work, tmp_path) == ["t/a.sh", "t/deep/b.sh"]
    assert seen_by_tests(["./t/"], work, tmp_path) == ["./t/a.sh", "./t/deep/b.sh"]
    assert seen_by_tests(["--exec", "/bin/sh", "../t"], work / "sub", tmp_path) == ["../t/a.sh", "../t/deep/b.sh"]


def test_manifest_entries_join_the_manifest_path_as_typed(tmp_path):
    work = tree(tmp_path)
    here = str(work / "sub" / "here.sh")     # cwd = "here": run in its own directory, so absolute
    assert seen_by_tests(["sub/m.toml"], work, tmp_path) == sorted(
        ["sub/m1.sh", here, "sub/inc/m2.sh", "sub/m3.sh"])
    assert seen_by_tests(["--exec", "/bin/sh", "m.toml"], work / "sub", tmp_path) == sorted(
        ["m1.sh", here, "inc/m2.sh", "m3.sh"])


def test_ids_stay_relative_to_the_root_and_store_commands_without_the_path(tmp_path):
    work = tree(tmp_path)
    raw = tmp_path / "raw.log"
    r = paralleltest(["--exec", "/bin/sh", "--log-raw", str(raw), "./t/a.sh", "t/deep"], cwd=work,
                     env={"SEEN": str(tmp_path / "seen")})
    assert r.returncode == 0, r.stderr
    text = raw.read_text()
    assert '"test": "t/a.sh"' in text and '"test": "t/deep/b.sh"' in text
    # The stored command is what ran the test without the test itself.
    db = sqlite3.connect(str(work / ".mozparallel" / "history.sqlite"))
    assert sorted(db.execute("select test, command from results")) == [("t/a.sh", "/bin/sh"),
                                                                       ("t/deep/b.sh", "/bin/sh")]


def test_fleet_payload_and_stored_command_find_the_path_as_typed(tmp_path, monkeypatch):
    from mozparallel.contract import TestSpec
    from mozparallel.distributed.coordinator import payload_of
    from mozparallel.execution.pool import PoolOptions
    from mozparallel.store.recorder import command_of

    monkeypatch.chdir(tmp_path)
    spec = TestSpec(id="t/a.t", argv=["perl", "-Ilib", "t/a.t"], path=str(tmp_path / "t" / "a.t"))
    assert command_of(spec) == "perl -Ilib"
    payload = payload_of(spec, str(tmp_path.parent), PoolOptions())
    # Workers get the path relative to the source root, at the same place in argv.
    assert payload["argv"] == ["perl", "-Ilib", os.path.join(tmp_path.name, "t", "a.t")]
    assert payload["path_args"] == [2]
    # An argument that only looks like the path is left alone.
    other = TestSpec(id="x", argv=["sh", "a.t"], path=str(tmp_path / "t" / "a.t"))
    assert command_of(other) == "sh a.t" and payload_of(other, str(tmp_path), PoolOptions())["path_args"] == []
