"""LlamaIndex capture: real llama-index-core dispatcher and its MockLLM / MockFunctionCallingLLM.

Records go to a real encrypted store (the ``store`` fixture of conftest.py). The root dispatcher is
process-wide, so every test detaches what it attached (an autouse fixture checks that no handler
of ours is left behind).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import (  # noqa: E402
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    ImageBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.instrumentation import get_dispatcher  # noqa: E402
from llama_index.core.instrumentation.events.llm import LLMCompletionStartEvent  # noqa: E402
from llama_index.core.instrumentation.span import active_span_id  # noqa: E402
from llama_index.core.llms import MockLLM  # noqa: E402
from llama_index.core.llms.callbacks import llm_completion_callback  # noqa: E402
from llama_index.core.llms.mock import MockFunctionCallingLLM  # noqa: E402
from llama_index.core.tools import FunctionTool  # noqa: E402

import slm_agents as sa  # noqa: E402
from slm_agents.capture.sanitize import truncation_marker  # noqa: E402
from slm_agents.integrations.llama_index import LlamaIndexCapture  # noqa: E402

test_dispatcher = get_dispatcher("slm_agents.tests.llama_index")  # propagates to the root


# ---------------------------------------------------------------------- fixtures and doubles
@pytest.fixture
def capture(rec: sa.Recorder) -> Iterator[LlamaIndexCapture]:
    handler = rec.llama_index_handler(agent="tester")
    yield handler
    handler.detach()


@pytest.fixture(autouse=True)
def no_handler_left_behind() -> Iterator[None]:
    yield
    root = get_dispatcher()
    ours = [h for h in [*root.event_handlers, *root.span_handlers]
            if type(h).__module__ == "slm_agents.integrations.llama_index"]
    root.event_handlers[:] = [h for h in root.event_handlers if all(h is not o for o in ours)]
    root.span_handlers[:] = [h for h in root.span_handlers if all(h is not o for o in ours)]
    assert ours == [], "a test left a capture handler on the root dispatcher"


def stored(rec: sa.Recorder, store: sa.Store) -> list[sa.CallRecord]:
    assert rec.flush(timeout=10)
    return sorted(store.records(), key=lambda r: r.started_at)


class UsageLLM(MockLLM):
    """A MockLLM whose provider reports token usage the OpenAI way."""

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="ok",
                                  raw={"usage": {"prompt_tokens": 11, "completion_tokens": 7}})


class FailingLLM(MockLLM):
    """A MockLLM whose provider is down."""

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise ConnectionError("provider unreachable")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False,
                        **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text="par", delta="par")
            raise ConnectionError("stream cut")

        return gen()


def user(text: Any) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


def add(a: int = 1, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


# ---------------------------------------------------------------------- one call, one record
def test_complete_gives_one_completion_record_with_prompt_output_latency_and_start(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    before = datetime.now(timezone.utc)
    assert MockLLM().complete("hello there").text == "hello there"
    (record,) = stored(rec, store)
    assert record.operation == "completion"
    assert record.source == "llama_index"
    assert record.agent == "tester"
    assert [(m.role, m.content) for m in record.messages] == [("user", "hello there")]
    assert record.output == "hello there"
    assert record.error is None
    assert record.latency_ms is not None and 0 <= record.latency_ms < 5_000
    assert record.time_to_first_token_ms is None
    assert before - timedelta(seconds=1) <= record.started_at <= datetime.now(timezone.utc)
    assert record.id.startswith("MockLLM.complete-")
    assert record.parent_id is None and record.trace_id == record.id  # the call is its own root
    assert record.metadata["llm_class"] == "MockLLM"


def test_chat_gives_exactly_one_chat_record_although_mock_llm_nests_a_completion(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    messages = [ChatMessage(role=MessageRole.SYSTEM, content="Be brief."), user("hi")]
    response = MockLLM().chat(messages)
    (record,) = stored(rec, store)
    assert record.operation == "chat"
    assert [(m.role, m.content) for m in record.messages] == [("system", "Be brief."),
                                                              ("user", "hi")]
    assert record.output == response.message.content
    assert record.latency_ms is not None and record.latency_ms >= 0


@pytest.mark.parametrize(
    ("call", "operation"),
    [
        # sync streams: the span exits before the first chunk; the end event finishes the record
        (lambda llm: "".join(r.delta or "" for r in llm.stream_complete("stream me")),
         "completion"),
        (lambda llm: "".join(r.delta or "" for r in llm.stream_chat([user("stream me")])),
         "chat"),
        # async streams: MockLLM calls the sync stream from inside the generator (one record)
        (lambda llm: asyncio.run(_consume(llm.astream_complete("stream me"))), "completion"),
        (lambda llm: asyncio.run(_consume(llm.astream_chat([user("stream me")]))), "chat"),
    ],
    ids=["stream_complete", "stream_chat", "astream_complete", "astream_chat"],
)
def test_streamed_calls_record_the_full_output_text_and_time_to_first_token(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture, call: Any,
        operation: str) -> None:
    streamed = call(MockLLM())
    (record,) = stored(rec, store)
    assert record.operation == operation
    assert streamed and record.output is not None and record.output.endswith(streamed)
    assert record.metadata["stream"] is True
    assert record.time_to_first_token_ms is not None
    assert 0 <= record.time_to_first_token_ms <= (record.latency_ms or 0)


async def _consume(started: Any) -> str:
    out = ""
    async for chunk in await started:
        out += chunk.delta or ""
    return out


# ---------------------------------------------------------------------- structure
def test_achat_inside_outer_spans_gets_its_parent_and_trace_from_the_span_tree(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    llm = MockLLM()
    ids: dict[str, str | None] = {}

    @test_dispatcher.span
    async def step() -> None:
        ids["step"] = active_span_id.get()
        await llm.achat([user("inner")])

    @test_dispatcher.span
    async def run_agent() -> None:
        ids["run"] = active_span_id.get()
        await step()

    asyncio.run(run_agent())
    (record,) = stored(rec, store)  # achat nests chat nests complete: still one record
    assert record.id.startswith("MockLLM.achat-")
    assert record.parent_id == ids["step"]
    assert record.trace_id == ids["run"]


def test_many_concurrent_achats_keep_their_records_apart(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    llm = MockLLM()
    n = 40
    span_of: dict[int, str | None] = {}

    @test_dispatcher.span
    async def task(i: int) -> None:
        span_of[i] = active_span_id.get()
        await asyncio.sleep(0.001 * (i % 5))
        await llm.achat([user(f"question {i}")])

    async def main() -> None:
        await asyncio.gather(*(task(i) for i in range(n)))

    asyncio.run(main())
    records = stored(rec, store)
    assert len(records) == n
    for record in records:
        i = int((record.messages[0].content or "").split()[-1])
        assert record.parent_id == span_of[i] and record.trace_id == span_of[i]
        assert record.output is not None and f"question {i}" in record.output


def test_calls_from_many_threads_are_each_recorded_once(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    llm = MockLLM()
    with ThreadPoolExecutor(8) as pool:
        outputs = list(pool.map(lambda i: llm.complete(f"prompt {i}").text, range(64)))
    records = stored(rec, store)
    assert sorted(r.output or "" for r in records) == sorted(outputs)
    assert len({r.id for r in records}) == 64


# ---------------------------------------------------------------------- usage, tools, agents
def test_usage_reported_in_raw_usage_is_recorded(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    UsageLLM().complete("count my tokens")
    (record,) = stored(rec, store)
    assert record.usage.input_tokens == 11
    assert record.usage.output_tokens == 7


def test_tools_offered_and_tool_calls_made_are_recorded(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    llm = MockFunctionCallingLLM()
    tool = FunctionTool.from_defaults(add)
    response = llm.chat_with_tools([tool], user_msg="add please")
    (record,) = stored(rec, store)
    assert record.tool_names == ["add"]
    assert record.tools[0]["function"]["parameters"]["properties"].keys() == {"a", "b"}
    (call,) = record.tool_calls
    expected = llm.get_tool_calls_from_response(response)[0]
    assert (call.name, call.arguments, call.id) == ("add", {"a": 1, "b": 2}, expected.tool_id)
    assert record.output is None  # the reply only calls the tool


# The workflow package inspects the agent's pydantic attributes and triggers their deprecations.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_function_agent_run_records_both_llm_turns_in_one_trace(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    from llama_index.core.agent.workflow import FunctionAgent

    agent = FunctionAgent(tools=[FunctionTool.from_defaults(add)], llm=MockFunctionCallingLLM())

    async def main() -> Any:
        return await agent.run("add please")

    result = asyncio.run(main())
    assert "Tool calls complete." in str(result)
    first, second = stored(rec, store)
    assert first.trace_id == second.trace_id and first.trace_id.startswith("FunctionAgent.run-")
    assert first.tool_names == ["add"] and first.tool_calls[0].name == "add"
    tool_turn = second.messages[-1]
    assert tool_turn.role == "tool"
    assert tool_turn.tool_call_id == first.tool_calls[0].id
    assert second.messages[-2].tool_calls[0].id == first.tool_calls[0].id  # assistant turn kept
    assert second.output == "Tool calls complete."


def test_tool_calls_in_additional_kwargs_of_older_integrations_are_read(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    history = [
        user("add 1 and 2"),
        ChatMessage(role=MessageRole.ASSISTANT, content=None, additional_kwargs={"tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}]}),
        ChatMessage(role=MessageRole.TOOL, content="3",
                    additional_kwargs={"tool_call_id": "c1", "name": "add"}),
    ]
    MockLLM().chat(history)
    (record,) = stored(rec, store)
    assistant, tool = record.messages[1], record.messages[2]
    assert assistant.content is None
    assert [(c.name, c.arguments, c.id) for c in assistant.tool_calls] == [
        ("add", {"a": 1, "b": 2}, "c1")]
    assert (tool.role, tool.content, tool.tool_call_id, tool.name) == ("tool", "3", "c1", "add")


# ---------------------------------------------------------------------- errors
def test_a_failing_call_is_recorded_with_its_error_and_the_host_still_gets_the_exception(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    with pytest.raises(ConnectionError, match="provider unreachable"):
        FailingLLM().complete("hi")
    with pytest.raises(ConnectionError):
        FailingLLM().chat([user("hi")])  # fails in the nested completion: one chat record
    completion, chat = stored(rec, store)
    assert completion.operation == "completion" and chat.operation == "chat"
    for record in (completion, chat):
        assert record.error == "ConnectionError: provider unreachable"
        assert record.output is None and not record.succeeded


def test_a_stream_that_fails_midway_is_recorded_with_its_error_and_partial_output(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    with pytest.raises(ConnectionError, match="stream cut"):
        for _ in FailingLLM().stream_complete("hi"):
            pass
    (record,) = stored(rec, store)
    assert record.error == "ConnectionError: stream cut"
    assert record.output == "par"


def test_a_stream_closed_early_by_its_consumer_is_recorded_as_unfinished(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    stream = MockLLM(max_tokens=10).stream_complete("count")
    chunks = [next(stream).text for _ in range(3)]
    stream.close()
    (record,) = stored(rec, store)
    assert record.error is not None and record.error.startswith("GeneratorExit")
    assert record.output == chunks[-1] == "text text"


def test_instrument_tags_are_kept_and_can_mark_a_call_human_facing(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    from llama_index.core.instrumentation.dispatcher import instrument_tags

    with instrument_tags({"human_facing": True, "session": "s-1"}):
        MockLLM().complete("shown to a person")
    (record,) = stored(rec, store)
    assert record.human_facing is True
    assert record.metadata["instrument_tags"] == {"human_facing": True, "session": "s-1"}


def test_a_failing_hook_is_counted_and_never_reaches_the_host(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    def broken(event: Any) -> None:
        raise RuntimeError("bug in the hook")

    capture._routes[LLMCompletionStartEvent] = broken
    assert MockLLM().complete("still works").text == "still works"
    assert stored(rec, store) == []
    assert rec.stats().hook_errors == 1


# ---------------------------------------------------------------------- attach and detach
def test_detach_stops_capture_and_attach_resumes_it(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    llm = MockLLM()
    capture.detach()
    capture.detach()  # idempotent
    assert not capture.attached
    llm.complete("not recorded")
    capture.attach()
    llm.complete("recorded")
    assert [r.output for r in stored(rec, store)] == ["recorded"]


def test_attaching_twice_does_not_double_record(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    capture.attach()
    root = get_dispatcher()
    assert sum(h is capture._event_handler for h in root.event_handlers) == 1
    assert sum(h is capture._span_handler for h in root.span_handlers) == 1
    MockLLM().complete("once")
    assert len(stored(rec, store)) == 1


def test_two_handlers_on_one_recorder_store_each_call_once(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    second = rec.llama_index_handler()
    try:
        MockLLM().complete("twice seen")
    finally:
        second.detach()
    assert len(stored(rec, store)) == 1  # both records carry the span id; the store keeps one
    assert rec.stats().duplicates == 1


def test_recorder_close_detaches_the_handlers(store: sa.Store) -> None:
    rec = sa.Recorder(store)
    capture = rec.llama_index_handler()
    root = get_dispatcher()
    assert capture._event_handler in root.event_handlers
    rec.close()
    assert not capture.attached
    assert capture._event_handler not in root.event_handlers
    assert capture._span_handler not in root.span_handlers
    MockLLM().complete("after close")
    assert len(store) == 0


def test_a_handler_made_without_attach_captures_nothing_until_attached(
        rec: sa.Recorder, store: sa.Store) -> None:
    capture = rec.llama_index_handler(attach=False)
    MockLLM().complete("unseen")
    assert not capture.attached and stored(rec, store) == []
    capture.attach()
    try:
        MockLLM().complete("seen")
    finally:
        capture.detach()
    assert [r.output for r in stored(rec, store)] == ["seen"]


def test_a_non_positive_max_span_age_is_refused(rec: sa.Recorder) -> None:
    with pytest.raises(sa.errors.ConfigError, match="max_span_age_s"):
        LlamaIndexCapture(rec, max_span_age_s=0)


def test_spans_and_streams_that_never_close_are_forgotten_after_max_span_age(
        rec: sa.Recorder, store: sa.Store) -> None:
    capture = rec.llama_index_handler(max_span_age_s=0.05)
    try:
        abandoned = MockLLM().stream_complete("never consumed")  # noqa: F841 - kept alive
        test_dispatcher.span_enter(id_="never-exits", bound_args=_no_args())
        assert "never-exits" in capture._spans and len(capture._pending) == 1
        time.sleep(0.1)
        MockLLM().complete("later")  # any span after the age limit triggers the sweep
        assert "never-exits" not in capture._spans
        assert len(capture._pending) == 0 and not capture._streaming and not capture._nested
        assert capture._spans == {}
    finally:
        capture.detach()
    assert [r.output for r in stored(rec, store)] == ["later"]


def _no_args() -> Any:
    import inspect

    return inspect.signature(lambda: None).bind()


# ---------------------------------------------------------------------- bad input
class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize(
    ("messages", "kwargs", "check"),
    [
        # a lone surrogate (not encodable as UTF-8) is escaped, not raised on
        ([user("bad \ud800 text")], {}, lambda r: "\\ud800" in (r.messages[0].content or "")),
        # a 10 MB message is cut at max_field_chars with a marker saying how much was dropped
        ([user("x" * 10_000_000)], {},
         lambda r: (r.messages[0].content or "").endswith(truncation_marker(9_000_000))),
        # a message without content (no blocks) keeps content None
        ([ChatMessage(role=MessageRole.ASSISTANT, content=None)], {},
         lambda r: r.messages[0].content is None and r.messages[0].role == "assistant"),
        # bytes where text belongs (a tool call id that is not UTF-8) are kept as escapes
        ([ChatMessage(role=MessageRole.TOOL, content="3",
                      additional_kwargs={"tool_call_id": b"call-\xff"})], {"raw": b"\x00\xfe"},
         lambda r: r.messages[0].tool_call_id == "call-\\xff"
         and r.request_params["raw"] == {"__bytes_b64__": "AP4="}),
        # image bytes are summarised as a size, not copied into the record
        ([ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text="see"),
                                                    ImageBlock(image=b"\x89PNG....")])], {},
         lambda r: r.messages[0].content == "see"
         and r.messages[0].metadata["parts"][0]["type"] == "image"),
        # call kwargs that are not JSON (cycles, objects with a broken repr) become text
        ([user("hi")], {"ctx": {"cycle": None}, "obj": Unprintable()},
         lambda r: "unrepresentable" in str(r.request_params["obj"])),
    ],
    ids=["lone-surrogate", "10MB", "none-content", "bytes-text", "image-bytes", "odd-kwargs"],
)
def test_bad_input_never_raises_into_the_host_and_is_stored(
        store: sa.Store, messages: Sequence[ChatMessage], kwargs: dict[str, Any],
        check: Any) -> None:
    rec = sa.Recorder(store, max_field_chars=1_000_000)
    capture = rec.llama_index_handler()
    try:
        if "ctx" in kwargs:
            kwargs["ctx"]["cycle"] = kwargs["ctx"]
        MockLLM().chat(messages, **kwargs)
        (record,) = stored(rec, store)
    finally:
        rec.close()
    assert not capture.attached
    assert rec.stats().hook_errors == 0 and rec.stats().build_errors == 0
    assert check(record)
    assert sa.CallRecord.from_json(record.to_json()) == record


def test_a_chat_response_without_message_content_is_recorded_as_no_output(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    class SilentLLM(MockFunctionCallingLLM):
        pass

    llm = SilentLLM(response_generator=lambda messages, **kw: ChatMessage(
        role=MessageRole.ASSISTANT, content=None))
    response = llm.chat([user("say nothing")])
    assert isinstance(response, ChatResponse)
    (record,) = stored(rec, store)
    assert record.output is None and record.error is None


def test_a_call_from_a_plain_thread_is_the_root_of_its_own_trace(
        rec: sa.Recorder, store: sa.Store, capture: LlamaIndexCapture) -> None:
    # A plain thread starts without the caller's span: its call is a root of its own.
    ids: dict[str, str | None] = {}

    @test_dispatcher.span
    def outer() -> None:
        ids["outer"] = active_span_id.get()
        worker = threading.Thread(target=lambda: MockLLM().complete("in a thread"))
        worker.start()
        worker.join()
        MockLLM().complete("in the span")

    outer()
    by_output = {r.output: r for r in stored(rec, store)}
    assert by_output["in the span"].parent_id == ids["outer"]
    threaded = by_output["in a thread"]
    assert threaded.parent_id is None and threaded.trace_id == threaded.id
