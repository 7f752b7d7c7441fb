"""Whether a worker has the run's tree: the coordinator sends, with each
test, a digest of its file, and with the run a sample of them; a worker
checks the sample before it takes any test of the run, and each test's
file before it starts it. A worker whose --root is empty, or holds another
checkout, takes nothing and says why."""

import hashlib
import os

SAMPLE = 8          # files a worker checks before it serves a run
_CHUNK = 1 << 20


def digest(path):
    """A short digest of a file's content, or None if it cannot be read."""
    h = hashlib.blake2b(digest_size=12)
    try:
        with open(path, "rb") as f:
            while True:
                block = f.read(_CHUNK)
                if not block:
                    break
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def sample_of(payloads):
    """[(relative path, digest)] of up to SAMPLE tests spread over the run."""
    files = [(p["path"], p["digest"]) for p in payloads if p.get("path") and p.get("digest")]
    if len(files) <= SAMPLE:
        return files
    step = len(files) / SAMPLE
    return [files[int(i * step)] for i in range(SAMPLE)]


def mismatch(root, path, expected):
    """Why ``path`` (relative to ``root``) is not the coordinator's file, or None."""
    full = os.path.join(root, path)
    if not os.path.exists(full):
        return "%s is missing under %s" % (path, root)
    got = digest(full)
    if got is None:
        return "%s cannot be read under %s" % (path, root)
    if expected and got != expected:
        return "%s under %s differs from the coordinator's (digest %s, expected %s)" % (path, root, got, expected)
    return None


def check_sample(root, sample):
    """Why this worker does not have the run's tree, or None."""
    for path, expected in sample:
        problem = mismatch(root, path, expected)
        if problem is not None:
            return "not the run's tree: " + problem
    return None
