"""Rows in and out: sealing a batch of records into rows, and opening rows back into records."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, InvalidRecordError, TamperedRecordError
from ..records import CallRecord
from .envelope import DataKey, DecryptionError, new_data_key, unwrap, wrap
from .keys import StoreKey

__all__ = [
    "COLUMNS",
    "DataKeys",
    "PreparedBatch",
    "Row",
    "RowOpener",
    "insert_batch",
    "prepare_batch",
]

# seq, id, agent, trace_id, started_at, human_facing, batch_id, view, raw-or-NULL
Row = tuple[int, str, "str | None", "str | None", float, int, str, bytes, "bytes | None"]
COLUMNS = "r.seq, r.id, r.agent, r.trace_id, r.started_at, r.human_facing, r.batch_id, r.view"

_DEK_CACHE_MAX = 4096


@dataclass
class PreparedBatch:
    """A batch sealed under fresh data keys, ready to insert (the keys are dropped after)."""

    batch_id: str
    view_dek: bytes
    raw_dek: bytes | None
    rows: list[tuple[tuple[Any, ...], list[str]]] = field(default_factory=list)


def _check(records: list[Any], raws: list[Any]) -> None:
    if len(raws) != len(records):
        raise ConfigError(f"raws has {len(raws)} items but records has {len(records)}")
    for i, (record, raw) in enumerate(zip(records, raws, strict=True)):
        if not isinstance(record, CallRecord):
            raise TypeError(
                f"records[{i}] is a {type(record).__name__}; Store accepts only CallRecord "
                "(build one with slm_agents.CallRecord(...) or CallRecord.from_json(text))"
            )
        if raw is None:
            continue
        if not isinstance(raw, CallRecord):
            raise TypeError(f"raws[{i}] is a {type(raw).__name__}, not a CallRecord")
        if raw.id != record.id:
            raise InvalidRecordError(
                f"raws[{i}] has id {raw.id!r} but its record has id {record.id!r}; "
                "a raw form must keep its record's id"
            )


def prepare_batch(records: list[Any], raws: list[Any] | None) -> PreparedBatch:
    """Validate and seal a batch: one fresh data key for views, one for raw forms if any.

    Raises:
        TypeError: an item is not a CallRecord.
        InvalidRecordError: a raw form's id differs from its record's.
        ConfigError: ``raws`` is not as long as ``records``.
    """
    raw_list = [None] * len(records) if raws is None else raws
    _check(records, raw_list)
    batch_id = uuid.uuid4().hex
    view_dek = new_data_key()
    view_key = DataKey(view_dek, batch_id, "view")
    raw_dek = new_data_key() if any(r is not None for r in raw_list) else None
    raw_key = DataKey(raw_dek, batch_id, "raw") if raw_dek is not None else None
    batch = PreparedBatch(batch_id, view_dek, raw_dek)
    for record, raw in zip(records, raw_list, strict=True):
        sealed_raw = None
        if raw is not None and raw_key is not None:
            sealed_raw = raw_key.seal(raw.id, raw.to_json_bytes())
        values = (
            record.id,
            record.trace_id,
            record.agent,
            record.started_at.timestamp(),
            int(record.human_facing),
            int(sealed_raw is not None),
            batch_id,
            view_key.seal(record.id, record.to_json_bytes()),
            sealed_raw,
        )
        batch.rows.append((values, list(dict.fromkeys(record.tags))))
    return batch


def insert_batch(conn: sqlite3.Connection, batch: PreparedBatch, key: StoreKey) -> int:
    """Insert a prepared batch (inside the caller's transaction); returns rows newly inserted.

    ``INSERT OR IGNORE`` on the record id makes a retried batch a no-op. The data keys are sealed
    here, to ``key``'s public keys as they are at commit time, and only when a row needs them.
    """
    inserted = raw_inserted = 0
    for values, tags in batch.rows:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO records (id, trace_id, agent, started_at, human_facing, "
            "has_raw, batch_id, view, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        if cursor.rowcount != 1:
            continue
        inserted += 1
        raw_inserted += values[5]
        if tags:
            seq = cursor.lastrowid
            conn.executemany(
                "INSERT OR IGNORE INTO record_tags (seq, tag) VALUES (?, ?)",
                [(seq, tag) for tag in tags],
            )
    assert key.admin_public is not None and key.curator_public is not None
    needed: list[tuple[str, bytes, dict[str, bytes]]] = []
    if inserted:
        recipients = {"admin": key.admin_public, "curator": key.curator_public}
        needed.append(("view", batch.view_dek, recipients))
    if raw_inserted and batch.raw_dek is not None:
        needed.append(("raw", batch.raw_dek, {"admin": key.admin_public}))
    now = time.time()
    for kind, dek, recipients in needed:
        wrapped = wrap(dek, recipients, batch.batch_id, kind)
        conn.execute(
            "INSERT INTO batch_keys (batch_id, kind, created_at, wrapped_admin, wrapped_curator) "
            "VALUES (?, ?, ?, ?, ?)",
            (batch.batch_id, kind, now, wrapped["admin"], wrapped.get("curator")),
        )
    return inserted


# (batch id, kind) -> its data key, or why it could not be opened
DataKeys = dict[tuple[str, str], "DataKey | str"]


class RowOpener:
    """Opens rows with one key, caching the batches' unwrapped data keys.

    Data keys are resolved by :meth:`data_keys` in the same read transaction as the rows (under
    the store's lock), so a rotation between fetching and decrypting cannot pair rows with the
    wrong keys; decryption itself then runs outside the lock.

    Args:
        key: An admin or curator key (a writer key opens nothing).
    """

    def __init__(self, key: StoreKey) -> None:
        self.key = key
        self._cache: dict[tuple[str, str], DataKey] = {}

    def reset(self, key: StoreKey) -> None:
        """Use another key (after a rotation) and forget every cached data key."""
        self.key = key
        self._cache.clear()

    def data_keys(self, conn: sqlite3.Connection, rows: Sequence[Row], raw: bool) -> DataKeys:
        """The data keys ``rows`` need, from the cache or unwrapped from ``batch_keys``."""
        needed: set[tuple[str, str]] = set()
        for row in rows:
            needed.add((row[6], "view"))
            if raw and row[8] is not None:
                needed.add((row[6], "raw"))
        return {wanted: self._data_key(conn, *wanted) for wanted in needed}

    def _data_key(self, conn: sqlite3.Connection, batch_id: str, kind: str) -> DataKey | str:
        cached = self._cache.get((batch_id, kind))
        if cached is not None:
            return cached
        is_admin = self.key.role == "admin"
        recipient = "admin" if is_admin else "curator"
        private = self.key.admin_private if is_admin else self.key.curator_private
        assert private is not None
        hit = conn.execute(
            f"SELECT wrapped_{recipient} FROM batch_keys WHERE batch_id = ? AND kind = ?",
            (batch_id, kind),
        ).fetchone()
        if hit is None or hit[0] is None:
            return f"the batch's {kind} data key is missing"
        try:
            dek = unwrap(hit[0], private, recipient, batch_id, kind)
        except DecryptionError as exc:
            return f"the batch's {kind} data key: {exc}"
        if len(self._cache) >= _DEK_CACHE_MAX:
            self._cache.clear()
        data_key = self._cache[(batch_id, kind)] = DataKey(dek, batch_id, kind)
        return data_key

    def open(self, row: Row, keys: DataKeys, raw: bool) -> CallRecord:
        """Open one row (its raw form when asked for and kept).

        Raises:
            TamperedRecordError: a ciphertext or data key failed authentication, or the plaintext
                index columns disagree with the sealed record.
        """
        _, record_id, agent, trace_id, started_at, human_facing, batch_id, view, raw_blob = row
        kind, sealed = ("raw", raw_blob) if raw and raw_blob is not None else ("view", view)
        data_key = keys.get((batch_id, kind), "its data key was not fetched")
        if isinstance(data_key, str):
            raise TamperedRecordError(record_id, data_key)
        try:
            payload = data_key.open(record_id, sealed)
            record = CallRecord.model_validate_json(payload)
        except DecryptionError as exc:
            raise TamperedRecordError(record_id, f"{kind} payload: {exc}") from None
        except ValidationError:
            raise TamperedRecordError(record_id, f"{kind} payload is not a valid record") from None
        # The index columns are not sealed; a mismatch means someone edited them to misfile it.
        if kind == "view" and (
            record.agent != agent
            or record.trace_id != trace_id
            or record.started_at.timestamp() != started_at
            or int(record.human_facing) != human_facing
        ):
            raise TamperedRecordError(record_id, "index columns do not match the sealed record")
        return record
