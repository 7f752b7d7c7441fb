"""Real suites nobody here wrote, run as a user would: through paralleltest
and through each ecosystem's own runner the ordinary way, per-file verdicts
compared, wall time against the ecosystem's parallel runner at the same -j.

    python -m mozparallel.bench.realworld [--suites glib,perl,python] [-j N]
        [--work DIR] [--limit N] [--json FILE]

Everything comes from the package registries, by the ordinary clients:

glib    Debian's libglib2.0-tests (apt-get install when missing): each
        installed test program, against ``prove -j N``.
perl    Mojolicious's ``t/`` from Debian's source package. The system's apt
        has no deb-src line; ``apt-get source --download-only`` runs with a
        sources list and package lists of the work directory's own (the
        system's apt configuration is not touched), and the upstream tarball
        is unpacked with tar. Against ``prove -Ilib -j N`` from the
        distribution's top; we run ``--exec "perl -Ilib"`` on the same files.
python  click's ``tests/`` from its PyPI sdist (``pip download``): each file
        through pytest-tap (``pytest --tap-stream FILE``) against plain
        ``pytest FILE`` per file under GNU parallel -j N (verdict: its exit
        status); also ``pytest -n N`` (pytest-xdist, installed with pip into
        the work directory) for wall time.

A file passes for prove when its line ends in ``ok`` or ``skipped``, for
pytest when it exits 0 or 5 (nothing collected), for us when its
``test_end`` is OK or SKIP. Files whose verdicts differ are run again alone
by both runners: agreeing then, the difference came from running in
parallel (load, a shared resource); differing again, it is steady and
printed with both runners' words. A ``Bail out!`` stops prove: prove is
started again on the files it had not reported (the first N of them alone,
to find the one that bailed), as a user would; its wall time adds up.

A benchmark, not a test: CI does not run it (test_realworld.py runs a
subset).
"""

import argparse
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from .prove_compare import GLIB_TESTS, glib_files

APT_SOURCE = "deb-src http://deb.debian.org/debian bookworm main\n"
PERL_PACKAGE = "libmojolicious-perl"
PYTHON_SDIST = "click==8.1.8"
XDIST = ["pytest-xdist==3.8.0", "execnet==2.1.2"]


class SetupError(Exception):
    """A suite could not be installed (the message says why)."""


class Suite:
    def __init__(self, name, where, cwd, files, our_exec, native, native_label, env=None, extra_walls=None):
        self.name = name                # table name
        self.where = where              # what it is and where it came from
        self.cwd = cwd
        self.files = files              # relative to cwd, as typed
        self.our_exec = our_exec        # --exec for paralleltest, or None
        self.native = native            # "prove" or "pytest"
        self.native_label = native_label
        self.env = env or {}
        self.extra_walls = extra_walls or []    # [(label, argv)] timed only
        self.litter = []                # directories its tests create outside it (removed after)


def _run(argv, cwd=None, env=None, timeout=1800, **kwargs):
    return subprocess.run(argv, cwd=cwd, env=env, timeout=timeout, text=True, errors="replace", **kwargs)


# -- installing ------------------------------------------------------------------

def setup_glib(work):
    if not os.path.isdir(GLIB_TESTS):
        if os.geteuid() != 0:
            raise SetupError("libglib2.0-tests is not installed (apt-get install libglib2.0-tests, as root)")
        r = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "libglib2.0-tests"],
                 capture_output=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if r.returncode != 0:
            raise SetupError("apt-get install libglib2.0-tests failed: %s" % r.stderr.strip()[-300:])
    files = glib_files()
    version = _run(["dpkg-query", "-W", "-f", "${Version}", "libglib2.0-tests"], capture_output=True).stdout
    cwd = os.path.join(work, "glib")
    os.makedirs(cwd, exist_ok=True)
    suite = Suite("GLib installed tests", "Debian libglib2.0-tests %s" % version, cwd, files, None, "prove",
                  "prove -j N")
    # fileutils expects creating /usr/b/c to fail; as root it succeeds.
    suite.litter = ["/usr/b/c", "/usr/b"]
    return suite


