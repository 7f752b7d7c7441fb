"""``paralleltest annotate MANIFEST... [--write]``: the manifest edits the
history calls for, Mozilla style, as a unified diff: ``run-sequentially``
on the tests judged parallel-unsafe and on the tests that break them,
``fail-if``/``skip-if`` with a condition built from the current mozinfo for
tests that fail every time on this platform, each with its evidence as a
comment (flaky/annotations.py). ``--write`` applies the diff, keeping
every other byte of each file (selection/edits.py: tomlkit for .toml, line
insertions for .ini).

Test ids are matched as a run names them: paths relative to the current
directory, so run it where the runs ran.
"""

import os
import sys

from ..errors import EXIT_USAGE, InputError, UsageError

DEFAULT_RUNS = 100


def build_parser(prog="paralleltest annotate"):
    from ..options import Parser, _mozinfo_override, add_store_location_arguments, positive_count

    parser = Parser(prog=prog, description=(
        "Propose manifest edits from the history: run-sequentially for tests that break each other, "
        "fail-if/skip-if (a condition from the current mozinfo) for tests that always fail here, each "
        "with its evidence as a comment. Prints a unified diff; --write applies it, keeping the rest of "
        "each file byte for byte."))
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST",
                        help="the .toml or .ini manifests (with their includes) to edit")
    parser.add_argument("--write", action="store_true", help="apply the edits to the files")
    parser.add_argument("--runs", type=positive_count, default=DEFAULT_RUNS, metavar="N",
                        help="read the newest N recorded runs, re-runs and probes included (default %d)"
                             % DEFAULT_RUNS)
    parser.add_argument("--mozinfo", action="append", default=[], metavar="KEY=VALUE", type=_mozinfo_override,
                        help="a value of the platform the conditions are for (over the objdir's "
                             "mozinfo.json and this machine's); repeatable")
    add_store_location_arguments(parser)
    parser.add_argument("--objdir", default=None, metavar="DIR",
                        help="build directory whose mozinfo.json describes the platform, and where the "
                             "default store lives (default: $MOZ_OBJDIR, else the current directory)")
    return parser


def main(argv=None, args=None):
    if args is None:
        args = build_parser().parse_args(argv)
    try:
        return annotate(vars(args), os.environ.get("MOZ_OBJDIR"))
    except (UsageError, InputError) as e:
        print("paralleltest annotate: error: %s" % e, file=sys.stderr)
        return EXIT_USAGE


def _entries(manifests):
    """{test id: ManifestTest} of every test of ``manifests``."""
    from ..selection.manifest import read_tests
    from ..selection.model import test_id

    root = os.getcwd()
    out = {}
    for path in manifests:
        if not os.path.isfile(path):
            raise UsageError("no such manifest: %s" % path)
        for t in read_tests(path, allow_missing=True):
            out.setdefault(test_id(t.path, root), t)
    return out


def _already(entry, proposal):
    """Whether the entry says it already (itself or through its DEFAULT)."""
    keys = entry.layer.keys
    if proposal.key == "run-sequentially":
        return "run-sequentially" in keys
    lines = [line.split(" #", 1)[0].strip() for line in (keys.get(proposal.key) or "").splitlines()]
    return proposal.value in lines


def _holds(condition, values):
    from ..selection.conditions import ConditionError, Evaluator

    try:
        return Evaluator(values, strict=False).first_true(condition) is not None
    except ConditionError:
        return False


def annotate(options, topobjdir=None, out=None, err=None):
    from ..flaky.annotations import propose
    from ..flaky.families import families
    from ..selection.edits import Edit, apply_edits, unified_diff
    from ..selection.mozinfo_values import load_values
    from ..selection.sections import display_path
    from ..settings import objdir_of, open_history_store, state_dir_of

    out, err = out or sys.stdout, err or sys.stderr
    entries = _entries(options["manifests"])
    values = load_values(objdir_of(options, topobjdir), tuple(options.get("mozinfo") or ()),
                         cache_dir=state_dir_of(options, topobjdir))
    warnings = []
    with open_history_store(options, topobjdir, warnings.append) as store:
        if store is None:
            raise UsageError("no history to read (%s)" % ("; ".join(warnings) or "--store none"))
        from ..store import StoreError
        try:
            runs, results = store.runs(options["runs"]), store.recent_results(options["runs"])
        except StoreError as e:
            raise UsageError(str(e))
    proposals = propose(families(runs, results), values)
    edits = {}
    for p in proposals:
        entry = entries.get(p.test)
        if entry is None:
            print("paralleltest annotate: %s: not in the manifests given (%s)" % (p.test, p.why), file=err)
            continue
        if _already(entry, p):
            continue
        if p.key != "run-sequentially" and not _holds(p.value, values):
            print("paralleltest annotate: %s: condition %r is not true here; left out" % (p.test, p.value),
                  file=err)
            continue
        print("paralleltest annotate: %s: %s (%s)" % (p.test, p.key, p.why), file=err)
        edits.setdefault(entry.parsed.path, []).append(Edit(entry.name, p.key, p.value, p.comment))
    if not edits:
        print("paralleltest annotate: nothing to propose from %d recorded run(s)" % len(runs), file=err)
        return 0
    for path in sorted(edits):
        with open(path, encoding="utf-8", newline="") as f:
            old = f.read()
        new = apply_edits(path, old, edits[path])
        out.write(unified_diff(path, old, new, shown=display_path(path)))
        if options.get("write") and new != old:
            _write(path, new)
    if options.get("write"):
        print("paralleltest annotate: wrote %d manifest(s)" % len(edits), file=err)
    return 0


def _write(path, text):
    """Replace ``path`` by ``text`` at once (a file beside it, renamed over it)."""
    tmp = "%s.annotate-%d" % (path, os.getpid())
    mode = os.stat(path).st_mode & 0o7777
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
