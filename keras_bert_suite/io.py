"""Atomic file writes: a crash or a full disk mid-write never leaves a half file where a good one was.

Each writer writes into a temporary file (or folder) beside the target, flushes it to disk, and renames it over
the target in one step.
"""

import contextlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ".tmp"):
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    Args:
        path: the file to write; its folder is created when missing.
        suffix: the temporary file's suffix (some writers pick a format by it).

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "out", "notes.txt")
        >>> with atomic_path(target) as tmp:
        ...     with open(tmp, "w") as f:
        ...         _ = f.write("done")
        >>> open(target).read()
        'done'
        >>> os.listdir(os.path.dirname(target))     # no temporary file left beside it
        ['notes.txt']
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path: str):
    """Yield a temporary folder beside `path`; on success it takes the place of `path` (a folder).

    An existing folder at `path` is moved aside first and deleted only after the new one is in place.
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=parent)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if os.path.exists(path):
        old = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".", suffix=".old", dir=parent)
        os.rmdir(old)
        os.replace(path, old)
    os.replace(tmp, path)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write_text(path: str, text: str):
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
