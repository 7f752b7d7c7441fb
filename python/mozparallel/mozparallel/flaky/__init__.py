"""Telling intermittent failures from real ones: extra rounds of a run
(rounds.py, with settings.py and the verdict text in verdicts.py), how
re-run attempts are logged (relog.py) and failure frequency over recorded
runs (frequency.py)."""

from .frequency import flaky_tests, reruns_for_confidence
from .rounds import FlakyRounds
from .settings import FlakySettings

__all__ = ["FlakyRounds", "FlakySettings", "flaky_tests", "reruns_for_confidence"]
