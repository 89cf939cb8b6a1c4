"""The store's tables, its format version, and the checks that a file really is a store.

What is stored in plaintext, on purpose, so that filtering needs no key: the record id, trace id,
agent name, start time (epoch seconds), the human-facing flag, the tags, whether a raw form was
kept, and the batch id. These are *not secret*; do not put secrets in agent names or tags.
Everything else (messages, outputs, tool specs and arguments, metadata, errors, parameters) lives
only inside the AES-GCM ciphertexts ``records.view`` and ``records.raw``.
"""

from __future__ import annotations

import sqlite3

from ..errors import CorruptStoreError

__all__ = ["FORMAT", "FORMAT_VERSION", "create_schema", "read_meta"]

FORMAT = "slm_agents.store"
FORMAT_VERSION = 1

# Page size is set before the first table. Records of a few KB each span fewer overflow pages with
# 16 KB pages: measured ~15% faster ingest and reads than 4 KB pages, for ~10% more file.
PAGE_SIZE = 16384

_DDL = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE batch_keys (
    batch_id        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('view', 'raw')),
    created_at      REAL NOT NULL,
    wrapped_admin   BLOB NOT NULL,
    wrapped_curator BLOB,            -- NULL for raw keys: only the admin may open raw payloads
    PRIMARY KEY (batch_id, kind)
) WITHOUT ROWID;

CREATE TABLE records (
    seq          INTEGER PRIMARY KEY,  -- insertion order (ties on started_at)
    id           TEXT NOT NULL UNIQUE,
    trace_id     TEXT,
    agent        TEXT,
    started_at   REAL NOT NULL,
    human_facing INTEGER NOT NULL,
    has_raw      INTEGER NOT NULL,
    batch_id     TEXT NOT NULL,
    view         BLOB NOT NULL,        -- nonce || AES-GCM(view DEK, record JSON)
    raw          BLOB                  -- nonce || AES-GCM(raw DEK, raw record JSON), or NULL
);
CREATE INDEX records_started ON records (started_at, seq);
CREATE INDEX records_agent ON records (agent, started_at);
CREATE INDEX records_trace ON records (trace_id);
CREATE INDEX records_batch ON records (batch_id);

CREATE TABLE record_tags (
    seq INTEGER NOT NULL,              -- records.seq
    tag TEXT NOT NULL,
    PRIMARY KEY (seq, tag)
) WITHOUT ROWID;
CREATE INDEX record_tags_tag ON record_tags (tag);

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    role        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    action      TEXT NOT NULL,
    query       TEXT NOT NULL,
    count       INTEGER NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
-- Append-only in the engine itself, not only in our API. (Someone with raw write access to the
-- file can drop these triggers; the hash chain is what then reveals the edit.)
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be updated'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be deleted'); END;
"""


def create_schema(conn: sqlite3.Connection, meta: dict[str, str]) -> None:
    """Create every table in an empty database (inside the caller's transaction)."""
    for statement in _DDL.split(";\n"):
        # Trigger bodies contain ';' followed by ' END', never ';\n', so splitting is safe.
        if statement.strip():
            conn.execute(statement)
    rows = {"format": FORMAT, "format_version": str(FORMAT_VERSION), **meta}
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", list(rows.items()))


def table_names(conn: sqlite3.Connection) -> set[str]:
    """Names of the tables in the database."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def read_meta(conn: sqlite3.Connection, path: str) -> dict[str, str]:
    """Read and check the ``meta`` table of an existing store.

    Raises:
        CorruptStoreError: the database is not an ``slm_agents`` store, is missing tables, or was
            written by a newer format version than this code understands.
    """
    tables = table_names(conn)
    if "meta" not in tables:
        raise CorruptStoreError(
            f"{path} is an SQLite database but not an slm_agents store (it has no 'meta' table); "
            "pass the path of a store created by slm_agents.Store"
        )
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("format") != FORMAT:
        raise CorruptStoreError(
            f"{path} is an SQLite database but not an slm_agents store (meta.format is "
            f"{meta.get('format')!r}, expected {FORMAT!r})"
        )
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        raise CorruptStoreError(f"{path}: the store's format version is unreadable") from None
    if version > FORMAT_VERSION:
        raise CorruptStoreError(
            f"{path} uses store format version {version}, newer than this slm_agents supports "
            f"({FORMAT_VERSION}); upgrade slm_agents to open it"
        )
    missing = {"batch_keys", "records", "record_tags", "audit"} - tables
    needed = {"admin_public", "curator_public", "key_epoch"} - set(meta)
    if missing or needed:
        raise CorruptStoreError(
            f"{path} is a damaged slm_agents store: missing "
            f"{', '.join(sorted(missing | needed))}"
        )
    return meta
