"""Was a test killed by the kernel's OOM killer? Read from the kernel's own
counter, not guessed from SIGKILL alone: the ``oom_kill`` count of the
runner's memory cgroup (cgroup v2 ``memory.events``, v1
``memory.oom_control``; the tests run in it), else the machine's
(``/proc/vmstat``, Linux 4.13 and later).

A test is taken for OOM-killed when its main process died of SIGKILL (or
exited 137, as a shell reports a child killed so) that the runner did not
send, and the counter rose after a reading taken at most ``FRESH`` seconds
before the test started. Each rise is given to one test only.
"""

import os
import time

# A reading younger than this serves as the baseline of a test starting
# now: the counter is read at most once a second, not once a test.
FRESH = 1.0
CGROUP_ROOT = "/sys/fs/cgroup"


def counter_path(proc_cgroup="/proc/self/cgroup", root=CGROUP_ROOT):
    """(path of the file holding this process's cgroup ``oom_kill`` count,
    what it is for the log), or (None, None) without one."""
    try:
        with open(proc_cgroup) as f:
            lines = f.read().splitlines()
    except OSError:
        return None, None
    for line in lines:
        hid, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        path = path.lstrip("/")
        if "memory" in controllers.split(","):
            candidate = os.path.join(root, "memory", path, "memory.oom_control")
            if os.path.exists(candidate):
                return candidate, "cgroup /%s" % path
        elif hid == "0" and controllers == "":
            for base in (root, os.path.join(root, "unified")):
                candidate = os.path.join(base, path, "memory.events")
                if os.path.exists(candidate):
                    return candidate, "cgroup /%s" % path
    return None, None


def read_count(path):
    """The ``oom_kill`` value of a ``memory.events``, ``memory.oom_control``
    or ``/proc/vmstat`` file; None if it has none."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b"oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class OomKills:
    """The counter of one run."""

    def __init__(self, path=None, source=None):
        if path is None:
            path, source = counter_path()
            if path is None or read_count(path) is None:
                path, source = "/proc/vmstat", "the machine"
        self.path = path
        self.source = source
        self.value = read_count(path)       # None: no counter here, never an OOM verdict
        self.read_at = time.monotonic()
        self.given = self.value or 0        # the count up to which rises were given to tests

    def baseline(self, now):
        """The count for a test starting at ``now`` (read again if stale)."""
        if self.value is not None and now - self.read_at > FRESH:
            self.value = read_count(self.path)
            self.read_at = now
        return self.value

    def took(self, base):
        """A test whose start had count ``base`` died of an unexplained
        SIGKILL: the count now if the OOM killer did it (a rise not yet
        given to another test), else None."""
        if base is None:
            return None
        now = read_count(self.path)
        if now is None:
            return None
        self.value, self.read_at = now, time.monotonic()
        floor = max(base, self.given)
        if now > floor:
            self.given = floor + 1
            return now
        return None
