"""The guardian: ends a run's tests if the runner itself dies (SIGKILL, OOM
killer, a crash), which no handler in the runner can do.

Started once per run (never per test) as ``python -I -S guardian.py
TOKEN_PREFIX GRACE`` in its own session, ignoring SIGINT/SIGTERM/SIGHUP,
with a pipe on stdin whose only writer is the runner. The runner writes
``done`` before closing it; end of file without ``done`` means the runner
died, and every process whose environment carries a test token of this run
gets SIGTERM, then SIGKILL after GRACE seconds. Only the standard library,
so it starts in about 10 ms.
"""

import os
import signal
import sys
import time

TOKEN_VAR = "MOZPARALLEL_TEST_TOKEN"   # as execution/process.py


def marked(prefix):
    """Pids of live processes whose test token starts with ``prefix``."""
    needle = ("%s=%s" % (TOKEN_VAR, prefix)).encode()
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if any(item.startswith(needle) for item in env.split(b"\0")):
            found.append(int(name))
    return found


def end_all(prefix, grace):
    pids = marked(prefix)
    for pid in pids:
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = marked(prefix)
    for pid in marked(prefix):
        _kill(pid, signal.SIGKILL)


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def main(argv):
    prefix, grace = argv[1], float(argv[2])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    data = b""
    while True:
        chunk = os.read(0, 64)
        if not chunk:
            break
        data += chunk
    if data != b"done":
        end_all(prefix, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
