"""The condition language: mozilla-central semantics, and none of
manifestparser 2.1.0's silent truncation."""

import re

import pytest

from mozparallel.selection.conditions import ConditionError, Evaluator, UnknownName, parse

LINUX_DEBUG = dict(os="linux", debug=True, bits=64, arch="x86_64", version="12")


@pytest.mark.parametrize("text, result", [
    ("os == 'linux'", True),
    ('os == "win"', False),
    ("os != 'win' && debug", True),
    ("os == 'win' || debug", True),
    ("!debug", False),
    ("!(os == 'linux')", False),
    ("bits == 64 && arch == 'x86_64'", True),
    ("bits >= 32 && bits < 128", True),
    ("bits <= 32", False),
    # && binds tighter than ||
    ("os == 'win' && debug || os == 'linux'", True),
    ("os == 'win' && (debug || os == 'linux')", False),
    # ! binds tightest: (!debug) == false
    ("!debug == false", True),
    ("true", True),
    ("false || 0", False),
    ("  os=='linux'  ", True),
])
def test_expressions(text, result):
    assert bool(parse(text, **LINUX_DEBUG)) is result


@pytest.mark.parametrize("text, message", [
    ("os = 'win'", "single '='"),               # 2.1.0: always true
    ("os == 'win' debug", "unexpected 'debug'"),  # 2.1.0: trailing text ignored
    ("os == 'win' # bug 1", "unexpected '#'"),
    ("(os == 'win'", "ends too early"),
    ("os == 'win')", "unexpected ')'"),
    ("os ==", "ends too early"),
    ("os === 'win'", "single '='"),
    ("bits < 'x'", "cannot evaluate"),
    ("", "empty condition"),
])
def test_bad_expressions_are_errors(text, message):
    with pytest.raises(ConditionError, match=re.escape(message)):
        parse(text, **LINUX_DEBUG)


def test_unknown_name_is_an_error_unless_lenient():
    with pytest.raises(UnknownName) as info:
        parse("os == 'linux' && asan", **LINUX_DEBUG)
    assert info.value.name == "asan"
    # Unquoted string: an unknown name, not a silent False.
    with pytest.raises(UnknownName, match="'win'"):
        parse("os == win", **LINUX_DEBUG)
    # Lenient: unknown names are "" as upstream's non-strict mode.
    assert not parse("asan", strict=False, **LINUX_DEBUG)
    assert parse("!asan", strict=False, **LINUX_DEBUG)


def test_lines_are_ored_and_the_first_true_one_is_the_reason():
    ev = Evaluator(LINUX_DEBUG)
    assert ev.first_true("os == 'win'\nos == 'linux' && debug\nbits == 64") == "os == 'linux' && debug"
    assert ev.first_true("os == 'win'\n\n  os == 'mac'  ") is None
    assert ev.first_true("") is None


def test_error_carries_the_failing_line():
    ev = Evaluator(LINUX_DEBUG)
    with pytest.raises(UnknownName) as info:
        ev.first_true("os == 'win'\ntsan")
    assert info.value.condition == "tsan"
