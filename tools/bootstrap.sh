#!/bin/bash
# Create or refresh the project's virtualenv in .venv, from nothing but
# Python 3.11: pinned packages from requirements*.txt plus the mozparallel
# package (editable; pyproject.toml makes that a plain path .pth, not an
# import hook run at every start-up). Re-runs pip only when a requirements
# file, pyproject.toml or this script changed.
# Used by ./mach (first run), test/run and .ci/run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv="$top/.venv"
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python=$(command -v "$candidate"); break; fi
  done
fi
[ -n "$python" ] || { echo "bootstrap: no python3 found" >&2; exit 1; }
stamp_want=$(cat "$top/requirements.txt" "$top/requirements-test.txt" "$top/python/mozparallel/pyproject.toml" "$top/tools/bootstrap.sh" | sha256sum | cut -c1-16)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.stamp" 2>/dev/null)" = "$stamp_want" ]; then
  exit 0
fi
echo "bootstrap: setting up $venv (once)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip_quiet() {
  # This machine's pip config names local mirrors that may be absent; drop
  # those warnings, keep every other line and pip's exit status.
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  return "${PIPESTATUS[0]}"
}
pip_quiet -r "$top/requirements.txt" -r "$top/requirements-test.txt"
pip_quiet --no-deps -e "$top/python/mozparallel"
# Byte-compile our package once: with PYTHONDONTWRITEBYTECODE set (as on
# these machines) every run would otherwise recompile it (about 10-20 ms).
"$venv/bin/python" -m compileall -q "$top/python/mozparallel/mozparallel" >/dev/null || true
echo "$stamp_want" > "$venv/.stamp"
