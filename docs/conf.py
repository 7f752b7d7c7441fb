# Sphinx configuration for the mozparallel docs (SPHINX_TREES in moz.build).
project = "mozparallel"
# myst_parser renders the Markdown pages (distributed.md, performance.md).
extensions = ["myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
master_doc = "index"
exclude_patterns = ["_build"]
