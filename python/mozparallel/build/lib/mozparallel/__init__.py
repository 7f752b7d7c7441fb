"""mozparallel: run test files in parallel and report through mozlog.

The package never imports mach: ``mozparallel.cli.main`` is the one entry
point, shared by the ``paralleltest`` console script, ``python -m
mozparallel`` and ``mach parallel-test``.
"""

__version__ = "0.1.0"
