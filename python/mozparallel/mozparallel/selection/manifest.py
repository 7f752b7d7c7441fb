"""Read a test manifest into ``SelectedTest`` entries.

This first version reads plain ``.ini`` lists through manifestparser and
evaluates ``skip-if``/``run-if``/``fail-if`` with its 2.1.0 semantics
against ``mozinfo.info``. The manifests issue replaces it with a reader that
matches mozilla-central (TOML, multi-line conditions, strict names).
"""

import os

from .discover import InputError, SelectedTest, test_id


def read_manifest(path, root):
    from .. import compat

    compat.patch_stdlib()
    import mozinfo
    from manifestparser import TestManifest

    try:
        manifest = TestManifest(manifests=[path], strict=False)
        active = manifest.active_tests(exists=False, disabled=True, **dict(mozinfo.info))
    except Exception as e:  # manifestparser raises bare Exceptions and asserts
        raise InputError("cannot read manifest %s: %s" % (path, e))
    group = test_id(path, root)
    out = []
    for t in active:
        test_path = os.path.abspath(t["path"])
        if not os.path.exists(test_path):
            raise InputError("%s: test file does not exist: %s" % (path, t["name"]))
        keys = {k: v for k, v in t.items() if k not in ("path", "here", "manifest", "relpath", "name")}
        out.append(SelectedTest(path=test_path, id=test_id(test_path, root), group=group,
                                keys=keys, disabled=t.get("disabled")))
    return out
