"""The optional parts of mozparallel and the pip extra that brings each
(``[project.optional-dependencies]`` in pyproject.toml): ``pip install
mozparallel`` alone has neither Redis nor Celery, so ``--store redis://``
and ``--broker`` say which extra to install instead of failing on an import.
"""

import importlib.util

from .errors import InputError

# extra -> the modules it must make importable
EXTRAS = {
    "redis": ("redis",),
    "distributed": ("celery", "redis"),
}


class MissingPackage(InputError):
    """A feature was asked for whose extra is not installed (exit 2)."""


def missing_module(extra):
    """The first module of ``extra`` that cannot be imported here, or None.
    Looks the module up without importing it (Celery takes ~0.2 s to import)."""
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return module
    return None


def message(what, extra, module):
    """``what`` (None: left out, for argparse, which names the option)."""
    text = "needs the %s package, which is not installed: pip install 'mozparallel[%s]'" % (module, extra)
    return text if what is None else "%s %s" % (what, text)


def require(what, extra):
    """Raise ``MissingPackage`` naming ``what`` (e.g. ``--broker``; None to
    leave it out) and the pip command when ``extra`` is not installed."""
    module = missing_module(extra)
    if module is not None:
        raise MissingPackage(message(what, extra, module))
