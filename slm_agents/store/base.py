"""What every Store does before any record moves: open and check the file, hold the key, run
transactions on one lock-guarded connection per process, and close."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Callable, Generator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

from ..errors import (
    ConfigError,
    CorruptStoreError,
    PermissionDeniedError,
    StoreClosedError,
    StoreNotFoundError,
    TamperedRecordError,
    WrongKeyError,
)
from ..records import CallRecord
from . import audit
from .connection import SYNCHRONOUS, check_file, connect, create_file, translate_errors
from .keys import Role, StoreKey, parse_key
from .rows import RowOpener
from .schema import create_schema, read_meta, table_names

__all__ = ["StoreBase"]

logger = logging.getLogger("slm_agents.store")

_T = TypeVar("_T")
_LIVE: weakref.WeakSet[StoreBase] = weakref.WeakSet()
# Connections inherited through fork(): never used or closed in the child (closing them could
# touch the parent's locks or WAL), only kept alive so the garbage collector does not close them.
_INHERITED: list[sqlite3.Connection] = []


def _after_fork_in_child() -> None:
    # A lock held by another parent thread at fork time would never be released in the child.
    for store in list(_LIVE):
        store._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class StoreBase:
    """Opening, the key, the connection and transactions; :class:`Store` adds the operations.

    See :class:`~slm_agents.store.Store` for the arguments and errors.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: str,
        *,
        synchronous: Literal["full", "normal", "extra"] = "full",
    ) -> None:
        self._key: StoreKey = parse_key(key)
        self.path = Path(os.fspath(path))
        if synchronous not in SYNCHRONOUS:
            raise ConfigError(
                f"synchronous={synchronous!r} is not valid; valid values are: "
                f"{', '.join(SYNCHRONOUS)}"
            )
        self.synchronous = synchronous
        #: Rows that failed authentication during reads (each also logged as a warning).
        self.integrity_errors: list[TamperedRecordError] = []
        self._lock = threading.Lock()
        self._closed = False
        self._epoch = ""
        self._opener = RowOpener(self._key)
        self._iterators: weakref.WeakSet[Generator[CallRecord, None, None]] = weakref.WeakSet()
        self._conn = self._open()
        self._pid = os.getpid()
        _LIVE.add(self)

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        path, role = self.path, self._key.role
        if not path.exists():
            if role != "admin":
                raise StoreNotFoundError(
                    f"no store at {path}; check the path (only an admin key from "
                    "slm_agents.generate_key() can create a new store)"
                )
            create_file(path)
            has_content = False
        else:
            has_content = check_file(path)
        conn = connect(path, self.synchronous, create=not has_content)
        try:
            with translate_errors(str(path)):
                if not table_names(conn):
                    self._create(conn)
                conn.execute("BEGIN")
                try:
                    meta = read_meta(conn, str(path))
                finally:
                    conn.execute("COMMIT")
                self._accept_meta(meta)
        except BaseException:
            conn.close()
            raise
        return conn

    def _create(self, conn: sqlite3.Connection) -> None:
        if self._key.role != "admin":
            raise StoreNotFoundError(
                f"{self.path} is empty, not a store yet; open it with the admin key to create one"
            )
        assert self._key.admin_public is not None and self._key.curator_public is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not table_names(conn):  # another process may have created it while we waited
                create_schema(
                    conn,
                    {
                        "admin_public": self._key.admin_public.hex(),
                        "curator_public": self._key.curator_public.hex(),
                        "key_epoch": uuid.uuid4().hex,
                        "created_at": datetime.now(timezone.utc).isoformat(),
                    },
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _accept_meta(self, meta: dict[str, str]) -> None:
        """Check the key against the store's public keys and remember the key epoch."""
        try:
            admin_public = bytes.fromhex(meta["admin_public"])
            curator_public = bytes.fromhex(meta["curator_public"])
        except ValueError:
            raise CorruptStoreError(f"{self.path}: the store's public keys are damaged") from None
        key = self._key
        matches = {
            "admin": key.admin_public == admin_public and key.curator_public == curator_public,
            "curator": key.curator_public == curator_public,
            "writer": key.admin_public == admin_public and key.curator_public == curator_public,
        }[key.role]
        if not matches:
            raise WrongKeyError(
                f"this {key.role} key does not belong to the store at {self.path}: its public key "
                "does not match the store's. Use the key this store was created or issued with; "
                "if the store's keys were rotated, this key was retired, so ask the admin for a "
                "new one"
            )
        if key.role == "curator":
            key = key.with_admin_public(admin_public)
        if meta["key_epoch"] != self._epoch or key is not self._key:
            self._use_key(key)
        self._epoch = meta["key_epoch"]

    def _use_key(self, key: StoreKey) -> None:
        self._key = key
        self._opener.reset(key)

    def _check_epoch(self, conn: sqlite3.Connection) -> None:
        """Inside a transaction: notice a rotation made by another connection."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'key_epoch'").fetchone()
        if row is None or row[0] != self._epoch:
            self._accept_meta(read_meta(conn, str(self.path)))

    # -- connection use ----------------------------------------------------------------------

    def _conn_locked(self) -> sqlite3.Connection:
        """The connection for this process (call with ``self._lock`` held)."""
        if self._closed:
            raise StoreClosedError(f"the store at {self.path} is closed; open a new Store")
        if self._pid != os.getpid():
            # After fork the parent's connection must not be used here: open our own.
            _INHERITED.append(self._conn)
            self._conn = self._open()
            self._pid = os.getpid()
        return self._conn

    def _read(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn`` in one read transaction (a consistent snapshot), under the lock."""
        with self._lock:
            conn = self._conn_locked()
            with translate_errors(str(self.path)):
                conn.execute("BEGIN")
                try:
                    self._check_epoch(conn)
                    return fn(conn)
                finally:
                    conn.execute("COMMIT")

    def _write(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn`` in one ``BEGIN IMMEDIATE`` write transaction, under the lock."""
        with self._lock:
            conn = self._conn_locked()
            with translate_errors(str(self.path)):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    self._check_epoch(conn)
                    result = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result

    def _require(self, action: str, *roles: Role) -> None:
        if self._closed:
            raise StoreClosedError(f"the store at {self.path} is closed; open a new Store")
        if self._key.role not in roles:
            allowed = " or ".join(roles)
            raise PermissionDeniedError(
                f"a {self._key.role} key may not {action}; open the store with the {allowed} key"
            )

    def _audit(self, action: str, query: dict[str, Any], count: int) -> None:
        self._write(lambda conn: self._audit_in(conn, action, query, count))

    def _audit_in(
        self, conn: sqlite3.Connection, action: str, query: dict[str, Any], count: int
    ) -> None:
        audit.append(
            conn,
            role=self._key.role,
            fingerprint=self._key.fingerprint,
            action=action,
            query=query,
            count=count,
        )

    # -- properties and lifecycle ------------------------------------------------------------

    @property
    def role(self) -> Role:
        """The role of the key this store was opened with: admin, curator or writer."""
        return self._key.role

    @property
    def fingerprint(self) -> str:
        """The audit-log fingerprint of the key in use (safe to show; reveals nothing)."""
        return self._key.fingerprint

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close the store; open ``records()`` iterators are closed first (their reads audited)."""
        if self._closed:
            return
        for iterator in list(self._iterators):
            try:
                iterator.close()
            except ValueError:  # running in another thread right now; it audits when it ends
                pass
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pid == os.getpid():
                self._conn.close()
            else:
                _INHERITED.append(self._conn)
            self._opener.reset(self._key)
        _LIVE.discard(self)

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return f"Store({str(self.path)!r}, role={self._key.role!r}{state})"

    def __len__(self) -> int:
        with self._lock:
            conn = self._conn_locked()
            with translate_errors(str(self.path)):
                return int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def _maintain(self, fn: Callable[[sqlite3.Connection], object]) -> None:
        """Run a checkpoint or VACUUM outside any transaction, under the lock."""
        with self._lock:
            conn = self._conn_locked()
            with translate_errors(str(self.path)):
                fn(conn)

