"""Admin maintenance inside one transaction: key rotation, retention deletes, physical shredding."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field

from .envelope import DataKey, DecryptionError, new_data_key, unwrap, wrap
from .keys import StoreKey

__all__ = ["IntegrityReport", "RotationResult", "delete_before", "rotate_batches", "shred"]

logger = logging.getLogger("slm_agents.store")

_CHUNK = 512


@dataclass(frozen=True)
class IntegrityReport:
    """What :meth:`Store.verify` found.

    Attributes:
        checked: Rows examined.
        ok: Rows whose every readable ciphertext authenticated.
        bad: Rows that failed.
        bad_ids: Ids of the rows that failed, in storage order.
        raw_checked: Whether raw forms were checked too (only an admin key can open them).
    """

    checked: int
    ok: int
    bad: int
    bad_ids: tuple[str, ...] = ()
    raw_checked: bool = False

    @property
    def intact(self) -> bool:
        """True when no row failed."""
        return self.bad == 0


@dataclass
class RotationResult:
    """What a rotation did: rows re-encrypted, and rows left as they were because they failed."""

    reencrypted: int = 0
    bad_ids: list[str] = field(default_factory=list)
    kept_batches: list[str] = field(default_factory=list)


def _recipients(key: StoreKey, kind: str) -> dict[str, bytes]:
    assert key.admin_public is not None and key.curator_public is not None
    if kind == "raw":
        return {"admin": key.admin_public}
    return {"admin": key.admin_public, "curator": key.curator_public}


def _reencrypt(old: DataKey, new: DataKey, record_id: str, sealed: bytes) -> bytes:
    """Open one payload under the old data key and seal it under the new one.

    Kept as a module-level function so that tests can inject a failure mid-rotation.
    """
    return new.seal(record_id, old.open(record_id, sealed))


def _store_wrapped(
    conn: sqlite3.Connection, dek: bytes, key: StoreKey, batch_id: str, kind: str
) -> None:
    wrapped = wrap(dek, _recipients(key, kind), batch_id, kind)
    conn.execute(
        "UPDATE batch_keys SET wrapped_admin = ?, wrapped_curator = ? "
        "WHERE batch_id = ? AND kind = ?",
        (wrapped["admin"], wrapped.get("curator"), batch_id, kind),
    )


def _rotate_batch(
    conn: sqlite3.Connection,
    old_dek: bytes,
    new_key: StoreKey,
    batch_id: str,
    kind: str,
    result: RotationResult,
) -> None:
    column = "view" if kind == "view" else "raw"  # fixed names, never user input
    old = DataKey(old_dek, batch_id, kind)
    new_dek = new_data_key()
    new = DataKey(new_dek, batch_id, kind)
    seqs = [
        row[0]
        for row in conn.execute(
            f"SELECT seq FROM records WHERE batch_id = ? AND {column} IS NOT NULL ORDER BY seq",
            (batch_id,),
        )
    ]
    bad: list[str] = []
    done = 0
    conn.execute("SAVEPOINT rotate_batch")
    for start in range(0, len(seqs), _CHUNK):
        chunk = seqs[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT seq, id, {column} FROM records WHERE seq IN ({marks})", chunk
        ).fetchall()
        updates = []
        for seq, record_id, sealed in rows:
            try:
                updates.append((_reencrypt(old, new, record_id, sealed), seq))
            except DecryptionError:
                bad.append(record_id)
        if not bad:
            conn.executemany(f"UPDATE records SET {column} = ? WHERE seq = ?", updates)
            done += len(updates)
    if bad:
        # A damaged row is never rewritten or dropped: the whole batch keeps its old data key
        # (re-sealed to the new public keys), so its rows stay exactly as they were.
        conn.execute("ROLLBACK TO rotate_batch")
        _store_wrapped(conn, old_dek, new_key, batch_id, kind)
        result.bad_ids.extend(bad)
        result.kept_batches.append(batch_id)
    else:
        _store_wrapped(conn, new_dek, new_key, batch_id, kind)
        result.reencrypted += done
    conn.execute("RELEASE rotate_batch")


def rotate_batches(
    conn: sqlite3.Connection, old_key: StoreKey, new_key: StoreKey
) -> RotationResult:
    """Give every batch a new data key sealed to ``new_key`` (inside the caller's transaction).

    Each batch's rows are decrypted with the old data key and re-encrypted under a fresh one. A
    batch with a row that fails authentication keeps its old data key and its rows untouched; the
    failures are listed in the result. A batch whose wrapped data key itself fails is left as it
    was (its rows were already unreadable).
    """
    assert old_key.admin_private is not None
    result = RotationResult()
    batches = conn.execute("SELECT batch_id, kind, wrapped_admin FROM batch_keys").fetchall()
    for batch_id, kind, wrapped_admin in batches:
        try:
            old_dek = unwrap(wrapped_admin, old_key.admin_private, "admin", batch_id, kind)
        except DecryptionError:
            column = "view" if kind == "view" else "raw"
            ids = conn.execute(
                f"SELECT id FROM records WHERE batch_id = ? AND {column} IS NOT NULL",
                (batch_id,),
            ).fetchall()
            result.bad_ids.extend(row[0] for row in ids)
            result.kept_batches.append(batch_id)
            continue
        _rotate_batch(conn, old_dek, new_key, batch_id, kind, result)
    return result


def delete_before(conn: sqlite3.Connection, cutoff: float) -> int:
    """Delete rows started before ``cutoff`` and the data keys no row needs any more.

    Dropping a batch's data keys crypto-shreds any copy of its ciphertexts that survives
    elsewhere (a backup, a disk block); :func:`shred` then removes the bytes from this file.
    """
    conn.execute(
        "DELETE FROM record_tags WHERE seq IN (SELECT seq FROM records WHERE started_at < ?)",
        (cutoff,),
    )
    deleted = conn.execute("DELETE FROM records WHERE started_at < ?", (cutoff,)).rowcount
    conn.execute(
        "DELETE FROM batch_keys WHERE NOT EXISTS (SELECT 1 FROM records r "
        "WHERE r.batch_id = batch_keys.batch_id "
        "AND (batch_keys.kind = 'view' OR r.raw IS NOT NULL))"
    )
    return int(deleted)


def checkpoint(conn: sqlite3.Connection) -> bool:
    """Copy the WAL into the database and truncate it; False when a reader kept it busy."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return not busy


def shred(conn: sqlite3.Connection, path: str) -> bool:
    """Rewrite the file so deleted rows' bytes are gone from it and from its WAL.

    ``secure_delete`` already zeroes freed cells; VACUUM rebuilds every page, and the checkpoints
    before and after empty the WAL, which otherwise keeps old page images until it is reused.

    Returns:
        True when every step completed; False (with a warning) when another connection kept the
        WAL busy, in which case old bytes stay in the WAL until a later checkpoint.
    """
    complete = checkpoint(conn)
    try:
        conn.execute("VACUUM")
    except sqlite3.OperationalError as exc:
        logger.warning("store %s: VACUUM failed (%s); deleted bytes may remain", path, exc)
        complete = False
    complete = checkpoint(conn) and complete
    if not complete:
        logger.warning(
            "store %s: another connection kept the WAL busy; deleted bytes stay in %s-wal until "
            "the next checkpoint (close the other readers and delete again to finish)",
            path,
            path,
        )
    return complete
