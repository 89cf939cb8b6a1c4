"""Crash-safe file operations: every state change is a new file renamed over the old one.

POSIX ``rename`` (``os.replace``) is atomic: a reader sees the old file or the new one, never a
mix. A rename is only durable once the directory that holds it is flushed, and a file's bytes only
once the file itself is, so each write goes: temporary file in the same directory, ``fsync``,
``os.replace``, ``fsync`` of the directory. A process killed at any point leaves either the old
state or the new one (plus, at worst, a stray temporary file that the next writer removes).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["TMP_PREFIX", "atomic_write_json", "copy_tree_durable", "file_lock", "flush_tree",
           "fsync_dir", "read_json", "remove_tree"]

TMP_PREFIX = ".tmp-"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (renames, new files) to disk; a no-op where unsupported."""
    if sys.platform == "win32":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically and durably.

    A failure at any step (including in ``os.replace``) leaves ``path`` as it was and removes the
    temporary file.
    """
    path = Path(path)
    payload = (json.dumps(data, indent=1, sort_keys=True, default=str) + "\n").encode("utf-8")
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:12]}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file (raises ``FileNotFoundError`` or ``json.JSONDecodeError``)."""
    with open(path, "rb") as handle:
        return json.loads(handle.read())


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_tree_durable(source: Path, target: Path) -> None:
    """Copy a directory tree and flush every file and directory of the copy to disk."""
    shutil.copytree(source, target, symlinks=False)
    flush_tree(target)


def flush_tree(root: Path) -> None:
    """``fsync`` every file and directory under ``root`` (deepest first)."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            _fsync_file(Path(folder, name))
        fsync_dir(folder)


def remove_tree(path: Path) -> None:
    """Delete a directory tree if it exists (errors ignored: it is garbage either way)."""
    shutil.rmtree(path, ignore_errors=True)


class _Lock:
    """A re-entrant thread lock plus how deep the holding thread is in it."""

    __slots__ = ("depth", "lock")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0


_LOCKS: dict[str, _Lock] = {}
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """An exclusive, re-entrant lock between threads and processes (``flock`` on POSIX).

    The lock file is never deleted (deleting it would let two processes lock two different
    files). On platforms without ``fcntl`` only threads of this process are excluded.
    """
    key = os.path.abspath(os.fspath(path))
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, _Lock())
    with lock.lock:
        lock.depth += 1
        try:
            if lock.depth > 1:  # this thread holds the file lock already
                yield
                return
            try:
                import fcntl
            except ImportError:  # pragma: no cover - Windows
                yield
                return
            with open(key, "a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            lock.depth -= 1
