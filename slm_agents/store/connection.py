"""Opening the SQLite file: pre-flight checks on the bytes, pragmas, and error translation."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError, CorruptStoreError, StoreNotFoundError
from .schema import PAGE_SIZE

__all__ = [
    "SYNCHRONOUS",
    "check_file",
    "connect",
    "create_file",
    "is_corruption",
    "translate_errors",
]

SYNCHRONOUS = ("full", "normal", "extra")
BUSY_TIMEOUT_S = 30.0

_HEADER = b"SQLite format 3\x00"
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def check_file(path: Path) -> bool:
    """Check an existing file looks like a whole SQLite database before SQLite touches it.

    Returns:
        True when the file has content, False when it is empty (a store may then be created).

    Raises:
        CorruptStoreError: the path is a directory, not SQLite, or shorter than its header says.
    """
    if path.is_dir():
        raise CorruptStoreError(f"{path} is a directory; pass the path of the store's file")
    size = path.stat().st_size
    if size == 0:
        return False
    with path.open("rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(_HEADER):
        raise CorruptStoreError(
            f"{path} is not an SQLite database (wrong header), so it is not a store; "
            "check the path, or restore the file from a backup"
        )
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    change_counter, pages = struct.unpack(">II", header[24:32])
    valid_for = struct.unpack(">I", header[92:96])[0]
    wal = path.with_name(path.name + "-wal")
    # The in-header page count is trustworthy only when it was written with the current change
    # counter, and the file may be legitimately short only while a WAL still holds pages.
    wal_has_pages = wal.exists() and wal.stat().st_size > 0
    if valid_for == change_counter and pages and not wal_has_pages and size < pages * page_size:
        raise CorruptStoreError(
            f"{path} is truncated: its header says {pages * page_size} bytes but the file has "
            f"{size}; restore the store from a backup"
        )
    return True


def connect(path: Path, synchronous: str, *, create: bool) -> sqlite3.Connection:
    """Open one connection with the store's pragmas.

    WAL mode lets readers run alongside one writer across processes; ``busy_timeout`` makes a
    second writer wait instead of failing; ``secure_delete`` zeroes freed pages so deleted rows do
    not linger; ``temp_store=MEMORY`` keeps sort and vacuum scratch data out of temporary files.
    """
    if synchronous not in SYNCHRONOUS:
        raise ConfigError(
            f"synchronous={synchronous!r} is not valid; valid values are: {', '.join(SYNCHRONOUS)}"
        )
    with translate_errors(str(path)):
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA secure_delete = ON")
            if create:
                conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise CorruptStoreError(
                    f"{path}: could not switch the store to WAL mode (got {mode!r}); "
                    "is it on a file system without shared-memory support (e.g. a network share)?"
                )
            conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        except BaseException:
            conn.close()
            raise
    return conn


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """Whether an SQLite error means the file is damaged (rather than busy, locked or misused)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


@contextlib.contextmanager
def translate_errors(path: str) -> Iterator[None]:
    """Turn SQLite's corruption errors into :class:`CorruptStoreError` naming the file."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise CorruptStoreError(
                f"{path} is damaged ({exc}); restore it from a backup. "
                "Rows that are still readable can be exported with store.records()"
            ) from exc
        raise


def create_file(path: Path) -> None:
    """Create an empty store file readable only by its owner (SQLite copies the mode to -wal/-shm).

    Raises:
        StoreNotFoundError: the parent directory does not exist.
    """
    if not path.parent.is_dir():
        raise StoreNotFoundError(
            f"cannot create a store at {path}: the directory {path.parent} does not exist; "
            "create it first"
        )
    with contextlib.suppress(FileExistsError):  # another process created it first: fine
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