def apt_source(package, work):
    """Download and unpack the upstream tarball of a Debian source package,
    with apt configuration of our own under ``work`` (no deb-src needed in
    the system's). Returns the unpacked directory."""
    apt = os.path.join(work, "apt")
    lists = os.path.join(apt, "lists")
    os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
    sources = os.path.join(apt, "sources.list")
    with open(sources, "w") as f:
        f.write(APT_SOURCE)
    opts = ["-o", "Dir::Etc::SourceList=" + sources, "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::State::Lists=" + lists]
    download = os.path.join(apt, "src")
    os.makedirs(download, exist_ok=True)
    if not glob.glob(os.path.join(download, "*.orig.tar.*")):
        for argv in (["apt-get"] + opts + ["update", "-q"],
                     ["apt-get"] + opts + ["source", "--download-only", package]):
            r = _run(argv, cwd=download, capture_output=True)
            if r.returncode != 0:
                raise SetupError("%s failed: %s" % (" ".join(argv[:1] + argv[-2:]), r.stderr.strip()[-300:]))
    tarball = glob.glob(os.path.join(download, "*.orig.tar.*"))[0]
    top = _run(["tar", "tf", tarball], capture_output=True, check=True).stdout.split("/", 1)[0]
    target = os.path.join(work, "perl")
    if not os.path.isdir(os.path.join(target, top)):
        os.makedirs(target, exist_ok=True)
        _run(["tar", "xf", tarball, "-C", target], check=True)
    return os.path.join(target, top), os.path.basename(tarball)


def setup_perl(work):
    if shutil.which("prove") is None:
        raise SetupError("prove is missing (apt-get install perl)")
    top, tarball = apt_source(PERL_PACKAGE, work)
    files = sorted(os.path.relpath(p, top) for p in glob.glob(os.path.join(top, "t", "**", "*.t"), recursive=True))
    return Suite("Mojolicious t/", "Debian source %s (%s)" % (PERL_PACKAGE, tarball), top, files, "perl -Ilib",
                 "prove", "prove -Ilib -j N")


def setup_python(work, jobs, xdist=True):
    if shutil.which("parallel") is None:
        raise SetupError("GNU parallel is missing (apt-get install parallel)")
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    sdists = os.path.join(work, "sdist")
    name, version = PYTHON_SDIST.split("==")
    top = os.path.join(sdists, "%s-%s" % (name, version))
    if not os.path.isdir(top):
        os.makedirs(sdists, exist_ok=True)
        r = _run(pip + ["download", "--no-deps", "--no-binary", ":all:", PYTHON_SDIST, "-d", sdists],
                 capture_output=True)
        if r.returncode != 0:
            raise SetupError("pip download %s failed: %s" % (PYTHON_SDIST, r.stderr.strip()[-300:]))
        _run(["tar", "xzf", os.path.join(sdists, "%s-%s.tar.gz" % (name, version)), "-C", sdists], check=True)
    files = sorted(os.path.relpath(p, top) for p in glob.glob(os.path.join(top, "tests", "test_*.py")))
    env = {"PYTHONPATH": os.path.join(top, "src")}
    python = shlex.quote(sys.executable)
    extra = []
    xdist = os.path.join(work, "xdist") if xdist else None
    if xdist and not os.path.isdir(os.path.join(xdist, "xdist")):
        r = _run(pip + ["install", "--no-deps", "--target", xdist] + XDIST, capture_output=True)
        if r.returncode != 0:
            xdist = None
    if xdist:
        extra.append(("pytest -n N (xdist)", [sys.executable, "-m", "pytest", "-q", "-p", "xdist", "-n", str(jobs),
                                             "tests"], {"PYTHONPATH": env["PYTHONPATH"] + os.pathsep + xdist}))
    return Suite("click tests/", "PyPI sdist %s" % PYTHON_SDIST, top, files, python + " -m pytest --tap-stream",
                 "pytest", "pytest FILE under GNU parallel -j N", env=env, extra_walls=extra)


SETUPS = {"glib": lambda work, args: setup_glib(work), "perl": lambda work, args: setup_perl(work),
          "python": lambda work, args: setup_python(work, args.jobs, not args.no_xdist)}


# -- running ---------------------------------------------------------------------

def _env(suite, more=None):
    env = dict(os.environ)
    env.update(suite.env)
    env.update(more or {})
    return env


