"""The repository stays what moz.build and the docs say it is."""

import os
import re
import tomllib

from conftest import TOP


def test_python_toml_lists_every_test_module():
    with open(os.path.join(TOP, "test", "python.toml"), "rb") as f:
        listed = {k for k in tomllib.load(f) if k != "DEFAULT"}
    present = {n for n in os.listdir(os.path.join(TOP, "test")) if re.match(r"test_.*\.py$", n)}
    assert listed == present


def test_moz_build_names_the_manifest_and_docs():
    text = open(os.path.join(TOP, "moz.build")).read()
    assert '"test/python.toml"' in text and os.path.exists(os.path.join(TOP, "test", "python.toml"))
    assert 'SPHINX_TREES["/testing/mozparallel"] = "docs"' in text
    assert "BUG_COMPONENT" in text


def test_every_toctree_page_exists():
    index = open(os.path.join(TOP, "docs", "index.rst")).read()
    pages = re.findall(r"^   (\S+)\s*$", index.split(".. toctree::", 1)[1], re.M)
    assert pages
    for page in pages:
        assert any(os.path.exists(os.path.join(TOP, "docs", page + ext)) for ext in (".rst", ".md")), page
