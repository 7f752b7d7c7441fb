#!/bin/sh
"true" '''\'
py="$(dirname "$0")/../.venv/bin/python"; [ -x "$py" ] || py=python3
exec "$py" "$0" "$@"
'''
"""A Python test that logs through mozlog's TBPL formatter, the way Mozilla
harness code does (the lines above start it with the checkout's .venv).
MOZPARALLEL_EXAMPLE_FAIL=1 makes one check fail."""

import os
import sys

from mozlog import formatters, handlers, structuredlog

TEST = "test_mozlog_tbpl.py"


def checks():
    yield "profile directory exists", True
    yield "pref is locked", os.environ.get("MOZPARALLEL_EXAMPLE_FAIL") != "1"


def main():
    logger = structuredlog.StructuredLogger("example")
    logger.add_handler(handlers.StreamHandler(sys.stdout, formatters.TbplFormatter()))
    logger.suite_start([TEST])
    logger.test_start(TEST)
    for name, ok in checks():
        logger.test_status(TEST, name, "PASS" if ok else "FAIL", expected="PASS")
    logger.test_status(TEST, "known broken thing", "FAIL", expected="FAIL", message="bug 1111111")
    logger.test_end(TEST, "OK")
    logger.suite_end()


if __name__ == "__main__":
    main()
