"""``pip install mozparallel`` without an extra: asking for a Redis store or
a Celery fleet is one line naming the extra to install, exit 2, never a
traceback. Checked in a real virtualenv holding only the base package and
its dependencies (linked from the project's venv: nothing is downloaded),
where ``import redis`` and ``import celery`` really fail."""

import os
import re
import subprocess
from importlib import metadata

import pytest

from conftest import PYTHON, TOP, write_test


def _base_closure():
    """Distributions mozparallel needs without extras, recursively."""
    seen, todo = {}, ["mozparallel"]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue        # a platform-only requirement (jinxed on Windows)
        seen[key] = dist
        for req in dist.requires or ():
            if "extra ==" in req or "extra==" in req:
                continue
            todo.append(re.match(r"[A-Za-z0-9_.-]+", req).group(0))
    return seen


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory):
    venv = tmp_path_factory.mktemp("base-venv")
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    closure = _base_closure()
    assert "celery" not in closure and "redis" not in closure and "psutil" in closure
    for key, dist in closure.items():
        if key == "mozparallel":
            continue
        where = dist.locate_file("")
        tops = set()
        for f in dist.files or ():
            first = f.parts[0]
            if first == "__pycache__" or first.startswith(".."):     # scripts live in ../../bin
                continue
            tops.add(first)                  # packages, modules and the .dist-info directory
        for top in tops:
            target = os.path.join(site, top)
            if not os.path.exists(target):
                os.symlink(os.path.join(str(where), top), target)
    with open(os.path.join(site, "mozparallel-source.pth"), "w") as f:
        f.write(os.path.join(TOP, "python", "mozparallel") + "\n")
    return venv


def run_base(venv, args, cwd, env=None):
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MOZPARALLEL_STORE", "VIRTUAL_ENV")}
    full.update(env or {})
    return subprocess.run([str(venv / "bin" / "python")] + args, cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=60)


def test_base_venv_runs_tests_and_really_lacks_the_extras(base_venv, tmp_path):
    write_test(tmp_path, "a.sh", 'echo "1..1"\necho "ok 1"\n')
    r = run_base(base_venv, ["-m", "mozparallel", "-r", "tap", "a.sh"], tmp_path)
    assert r.returncode == 0 and "ok 1 - a.sh" in r.stdout, r.stdout + r.stderr
    r = run_base(base_venv, ["-c", "import redis"], tmp_path)
    assert "No module named 'redis'" in r.stderr
    r = run_base(base_venv, ["-c", "import celery"], tmp_path)
    assert "No module named 'celery'" in r.stderr


@pytest.mark.parametrize("args, env, line", [
    (["--broker", "redis://127.0.0.1:1/0", "a.sh"], None,
     "paralleltest: error: argument --broker: needs the celery package, which is not installed: "
     "pip install 'mozparallel[distributed]'"),
    (["worker", "--broker", "redis://127.0.0.1:1/0"], None,
     "paralleltest worker: error: --broker: needs the celery package, which is not installed: "
     "pip install 'mozparallel[distributed]'"),
    (["--store", "redis://:hunter2@127.0.0.1:1/0", "a.sh"], None,
     "paralleltest: error: argument --store: needs the redis package, which is not installed: "
     "pip install 'mozparallel[redis]'"),
    (["a.sh"], {"MOZPARALLEL_STORE": "redis://:hunter2@127.0.0.1:1/0"},
     "paralleltest: error: --store redis://127.0.0.1:1/0 needs the redis package, which is not installed: "
     "pip install 'mozparallel[redis]'"),
    (["history"], {"MOZPARALLEL_STORE": "redis://127.0.0.1:1/0"},
     "paralleltest history: error: --store redis://127.0.0.1:1/0 needs the redis package, which is not "
     "installed: pip install 'mozparallel[redis]'"),
])
def test_a_missing_extra_is_one_line_naming_it(base_venv, tmp_path, args, env, line):
    touched = tmp_path / "touched"
    write_test(tmp_path, "a.sh", 'touch "%s"\necho "1..1"\necho "ok 1"\n' % touched)
    r = run_base(base_venv, ["-m", "mozparallel"] + args, tmp_path, env)
    assert (r.returncode, r.stderr, r.stdout) == (2, line + "\n", ""), r.stderr
    assert not touched.exists()
