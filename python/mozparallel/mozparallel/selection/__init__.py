"""Selection: from TEST arguments (files, directories, manifests) to the
tests of this run, each kept with the reason it would not run."""

from .discover import discover
from .model import InputError, SelectedTest, SelectionSettings
from .sections import ManifestError
from .select import select_tests

__all__ = ["InputError", "ManifestError", "SelectedTest", "SelectionSettings", "discover", "select_tests"]
