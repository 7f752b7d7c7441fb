"""Run history: where it is kept (``open_store``) and what it keeps
(``records``). The default is a SQLite file in the objdir; ``--store
redis://...`` adds a Redis server shared by many machines.

Location of the local file: ``--objdir``, else mach's topobjdir, else
$MOZ_OBJDIR, else ``./.mozparallel/`` (as prove keeps ``.prove``); the
file is ``<dir>/.mozparallel/history.sqlite`` (``<cwd>/.mozparallel/...``).
"""

import os
from dataclasses import dataclass

from ..statedir import ensure_private_dir
from .records import ResultRecord, RunRecord, Store
from .sqlite_store import FILENAME, SQLiteStore, StoreError

STORE_VAR = "MOZPARALLEL_STORE"     # the default of --store
NONE = "none"

__all__ = ["ResultRecord", "RunRecord", "Store", "StoreError", "StoreLocation", "check_store_arg", "location",
           "open_store"]


@dataclass(frozen=True)
class StoreLocation:
    """Where one run keeps its history (settings.py builds it once)."""

    spec: str | None        # --store or $MOZPARALLEL_STORE: a file, redis(s)://..., "none"; None: the default
    state_dir: str          # <objdir>/.mozparallel: the default file's directory

    @property
    def none(self):
        return self.spec == NONE

    @property
    def local_path(self):
        """The SQLite file (an explicit file given as --store wins)."""
        if self.spec and self.spec != NONE and not _is_url(self.spec):
            return os.path.abspath(self.spec)
        return os.path.join(self.state_dir, FILENAME)

    @property
    def url(self):
        return self.spec if self.spec and _is_url(self.spec) else None


def location(store=None, state_dir=None, environ=None):
    """The StoreLocation of ``--store`` (None: $MOZPARALLEL_STORE, else the
    default file in ``state_dir``)."""
    if store is None:
        store = (environ if environ is not None else os.environ).get(STORE_VAR) or None
    return StoreLocation(store, state_dir or os.path.join(os.getcwd(), ".mozparallel"))


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


def open_store(where, warn=None):
    """The store at ``where`` (a StoreLocation), or None for ``--store
    none``. Raises StoreError."""
    if where.none:
        return None
    private = os.path.dirname(where.local_path) == os.path.abspath(where.state_dir)
    if private:     # the state directory: 0700, its files 0600 (statedir.py)
        try:
            ensure_private_dir(where.state_dir)
        except OSError as e:
            raise StoreError("cannot open the history store %s: %s" % (where.local_path, e.strerror or e))
    local = SQLiteStore(where.local_path, private=private)
    if where.url:
        from .mirrored import MirroredStore
        from .redis_store import RedisStore, check_url

        try:
            check_url(where.url)
        except ValueError as e:
            local.close()
            raise StoreError(str(e))
        return MirroredStore(local, RedisStore(where.url), warn or (lambda text: None))
    return local
