"""One call from a run's selection settings to its tests: mozinfo values,
manifest reading with conditions (our reader, manifest.py, or Mozilla's,
mozilla_reader.py: ``--manifest-reader``), then the command-line filters.

Chunking (``--this-chunk/--total-chunks``) happens after this, in the
schedule: a test of another chunk stays in the list with
``disabled = "another chunk (3 of 4)"`` so ``--list`` and the log can say so.
"""

from .discover import discover
from .model import InputError
from .filters import apply_filters
from .mozinfo_values import load_values


def select_tests(settings):
    """(tests, mozinfo values) for ``settings`` (a SelectionSettings)."""
    values = load_values(settings.objdir, settings.mozinfo, cache_dir=settings.mozinfo_cache)
    tests = discover(list(settings.tests), manifest_reader=LazyReader(settings, values))
    filtered = apply_filters(tests, tags=settings.tags, subsuite=settings.subsuite,
                             path_prefixes=settings.path_prefixes)
    if tests and not filtered:
        raise InputError("no test matches the filters (%s)" % _describe_filters(settings))
    return filtered, values


class LazyReader:
    """The run's manifest reader, made when a first manifest is read: a run
    given only plain files never loads one (about 2 ms)."""

    def __init__(self, settings, values):
        self.settings, self.values, self.reader = settings, values, None

    def __call__(self, path, root):
        if self.reader is None:
            self.reader = manifest_reader(self.settings, self.values)
        return self.reader(path, root)


def manifest_reader(settings, values):
    """The reader ``--manifest-reader`` chooses (mozilla_reader.py says how
    ``auto`` decides). Only a run given a manifest loads a manifest reader
    (about 2 ms)."""
    choice = "own"
    if settings.manifest_reader != "own":
        from .mozilla_reader import choose_reader

        choice = choose_reader(settings.manifest_reader)
    if choice == "mozilla":
        from .mozilla_reader import MozillaManifestReader

        from .manifest import _warn

        return MozillaManifestReader(values, allow_missing=settings.allow_missing, warn=_warn)
    from .manifest import ManifestReader

    return ManifestReader(values, strict=settings.strict_conditions, allow_missing=settings.allow_missing)


def _describe_filters(settings):
    parts = ["--tag %s" % t for t in settings.tags]
    if settings.subsuite:
        parts.append("--subsuite %s" % settings.subsuite)
    parts += ["--path-prefix %s" % p for p in settings.path_prefixes]
    return ", ".join(parts)
