"""Roles, the audit log and key rotation, on a real store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import slm_agents as sa
from slm_agents.errors import ConfigError, PermissionDeniedError, WrongKeyError
from slm_agents.store import AuditEntry, Store, generate_key
from slm_agents.store import maintenance as store_maintenance
from slm_agents.store.keys import parse_key


def record(i: int, **fields: object) -> sa.CallRecord:
    return sa.CallRecord(
        agent="planner",
        messages=[sa.Message(role="user", content=f"email bob{i}@example.com")],
        output=f"out {i}",
        **fields,  # type: ignore[arg-type]
    )


def scrubbed(raw: sa.CallRecord) -> sa.CallRecord:
    view = raw.model_copy(deep=True)
    view.messages[0].content = "email <EMAIL>"
    return view


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    admin = generate_key()
    with Store(tmp_path / "s.db", admin) as store:
        return {
            "admin": admin,
            "curator": store.issue_key("curator"),
            "writer": store.issue_key("writer"),
        }


@pytest.fixture
def path(tmp_path: Path, keys: dict[str, str]) -> Path:
    return tmp_path / "s.db"


@pytest.mark.parametrize("role", ["admin", "curator", "writer"])
def test_when_store_is_opened_then_role_follows_the_key(
    path: Path, keys: dict[str, str], role: str
) -> None:
    with Store(path, keys[role]) as store:
        assert store.role == role
        assert keys[role].startswith(f"slm-{role}-1-")


def test_when_writer_key_is_parsed_then_it_holds_no_private_key(keys: dict[str, str]) -> None:
    writer = parse_key(keys["writer"])
    assert writer.admin_private is None and writer.curator_private is None
    curator = parse_key(keys["curator"])
    assert curator.admin_private is None and curator.curator_private is not None


def test_when_writer_adds_records_then_it_cannot_read_them_back(
    path: Path, keys: dict[str, str]
) -> None:
    with Store(path, keys["writer"]) as writer:
        assert writer.add_many([record(0), record(1)]) == 2
        assert len(writer) == 2  # counting rows reads no payload
        for read in (
            writer.records,
            lambda: writer.get("x"),
            writer.verify,
            writer.audit_log,
            writer.verify_audit,
            lambda: writer.issue_key("curator"),
            writer.rotate_keys,
            lambda: writer.delete_older_than(0),
        ):
            with pytest.raises(PermissionDeniedError):
                read()
    with Store(path, keys["curator"]) as curator:
        assert [r.output for r in curator.records()] == ["out 0", "out 1"]


def test_when_raw_form_is_kept_then_only_the_admin_can_read_it(
    path: Path, keys: dict[str, str]
) -> None:
    raw = record(0)
    plain = record(1)  # no raw form kept
    with Store(path, keys["writer"]) as writer:
        writer.add_many([scrubbed(raw), plain], raws=[raw, None])
    with Store(path, keys["curator"]) as curator:
        assert [r.messages[0].content for r in curator.records()] == [
            "email <EMAIL>",
            "email bob1@example.com",
        ]
        with pytest.raises(PermissionDeniedError, match="admin"):
            curator.records(raw=True)
        with pytest.raises(PermissionDeniedError):
            curator.get(raw.id, raw=True)
    with Store(path, keys["admin"]) as admin:
        assert [r.messages[0].content for r in admin.records(raw=True)] == [
            "email bob0@example.com",
            "email bob1@example.com",  # no raw kept: the view form
        ]
        assert admin.get(raw.id, raw=True) == raw
        assert admin.get(raw.id).messages[0].content == "email <EMAIL>"


def test_when_keys_are_issued_then_each_role_may_issue_only_narrower_keys(
    path: Path, keys: dict[str, str]
) -> None:
    with Store(path, keys["curator"]) as curator:
        assert curator.issue_key("writer") == keys["writer"]
        with pytest.raises(PermissionDeniedError):
            curator.issue_key("curator")
    with Store(path, keys["admin"]) as admin, pytest.raises(ConfigError, match="curator, writer"):
        admin.issue_key("admin")  # type: ignore[arg-type]


def test_when_records_are_read_then_each_read_is_audited_with_role_and_count(
    path: Path, keys: dict[str, str]
) -> None:
    with Store(path, keys["writer"]) as writer:
        writer.add_many([record(i, tags=["x"]) for i in range(5)])
    with Store(path, keys["curator"]) as curator:
        first = list(curator.records(tags=["x"], limit=3))
        ids = [r.id for r in first]
        curator.get(ids[0])
        iterator = curator.records()
        next(iterator), next(iterator)
        iterator.close()  # a read abandoned early is audited with what it returned
        curator_fp = curator.fingerprint
    with Store(path, keys["admin"]) as admin:
        admin.verify()
        entries = admin.audit_log()
        admin_fp = admin.fingerprint
    reads = [e for e in entries if e.action != "issue_key"]
    assert [(e.role, e.action, e.count) for e in reads] == [
        ("curator", "records", 3),
        ("curator", "get", 1),
        ("curator", "records", 2),
        ("admin", "verify", 5),
    ]
    assert reads[0].query == {"tags": ["x"], "limit": 3, "raw": False}
    assert reads[1].query == {"id": ids[0], "raw": False}
    assert {e.fingerprint for e in reads} == {curator_fp, admin_fp}
    assert all(isinstance(e, AuditEntry) and len(e.fingerprint) == 16 for e in entries)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))


def test_when_store_closes_with_an_open_iterator_then_its_read_is_still_audited(
    path: Path, keys: dict[str, str]
) -> None:
    store = Store(path, keys["admin"])
    store.add_many([record(i) for i in range(3)])
    iterator = store.records()
    next(iterator)
    store.close()
    with Store(path, keys["admin"]) as admin:
        last = admin.audit_log()[-1]
    assert (last.action, last.count) == ("records", 1)


def test_when_audit_rows_are_updated_or_deleted_directly_then_sqlite_refuses(
    path: Path, keys: dict[str, str]
) -> None:
    with Store(path, keys["admin"]) as admin:
        list(admin.records())
    conn = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit SET count = 99")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit")
    finally:
        conn.close()
    with Store(path, keys["admin"]) as admin:
        assert admin.verify_audit() is True


def test_when_audit_row_is_edited_behind_the_stores_back_then_verify_audit_fails(
    path: Path, keys: dict[str, str]
) -> None:
    with Store(path, keys["admin"]) as admin:
        list(admin.records())
        admin.verify()
        assert admin.verify_audit() is True
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET count = 0, role = 'curator' WHERE action = 'records'")
    conn.commit()
    conn.close()
    with Store(path, keys["curator"]) as curator:
        assert curator.verify_audit() is False


def test_when_keys_are_rotated_then_new_key_reads_everything_and_old_keys_are_refused(
    path: Path, keys: dict[str, str]
) -> None:
    raw = record(0)
    with Store(path, keys["writer"]) as writer:
        writer.add(scrubbed(raw), raw=raw)
        writer.add_many([record(i) for i in range(1, 50)])
    with Store(path, keys["admin"]) as admin:
        before = list(admin.records(raw=True))
        new_admin = admin.rotate_keys()
        assert admin.role == "admin" and new_admin != keys["admin"]
        assert list(admin.records(raw=True)) == before  # this Store switched to the new key
        new_curator = admin.issue_key("curator")
        new_writer = admin.issue_key("writer")
        assert admin.audit_log()[-4].action == "rotate_keys"
    for role in ("admin", "curator", "writer"):
        with pytest.raises(WrongKeyError, match="rotated"):
            Store(path, keys[role])
    with Store(path, new_admin) as admin:
        assert list(admin.records(raw=True)) == before
        assert admin.verify().intact
    with Store(path, new_writer) as writer:
        writer.add(record(99))
    with Store(path, new_curator) as curator:
        assert len(list(curator.records())) == 51
        assert curator.get(raw.id).messages[0].content == "email <EMAIL>"
        with pytest.raises(PermissionDeniedError):
            curator.get(raw.id, raw=True)


def test_when_keys_are_rotated_elsewhere_then_an_open_store_with_an_old_key_stops(
    path: Path, keys: dict[str, str]
) -> None:
    writer = Store(path, keys["writer"])
    curator = Store(path, keys["curator"])
    writer.add(record(0))
    with Store(path, keys["admin"]) as admin:
        admin.rotate_keys()
    # Sealing to the retired keys would make new rows unreadable: the writer must stop instead.
    with pytest.raises(WrongKeyError):
        writer.add(record(1))
    with pytest.raises(WrongKeyError):
        list(curator.records())
    writer.close()
    curator.close()


def test_when_rotation_fails_midway_then_old_key_still_reads_everything(
    path: Path, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(path, keys["writer"]) as writer:
        for start in range(0, 300, 30):  # ten batches: the failure lands mid-way
            writer.add_many([record(i) for i in range(start, start + 30)])
    real = store_maintenance._reencrypt
    calls = {"n": 0}

    def crash_after_some_rows(*args: object) -> bytes:
        calls["n"] += 1
        if calls["n"] == 150:
            raise RuntimeError("simulated crash during rotation")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store_maintenance, "_reencrypt", crash_after_some_rows)
    with Store(path, keys["admin"]) as admin:
        with pytest.raises(RuntimeError, match="simulated"):
            admin.rotate_keys()
        assert len(list(admin.records())) == 300  # the same Store keeps working
    with Store(path, keys["admin"]) as admin:
        assert len(list(admin.records())) == 300
        assert admin.verify().intact
    with Store(path, keys["curator"]) as curator:
        assert len(list(curator.records())) == 300
