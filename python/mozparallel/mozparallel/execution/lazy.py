"""psutil, imported on first use: about 8 ms of every run's start that
need not come before the first test is spawned (the first sample of a
test's tree is taken 80 ms after its start; kill.py needs psutil only where
the kernel lacks /proc/PID/task/TID/children)."""

import importlib


class _Lazy:
    def __init__(self, name):
        self._name = name
        self._module = None

    def __getattr__(self, attr):
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)


psutil = _Lazy("psutil")
