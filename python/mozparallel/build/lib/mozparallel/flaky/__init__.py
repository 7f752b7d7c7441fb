"""Telling intermittent failures from real ones: extra rounds of a run
(rounds.py), how re-run attempts are logged (relog.py) and failure
frequency over recorded runs (frequency.py)."""

from .frequency import flaky_tests, reruns_for_confidence
from .rounds import FlakyRounds, FlakySettings, flaky_settings

__all__ = ["FlakyRounds", "FlakySettings", "flaky_settings", "flaky_tests", "reruns_for_confidence"]
