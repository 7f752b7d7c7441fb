"""Resource locks (schedule/locks.py): the gate driven directly, then real
runs whose raw logs show that tests sharing a lock never overlap while the
rest keep every slot busy (manifest key ``resources`` in .toml and .ini,
``--resource`` for plain files, counted locks, run-sequentially alone)."""

import pytest

from conftest import paralleltest, read_raw, write_test
from mozparallel.contract import TestSpec
from mozparallel.schedule import ListOrder, LockGate, MemoryGate, check_counts, parse_resources

GiB = 2 ** 30


def spec(name, *resources, sequential=None):
    return TestSpec(id=name, argv=[name], path="/s/" + name, resources=resources, sequential=sequential)


def test_parse_resources_lists_and_counts():
    assert parse_resources("profile-dir port:8080") == (("profile-dir", 1), ("port:8080", 1))
    assert parse_resources("a, b,c\nglobal:db gpu*2") == (("a", 1), ("b", 1), ("c", 1), ("global:db", 1),
                                                          ("gpu", 2))
    assert parse_resources("") == ()
    for bad, says in (("gpu*0", "at least 1"), ("gpu*two", "not a resource count"), ("a b a", "twice"),
                      ("x=y", "not a resource name")):
        with pytest.raises(ValueError, match=says):
            parse_resources(bad)


def test_one_count_per_resource():
    assert check_counts([("a", (("gpu", 2),)), ("b", (("gpu", 2), ("db", 1)))]) == {"gpu": 2, "db": 1}
    with pytest.raises(ValueError, match=r"gpu is gpu\*2 in a but gpu in b"):
        check_counts([("a", (("gpu", 2),)), ("b", (("gpu", 1),))])


def test_a_blocked_test_is_passed_over_not_waited_for():
    gate = LockGate(ListOrder([spec("db1", "db"), spec("db2", "db"), spec("free1"), spec("free2")]))
    assert [gate.next_test(1).id, gate.next_test(2).id, gate.next_test(3).id] == ["db1", "free1", "free2"]
    assert gate.next_test(4) is None and gate.skips == 2
    gate.finished("free1", 1.0)
    assert gate.next_test(2) is None            # only db2 is left, and db is held
    gate.finished("db1", 1.0)
    assert gate.next_test(1).id == "db2" and gate.remaining() == 0


def test_a_counted_lock_admits_n_at_once():
    gate = LockGate(ListOrder([spec("g%d" % i, "gpu*2") for i in range(4)] + [spec("free")]))
    assert [gate.next_test(k).id for k in (1, 2, 3)] == ["g0", "g1", "free"]
    assert gate.next_test(4) is None
    gate.finished("g1", 1.0)
    assert gate.next_test(2).id == "g2"


def test_tests_wait_for_a_lock_in_the_policys_order():
    gate = LockGate(ListOrder([spec("a", "x"), spec("b", "x", "y"), spec("c", "y"), spec("d", "x")]))
    assert [gate.next_test(1).id, gate.next_test(2).id] == ["a", "c"]
    gate.finished("a", 1.0)
    assert gate.next_test(1).id == "d"      # b needs y, which c holds
    gate.finished("c", 1.0)
    gate.finished("d", 1.0)
    assert gate.next_test(1).id == "b"


def test_run_sequentially_goes_first_alone_then_the_rest():
    gate = LockGate(ListOrder([spec("a"), spec("b"), spec("seq", sequential="port 80"), spec("c")]))
    assert gate.next_test(1).id == "seq"
    assert gate.next_test(2) is None            # nothing beside it
    gate.finished("seq", 1.0)
    assert [gate.next_test(k).id for k in (1, 2, 3)] == ["a", "b", "c"]


