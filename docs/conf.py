# Sphinx configuration for the mozparallel docs (SPHINX_TREES in moz.build).
project = "mozparallel"
extensions = []
source_suffix = {".rst": "restructuredtext"}
master_doc = "index"
exclude_patterns = ["_build"]
