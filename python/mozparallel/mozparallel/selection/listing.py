"""``--list``: what would run and, for each test that would not, why; as
text or JSON. Never starts a test."""

import json


def describe(test):
    """A JSON-ready dict for one selected test."""
    keys = test.keys
    return {
        "id": test.id,
        "path": test.path,
        "group": test.group,
        "line": test.line,
        "run": test.disabled is None,
        "reason": test.disabled,
        "expected": keys.get("expected", "pass"),
        "tags": keys.get("tags", "").split(),
        "subsuite": keys.get("subsuite") or None,
        "run-sequentially": keys.get("run-sequentially"),
        "resources": _resources(keys),
        "notes": list(test.notes),
    }


def _resources(keys):
    """The manifest key ``resources`` as a list (``--resource`` is applied later, by execution/specs.py)."""
    return str(keys.get("resources") or "").replace(",", " ").split()


def format_text(tests):
    lines = []
    width = max((len(t.id) for t in tests), default=0)
    for t in tests:
        if t.disabled is None:
            notes = []
            if t.keys.get("expected", "pass") != "pass":
                notes.append("expected %s" % t.keys["expected"])
            if t.keys.get("run-sequentially") is not None:
                notes.append("run-sequentially")
            if _resources(t.keys):
                notes.append("resources: " + " ".join(_resources(t.keys)))
            lines.append(("RUN   %-*s  %s" % (width, t.id, ", ".join(notes))).rstrip())
        else:
            lines.append("SKIP  %-*s  %s" % (width, t.id, t.disabled))
    notes = {}
    for t in tests:
        notes.update(dict.fromkeys(t.notes))
    lines += ["note: %s" % note for note in notes]
    running = sum(1 for t in tests if t.disabled is None)
    lines.append("%d tests: %d would run, %d would not" % (len(tests), running, len(tests) - running))
    return "\n".join(lines) + "\n"


def format_json(tests, values):
    doc = {"tests": [describe(t) for t in tests], "mozinfo": values}
    return json.dumps(doc, indent=1, default=str) + "\n"


def write_listing(stream, tests, values, fmt="text"):
    stream.write(format_json(tests, values) if fmt == "json" else format_text(tests))
