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


def test_docs_are_valid_restructuredtext():
    """Every docs/*.rst parses without errors or warnings (Sphinx-only
    directives and roles aside)."""
    import io

    import docutils.core

    sphinx_only = ("toctree", "code-block", "Unknown interpreted text role", "No role entry")
    for name in sorted(os.listdir(os.path.join(TOP, "docs"))):
        if not name.endswith(".rst"):
            continue
        stream = io.StringIO()
        with open(os.path.join(TOP, "docs", name)) as f:
            docutils.core.publish_string(f.read(), writer="null", settings_overrides={
                "report_level": 2, "halt_level": 5, "warning_stream": stream})
        problems = [l for l in stream.getvalue().splitlines()
                    if ("(ERROR/" in l or "(WARNING/" in l or "(SEVERE/" in l)
                    and not any(s in l for s in sphinx_only)]
        assert problems == [], name
