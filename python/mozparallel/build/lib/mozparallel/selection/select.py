"""One call from options to the tests of a run: mozinfo values, manifest
reading with conditions, then the command-line filters.

Chunking (``--this-chunk/--total-chunks``) happens after this, in the
schedule: a test of another chunk stays in the list with
``disabled = "another chunk (3 of 4)"`` so ``--list`` and the log can say so.
"""

import os

from .discover import MANIFEST_SUFFIXES, InputError, discover
from .filters import apply_filters
from .mozinfo_values import load_values


def objdir_for(options, topobjdir=None):
    """``--objdir``, else the caller's topobjdir (mach), else $MOZ_OBJDIR."""
    return options.get("objdir") or topobjdir or os.environ.get("MOZ_OBJDIR") or None


def select_tests(options, topobjdir=None):
    """(tests, mozinfo values) for ``options`` (a dict of parsed options)."""
    from ..store import state_dir

    values = load_values(objdir_for(options, topobjdir), options.get("mozinfo") or (),
                         cache_dir=state_dir(options, topobjdir))
    args = options.get("tests") or []
    reader = None
    if any(arg.endswith(MANIFEST_SUFFIXES) for arg in args):
        # Only a run given a manifest loads the manifest readers (about 2 ms).
        from .manifest import ManifestReader

        reader = ManifestReader(values, strict=bool(options.get("strict_conditions")),
                                allow_missing=bool(options.get("allow_missing")))
    tests = discover(args, manifest_reader=reader)
    filtered = apply_filters(tests, tags=options.get("tag"), subsuite=options.get("subsuite"),
                             path_prefixes=options.get("path_prefix"))
    if tests and not filtered:
        raise InputError("no test matches the filters (%s)" % _describe_filters(options))
    return filtered, values


def _describe_filters(options):
    parts = ["--tag %s" % t for t in options.get("tag") or ()]
    if options.get("subsuite"):
        parts.append("--subsuite %s" % options["subsuite"])
    parts += ["--path-prefix %s" % p for p in options.get("path_prefix") or ()]
    return ", ".join(parts)