def test_a_memory_retry_waits_until_nothing_runs():
    gate = LockGate(ListOrder([spec("a"), spec("b"), spec("c")]))
    assert [gate.next_test(1).id, gate.next_test(2).id] == ["a", "b"]
    gate.finished("a", 1.0)
    gate.retry_alone(spec("a", sequential="memory retry"))
    assert gate.next_test(1).id == "c"      # runnable now: no slot idles for the retry
    assert gate.next_test(3) is None
    gate.finished("b", 1.0)
    gate.finished("c", 1.0)
    assert gate.next_test(1).id == "a" and gate.next_test(2) is None and gate.retries == 1


def test_memory_gate_outside_the_locks():
    gate = MemoryGate(LockGate(ListOrder([spec("big", "db"), spec("big2", "db"), spec("small")])),
                      {"big": 6 * GiB, "big2": 6 * GiB, "small": GiB}, budget=10 * GiB)
    assert [gate.next_test(1).id, gate.next_test(2).id] == ["big", "small"]
    gate.finished("big", 1.0)
    assert gate.next_test(1).id == "big2"
    assert gate.planned_order() == [] and gate.remaining() == 0


def spans(events):
    """{test: (start index, end index, start ms, end ms)} from raw events (one attempt each)."""
    out = {}
    for i, e in enumerate(events):
        if e["action"] == "test_start":
            out[e["test"]] = [i, None, e["time"], None]
        elif e["action"] == "test_end":
            out[e["test"]][1], out[e["test"]][3] = i, e["time"]
    return out


def most_at_once(spans_, names):
    """The most of ``names`` open at once in the event stream."""
    marks = sorted([(spans_[n][0], 1) for n in names] + [(spans_[n][1], -1) for n in names])
    best = now = 0
    for _, d in marks:
        now += d
        best = max(best, now)
    return best


def assert_no_idle_slot(events, jobs, locks):
    """Replaying the raw log: each time the pool has started what it
    starts after tests ended (a test_start followed by a test_end), either
    every slot is busy or no test that has not started could run (its
    locks are held). ``locks``: test -> ((name, count), ...)."""
    running, started, held, allowed = set(), set(), {}, {}
    for needs in locks.values():
        allowed.update(dict(needs))
    tests = {e["test"] for e in events if e["action"] == "test_start"}
    checked = 0

    def check():
        can = [t for t in tests - started if all(held.get(n, 0) < allowed[n] for n, _ in locks.get(t, ()))]
        assert len(running) == jobs or not can, "a slot idles while %s could run (running: %s)" % (can, running)

    last = None
    for e in events:
        action = e["action"]
        if action == "test_start":
            running.add(e["test"])
            started.add(e["test"])
            for n, _ in locks.get(e["test"], ()):
                held[n] = held.get(n, 0) + 1
        elif action == "test_end":
            if last == "test_start":
                check()
                checked += 1
            running.discard(e["test"])
            for n, _ in locks.get(e["test"], ()):
                held[n] -= 1
        if action in ("test_start", "test_end"):
            last = action
    assert checked >= 3


DB, GPU = (("db", 1),), (("gpu", 2),)


def lock_suite(tmp_path, body='sleep 0.3\necho "1..1"\necho "ok 1"\n'):
    """Twelve tests: three hold db, three gpu*2, six hold nothing; the
    locked ones first in list order, so the gate must pass them over."""
    names = ["db%d.sh" % i for i in range(3)] + ["gpu%d.sh" % i for i in range(3)] + \
        ["free%d.sh" % i for i in range(6)]
    for n in names:
        write_test(tmp_path, n, body)
    locks = {n: DB for n in names[:3]}
    locks.update({n: GPU for n in names[3:6]})
    return names, locks


