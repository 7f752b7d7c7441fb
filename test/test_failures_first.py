"""--schedule failures-first on real runs: the tests that failed in the
stored history start first, and with --max-failures 1 the run stops at
the first of them."""

from conftest import paralleltest, read_raw, write_test
from mozparallel.contract import is_unexpected


def starts(raw):
    return [e["test"] for e in read_raw(raw) if e["action"] == "test_start"]


def test_recent_failures_start_first_and_max_failures_stops_there(tmp_path):
    for i in range(8):
        # t3 and t6 fail; the longer a test, the later its number.
        fail = i in (3, 6)
        write_test(tmp_path, "t%d.sh" % i, 'sleep 0.%d\necho "1..1"\necho "%s 1"\nexit %d\n'
                   % (i, "not ok" if fail else "ok", fail))
    names = ["t%d.sh" % i for i in range(8)]
    (tmp_path / "obj").mkdir()
    objdir = ["--objdir", str(tmp_path / "obj")]
    raw = tmp_path / "raw.log"
    r = paralleltest(["-j", "2", "--log-raw", str(raw)] + objdir + names, cwd=tmp_path)
    assert r.returncode == 1
    # With that history, the default order is longest first: the failures come late.
    r = paralleltest(["-j", "2", "--log-raw", str(raw)] + objdir + names, cwd=tmp_path)
    assert starts(raw)[:2] == ["t7.sh", "t6.sh"]
    r = paralleltest(["-j", "2", "--schedule", "failures-first", "--max-failures", "1", "--log-raw", str(raw)]
                     + objdir + names, cwd=tmp_path)
    assert r.returncode == 1
    events = read_raw(raw)
    assert any("schedule failures-first" in (e.get("message") or "") for e in events)
    # Each failed in both runs: equal scores, the quicker first; nothing else started.
    assert starts(raw) == ["t3.sh", "t6.sh"]
    # The first unexpected result (a failing test point or a test's end) is t3's.
    failed = [e for e in events if e["action"] in ("test_status", "test_end") and is_unexpected(e)]
    assert failed[0]["test"] == "t3.sh"
