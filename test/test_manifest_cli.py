"""Manifests through the real command line: fail-if, run-sequentially
(checked from raw-log timestamps), --list, mozinfo from the objdir and
--mozinfo, filters, and bad manifests (exit 2, one line)."""

import json
import os

from conftest import FIXTURES, ends_by_test, paralleltest, read_raw, write_test

SUITE = os.path.join(FIXTURES, "manifests", "suite")
# Conditions in the fixture suite name these; a live mozinfo lacks debug/asan.
OPT = ["--mozinfo", "debug=false", "--mozinfo", "asan=false"]


def test_fail_if_makes_a_failing_test_expected(tmp_path):
    write_test(tmp_path, "t_broken.sh", 'echo "1..2"\necho "ok 1"\necho "not ok 2 - known bug"\nexit 1\n')
    write_test(tmp_path, "t_fine.sh", 'echo "1..1"\necho "ok 1"\n')
    manifest = tmp_path / "m.toml"
    manifest.write_text('["t_broken.sh"]\nfail-if = ["os == \'testos\' && !debug"]\n\n["t_fine.sh"]\n')
    raw = tmp_path / "raw.log"
    r = paralleltest(["--mozinfo", "os=testos", "--mozinfo", "debug=false", "--log-raw", str(raw),
                      str(manifest)], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    end = ends_by_test(read_raw(raw))["t_broken.sh"]
    assert end["status"] == "FAIL" and "expected" not in end
    # The condition is false elsewhere: the same failure is unexpected.
    r = paralleltest(["--mozinfo", "os=other", "--mozinfo", "debug=false", "--log-raw", str(raw),
                      str(manifest)], cwd=tmp_path)
    assert r.returncode == 1
    events = read_raw(raw)
    [point] = [e for e in events if e["action"] == "test_status" and e["test"] == "t_broken.sh"]
    assert point["status"] == "FAIL" and point["expected"] == "PASS"
    assert ends_by_test(events)["t_broken.sh"]["status"] == "OK"       # one failure, one line


def test_run_sequentially_never_overlaps_another_test(tmp_path):
    lines = []
    for i in range(8):
        name = "t%d.sh" % i
        write_test(tmp_path, name, 'sleep 0.3\necho "1..1"\necho "ok 1"\n')
        lines.append('["%s"]' % name)
        if i in (2, 5):
            lines.append('run-sequentially = "binds port 80%d"' % i)
    (tmp_path / "m.toml").write_text("\n".join(lines) + "\n")
    raw = tmp_path / "raw.log"
    r = paralleltest(["-j", "4", "--log-raw", str(raw), "m.toml"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    events = read_raw(raw)
    span = {}
    for e in events:
        if e["action"] == "test_start":
            span[e["test"]] = [e["time"], None]
        elif e["action"] == "test_end":
            span[e["test"]][1] = e["time"]
    assert len(span) == 8 and all(end is not None for _, end in span.values())

    def overlap(a, b):
        return span[a][0] < span[b][1] and span[b][0] < span[a][1]

    for seq in ("t2.sh", "t5.sh"):
        others = [t for t in span if t != seq and overlap(seq, t)]
        assert not others, (seq, span)
    # The check is not vacuous: the other tests did run in parallel.
    parallel = [t for t in span if t not in ("t2.sh", "t5.sh")]
    assert any(overlap(a, b) for a in parallel for b in parallel if a < b), span


def test_list_prints_reasons_and_starts_nothing(tmp_path):
    touched = tmp_path / "touched"
    for name in ("a.sh", "b.sh", "c.sh"):
        write_test(tmp_path, name, 'touch "%s"\necho "1..1"\necho "ok 1"\n' % touched)
    (tmp_path / "m.ini").write_text("[DEFAULT]\ntags = core\n[a.sh]\n[b.sh]\nskip-if =\n  os == 'mac'\n"
                                    "  os == 'testos'\n[c.sh]\nfail-if = os == 'testos'\n"
                                    "run-sequentially = port\n")
    r = paralleltest(["--list", "--mozinfo", "os=testos", "m.ini"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "RUN   a.sh",
        "SKIP  b.sh  skip-if: os == 'testos'",
        "RUN   c.sh  expected fail, run-sequentially",
        "3 tests: 2 would run, 1 would not",
    ]
    r = paralleltest(["--list", "--format", "json", "--mozinfo", "os=testos", "m.ini"], cwd=tmp_path)
    doc = json.loads(r.stdout)
    assert doc["mozinfo"]["os"] == "testos"
    b = doc["tests"][1]
    assert (b["id"], b["run"], b["reason"], b["group"], b["line"], b["tags"]) == \
        ("b.sh", False, "skip-if: os == 'testos'", "m.ini", 4, ["core"])
    assert doc["tests"][2]["expected"] == "fail" and doc["tests"][2]["run-sequentially"] == "port"
    assert not touched.exists()


def listed(args, cwd=SUITE, env=None):
    r = paralleltest(["--list", "--format", "json"] + args, cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    return {t["id"]: t for t in json.loads(r.stdout)["tests"]}


def test_mozinfo_json_from_the_objdir_then_overrides(tmp_path):
    (tmp_path / "mozinfo.json").write_text(json.dumps({"debug": True, "asan": False, "os": "win"}))
    for args, env in ((["--objdir", str(tmp_path)], None), ([], {"MOZ_OBJDIR": str(tmp_path)})):
        tests = listed(args + ["suite.toml"], env=env)
        assert tests["test_debug_only.sh"]["run"] and tests["test_debug_only.sh"]["subsuite"] == "gpu"
        assert tests["test_net.sh"]["reason"] == "skip-if: os == 'win'"
    tests = listed(["--objdir", str(tmp_path), "--mozinfo", "debug=false", "suite.toml"])
    assert tests["test_debug_only.sh"]["reason"] == "run-if: debug"
    assert tests["sub/test_sub_b.sh"]["expected"] == "fail"


def test_filters_tag_subsuite_and_path_prefix():
    assert set(listed(OPT + ["--tag", "network", "--tag", "extra", "suite.ini"])) == \
        {"test_net.sh", "sub/test_sub_b.sh"}
    assert set(listed(OPT + ["--mozinfo", "os=win", "--subsuite", "gpu", "suite.ini"])) == {"test_debug_only.sh"}
    # "gpu,os == 'win'" is false off Windows: that test has no subsuite then.
    assert len(listed(OPT + ["--subsuite", "parallel", "suite.ini"])) == 8
    assert set(listed(OPT + ["--subsuite", "default", "suite.ini"])) == {"test_debug_only.sh"}
    assert set(listed(OPT + ["--path-prefix", "sub", "suite.toml"])) == {"sub/test_sub_a.sh", "sub/test_sub_b.sh"}
    r = paralleltest(OPT + ["--tag", "nosuchtag", "suite.ini"], cwd=SUITE)
    assert r.returncode == 2 and "no test matches the filters (--tag nosuchtag)" in r.stderr


def test_bad_manifests_exit_2_with_one_line(tmp_path):
    write_test(tmp_path, "a.sh", 'echo "1..0"\n')
    cases = {
        "unknown.ini": ("[a.sh]\nskip-if = os == 'linux' && fission\n",
                        "unknown.ini:2: skip-if: unknown name 'fission'"),
        "missing.toml": ('["a.sh"]\n["nothere.sh"]\n', "missing.toml:2: test file does not exist: nothere.sh"),
        "include.ini": ("[a.sh]\n[include:gone.ini]\n", "include.ini:2: included manifest does not exist"),
        "syntax.toml": ('["a.sh"\n', "syntax.toml: TOML syntax error"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        r = paralleltest(["--strict-conditions", name], cwd=tmp_path)
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert message in r.stderr and len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    r = paralleltest(["--lenient-conditions", "--allow-missing", "--list", "unknown.ini", "missing.toml"],
                     cwd=tmp_path)
    assert r.returncode == 0 and "SKIP  nothere.sh  missing: test file does not exist" in r.stdout, r.stderr
    r = paralleltest(["--mozinfo", "novalue", "unknown.ini"], cwd=tmp_path)
    assert r.returncode == 2 and "--mozinfo" in r.stderr


def test_unknown_condition_name_is_empty_with_one_warning_unless_strict(tmp_path):
    write_test(tmp_path, "a.sh", 'echo "1..1"\necho "ok 1"\n')
    write_test(tmp_path, "b.sh", 'echo "1..1"\necho "ok 1"\n')
    write_test(tmp_path, "c.sh", 'echo "1..1"\necho "ok 1"\n')
    (tmp_path / "m.toml").write_text('["a.sh"]\nskip-if = ["nosuchkey == 1"]\n\n["b.sh"]\n'
                                     'skip-if = ["nosuchkey == 1", "os == \'nosuchos\'"]\n\n'
                                     '["c.sh"]\nrun-if = [\n  "os == \'x\'",\n  "!othermissing",\n]\n')
    raw = tmp_path / "raw.log"
    r = paralleltest(["--log-raw", str(raw), "m.toml"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    # One warning per unknown name (nosuchkey is read twice), each naming the manifest and line.
    assert warnings == [
        "paralleltest: warning: m.toml:2: skip-if: unknown name 'nosuchkey' read as \"\" (as Mozilla's "
        "manifestparser does; set it with --mozinfo nosuchkey=VALUE, or --strict-conditions to make this "
        "an error)",
        "paralleltest: warning: m.toml:10: run-if: unknown name 'othermissing' read as \"\" (as Mozilla's "
        "manifestparser does; set it with --mozinfo othermissing=VALUE, or --strict-conditions to make this "
        "an error)"], r.stderr
    ends = ends_by_test(read_raw(raw))
    assert sorted(ends) == ["a.sh", "b.sh", "c.sh"] and {e["status"] for e in ends.values()} == {"OK"}
    # The old option is still accepted (it is the default now).
    r = paralleltest(["--lenient-conditions", "--list", "m.toml"], cwd=tmp_path)
    assert r.returncode == 0 and "3 tests: 3 would run" in r.stdout, r.stderr
    r = paralleltest(["--strict-conditions", "m.toml"], cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("paralleltest: error: m.toml:2: skip-if: unknown name 'nosuchkey' in condition "
                               "'nosuchkey == 1' (known: "), r.stderr
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
    r = paralleltest(["--strict-conditions", "--lenient-conditions", "m.toml"], cwd=tmp_path)
    assert r.returncode == 2 and "not allowed with" in r.stderr, r.stderr


def test_ini_include_of_a_converted_manifest_reads_the_toml_beside_it(tmp_path):
    (tmp_path / "sub").mkdir()
    write_test(tmp_path, "a.sh", 'echo "1..1"\necho "ok 1"\n')
    write_test(tmp_path / "sub", "b.sh", 'echo "1..1"\necho "ok 1"\n')
    (tmp_path / "top.ini").write_text("[a.sh]\n\n[include:sub/converted.ini]\ntags = inherited\n")
    (tmp_path / "sub" / "converted.toml").write_text('["b.sh"]\nskip-if = ["os == \'nosuchos\'"]\n')
    r = paralleltest(["--list", "top.ini"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "RUN   a.sh",
        "RUN   sub/b.sh",
        "note: top.ini:3 includes sub/converted.ini, which exists only as converted.toml: read that, "
        "as Mozilla's manifestparser does",
        "2 tests: 2 would run, 0 would not",
    ]
    r = paralleltest(["--list", "--format", "json", "top.ini"], cwd=tmp_path)
    b = json.loads(r.stdout)["tests"][1]
    assert (b["group"], b["tags"], len(b["notes"])) == ("sub/converted.toml", ["inherited"], 1)
    raw = tmp_path / "raw.log"
    r = paralleltest(["--log-raw", str(raw), "top.ini"], cwd=tmp_path)
    assert r.returncode == 0 and sorted(ends_by_test(read_raw(raw))) == ["a.sh", "sub/b.sh"], r.stderr
    # Neither file: still an error naming the include as written.
    (tmp_path / "sub" / "converted.toml").unlink()
    r = paralleltest(["top.ini"], cwd=tmp_path)
    assert r.returncode == 2 and "top.ini:3: included manifest does not exist: sub/converted.ini" in r.stderr