def run_ours(suite, files, jobs, extra=()):
    """(wall, {file: (verdict, message)}) of one paralleltest run."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.log")
        argv = [sys.executable, "-m", "mozparallel", "-j", str(jobs), "--store", "none", "--log-raw", raw,
                "-r", "tap"]
        if suite.our_exec:
            argv += ["--exec", suite.our_exec]
        argv += list(extra)
        start = time.monotonic()
        _run(argv + ["--"] + files, cwd=suite.cwd, env=_env(suite), stdout=subprocess.DEVNULL,
             stderr=subprocess.DEVNULL)
        wall = time.monotonic() - start
        ends = {}
        with open(raw, errors="replace") as f:
            for line in f:
                ev = json.loads(line)
                if ev["action"] == "test_end":
                    ends[ev["test"]] = ev
    verdicts = {}
    for path in files:
        ev = ends.get(os.path.normpath(path)) or ends.get(path)
        if ev is None:
            verdicts[path] = ("missing", "no test_end")
        else:
            verdicts[path] = ("pass" if ev["status"] in ("OK", "SKIP") else "fail",
                              "%s %s" % (ev["status"], ev.get("message") or ""))
    return wall, verdicts


LEAK_WORDS = re.compile(r"process\(es\) running after it exited|leaked \d+ process")
_PROVE_LINE = re.compile(r"^(\S+) \.+ ?(.*)$")


def _prove_once(suite, files, jobs):
    argv = ["prove", "--norc", "-j", str(jobs)]
    if suite.our_exec and suite.our_exec.startswith("perl "):
        argv += shlex.split(suite.our_exec)[1:]     # -Ilib
    proc = _run(argv + files, cwd=suite.cwd, env=_env(suite), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    verdicts, wanted = {}, set(files)
    for line in proc.stdout.splitlines():
        m = _PROVE_LINE.match(line)
        if m and m.group(1) in wanted and m.group(1) not in verdicts:
            rest = m.group(2).strip()
            verdicts[m.group(1)] = ("pass" if rest == "ok" or rest.startswith("skipped") else "fail", rest)
    bailed = "Further testing stopped" in proc.stdout or "Bailout called" in proc.stdout
    return verdicts, bailed, proc.stdout


def run_prove(suite, files, jobs):
    """prove the ordinary way; after a Bail out!, prove again on what it had
    not reported: the first ``jobs`` of those alone (one of them bailed),
    then the rest at -j. Wall times add up."""
    verdicts, remaining, bails = {}, list(files), 0
    start = time.monotonic()
    while remaining:
        got, bailed, out = _prove_once(suite, remaining, jobs)
        verdicts.update(got)
        remaining = [f for f in remaining if f not in verdicts]
        if not bailed:
            for f in remaining:
                verdicts[f] = ("fail", "no result line from prove")
            break
        bails += 1
        for f in remaining[:jobs]:
            alone, bailed_alone, _ = _prove_once(suite, [f], 1)
            verdicts[f] = alone.get(f, ("fail", "Bail out!" if bailed_alone else "no result line from prove"))
        remaining = remaining[jobs:]
    return time.monotonic() - start, verdicts, bails


def run_pytest_files(suite, files, jobs):
    """Plain pytest, one process per file, under GNU parallel -j N."""
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "joblog")
        argv = ["parallel", "--will-cite", "-j", str(jobs), "--joblog", log,
                shlex.quote(sys.executable) + " -m pytest -q {}", ":::"] + files
        start = time.monotonic()
        _run(argv, cwd=suite.cwd, env=_env(suite), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.monotonic() - start
        verdicts = {}
        with open(log) as f:
            next(f)
            for line in f:
                fields = line.rstrip("\n").split("\t")
                code, command = int(fields[6]), fields[8]
                path = command.rsplit(" ", 1)[1]
                verdicts[path] = ("pass" if code in (0, 5) else "fail", "exit %d" % code)
    for path in files:
        verdicts.setdefault(path, ("missing", "not run by parallel"))
    return wall, verdicts


def run_native(suite, files, jobs):
    if suite.native == "prove":
        wall, verdicts, bails = run_prove(suite, files, jobs)
        return wall, verdicts, bails
    wall, verdicts = run_pytest_files(suite, files, jobs)
    return wall, verdicts, 0


def compare(suite, jobs, limit=None, pick=()):
    files = list(suite.files)
    if limit:
        files = [f for f in files if f in pick] + [f for f in files if f not in pick]
        files = sorted(files[:limit])
    our_wall, ours = run_ours(suite, files, jobs)
    native_wall, theirs, bails = run_native(suite, files, jobs)
    differ = [f for f in files if ours[f][0] != theirs[f][0]]
    steady, flaky = [], []
    for f in differ:
        again_ours = run_ours(suite, [f], 1)[1][f]
        again_theirs = run_native(suite, [f], 1)[1][f]
        entry = {"file": f, "ours": ours[f], "theirs": theirs[f], "ours_alone": again_ours,
                 "theirs_alone": again_theirs, "cause": None}
        if LEAK_WORDS.search(ours[f][1]):
            # What prove never looks at: processes the test left behind.
            # Alone and with --allow-leaks, is that the whole difference?
            relaxed = run_ours(suite, [f], 1, ["--allow-leaks"])[1][f]
            if relaxed[0] == again_theirs[0]:
                entry["cause"] = "mozparallel's leak check (agrees with --allow-leaks)"
        elif again_ours[0] == again_theirs[0]:
            if again_ours[0] == ours[f][0]:
                entry["cause"] = ("the native runner's verdict under -j %d is not its verdict alone; "
                                  "mozparallel's is the same both ways" % jobs)
            elif again_theirs[0] == theirs[f][0]:
                entry["cause"] = "mozparallel's verdict under -j %d is not its verdict alone" % jobs
            else:
                entry["cause"] = "both verdicts changed when run alone"
        (flaky if again_ours[0] == again_theirs[0] else steady).append(entry)
    extra = []
    for label, argv, env in suite.extra_walls:
        start = time.monotonic()
        r = _run(argv, cwd=suite.cwd, env=_env(suite, env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        extra.append({"runner": label, "wall": time.monotonic() - start, "exit": r.returncode})
    return {
        "suite": suite.name, "where": suite.where, "jobs": jobs, "files": len(files),
        "native": suite.native_label, "ours_pass": sum(1 for v in ours.values() if v[0] == "pass"),
        "native_pass": sum(1 for v in theirs.values() if v[0] == "pass"),
        "agree": len(files) - len(differ), "differ_steady": steady, "differ_flaky": flaky,
        "our_wall": our_wall, "native_wall": native_wall, "native_bails": bails, "extra_walls": extra,
        "failing": sorted(f for f in files if ours[f][0] != "pass" and theirs[f][0] != "pass"),
    }


def format_result(r):
    lines = ["%s (%s), -j %d: %d files; native (%s) passed %d, mozparallel passed %d; verdicts identical for %d, "
             "different for %d (%d steady, %d only under parallel load)"
             % (r["suite"], r["where"], r["jobs"], r["files"], r["native"], r["native_pass"], r["ours_pass"],
                r["agree"], len(r["differ_steady"]) + len(r["differ_flaky"]), len(r["differ_steady"]),
                len(r["differ_flaky"])),
             "  wall: mozparallel %.1fs, %s %.1fs%s" % (r["our_wall"], r["native"], r["native_wall"],
                                                       " (restarted after %d Bail out!)" % r["native_bails"]
                                                       if r["native_bails"] else "")]
    for e in r["extra_walls"]:
        lines.append("  wall: %s %.1fs (exit %d)" % (e["runner"], e["wall"], e["exit"]))
    for kind in ("differ_steady", "differ_flaky"):
        for e in r[kind]:
            lines.append("  %s %s: native %s (%s), mozparallel %s (%s); alone: native %s, mozparallel %s%s" % (
                "DIFFER" if kind == "differ_steady" else "under load", e["file"], e["theirs"][0],
                e["theirs"][1][:120], e["ours"][0], e["ours"][1][:160], e["theirs_alone"][0], e["ours_alone"][0],
                "; cause: " + e["cause"] if e.get("cause") else ""))
    if r["failing"]:
        lines.append("  failing in both: %s" % ", ".join(r["failing"]))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", default="glib,perl,python", help="comma-separated: glib, perl, python")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--work", default=None, help="where downloads and unpacked suites go (kept; default: a "
                                                  "directory under the system's temporary directory)")
    ap.add_argument("--limit", type=int, default=None, help="at most N files of each suite")
    ap.add_argument("--pick", action="append", default=[], metavar="FILE",
                    help="with --limit: files to take first (as listed, relative to the suite's top)")
    ap.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--no-xdist", action="store_true", help="python suite: do not time pytest -n N")
    args = ap.parse_args(argv)
    work = os.path.abspath(args.work or os.path.join(tempfile.gettempdir(), "mozparallel-realworld"))
    os.makedirs(work, exist_ok=True)
    results, status = [], 0
    for name in args.suites.split(","):
        if name not in SETUPS:
            ap.error("unknown suite %r (choose from %s)" % (name, ", ".join(SETUPS)))
        try:
            suite = SETUPS[name](work, args)
        except SetupError as e:
            print("%s: cannot set up: %s" % (name, e), file=sys.stderr)
            status = 2
            continue
        before = {d for d in suite.litter if os.path.lexists(d)}
        try:
            result = compare(suite, args.jobs, args.limit, set(args.pick))
        finally:
            for d in suite.litter:
                if d not in before:
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
        results.append(result)
        print(format_result(result), flush=True)
        if result["differ_steady"]:
            status = max(status, 1)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