def check_locked_run(events, names, locks, jobs):
    s = spans(events)
    assert sorted(s) == sorted(names) and all(v[1] is not None for v in s.values())
    db = [n for n in names if locks.get(n) == DB]
    gpu = [n for n in names if locks.get(n) == GPU]
    assert most_at_once(s, db) == 1
    for a in db:                                # the timestamps say the same
        for b in db:
            assert a == b or s[a][3] <= s[b][2] or s[b][3] <= s[a][2], (a, b, s)
    assert most_at_once(s, gpu) == 2            # a count of 2: two at once, never three
    assert most_at_once(s, names) == jobs       # and the run did use every slot
    assert_no_idle_slot(events, jobs, locks)


def test_toml_resources_never_overlap_while_the_rest_fills_the_slots(tmp_path):
    names, locks = lock_suite(tmp_path)
    lines = []
    for n in names:
        lines.append('["%s"]' % n)
        if n in locks:
            lines.append('resources = ["%s"]' % ("db" if locks[n] == DB else "gpu*2"))
    (tmp_path / "m.toml").write_text("\n".join(lines) + "\n")
    raw = tmp_path / "raw.log"
    r = paralleltest(["-j", "4", "--schedule", "list", "--log-raw", str(raw), "m.toml"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    check_locked_run(read_raw(raw), names, locks, 4)


def test_ini_resources_and_the_command_line_form(tmp_path):
    names, locks = lock_suite(tmp_path)
    # .ini: a whitespace or comma list; gpu from the command line.
    ini = "".join("[%s]\n%s" % (n, "resources = db, spare\n" if locks.get(n) == DB else "") for n in names)
    (tmp_path / "m.ini").write_text(ini)
    raw = tmp_path / "raw.log"
    r = paralleltest(["-j", "4", "--schedule", "list", "--resource", "gpu?.sh=gpu*2", "--log-raw", str(raw),
                      "m.ini"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    check_locked_run(read_raw(raw), names, locks, 4)
    # Plain files, every lock from --resource.
    r = paralleltest(["-j", "4", "--schedule", "list", "--resource", "db*.sh=db", "--resource", "gpu*.sh=gpu*2",
                      "--log-raw", str(raw)] + names, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    check_locked_run(read_raw(raw), names, locks, 4)


@pytest.mark.parametrize("args, says", [
    (["--resource", "x.sh"], "not PATTERN=NAME"),
    (["--resource", "x.sh=gpu*0"], "at least 1"),
    (["--resource", "a.sh=gpu*2", "--resource", "b.sh=gpu*3"], "resource gpu is gpu*2 in a.sh but gpu*3 in b.sh"),
])
def test_bad_resources_one_line_exit_2(tmp_path, args, says):
    for n in ("a.sh", "b.sh"):
        write_test(tmp_path, n, 'echo "1..1"\necho "ok 1"\n')
    r = paralleltest(args + ["a.sh", "b.sh"], cwd=tmp_path)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_manifest_resources_name_the_manifest_and_test(tmp_path):
    write_test(tmp_path, "a.sh", 'echo "1..1"\necho "ok 1"\n')
    (tmp_path / "m.toml").write_text('["a.sh"]\nresources = ["db", "gpu*x"]\n')
    r = paralleltest(["m.toml"], cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "m.toml" in r.stderr and "a.sh" in r.stderr and "gpu*x" in r.stderr, r.stderr


def test_list_shows_a_manifests_resources(tmp_path):
    write_test(tmp_path, "a.sh", 'echo "1..1"\necho "ok 1"\n')
    write_test(tmp_path, "b.sh", 'echo "1..1"\necho "ok 1"\n')
    (tmp_path / "m.toml").write_text('["a.sh"]\nresources = ["db", "gpu*2"]\n\n["b.sh"]\n')
    r = paralleltest(["--list", "m.toml"], cwd=tmp_path)
    assert r.stdout.splitlines()[:2] == ["RUN   a.sh  resources: db gpu*2", "RUN   b.sh"], r.stdout
    r = paralleltest(["--list", "--format", "json", "m.toml"], cwd=tmp_path)
    import json
    assert [t["resources"] for t in json.loads(r.stdout)["tests"]] == [["db", "gpu*2"], []]
