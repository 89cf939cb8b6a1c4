"""The record vocabulary: validation, JSON round trips, derived properties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import slm_agents as sa
from slm_agents.errors import InvalidRecordError


def rich_record() -> sa.CallRecord:
    return sa.CallRecord(
        trace_id="t1",
        parent_id="p1",
        agent="planner",
        model="gpt-4o",
        provider="openai",
        messages=[
            sa.Message(role="system", content="You plan."),
            sa.Message(role="user", content="Book a flight to Oslo ✈ on 2026-12-01"),
            sa.Message(role="assistant", content=None,
                       tool_calls=[sa.ToolCall(name="search", arguments={"q": "Oslo"}, id="c1")]),
            sa.Message(role="tool", content='{"flights": 3}', tool_call_id="c1", name="search"),
        ],
        tools=[{"type": "function", "function": {"name": "search", "parameters": {
            "type": "object", "properties": {"q": {"type": "string"}}}}}],
        output=None,
        tool_calls=[sa.ToolCall(name="book", arguments={"id": 7, "seats": [1, 2]}, id="c2"),
                    sa.ToolCall(name="book", raw_arguments='{"id": 7,', error="bad JSON")],
        usage=sa.Usage(input_tokens=120, output_tokens=30, cache_read_tokens=100),
        latency_ms=812.5,
        started_at=datetime(2026, 11, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        finish_reason="tool_calls",
        request_params={"temperature": 0.2},
        tags=["prod"],
        metadata={"nested": {"a": [1, 2.5, None, True]}},
        source="trace",
    )


def test_when_rich_record_round_trips_through_json_then_it_is_equal() -> None:
    record = rich_record()
    assert sa.CallRecord.from_json(record.to_json()) == record
    assert sa.CallRecord.from_json(record.to_json_bytes()) == record


def test_started_at_is_normalised_to_utc_and_naive_times_are_taken_as_utc() -> None:
    assert rich_record().started_at == datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)
    naive = sa.CallRecord(started_at=datetime(2026, 1, 1, 8, 0))
    assert naive.started_at.tzinfo == timezone.utc and naive.started_at.hour == 8


def test_when_field_is_misspelt_then_record_refuses_it() -> None:
    with pytest.raises(ValueError):
        sa.CallRecord(mesages=[])  # type: ignore[call-arg]


def test_when_json_is_not_a_record_then_a_typed_error_is_raised() -> None:
    with pytest.raises(InvalidRecordError):
        sa.CallRecord.from_json('{"messages": 3}')


def test_derived_properties_read_tools_usage_and_success() -> None:
    record = rich_record()
    assert record.tool_names == ["search"]
    assert record.usage.total_tokens == 150
    assert record.succeeded
    assert not sa.CallRecord(error="boom").succeeded
    assert sa.Usage().total_tokens == 0


def test_each_record_gets_a_distinct_id_by_default() -> None:
    assert len({sa.CallRecord().id for _ in range(100)}) == 100
