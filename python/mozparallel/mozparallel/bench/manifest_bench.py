"""Benchmark: read and filter a 10,000-test manifest with conditions.

Writes a suite (a top manifest including 10 manifests of 1,000 tests, with
DEFAULT conditions, per-test multi-line skip-if/run-if/fail-if, tags and
support-files) as .ini and as .toml, then times ``select_tests`` (read,
evaluate against mozinfo, filter by tag) and prints the figures. Target:
under 1.5 s.

    python -m mozparallel.bench.manifest_bench [--tests N] [--repeat R]
"""

import argparse
import os
import random
import tempfile
import time

TARGET = 1.5
CONDITIONS = [
    "os == 'win'",
    "os == 'linux' && debug",
    "os == 'mac' && arch == 'aarch64'",
    "asan || tsan",
    "bits == 32",
    "!debug && os == 'android'",
    "os == 'linux' && os_version == '18.04' && ccov",
]


def _test_keys(rng, i, toml):
    keys = []
    if i % 3 == 0:
        lines = rng.sample(CONDITIONS, 2 + i % 2)
        if toml:
            keys.append("skip-if = [\n%s\n]" % "\n".join('  "%s", # bug %d' % (c, i) for c in lines))
        else:
            keys.append("skip-if =\n%s" % "\n".join("  %s  # bug %d" % (c.replace("'", '"'), i) for c in lines))
    if i % 7 == 0:
        cond = "os == 'linux' || os == 'mac'"
        keys.append('run-if = ["%s"]' % cond if toml else "run-if = %s" % cond)
    if i % 11 == 0:
        cond = "bits == 64 && !debug"
        keys.append('fail-if = ["%s"]' % cond if toml else "fail-if = %s" % cond)
    if i % 5 == 0:
        keys.append('tags = "slow"' if toml else "tags = slow")
    if i % 13 == 0:
        keys.append('run-sequentially = "port %d"' % i if toml else "run-sequentially = port %d" % i)
    return keys


def write_suite(directory, n_tests, toml, chunks=10):
    ext = ".toml" if toml else ".ini"
    rng = random.Random(1)
    per = n_tests // chunks
    top = ["[DEFAULT]", 'subsuite = "bench"' if toml else "subsuite = bench",
           'skip-if = ["ccov && os == \'win\'"]' if toml else "skip-if = ccov && os == 'win'", ""]
    i = 0
    for c in range(chunks):
        sub = "dir%02d" % c
        os.makedirs(os.path.join(directory, sub), exist_ok=True)
        with open(os.path.join(directory, sub, "support.js"), "w") as f:
            f.write("//\n")
        lines = ["[DEFAULT]", 'tags = "dir%02d"' % c if toml else "tags = dir%02d" % c,
                 'support-files = "support.js"' if toml else "support-files = support.js", ""]
        for _ in range(per):
            i += 1
            name = "test_%05d.sh" % i
            open(os.path.join(directory, sub, name), "w").close()
            lines.append('["%s"]' % name if toml else "[%s]" % name)
            lines.extend(_test_keys(rng, i, toml))
            lines.append("")
        with open(os.path.join(directory, sub, "manifest" + ext), "w") as f:
            f.write("\n".join(lines))
        top.append('["include:%s/manifest%s"]' % (sub, ext) if toml else "[include:%s/manifest%s]" % (sub, ext))
    path = os.path.join(directory, "top" + ext)
    with open(path, "w") as f:
        f.write("\n".join(top) + "\n")
    return path


def time_selection(manifest, repeat):
    from mozparallel.selection import SelectionSettings, select_tests

    options = SelectionSettings(tests=(manifest,), tags=("slow", "dir03"), manifest_reader="own",
                                mozinfo=("debug=true", "asan=false", "tsan=false", "ccov=false"))
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result, _values = select_tests(options)
        times.append(time.perf_counter() - started)
    return times, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="manifest-bench-") as tmp:
        for toml in (False, True):
            directory = os.path.join(tmp, "toml" if toml else "ini")
            os.makedirs(directory)
            manifest = write_suite(directory, args.tests, toml)
            times, tests = time_selection(manifest, args.repeat)
            skipped = sum(1 for t in tests if t.disabled)
            print("%-5s %d tests read and filtered: first %.3f s, best %.3f s (%d selected by tag, %d of "
                  "them not run)" % ("toml" if toml else "ini", args.tests, times[0], min(times),
                                     len(tests), skipped))
            worst = max(worst, times[0])
    print("slowest first run %.3f s: %s (target %.1f s)" % (worst, "OK" if worst < TARGET else "TOO SLOW",
                                                           TARGET))
    return 0 if worst < TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
