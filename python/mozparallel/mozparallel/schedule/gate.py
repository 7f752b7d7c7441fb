"""The memory gate: wraps a scheduler (the policy in its locks) so the predicted peak memory of the tests
running at once stays within what was available when the run started. A
test that does not fit waits (``next_test`` returns None) until enough
running tests have ended; with nothing running, any test may start.
"""

# Of the memory available at the start, how much the tests may be predicted
# to use together: the rest is for the runner, the page cache and misjudgement.
BUDGET_SHARE = 0.95


class MemoryGate:
    """A Scheduler around ``policy``; ``predicted`` maps test id -> bytes."""

    def __init__(self, policy, predicted, budget):
        self.policy = policy
        self.name = policy.name
        self.predicted = predicted
        self.budget = budget
        self.reserved = {}          # test id -> bytes, while it runs
        self._waiting = None        # the policy's next test, if it did not fit
        self.waits = 0              # times a test had to wait (for the log and tests)

    def next_test(self, slot):
        spec = self._waiting if self._waiting is not None else self.policy.next_test(slot)
        self._waiting = None
        if spec is None:
            return None
        need = self.predicted.get(spec.id) or 0
        if self.reserved and sum(self.reserved.values()) + need > self.budget:
            self._waiting = spec
            self.waits += 1
            return None
        self.reserved[spec.id] = need
        return spec

    def finished(self, test_id, seconds):
        self.reserved.pop(test_id, None)
        self.policy.finished(test_id, seconds)

    def retry_alone(self, spec):
        self.policy.retry_alone(spec)

    def remaining(self):
        return self.policy.remaining() + (self._waiting is not None)

    def planned_order(self):
        return ([self._waiting] if self._waiting is not None else []) + self.policy.planned_order()

    @property
    def expected(self):
        return self.policy.expected

    @property
    def seed(self):
        return self.policy.seed


def parse_size(text):
    """Bytes from "512M", "2G", "1.5GiB", "4096" (binary units). Raises
    ValueError naming the text."""
    units = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}
    t = text.strip().upper()
    for suffix in ("IB", "B"):
        if t.endswith(suffix) and t[:-len(suffix)][-1:].isalpha():
            t = t[:-len(suffix)]
            break
    unit = t[-1:] if t[-1:].isalpha() else ""
    try:
        value = float(t[:-1] if unit else t) * units[unit]
    except (ValueError, KeyError):
        raise ValueError("not a memory size: %r (e.g. 512M, 2G)" % text)
    if value <= 0:
        raise ValueError("memory size must be positive: %r" % text)
    return int(value)


def available_memory():
    """Bytes the machine has available now (MemAvailable of /proc/meminfo,
    what psutil reports, read without importing it), None if unknown."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
        return psutil.virtual_memory().available
    except Exception:   # no psutil or no /proc: no gate rather than no run
        return None
