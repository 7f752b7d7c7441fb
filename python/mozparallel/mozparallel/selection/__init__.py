"""Selection: from TEST arguments (files, directories, manifests) to the
tests of this run, each kept with the reason it would not run."""

from .discover import InputError, SelectedTest, discover

__all__ = ["InputError", "SelectedTest", "discover"]
