"""execution/kill.py on real process trees the test starts itself (never
anyone else's): finding a tree by pid, token and session, signalling it,
reaping what came to us, and the strays' SIGTERM-then-SIGKILL."""

import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from conftest import PYTHON, VENV_PYTHON
from mozparallel.execution import kill
from mozparallel.execution.process import TOKEN_VAR

# A test tree: the main process, two children, a grandchild under the
# first; one line of pids once each exists, then they all sleep.
TREE = """
import os, sys, time
def sleeper():
    time.sleep(60)
    os._exit(0)
first = os.fork()
if first == 0:
    grand = os.fork()
    if grand == 0:
        sleeper()
    os.write(1, b"grand %d\\n" % grand)     # one write: the lines never interleave
    sleeper()
second = os.fork()
if second == 0:
    sleeper()
os.write(1, b"children %d %d\\n" % (first, second))
time.sleep(60)
"""


@pytest.fixture
def tree():
    """(main Popen, {"children": [...], "grand": pid}); the tree is killed after."""
    proc = subprocess.Popen([PYTHON, "-S", "-c", TREE], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    pids = {}
    for _ in range(2):
        word, *rest = proc.stdout.readline().split()
        pids[word] = [int(p) for p in rest]
    yield proc, pids
    os.killpg(proc.pid, signal.SIGKILL)     # its own session and group: only the tree
    proc.wait()
    proc.stdout.close()


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within %ss" % timeout
        time.sleep(0.02)


def test_children_and_descendants_of_a_real_tree(tree):
    proc, pids = tree
    first, second = pids["children"]
    [grand] = pids["grand"]
    assert sorted(kill.children(proc.pid)) == sorted([first, second])
    assert kill.children(first) == [grand]
    assert kill.children(grand) == []
    assert kill.descendants([proc.pid]) == {proc.pid, first, second, grand}
    assert kill.descendants([first]) == {first, grand}
    # The same answer as psutil's full scan of /proc.
    assert kill.descendants([proc.pid]) == {proc.pid} | {p.pid for p in psutil.Process(proc.pid).children(True)}


def test_children_of_every_thread():
    # A child started by a thread is listed under that thread's task only.
    code = ("import subprocess, threading, time\n"
            "t = threading.Thread(target=lambda: print(subprocess.Popen(['sleep', '60']).pid, flush=True))\n"
            "t.start(); t.join(); time.sleep(60)\n")
    proc = subprocess.Popen([PYTHON, "-S", "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        child = int(proc.stdout.readline())
        assert kill.children(proc.pid) == [child]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()


def test_a_gone_pid_has_no_children_session_token_or_command():
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert kill.children(proc.pid) == []
    assert kill.descendants([proc.pid]) == {proc.pid}     # the root itself, as given
    assert kill.session_of(proc.pid) is None
    assert kill.token_of(proc.pid) is None
    assert kill.cmdline(proc.pid) == "?"


def test_session_token_and_command_line_of_a_live_process():
    env = {"PATH": os.environ["PATH"], TOKEN_VAR: "run-1-7"}
    tokened = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    plain = subprocess.Popen(["sleep", "61"], env={"PATH": os.environ["PATH"]})
    try:
        assert kill.session_of(tokened.pid) == tokened.pid
        assert kill.session_of(plain.pid) == os.getsid(0)
        assert kill.token_of(tokened.pid) == "run-1-7"
        assert kill.token_of(plain.pid) is None
        assert kill.cmdline(tokened.pid) == "sleep 60"
        assert kill.belongs_to(tokened.pid, "run-1-7", main_pid=0)
        assert not kill.belongs_to(tokened.pid, "run-1-8", main_pid=tokened.pid)  # the token decides
        assert kill.belongs_to(plain.pid, "run-1-7", main_pid=os.getsid(0))     # no token: the session
        assert not kill.belongs_to(plain.pid, "run-1-7", main_pid=tokened.pid)
    finally:
        for p in (tokened, plain):
            p.kill()
            p.wait()


def test_zombie_until_reaped():
    proc = subprocess.Popen(["sleep", "60"])
    assert not kill.is_zombie(proc.pid)
    proc.kill()
    wait_for(lambda: kill.is_zombie(proc.pid))
    assert proc.pid in kill.ChildWatch().pids()             # still our child, a zombie
    kill.reap(proc.pid)
    with pytest.raises(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)                    # reaped
    kill.reap(proc.pid)                                     # again: harmless
    proc.returncode = -signal.SIGKILL                       # (reaped behind Popen's back)


def test_signal_group_reaches_every_member_and_then_finds_none():
    leader = subprocess.Popen(["sleep", "60"], process_group=0)
    members = [leader] + [subprocess.Popen(["sleep", "60"], process_group=leader.pid) for _ in range(2)]
    assert {os.getpgid(m.pid) for m in members} == {leader.pid}
    assert kill.group_alive(leader.pid)
    assert kill.signal_group(leader.pid, signal.SIGKILL) is True
    assert [m.wait(timeout=30) for m in members] == [-signal.SIGKILL] * 3
    assert kill.signal_group(leader.pid, signal.SIGKILL) is False     # nobody left in it
    assert not kill.group_alive(leader.pid)


def test_signal_pids_answers_which_were_there():
    live = subprocess.Popen(["sleep", "60"])
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        # Signal 0 only checks: a reaped pid could already be someone else's.
        assert kill.signal_pids([live.pid, gone.pid], 0) == {live.pid}
        assert kill.signal_pids([live.pid], signal.SIGTERM) == {live.pid}
        assert live.wait(timeout=30) == -signal.SIGTERM
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()


def test_child_watch_sees_new_children_only():
    before = subprocess.Popen(["sleep", "60"])
    watch = kill.ChildWatch()
    after = subprocess.Popen(["sleep", "61"])
    try:
        assert before.pid in watch.ignored and after.pid not in watch.ignored
        assert {before.pid, after.pid} <= set(watch.pids())
        assert after.pid in watch.unknown(())
        assert before.pid not in watch.unknown(())
        assert after.pid not in watch.unknown({after.pid: None})     # a running test's main process
        watch.ignored.add(after.pid)
        assert after.pid not in watch.unknown(())
    finally:
        watch.close()
        for p in (before, after):
            p.kill()
            p.wait()
    assert watch._fds == []


# Everything below needs a subreaper: run in a child interpreter, so the
# test process stays an ordinary parent. The "runner" starts a test (token
# run-1) whose main process leaves four processes behind and keeps a child:
#   A: left its session, carries run-1         -> the test's (token)
#   B: same session, no token                  -> the test's (session)
#   C: left its session, carries another test's token run-2  -> not the test's
#   D: left its session, no token              -> nobody's
#   E: a child the main process keeps          -> the test's (descendant)
ADOPTION = r"""
import json, os, signal, subprocess, sys, time
from mozparallel.execution import kill
from mozparallel.execution.process import TOKEN_VAR, become_subreaper

MAIN = '''
import os, sys, time
def orphan(setsid, token):
    middle = os.fork()
    if middle == 0:
        r, w = os.pipe()                # close-on-exec: end of file once the sleep runs
        pid = os.fork()
        if pid == 0:
            if setsid:
                os.setsid()
            env = {"PATH": os.environ["PATH"]}
            if token:
                env[TOKEN_NAME] = token
            os.execve("/bin/sleep", ["sleep", "60"], env)
        os.close(w)
        os.read(r, 1)                   # its session and environment are final now
        os.write(1, b"%d\\n" % pid)
        os._exit(0)
    os.waitpid(middle, 0)
for setsid, token in ((1, "run-1"), (0, None), (1, "run-2"), (1, None)):
    orphan(setsid, token)
keep = os.fork()
if keep == 0:
    os.execv("/bin/sleep", ["sleep", "60"])
os.write(1, b"%d\\n" % keep)
time.sleep(60)
'''.replace("TOKEN_NAME", repr(TOKEN_VAR))

assert become_subreaper()
watch = kill.ChildWatch()
main = subprocess.Popen([sys.argv[1], "-S", "-c", MAIN], stdout=subprocess.PIPE, text=True,
                        env=dict(os.environ, **{TOKEN_VAR: "run-1"}), start_new_session=True)
a, b, c, d, e = (int(main.stdout.readline()) for _ in range(5))
running = {main.pid: None}
out = {"pids": dict(a=a, b=b, c=c, d=d, e=e, main=main.pid)}
out["adopted"] = sorted(watch.unknown(running))
out["tree"] = sorted(kill.tree_pids(main.pid, "run-1", watch, running))
out["tree_without_main"] = sorted(kill.tree_pids(main.pid, "run-1", watch, running, include_main=False))
# Another test (another main process, whose session holds none of them): C only.
out["other_test"] = sorted(kill.tree_pids(-1, "run-2", watch, running, include_main=False))
kill.signal_pids([a, b, c, d, e], signal.SIGKILL)
os.killpg(main.pid, signal.SIGKILL)
main.wait()                 # E, its child, comes to us too
deadline = time.monotonic() + 30
while not all(kill.is_zombie(p) for p in (a, b, c, d, e)) and time.monotonic() < deadline:
    time.sleep(0.02)
out["zombies_before"] = sorted(watch.unknown(()))
kill.reap_adopted(watch)
out["left_after_reap"] = sorted(watch.unknown(()))
watch.close()
print(json.dumps(out))
"""


def test_tree_of_a_test_found_by_pid_token_and_session_and_adopted_zombies_reaped():
    proc = subprocess.run([VENV_PYTHON, "-c", ADOPTION, PYTHON], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    p = got["pids"]
    assert got["adopted"] == sorted([p["a"], p["b"], p["c"], p["d"]])      # all four came to the runner
    assert got["tree"] == sorted([p["main"], p["e"], p["a"], p["b"]])
    assert got["tree_without_main"] == sorted([p["a"], p["b"]])
    assert got["other_test"] == [p["c"]]                                     # by its token only
    assert got["zombies_before"] == sorted([p["a"], p["b"], p["c"], p["d"], p["e"]])
    assert got["left_after_reap"] == []


# -- strays: SIGTERM now, SIGKILL after the grace ------------------------------

def stubborn():
    """A process of ours that ignores SIGTERM (set before we go on)."""
    proc = subprocess.Popen(["/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 60"], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    proc.stdout.close()
    return proc


def test_strays_sigterm_first_then_sigkill_when_due_then_given_up():
    polite = subprocess.Popen(["sleep", "60"])
    hard = stubborn()
    strays = kill.Strays()
    now = time.monotonic()
    fds = strays.add([polite.pid, hard.pid], deadline=now + 100)
    assert len(fds) == 2 and strays.next_deadline() == now + 100
    # SIGTERM: the polite one ends; its pidfd says so; ended() reaps it.
    fd_of = {entry[0]: fd for fd, entry in strays.by_fd.items()}
    wait_for(lambda: kill.is_zombie(polite.pid))
    strays.ended(fd_of[polite.pid])
    with pytest.raises(ChildProcessError):
        os.waitpid(polite.pid, os.WNOHANG)
    polite.returncode = -signal.SIGTERM
    assert hard.poll() is None
    assert strays.due(now + 50, settle=1.0) == []        # before its grace: left alone
    time.sleep(0.2)
    assert hard.poll() is None
    assert strays.due(now + 100, settle=1.0) == []       # due: SIGKILL, and one more settle to go
    assert hard.wait(timeout=30) == -signal.SIGKILL
    assert strays.next_deadline() == now + 101
    assert strays.due(now + 101, settle=1.0) == [fd_of[hard.pid]]      # given up on: pidfd closed
    assert strays.by_fd == {} and strays.next_deadline() is None
    with pytest.raises(OSError):
        os.fstat(fd_of[hard.pid])


def test_strays_hurry_and_kill_all():
    first, second = stubborn(), stubborn()
    strays = kill.Strays()
    strays.add([first.pid], deadline=time.monotonic() + 100)
    strays.hurry()                                       # a second Ctrl-C: due at the next look
    assert strays.next_deadline() == 0.0
    strays.due(time.monotonic(), settle=1.0)
    assert first.wait(timeout=30) == -signal.SIGKILL
    strays.add([second.pid], deadline=time.monotonic() + 100)
    strays.kill_all()
    assert second.wait(timeout=30) == -signal.SIGKILL
    assert strays.by_fd == {}


def test_strays_sigkill_at_once_when_asked():
    proc = stubborn()
    strays = kill.Strays()
    strays.add([proc.pid], deadline=time.monotonic() + 100, sig=signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    [(pid, deadline, killed)] = strays.by_fd.values()
    assert pid == proc.pid and killed is True            # no second stage: given up on when due
    assert len(strays.due(deadline, settle=1.0)) == 1
