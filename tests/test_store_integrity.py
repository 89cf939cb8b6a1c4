"""What reaches the disk, what happens when it is altered, and what deletion leaves behind."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import slm_agents as sa
from slm_agents.errors import TamperedRecordError
from slm_agents.store import IntegrityReport, Store, generate_key

VISIBLE_AGENT = "agent-visible-in-index"  # plaintext index value: a positive control for the grep
SECRETS = {
    "message": b"sk-live-PLANTED-SECRET-42",
    "email": b"planted.person@example.org",
    "tool_argument": b"TOOL-ARG-VALUE-93e1c7",
    "malformed_arguments": b"RAW-ARGS-VALUE-0b5e",
    "output": b"OUTPUT-SECRET-d41f",
    "metadata": b"METADATA-SECRET-5c2d",
    "raw_only": b"RAW-ONLY-SECRET-77aa",
}


def secret_record(i: int) -> tuple[sa.CallRecord, sa.CallRecord]:
    """A scrubbed view and its raw original, with secrets planted in every free-text field."""
    s = {k: v.decode() for k, v in SECRETS.items()}
    raw = sa.CallRecord(
        agent=VISIBLE_AGENT,
        messages=[
            sa.Message(role="user", content=f"key {s['message']} mail {s['email']} #{i}"),
            sa.Message(
                role="assistant",
                tool_calls=[
                    sa.ToolCall(name="send", arguments={"token": s["tool_argument"]}, id="c1"),
                    sa.ToolCall(name="bad", raw_arguments=f'{{"x": "{s["malformed_arguments"]}'),
                ],
            ),
        ],
        output=f"done {s['output']}",
        metadata={"note": s["metadata"]},
        error=f"failed with {s['raw_only']}",
    )
    view = raw.model_copy(update={"error": "failed with <SECRET>"})
    return view, raw


def files_containing(directory: Path, needle: bytes) -> list[str]:
    return [p.name for p in directory.iterdir() if p.is_file() and needle in p.read_bytes()]


def assert_no_secret_on_disk(directory: Path) -> None:
    for name, secret in SECRETS.items():
        assert files_containing(directory, secret) == [], f"{name} secret found on disk"
    # The grep does see the files: the plaintext index value is there.
    assert files_containing(directory, VISIBLE_AGENT.encode())


def test_when_secrets_are_stored_then_no_file_ever_holds_them_in_plaintext(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    store = Store(path, generate_key())
    pairs = [secret_record(i) for i in range(40)]
    store.add_many([v for v, _ in pairs], raws=[r for _, r in pairs])
    view, raw = secret_record(99)
    store.add(view, raw=raw)
    wal = tmp_path / "s.db-wal"
    assert wal.exists() and wal.stat().st_size > 0  # the WAL is live, not checkpointed
    assert_no_secret_on_disk(tmp_path)
    assert len(list(store.records(raw=True))) == 41
    assert SECRETS["raw_only"].decode() in store.get(pairs[0][0].id, raw=True).error  # type: ignore[operator]
    assert_no_secret_on_disk(tmp_path)
    store.close()
    assert not wal.exists()
    assert_no_secret_on_disk(tmp_path)


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Path, str, list[sa.CallRecord]]:
    key = generate_key()
    records = [sa.CallRecord(agent="a", output=f"out {i}") for i in range(6)]
    with Store(tmp_path / "s.db", key) as store:
        store.add_many(records[:3])
        store.add_many(records[3:])
    return tmp_path / "s.db", key, records


def tamper(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def view_of(path: Path, record_id: str) -> bytes:
    conn = sqlite3.connect(path)
    (blob,) = conn.execute("SELECT view FROM records WHERE id = ?", (record_id,)).fetchone()
    conn.close()
    return bytes(blob)


def test_when_a_ciphertext_byte_is_flipped_then_that_row_is_reported_and_skipped(
    filled: tuple[Path, str, list[sa.CallRecord]], caplog: pytest.LogCaptureFixture
) -> None:
    path, key, records = filled
    blob = bytearray(view_of(path, records[1].id))
    blob[40] ^= 0x01
    tamper(path, "UPDATE records SET view = ? WHERE id = ?", bytes(blob), records[1].id)
    with Store(path, key) as store:
        with caplog.at_level(logging.WARNING, logger="slm_agents.store"):
            got = list(store.records())
        assert [r.id for r in got] == [r.id for i, r in enumerate(records) if i != 1]
        assert [e.record_id for e in store.integrity_errors] == [records[1].id]
        assert isinstance(store.integrity_errors[0], TamperedRecordError)
        assert records[1].id in caplog.text
        with pytest.raises(TamperedRecordError):
            store.get(records[1].id)
        report = store.verify()
    assert report == IntegrityReport(6, 5, 1, (records[1].id,), raw_checked=True)
    assert not report.intact


def test_when_two_rows_ciphertexts_are_swapped_then_both_fail_authentication(
    filled: tuple[Path, str, list[sa.CallRecord]],
) -> None:
    path, key, records = filled
    a, b = view_of(path, records[0].id), view_of(path, records[1].id)
    tamper(path, "UPDATE records SET view = ? WHERE id = ?", b, records[0].id)
    tamper(path, "UPDATE records SET view = ? WHERE id = ?", a, records[1].id)
    with Store(path, key) as store:
        assert len(list(store.records())) == 4
        assert {e.record_id for e in store.integrity_errors} == {records[0].id, records[1].id}


def test_when_a_ciphertext_is_moved_to_another_batch_then_it_fails_authentication(
    filled: tuple[Path, str, list[sa.CallRecord]],
) -> None:
    path, key, records = filled
    conn = sqlite3.connect(path)
    (other_batch,) = conn.execute(
        "SELECT batch_id FROM records WHERE id = ?", (records[4].id,)
    ).fetchone()
    conn.close()
    tamper(path, "UPDATE records SET batch_id = ? WHERE id = ?", other_batch, records[0].id)
    with Store(path, key) as store:
        assert store.verify().bad_ids == (records[0].id,)


def test_when_an_index_column_is_edited_then_the_row_is_reported(
    filled: tuple[Path, str, list[sa.CallRecord]],
) -> None:
    path, key, records = filled
    tamper(path, "UPDATE records SET agent = 'someone-else' WHERE id = ?", records[2].id)
    with Store(path, key) as store:
        assert len(list(store.records())) == 5
        assert "index columns" in store.integrity_errors[0].reason


def test_when_a_wrapped_data_key_is_altered_then_its_whole_batch_is_reported(
    filled: tuple[Path, str, list[sa.CallRecord]],
) -> None:
    path, key, records = filled
    tamper(
        path,
        "UPDATE batch_keys SET wrapped_admin = zeroblob(93) WHERE batch_id = "
        "(SELECT batch_id FROM records WHERE id = ?)",
        records[0].id,
    )
    with Store(path, key) as store:
        assert [r.id for r in store.records()] == [r.id for r in records[3:]]
        assert store.verify().bad == 3


def test_when_keys_are_rotated_with_a_tampered_row_then_it_is_kept_untouched_and_reported(
    filled: tuple[Path, str, list[sa.CallRecord]],
) -> None:
    path, key, records = filled
    blob = bytearray(view_of(path, records[0].id))
    blob[-1] ^= 0x80
    tamper(path, "UPDATE records SET view = ? WHERE id = ?", bytes(blob), records[0].id)
    with Store(path, key) as store:
        new_key = store.rotate_keys()
        assert [e.record_id for e in store.integrity_errors] == [records[0].id]
    assert view_of(path, records[0].id) == bytes(blob)  # not rewritten, not dropped
    with Store(path, new_key) as store:
        assert [r.id for r in store.records()] == [r.id for r in records[1:]]
        assert store.verify().bad_ids == (records[0].id,)


def test_when_old_records_are_deleted_then_their_bytes_are_gone_from_the_file(
    tmp_path: Path,
) -> None:
    path, key = tmp_path / "s.db", generate_key()
    old = datetime.now(timezone.utc) - timedelta(days=10)
    doomed = [
        sa.CallRecord(agent="doomed-agent-e4b1", tags=["doomed-tag-77"], started_at=old,
                      output=f"old {i}")
        for i in range(40)
    ]
    kept = [sa.CallRecord(agent="kept", output=f"new {i}") for i in range(5)]
    mixed_old = sa.CallRecord(agent="doomed-agent-e4b1", started_at=old, output="old mixed")
    with Store(path, key) as store:
        store.add_many(doomed[:20])
        store.add_many(doomed[20:])
        store.add_many([mixed_old, *kept])  # this batch's data key must survive
        list(store.records())
    ciphertexts = [view_of(path, r.id) for r in [*doomed, mixed_old]]
    with Store(path, key) as store:
        assert store.delete_older_than(timedelta(days=1)) == 41
        assert [r.output for r in store.records()] == [r.output for r in kept]
        assert len(store) == 5
        assert store.delete_older_than(3600.0) == 0
        entry = [e for e in store.audit_log() if e.action == "delete_older_than"][0]
        assert entry.count == 41 and entry.role == "admin"
        needles = [b"doomed-agent-e4b1", b"doomed-tag-77", *(r.id.encode() for r in doomed)]
        needles += [c[i : i + 32] for c in ciphertexts for i in (12, len(c) // 2, len(c) - 32)]
        for needle in needles:  # checked while the store is open, WAL included
            assert files_containing(tmp_path, needle) == []
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM batch_keys").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM record_tags").fetchone()[0] == 0
    conn.close()
    for needle in needles:
        assert files_containing(tmp_path, needle) == []


def test_when_age_is_negative_then_delete_older_than_refuses(store: Store) -> None:
    with pytest.raises(sa.errors.ConfigError):
        store.delete_older_than(-1)
    with pytest.raises(TypeError):
        store.delete_older_than("1 day")  # type: ignore[arg-type]


def test_when_records_are_deleted_then_recent_ones_stay_readable_and_verified(
    store: Store,
) -> None:
    now = time.time()
    store.add_many(
        [sa.CallRecord(started_at=datetime.fromtimestamp(now - age, timezone.utc)) for age in
         (10, 100, 1000)]
    )
    assert store.delete_older_than(50) == 2
    assert store.verify().intact and store.verify_audit()
