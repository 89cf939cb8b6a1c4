"""``@rec.trace`` on plain sync and async functions that speak OpenAI-style messages."""

from __future__ import annotations

import asyncio

import pytest

import slm_agents as sa
from slm_agents.capture.sanitize import truncation_marker

OPENAI_RESPONSE = {
    "model": "gpt-4o-2024-08-06",
    "choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]}}],
    "usage": {"prompt_tokens": 42, "completion_tokens": 9},
}
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def test_sync_function_returning_an_openai_response_is_recorded_fully(store: sa.Store) -> None:
    with sa.Recorder(store, agent="weather") as rec:
        @rec.trace(tags=["prod"])
        def call_llm(messages: list[dict], tools: list[dict] | None = None,
                     temperature: float = 0.0) -> dict:
            return OPENAI_RESPONSE

        result = call_llm([{"role": "user", "content": "Weather in Oslo?"}],
                          tools=[WEATHER_TOOL], temperature=0.3)
    assert result is OPENAI_RESPONSE  # the host sees exactly its own return value
    (record,) = store.records()
    assert record.agent == "weather" and record.source == "trace"
    assert record.messages == [sa.Message(role="user", content="Weather in Oslo?")]
    assert record.tools == [WEATHER_TOOL]
    assert record.tool_calls == [sa.ToolCall(name="get_weather", arguments={"city": "Oslo"},
                                             id="call_1")]
    assert record.usage == sa.Usage(input_tokens=42, output_tokens=9)
    assert record.model == "gpt-4o-2024-08-06"
    assert record.finish_reason == "tool_calls"
    assert record.request_params == {"temperature": 0.3}
    assert record.tags == ["prod"]
    assert record.latency_ms is not None and record.latency_ms >= 0


def test_async_function_returning_text_is_recorded(store: sa.Store) -> None:
    with sa.Recorder(store) as rec:
        @rec.trace
        async def summarise(prompt: str) -> str:
            await asyncio.sleep(0)
            return "short"

        assert asyncio.run(summarise("long text")) == "short"
    (record,) = store.records()
    assert record.messages == [sa.Message(role="user", content="long text")]
    assert record.output == "short"


def test_nested_traced_calls_share_a_trace_and_point_at_their_parent(store: sa.Store) -> None:
    with sa.Recorder(store) as rec:
        @rec.trace(name="step")
        def step(messages: list[dict]) -> str:
            return "done"

        @rec.trace(name="plan")
        async def plan(messages: list[dict]) -> list[str]:
            return [step(messages), step(messages)]

        async def main() -> None:  # two concurrent plans must not mix their traces
            await asyncio.gather(plan([{"role": "user", "content": "a"}]),
                                 plan([{"role": "user", "content": "b"}]))

        asyncio.run(main())
    records = list(store.records())
    plans = [r for r in records if r.metadata["function"] == "plan"]
    steps = [r for r in records if r.metadata["function"] == "step"]
    assert len(plans) == 2 and len(steps) == 4
    for p in plans:
        assert p.parent_id is None and p.trace_id == p.id
        children = [s for s in steps if s.parent_id == p.id]
        assert len(children) == 2
        assert all(s.trace_id == p.id for s in children)
        assert all(s.messages == p.messages for s in children)


def test_when_the_function_raises_then_the_error_is_recorded_and_reraised(store: sa.Store) -> None:
    with sa.Recorder(store) as rec:
        @rec.trace
        def flaky(messages: list[dict]) -> str:
            raise TimeoutError("LLM timed out")

        with pytest.raises(TimeoutError, match="LLM timed out"):
            flaky([{"role": "user", "content": "hi"}])
    (record,) = store.records()
    assert record.error == "TimeoutError: LLM timed out"
    assert record.output is None


class Cyclic:
    def __init__(self) -> None:
        self.me = self

    def __repr__(self) -> str:
        return "Cyclic()"


def _cyclic_dict() -> dict:
    d: dict = {"a": 1}
    d["self"] = d
    return d


@pytest.mark.parametrize(
    ("messages", "metadata", "check"),
    [
        # bytes content that is valid UTF-8 is decoded
        ([{"role": "user", "content": "café".encode()}], {},
         lambda r: r.messages[0].content == "café"),
        # bytes that are not UTF-8 are kept as escapes, not lost
        ([{"role": "user", "content": b"\xff\xfeok"}], {},
         lambda r: r.messages[0].content == "\\xff\\xfeok"),
        # a lone surrogate (not encodable as UTF-8) is escaped
        ([{"role": "user", "content": "bad \ud800 text"}], {},
         lambda r: "\\ud800" in r.messages[0].content),
        # None content stays None
        ([{"role": "assistant", "content": None}], {}, lambda r: r.messages[0].content is None),
        # a cyclic dict in metadata is cut at the cycle
        ([], {"ctx": _cyclic_dict()}, lambda r: r.metadata["ctx"] == {"a": 1, "self": "<cycle>"}),
        # an arbitrary object in metadata is kept as its repr
        ([], {"obj": Cyclic(), "when": {1, 2}}, lambda r: r.metadata["obj"] == "Cyclic()"),
        # a malformed tool call keeps its raw arguments and says why
        ([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}],
         {}, lambda r: r.messages[0].tool_calls[0].raw_arguments == "{oops"
         and "not valid JSON" in (r.messages[0].tool_calls[0].error or "")),
    ],
)
def test_bad_input_is_recorded_faithfully_and_never_raises(
        store: sa.Store, messages: list, metadata: dict, check) -> None:
    with sa.Recorder(store) as rec:
        @rec.trace(metadata=metadata)
        def call(messages: list) -> str:
            return "ok"

        assert call(messages) == "ok"
    (record,) = store.records()
    assert check(record)


def test_a_ten_megabyte_message_is_cut_with_a_marker(store: sa.Store) -> None:
    with sa.Recorder(store) as rec:
        @rec.trace
        def call(messages: list) -> str:
            return "ok"

        call([{"role": "user", "content": "x" * 10_000_000}])
    (record,) = store.records()
    content = record.messages[0].content or ""
    assert content.endswith(truncation_marker(9_000_000))
    assert len(content) < 1_100_000


def test_when_capture_itself_fails_the_host_function_still_returns(store: sa.Store) -> None:
    class Unconvertible:
        def __iter__(self):  # makes message conversion blow up on the writer thread
            raise RuntimeError("boom")

    with sa.Recorder(store) as rec:
        @rec.trace
        def call(messages: object) -> str:
            return "ok"

        assert call(Unconvertible()) == "ok"
    assert rec.stats().build_errors == 1
    assert len(store) == 0


def test_current_trace_names_the_innermost_traced_call_and_is_none_outside(
        store: sa.Store) -> None:
    from slm_agents.capture.trace import current_trace

    seen: list[tuple[str, str] | None] = []
    with sa.Recorder(store) as rec:
        @rec.trace
        def inner(messages: list) -> str:
            seen.append(current_trace())
            return "in"

        @rec.trace
        def outer(messages: list) -> str:
            seen.append(current_trace())
            return inner(messages)

        assert current_trace() is None
        outer([{"role": "user", "content": "x"}])
        assert current_trace() is None
    outer_ids, inner_ids = seen
    assert outer_ids is not None and inner_ids is not None
    assert inner_ids[0] == outer_ids[0] == outer_ids[1]  # one trace, rooted at the outer call
    records = {r.id: r for r in store.records()}
    assert records[inner_ids[1]].parent_id == outer_ids[1]
