"""Per-file verdicts of ``prove`` and of mozparallel on the same real TAP
suite, compared file by file.

prove runs the files one at a time; mozparallel runs them with ``-j`` jobs
and its raw log gives each file's ``test_end``. A file passes for prove when
its line ends in ``ok`` or ``skipped``, for us when its status is OK or
SKIP. Files whose verdicts differ are run again by both, one at a time, to
tell a flaky test from a parser difference.

    python -m mozparallel.bench.prove_compare [--exec CMD] [-j N] [--timeout S] FILE...
    python -m mozparallel.bench.prove_compare --glib      # Debian's libglib2.0-tests
"""

import argparse
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

GLIB_TESTS = "/usr/share/installed-tests/glib"


def glib_files():
    """The GLib installed tests whose Exec line is the file alone (they
    write TAP by default)."""
    files = []
    for desc in sorted(glob.glob(os.path.join(GLIB_TESTS, "*.test"))):
        with open(desc) as f:
            exec_line = [l.split("=", 1)[1].strip() for l in f if l.startswith("Exec=")]
        if exec_line and len(exec_line[0].split()) == 1 and os.access(exec_line[0], os.X_OK):
            files.append(exec_line[0])
    return files


def prove_verdicts(files, exec_cmd, cwd):
    """``{file: "pass"|"fail"}`` from prove's per-file lines. A ``Bail out!``
    stops prove: the file that bailed fails, and prove goes on with the rest."""
    verdicts = {}
    remaining = list(files)
    while remaining:
        argv = ["prove", "--norc", "-j1"]
        if exec_cmd:
            argv += ["--exec", exec_cmd]
        proc = subprocess.run(argv + remaining, cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, errors="replace")
        wanted = set(remaining)
        for line in proc.stdout.splitlines():
            m = re.match(r"^(\S+) \.+ ?(.*)$", line)
            if m and m.group(1) in wanted and m.group(1) not in verdicts:
                rest = m.group(2).strip()
                verdicts[m.group(1)] = "pass" if rest == "ok" or rest.startswith("skipped") else "fail"
        ran = re.search(r"^Files=(\d+),", proc.stdout, re.M)
        if "Bailout called" not in proc.stdout or not ran:
            break
        ran = int(ran.group(1))
        for path in remaining[:ran]:
            verdicts.setdefault(path, "fail")   # the file that bailed out
        remaining = remaining[ran:]
    return verdicts


def our_verdicts(files, exec_cmd, jobs, cwd):
    """``{file: "pass"|"fail"}`` from a mozparallel run's raw log."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.log")
        argv = [sys.executable, "-m", "mozparallel", "-j", str(jobs), "--protocol", "tap",
                "--log-raw", raw, "-r", "tap", "--allow-leaks"]
        if exec_cmd:
            argv += ["--exec", exec_cmd]
        subprocess.run(argv + files, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ends = {}
        with open(raw, errors="replace") as f:
            for line in f:
                ev = json.loads(line)
                if ev["action"] == "test_end":
                    ends[ev["test"]] = ev
    verdicts, messages = {}, {}
    for path in files:
        ev = ends.get(os.path.relpath(path, cwd)) or ends.get(path)
        if ev is None:
            verdicts[path] = "missing"
            continue
        verdicts[path] = "pass" if ev["status"] in ("OK", "SKIP") else "fail"
        messages[path] = "%s %s" % (ev["status"], ev.get("message") or "")
    return verdicts, messages


def compare(files, exec_cmd=None, jobs=2, timeout=None, cwd=None):
    cwd = cwd or tempfile.mkdtemp(prefix="prove-compare-")
    if timeout:
        # The same wall-clock cap for both runners (prove has none).
        exec_cmd = "timeout -k 5 %g %s" % (timeout, exec_cmd or "")
    theirs = prove_verdicts(files, exec_cmd, cwd)
    ours, messages = our_verdicts(files, exec_cmd, jobs, cwd)
    differ = [f for f in files if theirs.get(f) != ours.get(f)]
    # Run the differing files again, alone, in both: flaky or a real difference?
    steady = []
    for path in differ:
        again_theirs = prove_verdicts([path], exec_cmd, cwd).get(path)
        again_ours = our_verdicts([path], exec_cmd, 1, cwd)[0].get(path)
        if again_theirs != again_ours:
            steady.append((path, again_theirs, again_ours, messages.get(path, "")))
    return {"files": len(files), "prove_pass": list(theirs.values()).count("pass"),
            "prove_fail": list(theirs.values()).count("fail"),
            "ours_pass": list(ours.values()).count("pass"), "differ_first_run": len(differ),
            "first_run": [(f, theirs.get(f), ours.get(f), messages.get(f, "")) for f in differ],
            "differ": steady, "matched": len(files) - len(steady)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--exec", dest="exec_cmd", default=None)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--glib", action="store_true", help="compare on GLib's installed tests")
    args = ap.parse_args(argv)
    files = list(args.files)
    if args.glib:
        files += glib_files()
    if not files:
        ap.error("no files (give FILEs or --glib)")
    result = compare([os.path.abspath(f) for f in files], args.exec_cmd, args.jobs, args.timeout)
    print("%(files)d files: prove passed %(prove_pass)d, failed %(prove_fail)d; mozparallel passed "
          "%(ours_pass)d; "
          "verdicts matched for %(matched)d (%(differ_first_run)d differed on the first run)" % result)
    for path, theirs, ours, message in result["first_run"]:
        print("first run: %s: prove %s, mozparallel %s (%s)" % (path, theirs, ours, message[:200]))
    for path, theirs, ours, message in result["differ"]:
        print("DIFFER %s: prove %s, mozparallel %s (%s)" % (path, theirs, ours, message[:200]))
    return 0 if not result["differ"] else 1


if __name__ == "__main__":
    sys.exit(main())
