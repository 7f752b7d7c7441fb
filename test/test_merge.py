"""paralleltest merge: one report from many raw logs. Every test once (the
last complete result, said so), an unfinished test is an unexpected ERROR,
bad input is a one-line error; and 4 real chunk runs of a skewed suite
with history merge into what a single run reports, test for test."""

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from conftest import PYTHON, SHARED_BENCH, ends_by_test, paralleltest, read_raw


def _ev(action, t, **fields):
    return dict(action=action, time=t, thread="MainThread", pid=1, source="mozparallel", **fields)


def write_log(path, tests, started=1000, run_id="r1", jobs=2, end=True):
    """A raw log: ``tests`` is [(id, status, expected or None, subtests)]."""
    events = [_ev("suite_start", started, tests={"default": [t[0] for t in tests]},
                  run_info={"os": "linux"}, extra={"jobs": jobs, "run_id": run_id})]
    t = started
    for test, status, expected, subs in tests:
        t += 10
        events.append(_ev("test_start", t, test=test))
        for name, sub_status in subs:
            sub = _ev("test_status", t + 1, test=test, subtest=name, status=sub_status)
            if sub_status != "PASS":
                sub["expected"] = "PASS"
            events.append(sub)
        if status is not None:
            end_ev = _ev("test_end", t + 5, test=test, status=status, extra={"wall": 0.005, "slot": 1})
            if expected:
                end_ev["expected"] = expected
            events.append(end_ev)
    if end:
        events.append(_ev("suite_end", t + 20))
    with open(path, "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    return path


def merge(args, cwd):
    return paralleltest(["merge"] + args, cwd=cwd)


def test_every_test_once_last_complete_result_kept(tmp_path):
    a = write_log(tmp_path / "chunk1.log", [("a.sh", "OK", None, [("x", "PASS")]),
                                            ("b.sh", "FAIL", "OK", [("y", "FAIL")])])
    b = write_log(tmp_path / "chunk2.log", [("c.sh", "OK", None, []), ("d.sh", "SKIP", None, [])],
                  started=2000, run_id="r2")
    # chunk 1 retried later: b.sh passes this time.
    retry = write_log(tmp_path / "chunk1-retry.log", [("b.sh", "OK", None, [("y", "PASS")])],
                      started=3000, run_id="r3")
    out = tmp_path / "merged.log"
    html = tmp_path / "merged.html"
    proc = merge([str(a), str(b), str(retry), "--log-raw", str(out), "--report-html", str(html),
                  "-r", "tbpl"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = read_raw(out)
    assert [e["action"] for e in events].count("suite_start") == 1
    assert [e["action"] for e in events].count("suite_end") == 1
    ends = [e for e in events if e["action"] == "test_end"]
    assert sorted(e["test"] for e in ends) == ["a.sh", "b.sh", "c.sh", "d.sh"]
    by = ends_by_test(events)
    assert by["b.sh"]["status"] == "OK" and by["b.sh"]["extra"]["attempts"] == 2
    # Only the kept attempt's subtests are in the merged log.
    assert [e["status"] for e in events if e["action"] == "test_status" and e["test"] == "b.sh"] == ["PASS"]
    notes = [e["message"] for e in events if e["action"] == "log"]
    assert any("b.sh has 2 complete results" in m and "chunk1-retry.log" in m for m in notes), notes
    assert any("4 tests in" in m and "3 passed, 0 unexpected, 1 skipped" in m for m in notes), notes
    start = events[0]
    assert start["extra"]["run_ids"] == ["r1", "r2", "r3"] and start["extra"]["jobs"] == 6
    assert sorted(start["tests"]["default"]) == ["a.sh", "b.sh", "c.sh", "d.sh"]
    assert html.exists() and "b.sh" in html.read_text()


def test_unexpected_result_gives_exit_1_and_unfinished_test_is_an_error(tmp_path):
    a = write_log(tmp_path / "a.log", [("a.sh", "OK", None, []), ("b.sh", "OK", None, [("y", "FAIL")])])
    # A machine vanished: c.sh started, never ended, and the log stops mid-line.
    b = write_log(tmp_path / "b.log", [("c.sh", None, None, [])], started=2000, end=False)
    with open(b, "a") as f:
        f.write('{"action": "test_st')
    out = tmp_path / "merged.log"
    proc = merge([str(a), str(b), "--log-raw", str(out)], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    by = ends_by_test(read_raw(out))
    assert by["c.sh"]["status"] == "ERROR" and by["c.sh"]["expected"] == "OK"
    assert "no complete result" in by["c.sh"]["message"]
    text = out.read_text()
    assert "1 lines that are not JSON events were skipped" in text
    assert "3 tests in" in text and "1 passed, 2 unexpected" in text


def test_a_complete_result_beats_an_unfinished_one_and_a_copied_one(tmp_path):
    killed = write_log(tmp_path / "killed.log", [("a.sh", "OK", None, []), ("b.sh", None, None, [])], end=False)
    resumed = tmp_path / "resumed.log"
    write_log(resumed, [("a.sh", "OK", None, []), ("b.sh", "OK", None, [])], started=5000)
    # The resumed run copied a.sh's result from the store: the original wins silently.
    events = read_raw(resumed)
    for e in events:
        if e["action"] == "test_end" and e["test"] == "a.sh":
            e["extra"]["resumed_from"] = "r1"
    resumed.write_text("".join(json.dumps(e) + "\n" for e in events))
    out = tmp_path / "merged.log"
    proc = merge([str(killed), str(resumed), "--log-raw", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    merged = read_raw(out)
    by = ends_by_test(merged)
    assert sorted(by) == ["a.sh", "b.sh"]
    assert "resumed_from" not in by["a.sh"]["extra"] and by["b.sh"]["status"] == "OK"
    assert not any("complete results" in e.get("message", "") for e in merged)


def test_bad_input_is_one_line_exit_2(tmp_path):
    proc = merge([str(tmp_path / "missing.log")], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "missing.log" in proc.stderr
    junk = tmp_path / "junk.log"
    junk.write_text("not json\n")
    proc = merge([str(junk)], tmp_path)
    assert proc.returncode == 2 and "junk.log is not a mozlog raw log" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = merge([], tmp_path)
    assert proc.returncode == 2


def test_four_chunks_of_skewed_with_history_merge_into_a_single_run(tmp_path):
    suite = tmp_path / "skewed"
    subprocess.run([PYTHON, os.path.join(SHARED_BENCH, "gen_suite.py"), "--profile", "skewed",
                    "--total", "12", "--out", str(suite)], check=True, capture_output=True)
    names = (suite / "tests.txt").read_text().split()
    store = tmp_path / "history.sqlite"
    single = tmp_path / "single.log"
    proc = paralleltest(["-j", "8", "--store", str(store), "--log-raw", str(single), "-r", "tbpl"] + names,
                        cwd=suite)
    assert proc.returncode == 0, proc.stderr
    # The chunks plan from one frozen runtimes file, as Mozilla's chunking does.
    runtimes = tmp_path / "runtimes.json"
    proc = paralleltest(["runtimes", "--store", str(store), "--export", str(runtimes)], cwd=suite)
    assert proc.returncode == 0, proc.stderr

    def chunk(k):
        # Each CI machine starts from its own copy of the history.
        mine = tmp_path / ("history-%d.sqlite" % k)
        shutil.copy(store, mine)
        log = tmp_path / ("chunk-%d.log" % k)
        p = paralleltest(["-j", "4", "--store", str(mine), "--log-raw", str(log), "-r", "tbpl",
                          "--total-chunks", "4", "--runtimes", str(runtimes)] + names,
                         cwd=suite, env={"CI_NODE_INDEX": str(k),
                                                                          "CI_NODE_TOTAL": "4"})
        return p, log

    with ThreadPoolExecutor(4) as ex:
        chunks = list(ex.map(chunk, range(1, 5)))
    for p, _ in chunks:
        assert p.returncode == 0, p.stderr
    logs = [log for _, log in chunks]
    for log in logs:
        assert any("by expected duration" in e.get("message", "") for e in read_raw(log))
    per_chunk = [{e["test"] for e in read_raw(log) if e["action"] == "test_end"} for log in logs]
    assert sum(len(c) for c in per_chunk) == len(names) == len(set().union(*per_chunk))

    # Expected duration of each chunk: the single run's walls (the runtimes the chunks planned with).
    single_events = read_raw(single)
    walls = {t: e["extra"]["wall"] for t, e in ends_by_test(single_events).items()}
    expected = [sum(walls[t] for t in c) for c in per_chunk]
    assert max(expected) / min(expected) <= 1.05, expected

    merged = tmp_path / "merged.log"
    proc = merge([str(log) for log in logs] + ["--log-raw", str(merged), "-r", "tbpl"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    merged_events = read_raw(merged)
    got = {t: (e["status"], e.get("expected")) for t, e in ends_by_test(merged_events).items()}
    want = {t: (e["status"], e.get("expected")) for t, e in ends_by_test(single_events).items()}
    assert got == want and len(got) == 120
    assert sum(1 for e in merged_events if e["action"] == "test_end") == 120
    summary = [e["message"] for e in merged_events if e["action"] == "log" and "tests in" in e["message"]]
    assert summary and "120 tests in" in summary[0] and "120 passed, 0 unexpected" in summary[0]
