"""Run history: where it is kept (``open_store``) and what it keeps
(``records``). The default is a SQLite file in the objdir; ``--store
redis://...`` adds a Redis server shared by many machines.

Location of the local file: ``--objdir``, else mach's topobjdir, else
$MOZ_OBJDIR, else ``./.mozparallel/`` (as prove keeps ``.prove``); the
file is ``<dir>/.mozparallel/history.sqlite`` (``<cwd>/.mozparallel/...``).
"""

import os

from .records import ResultRecord, RunRecord, Store
from .sqlite_store import FILENAME, SQLiteStore, StoreError

STORE_VAR = "MOZPARALLEL_STORE"     # the default of --store
NONE = "none"

__all__ = ["ResultRecord", "RunRecord", "Store", "StoreError", "open_store", "local_path",
           "check_store_arg", "state_dir"]


def state_dir(options, topobjdir=None):
    """``<objdir>/.mozparallel`` (or ``./.mozparallel``): where a run keeps
    its state by default."""
    base = options.get("objdir") or topobjdir or os.environ.get("MOZ_OBJDIR") or os.getcwd()
    return os.path.join(os.path.abspath(base), ".mozparallel")


def local_path(options, topobjdir=None):
    """The SQLite file of this run (an explicit file given as --store wins)."""
    spec = store_arg(options)
    if spec and spec != NONE and not _is_url(spec):
        return os.path.abspath(spec)
    return os.path.join(state_dir(options, topobjdir), FILENAME)


def store_arg(options):
    spec = options.get("store")
    if spec is None:
        spec = os.environ.get(STORE_VAR) or None
    return spec


def _is_url(spec):
    return "://" in spec


def check_store_arg(text, what="--store"):
    """Validate ``--store`` (raises ValueError naming the problem, or
    ``MissingPackage`` when a URL is given without the redis extra)."""
    if text == NONE or not _is_url(text):
        return text
    from ..extras import require
    from .redis_store import check_url, describe

    check_url(text)
    require(what and "%s %s" % (what, describe(text)), "redis")
    return text


def open_store(options, topobjdir=None, warn=None):
    """The run's store, or None for ``--store none``. Raises StoreError."""
    spec = store_arg(options)
    if spec == NONE:
        return None
    local = SQLiteStore(local_path(options, topobjdir))
    if spec and _is_url(spec):
        from .mirrored import MirroredStore
        from .redis_store import RedisStore, check_url

        try:
            check_url(spec)
        except ValueError as e:
            local.close()
            raise StoreError(str(e))
        return MirroredStore(local, RedisStore(spec), warn or (lambda text: None))
    return local
