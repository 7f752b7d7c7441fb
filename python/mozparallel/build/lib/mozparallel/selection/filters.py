"""Command-line filters over selected tests: ``--tag`` (any of the given
tags), ``--subsuite`` (``default`` means "no subsuite") and ``--path-prefix``.
A test that does not match is dropped, as manifestparser's filters do; a test
that matches but will not run keeps its reason.
"""

import os


def by_tags(tests, tags):
    wanted = set(tags)
    return [t for t in tests if wanted.intersection(t.keys.get("tags", "").split())]


def by_subsuite(tests, name):
    if name == "default":
        return [t for t in tests if not t.keys.get("subsuite")]
    return [t for t in tests if t.keys.get("subsuite") == name]


def by_path_prefix(tests, prefixes):
    roots = [os.path.abspath(p) for p in prefixes]
    return [t for t in tests
            if any(t.path == r or t.path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)]


def apply_filters(tests, tags=None, subsuite=None, path_prefixes=None):
    if tags:
        tests = by_tags(tests, tags)
    if subsuite:
        tests = by_subsuite(tests, subsuite)
    if path_prefixes:
        tests = by_path_prefix(tests, path_prefixes)
    return tests
