"""The append-only audit log: who read what, and what the admin changed.

Two defences stack. SQLite triggers abort any UPDATE or DELETE on ``audit`` rows, so no code path
(ours or a stray ``sqlite3`` session) can rewrite history by accident. And each row carries
``hash = sha256(prev_hash || row content)``, so an edit made after dropping the triggers breaks the
chain and :func:`verify_chain` reports it. The chain is unkeyed: someone who can write the file can
recompute every hash after an edit, or drop rows at the end; keep an out-of-band copy of the latest
hash (``store.audit_log()[-1].hash``) where that threat matters.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

__all__ = ["GENESIS", "AuditEntry", "append", "read_all", "verify_chain"]

GENESIS = "0" * 64

logger = logging.getLogger("slm_agents.store")


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log.

    Attributes:
        seq: Position in the log, from 1.
        at: When the action happened (UTC).
        role: Role of the key used: ``"admin"``, ``"curator"`` or ``"writer"``.
        fingerprint: First 16 hex digits of SHA-256 of that key's public key.
        action: ``"records"``, ``"get"``, ``"verify"``, ``"issue_key"``, ``"rotate_keys"`` or
            ``"delete_older_than"``.
        query: The filters or arguments of the action.
        count: Records returned (reads), deleted, or re-encrypted.
        prev_hash: ``hash`` of the previous row (64 zeros for the first).
        hash: SHA-256 over ``prev_hash`` and this row's content.
    """

    seq: int
    at: datetime
    role: str
    fingerprint: str
    action: str
    query: dict[str, Any] = field(default_factory=dict)
    count: int = 0
    prev_hash: str = GENESIS
    hash: str = ""


def _row_hash(
    prev_hash: str, seq: int, at: str, role: str, fp: str, action: str, query: str, count: int
) -> str:
    content = orjson.dumps([seq, at, role, fp, action, query, count])
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


def append(
    conn: sqlite3.Connection,
    *,
    role: str,
    fingerprint: str,
    action: str,
    query: dict[str, Any],
    count: int,
) -> None:
    """Append one row, chained to the last (inside the caller's write transaction)."""
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = datetime.now(timezone.utc).isoformat()
    query_text = orjson.dumps(query, option=orjson.OPT_SORT_KEYS, default=str).decode()
    digest = _row_hash(prev, seq, at, role, fingerprint, action, query_text, count)
    conn.execute(
        "INSERT INTO audit (seq, at, role, fingerprint, action, query, count, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, role, fingerprint, action, query_text, count, prev, digest),
    )


def read_all(conn: sqlite3.Connection) -> list[AuditEntry]:
    """Every audit row, oldest first."""
    rows = conn.execute(
        "SELECT seq, at, role, fingerprint, action, query, count, prev_hash, hash "
        "FROM audit ORDER BY seq"
    ).fetchall()
    entries = []
    for seq, at, role, fp, action, query, count, prev, digest in rows:
        try:
            parsed = orjson.loads(query)
        except orjson.JSONDecodeError:
            parsed = {"unparseable": query}
        entries.append(
            AuditEntry(
                seq=seq,
                at=datetime.fromisoformat(at),
                role=role,
                fingerprint=fp,
                action=action,
                query=parsed if isinstance(parsed, dict) else {"value": parsed},
                count=count,
                prev_hash=prev,
                hash=digest,
            )
        )
    return entries


def verify_chain(conn: sqlite3.Connection) -> bool:
    """Recompute the hash chain; False (and a warning naming the row) at the first break."""
    expected_prev, expected_seq = GENESIS, 1
    cursor = conn.execute(
        "SELECT seq, at, role, fingerprint, action, query, count, prev_hash, hash "
        "FROM audit ORDER BY seq"
    )
    for seq, at, role, fp, action, query, count, prev, digest in cursor:
        if seq != expected_seq:
            logger.warning("audit log: row %s found where row %s was expected", seq, expected_seq)
            return False
        if prev != expected_prev:
            logger.warning("audit log: row %s does not chain to the row before it", seq)
            return False
        if digest != _row_hash(prev, seq, at, role, fp, action, query, count):
            logger.warning("audit log: row %s was modified after it was written", seq)
            return False
        expected_prev, expected_seq = digest, seq + 1
    return True
