"""The store's basics on a real SQLite file: round trips, filters, idempotence, opening errors."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import slm_agents as sa
from slm_agents.errors import (
    ConfigError,
    CorruptStoreError,
    InvalidKeyError,
    InvalidRecordError,
    StoreClosedError,
    StoreNotFoundError,
    WrongKeyError,
)
from slm_agents.store import Store, generate_key

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def rich_record(i: int = 0, **fields: object) -> sa.CallRecord:
    """A record using every part of the schema, including a malformed tool call."""
    values: dict[str, object] = dict(
        trace_id=f"trace-{i // 2}",
        parent_id=f"parent-{i}",
        agent="planner",
        model="gpt-4o-mini",
        provider="openai",
        messages=[
            sa.Message(role="system", content="You plan trips."),
            sa.Message(role="user", content=f"Book Oslo, request {i} — naïve café ✈"),
            sa.Message(
                role="assistant",
                tool_calls=[
                    sa.ToolCall(name="search", arguments={"city": "Oslo", "n": i}, id="c1"),
                    sa.ToolCall(
                        name="book",
                        id="c2",
                        raw_arguments='{"city": "Oslo",',
                        error="arguments are not valid JSON",
                    ),
                ],
            ),
            sa.Message(role="tool", content='{"ok": true}', tool_call_id="c1", name="search"),
        ],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "search",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        output=f"Booked {i}",
        tool_calls=[sa.ToolCall(name="confirm", arguments={"id": i, "nested": {"a": [1, 2.5]}})],
        usage=sa.Usage(input_tokens=120, output_tokens=30, cache_read_tokens=4),
        latency_ms=812.25,
        time_to_first_token_ms=90.5,
        started_at=T0 + timedelta(minutes=i),
        finish_reason="tool_calls",
        request_params={"temperature": 0.2, "stop": ["\n"]},
        tags=["prod", f"t{i % 3}"],
        metadata={"run": i, "nested": {"list": [1, None, "x"]}},
        source="langchain",
    )
    values.update(fields)
    return sa.CallRecord(**values)  # type: ignore[arg-type]


def test_when_rich_record_is_added_then_get_returns_it_unchanged(store: Store) -> None:
    record = rich_record(1)
    assert store.add(record) is True
    assert store.get(record.id) == record
    assert list(store.records()) == [record]


def test_when_batch_is_added_then_records_returns_every_record_in_start_order(
    store: Store,
) -> None:
    records = [rich_record(i) for i in range(10)]
    assert store.add_many(reversed(records)) == 10
    assert len(store) == 10
    assert list(store.records()) == records


def test_when_records_share_a_start_time_then_insertion_order_breaks_ties_across_chunks(
    store: Store,
) -> None:
    # 600 rows span three 256-row chunks, so paging must keep the order across chunk edges.
    records = [sa.CallRecord(started_at=T0, output=str(i)) for i in range(600)]
    for start in range(0, 600, 100):
        store.add_many(records[start : start + 100])
    assert [r.output for r in store.records()] == [str(i) for i in range(600)]
    assert [r.output for r in store.records(limit=300)] == [str(i) for i in range(300)]


@pytest.fixture
def filled(store: Store) -> Store:
    records = [
        rich_record(0, agent="planner", tags=["a", "b"]),
        rich_record(1, agent="planner", tags=["a"], human_facing=True),
        rich_record(2, agent="booker", tags=["b"]),
        rich_record(3, agent="booker", tags=["a", "b", "c"], human_facing=True),
        rich_record(4, agent="summariser", tags=[]),
    ]
    store.add_many(records)
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["0", "1", "2", "3", "4"]),  # no filter: everything, in start order
        ({"agent": "booker"}, ["2", "3"]),
        ({"agent": "nobody"}, []),
        ({"since": T0 + timedelta(minutes=2)}, ["2", "3", "4"]),  # since is inclusive
        ({"until": T0 + timedelta(minutes=2)}, ["0", "1"]),  # until is exclusive
        # a naive datetime means UTC
        ({"since": (T0 + timedelta(minutes=1)).replace(tzinfo=None)}, ["1", "2", "3", "4"]),
        ({"since": (T0 + timedelta(minutes=3)).timestamp()}, ["3", "4"]),  # epoch seconds
        (
            {"since": T0.astimezone(timezone(timedelta(hours=5))) + timedelta(minutes=4)},
            ["4"],
        ),  # another zone
        ({"tags": ["a"]}, ["0", "1", "3"]),
        ({"tags": ["a", "b"]}, ["0", "3"]),  # all of the tags, not any
        ({"tags": "c"}, ["3"]),  # a bare string is one tag
        ({"tags": ["a", "missing"]}, []),
        ({"human_facing": True}, ["1", "3"]),
        ({"human_facing": False}, ["0", "2", "4"]),
        ({"trace_id": "trace-1"}, ["2", "3"]),
        ({"limit": 2}, ["0", "1"]),
        ({"limit": 0}, []),
        ({"agent": "booker", "tags": ["a"], "human_facing": True}, ["3"]),  # filters combine
    ],
)
def test_when_filters_are_given_then_records_returns_only_matching_records(
    filled: Store, filters: dict[str, object], expected: list[str]
) -> None:
    got = [r.output.split()[-1] for r in filled.records(**filters)]  # type: ignore[union-attr,arg-type]
    assert got == expected


def test_when_filter_has_the_wrong_type_then_records_refuses_it(store: Store) -> None:
    with pytest.raises(TypeError):
        store.records(since="yesterday")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        store.records(limit=-1)


def test_when_same_records_are_added_again_then_nothing_is_duplicated(store: Store) -> None:
    records = [rich_record(i) for i in range(5)]
    assert store.add_many(records) == 5
    assert store.add_many(records) == 0  # a retried batch
    assert store.add(records[0]) is False
    new = rich_record(9)
    assert store.add_many([records[1], new, new]) == 1  # a duplicate inside one batch
    assert len(store) == 6
    ids = [r.id for r in store.records()]
    assert len(ids) == len(set(ids)) == 6


def test_when_item_is_not_a_record_then_add_many_refuses_the_batch(store: Store) -> None:
    with pytest.raises(TypeError, match="CallRecord"):
        store.add_many([rich_record(0), {"output": "dict"}])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        store.add("text")  # type: ignore[arg-type]
    assert len(store) == 0


def test_when_raws_do_not_line_up_with_records_then_add_many_refuses_them(store: Store) -> None:
    record = rich_record(0)
    with pytest.raises(InvalidRecordError, match="id"):
        store.add(record, raw=rich_record(1))
    with pytest.raises(ConfigError):
        store.add_many([record], raws=[None, None])
    assert store.add_many([]) == 0


def test_when_store_is_created_then_meta_holds_the_format_version(tmp_path: Path) -> None:
    Store(tmp_path / "s.db", generate_key()).close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    assert meta["format"] == "slm_agents.store"
    assert meta["format_version"] == "1"


def test_when_store_is_reopened_then_records_are_still_there(tmp_path: Path) -> None:
    key = generate_key()
    with Store(tmp_path / "s.db", key) as store:
        store.add(rich_record(0))
    with Store(str(tmp_path / "s.db"), key=key + "\n") as store:  # str path, trailing newline
        assert [r.output for r in store.records()] == ["Booked 0"]


def test_when_key_belongs_to_another_store_then_store_refuses_to_open(tmp_path: Path) -> None:
    Store(tmp_path / "s.db", generate_key()).close()
    with pytest.raises(WrongKeyError, match="does not match") as info:
        Store(tmp_path / "s.db", generate_key())
    assert "rotated" in str(info.value)


@pytest.mark.parametrize(
    "key",
    [
        "not a key",  # no known prefix
        "slm-admin-1-",  # empty body
        "slm-admin-1-" + "A" * 42,  # one character short
        "slm-admin-1-" + "!" * 43,  # not base64url
        "slm-writer-1-" + "A" * 43,  # a writer key must hold 64 bytes
        "slm-admin-2-" + "A" * 43,  # unknown key format version
        None,  # not text at all
        b"\xff\xfe",  # bytes that are not ASCII
    ],
)
def test_when_key_is_malformed_then_store_raises_invalid_key_error(
    tmp_path: Path, key: object
) -> None:
    with pytest.raises(InvalidKeyError) as info:
        Store(tmp_path / "s.db", key)  # type: ignore[arg-type]
    assert not (tmp_path / "s.db").exists()
    if isinstance(key, str) and len(key) > 12:
        assert key[12:] not in str(info.value)  # a key is never echoed back


def test_when_store_is_missing_and_key_is_not_admin_then_store_not_found(tmp_path: Path) -> None:
    with Store(tmp_path / "real.db", generate_key()) as store:
        curator, writer = store.issue_key("curator"), store.issue_key("writer")
    for key in (curator, writer):
        with pytest.raises(StoreNotFoundError, match="admin key"):
            Store(tmp_path / "missing.db", key)
    assert not (tmp_path / "missing.db").exists()


def test_when_directory_is_missing_then_store_says_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFoundError, match="does not exist"):
        Store(tmp_path / "no" / "such" / "s.db", generate_key())


def test_when_file_is_random_bytes_then_store_raises_corrupt_store_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(os.urandom(64 * 1024))
    with pytest.raises(CorruptStoreError, match="not an SQLite database"):
        Store(path, generate_key())


def test_when_store_file_is_truncated_then_store_raises_corrupt_store_error(
    tmp_path: Path,
) -> None:
    key, path = generate_key(), tmp_path / "s.db"
    with Store(path, key) as store:
        store.add_many([rich_record(i) for i in range(200)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptStoreError, match="truncated"):
        Store(path, key)


def test_when_a_page_is_overwritten_then_reading_raises_corrupt_store_error(
    tmp_path: Path,
) -> None:
    key, path = generate_key(), tmp_path / "s.db"
    with Store(path, key) as store:
        store.add_many([rich_record(i) for i in range(300)])
    with sqlite3.connect(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'records'").fetchone()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:
        fh.seek((root[0] - 1) * page_size)
        fh.write(b"\xff" * page_size)
    with pytest.raises(CorruptStoreError, match="damaged"), Store(path, key) as store:
        list(store.records())


def test_when_file_is_sqlite_but_not_a_store_then_store_raises_corrupt_store_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    conn.close()
    with pytest.raises(CorruptStoreError, match="not an slm_agents store"):
        Store(path, generate_key())


def test_when_path_is_a_directory_then_store_raises_corrupt_store_error(tmp_path: Path) -> None:
    with pytest.raises(CorruptStoreError, match="directory"):
        Store(tmp_path, generate_key())


def test_when_store_is_closed_then_every_operation_raises_store_closed_error(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "s.db", generate_key())
    store.close()
    store.close()  # closing twice is fine
    assert store.closed
    for operation in (
        lambda: store.add(rich_record(0)),
        lambda: list(store.records()),
        lambda: store.get("x"),
        lambda: len(store),
        store.verify,
        store.audit_log,
    ):
        with pytest.raises(StoreClosedError):
            operation()


def test_when_store_is_shown_then_repr_names_path_and_role_but_never_the_key(
    tmp_path: Path,
) -> None:
    key = generate_key()
    with Store(tmp_path / "s.db", key) as store:
        text = repr(store)
    assert "s.db" in text and "admin" in text
    assert key[12:] not in text and key[12:20] not in text


def test_when_record_id_is_unknown_then_get_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.get("no-such-id")


def test_when_a_synchronous_mode_is_unknown_then_store_lists_the_valid_ones(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="full, normal, extra"):
        Store(tmp_path / "s.db", generate_key(), synchronous="fast")  # type: ignore[arg-type]
