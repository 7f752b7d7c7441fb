"""The state directory (``<objdir>/.mozparallel``) and the files in it
(history.sqlite with its -wal/-shm, report.html, mozinfo-live.json) are
private to their owner: the directory 0700, each file 0600, whatever the
umask. A directory or file left more open by an older version is closed
down when a run next uses it (only ours: never a directory we did not
name, never a file of someone else).

Nothing here imports any other module of the package: every layer may use it.
"""

import os

DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_private_dir(path):
    """Create ``path`` (and its parents) if missing; make it 0700. Raises
    OSError."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    _tighten(path, DIR_MODE)


def create_private(path, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    """``os.open`` of ``path`` as a 0600 file (an existing one made 0600)."""
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        _tighten_fd(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def write_private(path, text):
    """Write ``text`` to ``path`` atomically (a temporary file, then
    rename), as a 0600 file."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        with os.fdopen(create_private(tmp), "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def make_private(path):
    """Make an existing file of ours 0600 (nothing if it is missing)."""
    try:
        _tighten(path, FILE_MODE)
    except FileNotFoundError:
        pass


def _tighten(path, mode):
    st = os.stat(path)
    if st.st_uid == os.geteuid() and st.st_mode & 0o777 & ~mode:
        os.chmod(path, st.st_mode & 0o777 & mode)


def _tighten_fd(fd, mode):
    st = os.fstat(fd)
    if st.st_uid == os.geteuid() and st.st_mode & 0o777 & ~mode:
        os.fchmod(fd, st.st_mode & 0o777 & mode)
