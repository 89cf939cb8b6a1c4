"""What a call is for clustering: masked templates, content text, output kind, weighted rows."""

from __future__ import annotations

import numpy as np
import pytest

from slm_agents.cluster.features import (
    FeatureSpace,
    as_items,
    check_weights,
    content_text,
    mask_template,
    output_kind,
    view_of,
)
from slm_agents.errors import ClusteringError, ConfigError
from slm_agents.records import CallRecord, Message, ToolCall

WEIGHTS = {"text": 1.0, "agent": 0.5, "template": 0.5, "tools": 0.5, "output": 0.5}


@pytest.mark.parametrize(("text", "masked"), [
    # ISO date and a number
    ("Today is 2024-05-01, you have 3 tasks.", "Today is <date>, you have <num> tasks."),
    # date-time with zone, then a time of day
    ("Now: 2024-05-01T10:30:00Z, meeting at 14:45", "Now: <date>, meeting at <time>"),
    # numeric and month-name dates; "may" the verb is left alone
    ("Due 03/12/2024 or March 3, 2024; you may ask", "Due <date> or <date>; you may ask"),
    # e-mail and URL
    ("Write to ann@example.org or see https://x.io/a?b=1", "Write to <email> or see <url>"),
    # UUID and an order id mixing letters and digits
    ("Session 123e4567-e89b-12d3-a456-426614174000, order AB-12345",
     "Session <id>, order <id>"),
    # quoted strings, not apostrophes inside words
    ("User 'Ann' said \"hi\" and didn't wait", "User <str> said <str> and didn't wait"),
    # weekday and a 12-hour time
    ("Open Monday from 9am", "Open <day> from <time>"),
    # runs of whitespace collapse
    ("You  are\n\n a helper", "You are a helper"),
])
def test_mask_template_replaces_each_kind_of_variable_part(text: str, masked: str) -> None:
    assert mask_template(text) == masked


def test_two_prompts_of_one_template_mask_to_the_same_text() -> None:
    first = "You help user 4411 (ann@x.org). Today is 2024-05-01."
    second = "You help user 98 (bob@y.com). Today is 2025-12-31."
    assert mask_template(first) == mask_template(second)


def test_content_is_the_last_user_turn_and_the_tool_results_after_it() -> None:
    record = CallRecord(messages=[
        Message(role="system", content="You are a travel agent."),
        Message(role="user", content="old question"),
        Message(role="assistant", content="old answer"),
        Message(role="user", content="Flights to Rome?"),
        Message(role="assistant", tool_calls=[ToolCall(name="search", arguments={})]),
        Message(role="tool", name="search", content='{"flights": 2}'),
    ])
    assert content_text(record) == 'Flights to Rome?\nsearch: {"flights": 2}'


def test_content_falls_back_to_the_last_non_system_message() -> None:
    record = CallRecord(messages=[Message(role="system", content="S"),
                                  Message(role="assistant", content="draft")])
    assert content_text(record) == "draft"


@pytest.mark.parametrize(("record", "kind"), [
    # a tool call names the tool
    (CallRecord(tool_calls=[ToolCall(name="search")]), "tool:search"),
    # several tools are sorted and joined
    (CallRecord(tool_calls=[ToolCall(name="b"), ToolCall(name="a")]), "tool:a+b"),
    # a text answer
    (CallRecord(output="hello"), "text"),
    # a failed call
    (CallRecord(error="timeout"), "error"),
    # a call not answered yet (being routed): unknown
    (CallRecord(), None),
])
def test_output_kind_names_the_tool_called_or_text(record: CallRecord, kind: str | None) -> None:
    assert output_kind(record) == kind


def test_a_string_has_only_text_and_a_record_has_every_signal() -> None:
    text_view = view_of("  hello  ")
    assert (text_view.text, text_view.agent, text_view.tools, text_view.output) == (
        "hello", None, None, None)
    record = CallRecord(agent="a", messages=[Message(role="user", content="hi")],
                        tools=[{"type": "function", "function": {"name": "t"}}], output="x")
    view = view_of(record)
    assert (view.agent, view.tools, view.output, view.template) == ("a", ("t",), "text", "")


def test_rows_dot_product_is_the_weighted_share_of_agreeing_signals() -> None:
    views = [view_of(CallRecord(agent=a, messages=[Message(role="user", content="q")],
                                output="x")) for a in ("a", "b")]
    space = FeatureSpace.fit(views, WEIGHTS, text_dim=2)
    rows, present = space.transform(views, np.array([[1.0, 0.0], [1.0, 0.0]], np.float32))
    assert present.tolist() == [3.0, 3.0]
    # Same text, template, tools and output; different agent: 3.0 - 0.5 of 3.0 agree.
    assert rows[0] @ rows[1] == pytest.approx(2.5)
    assert rows[0] @ rows[0] == pytest.approx(3.0)


def test_a_zero_weight_leaves_its_signal_out_entirely() -> None:
    views = [view_of(CallRecord(agent=a, output="x")) for a in ("a", "b")]
    space = FeatureSpace.fit(views, {**WEIGHTS, "agent": 0.0}, text_dim=2)
    assert "agent" not in space.slices
    rows, _ = space.transform(views, np.zeros((2, 2), np.float32))
    assert np.array_equal(rows[0], rows[1])


def test_an_unknown_output_is_absent_rather_than_different() -> None:
    answered = view_of(CallRecord(messages=[Message(role="user", content="q")], output="x"))
    pending = view_of(CallRecord(messages=[Message(role="user", content="q")]))
    space = FeatureSpace.fit([answered], WEIGHTS, text_dim=2)
    rows, present = space.transform([answered, pending],
                                    np.array([[1.0, 0.0], [1.0, 0.0]], np.float32))
    assert present[1] == present[0] - WEIGHTS["output"]
    assert rows[0] @ rows[1] / present[1] == pytest.approx(1.0)


def test_feature_space_round_trips_through_a_dict() -> None:
    views = [view_of(CallRecord(agent="a", output="x")), view_of("plain")]
    space = FeatureSpace.fit(views, WEIGHTS, text_dim=3)
    again = FeatureSpace.from_dict(space.to_dict())
    vectors = np.eye(2, 3, dtype=np.float32)
    assert np.array_equal(space.transform(views, vectors)[0], again.transform(views, vectors)[0])


@pytest.mark.parametrize(("items", "message"), [
    # a single string is not a list of items
    ("hello", "sequence"),
    # nor a single record
    (CallRecord(), "sequence"),
    # numbers are not calls
    ([1, 2], "accepted forms"),
    # a dict must hold record fields
    ([{"no_such_field": 1}], "not a valid CallRecord"),
    # not iterable at all
    (42, "sequence"),
])
def test_items_of_the_wrong_form_raise_a_clustering_error_listing_the_forms(
        items: object, message: str) -> None:
    with pytest.raises(ClusteringError, match=message):
        as_items(items)


def test_dicts_of_record_fields_become_records() -> None:
    [record] = as_items([{"agent": "a", "output": "x"}])
    assert isinstance(record, CallRecord) and record.agent == "a"


@pytest.mark.parametrize("weights", [
    # every weight zero
    dict.fromkeys(WEIGHTS, 0.0),
    # a negative weight
    {**WEIGHTS, "agent": -1.0},
    # not a number
    {**WEIGHTS, "tools": "high"},
    # infinite
    {**WEIGHTS, "text": float("inf")},
])
def test_invalid_weights_raise_a_config_error(weights: dict) -> None:
    with pytest.raises(ConfigError):
        check_weights(weights)
