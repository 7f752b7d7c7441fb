"""How long a run has left: the expected remaining makespan, from expected
durations (history, when the store has them) and what the run has seen so
far. Pure arithmetic; the live view asks, nothing here reads a clock."""

import heapq

from ..store.records import median

# The pace correction starts once this many tests with history have ended,
# and never scales by more than these factors.
PACE_AFTER = 3
PACE_LIMITS = (0.5, 2.0)


def remaining_makespan(running_left, queued, slots):
    """Seconds until the last test ends if the running tests need
    ``running_left`` more seconds each and the ``queued`` durations are
    handed, in that order, to whichever of ``slots`` workers frees first
    (how the pool fills slots)."""
    slots = max(1, slots)
    free_at = sorted(running_left)[:slots]
    free_at += [0.0] * (slots - len(free_at))
    heapq.heapify(free_at)
    for seconds in queued:
        heapq.heappush(free_at, heapq.heappop(free_at) + seconds)
    return max(free_at)


class RunEstimate:
    """What the live view needs to give an ETA: the jobs, the expected
    duration of each test (may be partial or empty), and the order the
    scheduler will start the tests in (``dispatch_order``)."""

    def __init__(self, jobs, expected=None, order=()):
        self.jobs = max(1, int(jobs))
        self.expected = dict(expected or {})
        self.order = list(order)
        self.seen = set()           # started (or ended without starting)
        self.walls = []             # durations of the tests ended in this run
        self._actual = self._planned = 0.0   # of ended tests with history
        self._paced = 0

    def started(self, test):
        self.seen.add(test)

    def ended(self, test, wall):
        self.seen.add(test)
        if wall is not None:
            self.walls.append(wall)
            planned = self.expected.get(test)
            if planned:
                self._actual += wall
                self._planned += planned
                self._paced += 1

    def pace(self):
        """How this run compares with its history so far: the time the
        ended tests took over what was expected of them (1 until PACE_AFTER
        have ended; kept within PACE_LIMITS). A loaded machine stretches
        every test alike, so the tests still to come are scaled too."""
        if self._paced < PACE_AFTER or self._planned <= 0:
            return 1.0
        low, high = PACE_LIMITS
        return min(high, max(low, self._actual / self._planned))

    def guess(self):
        """Duration assumed for a test without history: the median of what
        is known (this run's durations first), None when nothing is."""
        if self.walls:
            return median(self.walls)
        if self.expected:
            return median(self.expected.values())
        return None

    def remaining(self, running_elapsed):
        """Expected seconds left, given ``{test: seconds it has run}`` for
        the running tests; None when there is nothing to go on yet."""
        guess = self.guess()
        expected = self.expected
        if guess is None and not expected:
            return None
        pace = self.pace()
        left = []
        for test, elapsed in running_elapsed.items():
            seconds = expected[test] * pace if test in expected else guess
            if seconds is None:
                continue
            left.append(max(seconds - elapsed, 0.0))
        queued = []
        for test in self.order:
            if test in self.seen:
                continue
            seconds = expected[test] * pace if test in expected else guess
            if seconds is None:
                return None
            queued.append(seconds)
        return remaining_makespan(left, queued, self.jobs)


def format_seconds(seconds):
    if seconds is None:
        return "--"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % divmod(seconds, 60)
    hours, rest = divmod(seconds, 3600)
    return "%dh%02dm" % (hours, rest // 60)


def dispatch_order(scheduler, specs):
    """Test ids in the order ``scheduler`` (contract.Scheduler) will start
    them; the given order without one (a merge)."""
    if scheduler is not None:
        return [spec.id for spec in scheduler.planned_order()]
    return [s.id for s in specs]
