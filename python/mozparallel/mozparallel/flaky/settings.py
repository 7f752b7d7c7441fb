"""What the flaky rounds read of a run's options: --retries,
--repeat, --run-until-failure, --verify, --find-interference."""

from dataclasses import dataclass

from ..errors import UsageError
from .search import MAX_ROUNDS

# mochitest's --run-until-failure: at most 30 runs unless --repeat says otherwise.
UNTIL_FAILURE_RUNS = 30
VERIFY_RUNS = 10


@dataclass(frozen=True)
class FlakySettings:
    retries: int = 0                # --retries N: re-runs of a failing test, after the main run
    repeat: int | None = None
    run_until_failure: bool = False
    verify: bool = False
    find_interference: bool = False  # name the culprit of each parallel-unsafe test (search.bisect)
    max_rounds: int = MAX_ROUNDS    # probes a culprit search may run

    @property
    def active(self):
        return bool(self.retries or self.repeat or self.run_until_failure or self.verify)

    @property
    def runs(self):
        """Runs of the whole suite (the main one included)."""
        if self.verify:
            return self.repeat or VERIFY_RUNS
        if self.run_until_failure:
            return self.repeat or UNTIL_FAILURE_RUNS
        return 1 + (self.repeat or 0)

    def checked(self):
        """Itself; UsageError for a combination that means nothing."""
        if self.verify and self.run_until_failure:
            raise UsageError("--verify and --run-until-failure cannot be combined")
        if self.retries and (self.verify or self.run_until_failure):
            raise UsageError("--retries cannot be combined with %s (it wants to see every failure)"
                             % ("--verify" if self.verify else "--run-until-failure"))
        if self.find_interference and (self.verify or self.run_until_failure):
            raise UsageError("--find-interference cannot be combined with %s"
                             % ("--verify" if self.verify else "--run-until-failure"))
        if self.repeat == 0 and (self.verify or self.run_until_failure):
            raise UsageError("--repeat 0 leaves %s nothing to run" %
                             ("--verify" if self.verify else "--run-until-failure"))
        return self
