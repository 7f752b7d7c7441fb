#!/bin/sh
"true" '''\'
py="$(dirname "$0")/../.venv/bin/python"; [ -x "$py" ] || py=python3
exec "$py" -m pytest -q -p no:cacheprovider --assert=plain --tap-stream "$0"
'''
"""Gaia-UI-style Python tests: pytest with the pytest-tap plugin, run as
``pytest --tap-stream FILE`` (the lines above start it with the checkout's
.venv). MOZPARALLEL_EXAMPLE_FAIL=1 makes one test fail."""

import os

import pytest


def test_reads_the_prefs_file():
    prefs = {"browser.startup.page": 1}
    assert prefs["browser.startup.page"] == 1


def test_sorts_the_app_grid():
    apps = ["settings", "camera", "browser"]
    expected = ["browser", "camera", "settings"]
    if os.environ.get("MOZPARALLEL_EXAMPLE_FAIL") == "1":
        expected = ["camera", "browser", "settings"]
    assert sorted(apps) == expected


@pytest.mark.skip(reason="needs a device")
def test_flashes_the_device():
    pass


@pytest.mark.xfail(reason="bug 7654321")
def test_rotates_the_screen():
    assert False
