"""The embedded, encrypted, role-keyed store: one SQLite file."""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Generator, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from ..errors import ConfigError, TamperedRecordError
from ..records import CallRecord
from . import audit, maintenance
from .audit import AuditEntry
from .base import StoreBase
from .keys import admin_key_from_secret, curator_key, writer_key
from .maintenance import IntegrityReport
from .query import Filters
from .rows import COLUMNS, DataKeys, Row, insert_batch, prepare_batch

__all__ = ["Store"]

logger = logging.getLogger("slm_agents.store")

_CHUNK = 256


class Store(StoreBase):
    """An encrypted store of :class:`~slm_agents.CallRecord` in one SQLite file.

    Payloads are sealed with AES-256-GCM under per-batch data keys, and each data key is sealed to
    the curator and admin public keys (the raw, unscrubbed form to the admin only), so the key you
    open the store with decides what you can read. Every read is written to an append-only,
    hash-chained audit log. Filtering uses plaintext index columns (id, trace id, agent, start
    time, human-facing flag, tags): those are not secret.

    Args:
        path: The store file. Opening a missing path with an admin key creates the store (its
            directory must exist).
        key: Key text: ``slm-admin-1-...`` (from :func:`generate_key`), ``slm-curator-1-...`` or
            ``slm-writer-1-...`` (from :meth:`issue_key`).
        synchronous: SQLite durability: ``"full"`` (default; a committed batch survives power
            loss), ``"normal"`` (survives a process crash, faster), or ``"extra"``.

    Raises:
        InvalidKeyError: the key text is malformed.
        WrongKeyError: the key is well formed but does not belong to this store (or was retired
            by :meth:`rotate_keys`).
        StoreNotFoundError: no store at ``path`` and the key is not an admin key, or the
            directory does not exist.
        CorruptStoreError: the file is not SQLite, is truncated, or is not a store.

    Examples:
        >>> import tempfile, os
        >>> from slm_agents import CallRecord, Message, Store, generate_key
        >>> path = os.path.join(tempfile.mkdtemp(), "calls.db")
        >>> admin = generate_key()
        >>> with Store(path, admin) as store:
        ...     msg = Message(role="user", content="hi")
        ...     store.add(CallRecord(agent="planner", messages=[msg]))
        ...     writer = store.issue_key("writer")
        True
        >>> with Store(path, writer) as w:
        ...     w.add_many([CallRecord(agent="planner", output="ok")])
        1
        >>> with Store(path, admin) as store:
        ...     [r.agent for r in store.records(agent="planner")]
        ['planner', 'planner']
    """

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------

    def add(self, record: CallRecord, *, raw: CallRecord | None = None) -> bool:
        """Add one record; True if it was new, False if a record with its id was already stored.

        Args:
            record: The record (the scrubbed form when a scrubber is used).
            raw: The unscrubbed original (same id), readable only with the admin key.
        """
        return self.add_many([record], raws=None if raw is None else [raw]) == 1

    def add_many(
        self,
        records: Iterable[CallRecord],
        *,
        raws: Sequence[CallRecord | None] | None = None,
    ) -> int:
        """Add records in one transaction; a record whose id is already stored is skipped.

        Any role may write. Each call seals its batch under a fresh data key, which the store
        forgets once the batch is committed. Ids already stored are ignored, so retrying a batch
        after an error never duplicates a record.

        Args:
            records: The records (scrubbed forms when a scrubber is used).
            raws: Optional unscrubbed originals aligned with ``records`` (``None`` entries where
                there is none), sealed to the admin key only.

        Returns:
            How many records were newly inserted.

        Raises:
            TypeError: an item is not a :class:`~slm_agents.CallRecord`.
            InvalidRecordError: a raw record's id differs from its record's id.
            ConfigError: ``raws`` is not as long as ``records``.
        """
        self._require("add records", "admin", "curator", "writer")
        batch = list(records)
        prepared = prepare_batch(batch, None if raws is None else list(raws))
        if not batch:
            return 0
        return self._write(lambda conn: insert_batch(conn, prepared, self._key))

    # -- reading -----------------------------------------------------------------------------

    def records(
        self,
        *,
        agent: str | None = None,
        since: datetime | float | None = None,
        until: datetime | float | None = None,
        tags: str | Iterable[str] | None = None,
        human_facing: bool | None = None,
        trace_id: str | None = None,
        limit: int | None = None,
        raw: bool = False,
    ) -> Generator[CallRecord, None, None]:
        """Stream records matching every given filter, oldest ``started_at`` first.

        Rows are fetched in chunks, so memory stays flat on large stores. A row that fails
        authentication is logged, appended to :attr:`integrity_errors` and skipped. The read is
        audited (with the number of records returned) when the generator ends or is closed
        (``close()``, garbage collection, or :meth:`close` of the store).

        Args:
            agent: Only this agent's records.
            since: Only records started at or after this time (datetime, naive = UTC, or epoch
                seconds).
            until: Only records started before this time.
            tags: Only records having all these tags (a single string is one tag).
            human_facing: Only records with this human-facing flag.
            trace_id: Only records of this trace.
            limit: At most this many records.
            raw: Return the unscrubbed form where one was kept (admin key only).

        Raises:
            PermissionDeniedError: a writer key, or ``raw=True`` without the admin key.
        """
        self._require("read records", "admin", "curator")
        if raw:
            self._require("read raw records", "admin")
        filters = Filters.build(
            agent=agent,
            since=since,
            until=until,
            tags=tags,
            human_facing=human_facing,
            trace_id=trace_id,
            limit=limit,
        )
        iterator = self._iterate(filters, raw)
        self._iterators.add(iterator)
        return iterator

    def _iterate(self, filters: Filters, raw: bool) -> Generator[CallRecord, None, None]:
        where, params = filters.where()
        columns = COLUMNS + (", r.raw" if raw else ", NULL")
        sql = (
            f"SELECT {columns} FROM records r WHERE {where} AND (r.started_at, r.seq) > (?, ?) "
            "ORDER BY r.started_at, r.seq LIMIT ?"
        )
        count = 0
        position: tuple[float, int] = (float("-inf"), -1)
        try:
            while filters.limit is None or count < filters.limit:
                want = _CHUNK if filters.limit is None else min(_CHUNK, filters.limit - count)
                args = [*params, *position, want]
                fetch = functools.partial(self._fetch, sql=sql, args=args, raw=raw)
                rows, keys = self._read(fetch)
                for row in rows:
                    position = (row[4], row[0])
                    record = self._open_row(row, keys, raw, report=True)
                    if record is not None:
                        count += 1
                        yield record
                if len(rows) < want:
                    break
        finally:
            self._audit_on_close(filters.audit_query(raw), count)

    def _audit_on_close(self, query: dict[str, Any], count: int) -> None:
        try:
            self._audit("records", query, count)
        except Exception as exc:  # e.g. collected after close: never raise from a finaliser
            logger.warning(
                "store %s: could not audit a read of %d records: %r", self.path, count, exc
            )

    def _fetch(
        self, conn: sqlite3.Connection, sql: str, args: list[Any], raw: bool
    ) -> tuple[list[Row], DataKeys]:
        rows: list[Row] = conn.execute(sql, args).fetchall()
        return rows, self._opener.data_keys(conn, rows, raw)

    def _open_row(
        self,
        row: Row,
        keys: DataKeys,
        raw: bool,
        *,
        report: bool,
    ) -> CallRecord | None:
        try:
            return self._opener.open(row, keys, raw)
        except TamperedRecordError as exc:
            if report:
                logger.warning("store %s: %s; skipping it", self.path, exc)
                self.integrity_errors.append(exc)
            return None

    def get(self, record_id: str, *, raw: bool = False) -> CallRecord:
        """The record with this id (its raw form with ``raw=True``, admin key only).

        Raises:
            KeyError: no record has this id.
            TamperedRecordError: the row failed authentication.
            PermissionDeniedError: a writer key, or ``raw=True`` without the admin key.
        """
        self._require("read records", "admin", "curator")
        if raw:
            self._require("read raw records", "admin")
        sql = f"SELECT {COLUMNS}, {'r.raw' if raw else 'NULL'} FROM records r WHERE r.id = ?"
        rows, keys = self._read(lambda conn: self._fetch(conn, sql, [record_id], raw))
        try:
            if not rows:
                raise KeyError(record_id)
            record = self._opener.open(rows[0], keys, raw)
        except TamperedRecordError as exc:
            logger.warning("store %s: %s", self.path, exc)
            self.integrity_errors.append(exc)
            self._audit("get", {"id": record_id, "raw": raw}, 0)
            raise
        except KeyError:
            self._audit("get", {"id": record_id, "raw": raw}, 0)
            raise
        self._audit("get", {"id": record_id, "raw": raw}, 1)
        return record

    def verify(self) -> IntegrityReport:
        """Check that every row authenticates (raw forms too with the admin key).

        Returns:
            An :class:`IntegrityReport`; the check itself is audited.
        """
        self._require("verify the store", "admin", "curator")
        check_raw = self._key.role == "admin"
        columns = COLUMNS + (", r.raw" if check_raw else ", NULL")
        sql = f"SELECT {columns} FROM records r WHERE r.seq > ? ORDER BY r.seq LIMIT ?"
        checked, bad_ids, last = 0, [], -1
        while True:
            args = [last, _CHUNK]
            rows, keys = self._read(
                functools.partial(self._fetch, sql=sql, args=args, raw=check_raw)
            )
            for row in rows:
                last, checked = row[0], checked + 1
                good = self._open_row(row, keys, False, report=False) is not None
                if good and check_raw and row[8] is not None:
                    good = self._open_row(row, keys, True, report=False) is not None
                if not good:
                    bad_ids.append(row[1])
            if len(rows) < _CHUNK:
                break
        if bad_ids:
            logger.warning("store %s: %d rows failed integrity checks", self.path, len(bad_ids))
        self._audit("verify", {"raw": check_raw}, checked)
        return IntegrityReport(
            checked=checked,
            ok=checked - len(bad_ids),
            bad=len(bad_ids),
            bad_ids=tuple(bad_ids),
            raw_checked=check_raw,
        )

    # -- audit -------------------------------------------------------------------------------

    def audit_log(self) -> list[AuditEntry]:
        """Every audit entry, oldest first (admin and curator keys)."""
        self._require("read the audit log", "admin", "curator")
        return self._read(audit.read_all)

    def verify_audit(self) -> bool:
        """True when the audit log's hash chain is unbroken (a break is logged as a warning)."""
        self._require("verify the audit log", "admin", "curator")
        return self._read(audit.verify_chain)

    # -- administration ----------------------------------------------------------------------

    def issue_key(self, role: Literal["curator", "writer"]) -> str:
        """Key text for a narrower role: ``"curator"`` (admin only) or ``"writer"``.

        A curator key reads scrubbed records but never raw ones; a writer key only adds records.

        Raises:
            ConfigError: ``role`` is not ``"curator"`` or ``"writer"``.
            PermissionDeniedError: the key in use may not issue that role.
        """
        if role not in ("curator", "writer"):
            raise ConfigError(f"role={role!r} is not valid; valid values are: curator, writer")
        if role == "curator":
            self._require("issue curator keys", "admin")
        else:
            self._require("issue writer keys", "admin", "curator")
        key = self._key
        assert key.curator_public is not None and key.admin_public is not None
        if role == "curator":
            assert key.curator_private is not None
            issued = curator_key(key.curator_private, key.admin_public)
        else:
            issued = writer_key(key.curator_public, key.admin_public)
        self._audit("issue_key", {"role": role, "issued": issued.fingerprint}, 1)
        return issued.text()

    def rotate_keys(self) -> str:
        """Replace the admin secret (and so the curator key pair); re-encrypt every record.

        One SQLite transaction covers all of it, so a crash leaves either the old keys or the new
        ones in force, never a mix. Afterwards every old key (admin, curator, writer) is refused
        with :class:`WrongKeyError`; this Store switches to the new key. A batch with a row that
        fails authentication keeps its old data key and its rows untouched; those rows are
        logged and appended to :attr:`integrity_errors`.

        Returns:
            The new admin key text. Issue new curator and writer keys from it.

        Raises:
            PermissionDeniedError: not the admin key.
        """
        self._require("rotate keys", "admin")
        old = self._key
        new = admin_key_from_secret(os.urandom(32))
        assert new.admin_public is not None and new.curator_public is not None
        admin_public, curator_public = new.admin_public.hex(), new.curator_public.hex()

        def rotate(conn: sqlite3.Connection) -> maintenance.RotationResult:
            result = maintenance.rotate_batches(conn, old, new)
            epoch = uuid.uuid4().hex
            conn.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [
                    (admin_public, "admin_public"),
                    (curator_public, "curator_public"),
                    (epoch, "key_epoch"),
                ],
            )
            query = {"new_key": new.fingerprint, "bad_records": result.bad_ids[:100]}
            self._audit_in(conn, "rotate_keys", query, result.reencrypted)
            # Switch inside the lock, before COMMIT releases it, so no thread seals a new batch
            # to the retired keys.
            self._use_key(new)
            self._epoch = epoch
            return result

        try:
            result = self._write(rotate)
        except BaseException:
            self._use_key(old)  # the transaction rolled back: the old keys are still in force
            raise
        for record_id in result.bad_ids:
            exc = TamperedRecordError(record_id, "left as it was by key rotation")
            logger.warning("store %s: %s", self.path, exc)
            self.integrity_errors.append(exc)
        self._maintain(maintenance.checkpoint)
        return new.text()

    def delete_older_than(self, age: timedelta | float) -> int:
        """Delete records started more than ``age`` ago, then shred their bytes from the file.

        The batches' data keys are deleted with their last row (crypto-shredding), then the WAL
        is checkpointed and the file vacuumed so the deleted bytes are gone from disk.

        Args:
            age: A timedelta or seconds (>= 0).

        Returns:
            How many records were deleted.

        Raises:
            PermissionDeniedError: not the admin key.
            ConfigError: ``age`` is negative.
        """
        self._require("delete records", "admin")
        if isinstance(age, timedelta):
            seconds = age.total_seconds()
        elif isinstance(age, (int, float)) and not isinstance(age, bool):
            seconds = float(age)
        else:
            raise TypeError(f"age must be a timedelta or seconds, got {type(age).__name__}")
        if not seconds >= 0:
            raise ConfigError(f"age must be >= 0 seconds, got {age!r}")
        cutoff = time.time() - seconds

        def delete(conn: sqlite3.Connection) -> int:
            deleted = maintenance.delete_before(conn, cutoff)
            self._audit_in(
                conn, "delete_older_than", {"age_seconds": seconds, "cutoff": cutoff}, deleted
            )
            return deleted

        deleted = self._write(delete)
        self._maintain(lambda conn: maintenance.shred(conn, str(self.path)))
        return deleted

