"""LangChain capture: real langchain-core callbacks and its fake chat models / LLMs.

Records go to a real encrypted store (the ``store`` fixture of conftest.py). The process-wide hook
of ``instrument()`` lives in LangChain's private ``_configure_hooks`` list, so every test leaves it
as it found it (an autouse fixture checks).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, cast

import pytest

pytest.importorskip("langchain_core")

from langchain_core.callbacks import (  # noqa: E402
    BaseCallbackHandler,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models.fake import FakeListLLM  # noqa: E402
from langchain_core.language_models.fake_chat_models import (  # noqa: E402
    FakeListChatModel,
    FakeListChatModelError,
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import (  # noqa: E402
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_core.runnables import RunnableConfig, RunnableLambda, RunnableParallel  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_core.tracers import context as lc_context  # noqa: E402
from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

import slm_agents as sa  # noqa: E402
from slm_agents.capture.sanitize import truncation_marker  # noqa: E402
from slm_agents.integrations.langchain import SLMCallbackHandler, instrument  # noqa: E402


# ---------------------------------------------------------------------- fixtures and doubles
def _our_hooks() -> list[Any]:
    return [h for h in lc_context._configure_hooks
            if type(h[0]).__name__ == "_HandlerSlot"]


@pytest.fixture(autouse=True)
def _no_hook_left_behind() -> Iterator[None]:
    before = len(_our_hooks())
    yield
    assert len(_our_hooks()) == before, "a test left an instrument() hook attached"


@pytest.fixture
def handler(rec: sa.Recorder) -> SLMCallbackHandler:
    made: SLMCallbackHandler = rec.langchain_handler(agent="tester")
    return made


def _records(rec: sa.Recorder, store: sa.Store) -> list[sa.CallRecord]:
    assert rec.flush(timeout=30)
    return sorted(store.records(), key=lambda r: r.started_at)


def _cfg(handler: Any, **extra: Any) -> RunnableConfig:
    return cast(RunnableConfig, {"callbacks": [handler], **extra})


class _NamedFake(FakeListChatModel):
    """A fake with the attributes real providers have (LangChain maps them to ls_* metadata)."""

    model: str = "fake-gpt-mini"
    temperature: float = 0.25
    max_tokens: int = 64


class _ToolFake(FakeMessagesListChatModel):
    """Accepts tools like a real provider (converted to OpenAI format) and ignores them."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)


class _RawToolFake(FakeMessagesListChatModel):
    """Passes the tool objects through unconverted (some integrations do)."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=list(tools), **kwargs)


class _HostError(Exception):
    """The host's own error: it must reach the host unchanged."""


class _BrokenChat(FakeListChatModel):
    def _call(self, messages: list[BaseMessage], stop: list[str] | None = None,
              run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> str:
        raise _HostError("provider unavailable")


@tool
def get_weather(city: str) -> str:
    """Look up the weather in a city."""
    return f"sunny in {city}"


class Calculator(BaseModel):
    """Evaluate an arithmetic expression."""

    expression: str = Field(description="e.g. 2 + 2")


# ---------------------------------------------------------------------- chat models
def test_chat_model_invoke_records_messages_output_model_tags_metadata_and_timing(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    before = datetime.now(timezone.utc)
    reply = _NamedFake(responses=["Paris."]).invoke(
        [SystemMessage("Answer briefly."), HumanMessage("Capital of France?")],
        config=_cfg(handler, tags=["geo"], metadata={"session": "s-1"}, run_name="capital"))
    after = datetime.now(timezone.utc)
    assert reply.content == "Paris."

    [record] = _records(rec, store)
    assert record.source == "langchain"
    assert record.operation == "chat"
    assert [(m.role, m.content) for m in record.messages] == [
        ("system", "Answer briefly."), ("user", "Capital of France?")]
    assert record.output == "Paris."
    assert record.error is None
    assert record.model == "fake-gpt-mini"
    assert record.provider == "_namedfake"  # LangChain's default: the lowercased class name
    assert record.request_params == {"temperature": 0.25, "max_tokens": 64}
    assert record.tags == ["geo"]
    # ls_* keys became fields; lc_versions is LangChain bookkeeping.
    assert record.metadata == {"session": "s-1", "llm_class": "_NamedFake", "run_name": "capital"}
    assert record.agent == "tester"
    assert record.human_facing is False
    assert record.latency_ms is not None and 0 < record.latency_ms < 10_000
    assert record.time_to_first_token_ms is None
    assert before <= record.started_at <= after
    assert record.id == record.trace_id and record.parent_id is None
    assert handler.open_runs == 0


def test_run_metadata_agent_wins_over_the_handler_agent(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    FakeListChatModel(responses=["ok"]).invoke(
        "hi", config=_cfg(handler, metadata={"agent": "triage"}))
    [record] = _records(rec, store)
    assert record.agent == "triage"


def test_recorder_agent_is_used_when_the_handler_names_none(store: sa.Store) -> None:
    with sa.Recorder(store, agent="default-agent") as recorder:
        FakeListChatModel(responses=["ok"]).invoke(
            "hi", config={"callbacks": [recorder.langchain_handler()]})
        recorder.flush()
    assert [r.agent for r in store.records()] == ["default-agent"]


def test_tool_calls_usage_and_finish_reason_are_recorded_from_the_ai_message(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    answer = AIMessage(
        content="",
        tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_1"}],
        usage_metadata={"input_tokens": 42, "output_tokens": 7, "total_tokens": 49,
                        "input_token_details": {"cache_read": 30},
                        "output_token_details": {"reasoning": 3}},
        response_metadata={"finish_reason": "tool_calls", "model_name": "fake-2024-01-01"})
    history = [
        HumanMessage("Weather in Bergen and Oslo?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Bergen"},
                                   "id": "call_0"}]),
        ToolMessage("rainy in Bergen", tool_call_id="call_0", name="get_weather"),
    ]
    FakeMessagesListChatModel(responses=[answer]).invoke(history, config=_cfg(handler))

    [record] = _records(rec, store)
    assert record.output == ""
    assert record.tool_calls == [sa.ToolCall(name="get_weather", arguments={"city": "Oslo"},
                                             id="call_1")]
    assert record.usage == sa.Usage(input_tokens=42, output_tokens=7, cache_read_tokens=30,
                                    reasoning_tokens=3)
    assert record.finish_reason == "tool_calls"
    assert record.model == "fake-2024-01-01"  # no requested model: the response's name
    assert [(m.role, m.tool_call_id, m.name) for m in record.messages] == [
        ("user", None, None), ("assistant", None, None), ("tool", "call_0", "get_weather")]
    assert record.messages[1].tool_calls == [
        sa.ToolCall(name="get_weather", arguments={"city": "Bergen"}, id="call_0")]


def test_token_usage_in_llm_output_is_used_when_the_message_has_none(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    from langchain_core.outputs import ChatGeneration, LLMResult

    run_id = uuid.uuid4()
    handler.on_chat_model_start({}, [[HumanMessage("hi")]], run_id=run_id)
    handler.on_llm_end(LLMResult(
        generations=[[ChatGeneration(message=AIMessage("yo"),
                                     generation_info={"finish_reason": "length"})]],
        llm_output={"token_usage": {"prompt_tokens": 5, "completion_tokens": 2},
                    "model_name": "legacy-model"}), run_id=run_id)
    [record] = _records(rec, store)
    assert record.usage == sa.Usage(input_tokens=5, output_tokens=2)
    assert record.finish_reason == "length"
    assert record.model == "legacy-model"


@pytest.mark.parametrize("model_cls", [
    _ToolFake,  # tools arrive in OpenAI format, as real providers bind them
    _RawToolFake,  # tools arrive as BaseTool / pydantic objects: converted on the writer
])
def test_tools_offered_with_bind_tools_are_recorded_as_json_schema(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler,
        model_cls: type[FakeMessagesListChatModel]) -> None:
    llm = model_cls(responses=[AIMessage("no tool needed")])
    llm.bind_tools([get_weather, Calculator]).invoke("hi", config=_cfg(handler))

    [record] = _records(rec, store)
    assert record.tools == [convert_to_openai_tool(get_weather),
                            convert_to_openai_tool(Calculator)]
    assert record.tool_names == ["get_weather", "Calculator"]
    assert record.tools[0]["function"]["parameters"]["properties"]["city"]["type"] == "string"


def test_structured_output_records_the_tool_schema_choice_and_run_name(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    answer = AIMessage("", tool_calls=[{"name": "Calculator", "args": {"expression": "2 + 2"},
                                        "id": "call_c"}])
    structured = _ToolFake(responses=[answer]).with_structured_output(Calculator)
    result = structured.invoke("What is 2 + 2?", config=_cfg(handler, run_name="calc-step"))
    assert result == Calculator(expression="2 + 2")

    [record] = _records(rec, store)
    assert record.tools == [convert_to_openai_tool(Calculator)]
    assert record.tool_calls == [sa.ToolCall(name="Calculator",
                                             arguments={"expression": "2 + 2"}, id="call_c")]
    assert record.request_params["tool_choice"] is not None
    assert record.metadata["structured_output_format"]["schema"]["title"] == "Calculator"
    assert record.metadata["parent_name"] == "calc-step"  # the run name names the sequence


def test_chat_message_roles_and_multimodal_parts_are_normalised(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    FakeListChatModel(responses=["a cat"]).invoke(
        [ChatMessage(role="human", content="hello"),
         ChatMessage(role="critic", content="be terse"),
         HumanMessage(content=[{"type": "text", "text": "what is "}, image, "this?"])],
        config=_cfg(handler))
    [record] = _records(rec, store)
    assert [(m.role, m.content) for m in record.messages] == [
        ("user", "hello"), ("critic", "be terse"), ("user", "what is this?")]
    assert record.messages[2].metadata == {"parts": [image]}


# ---------------------------------------------------------------------- streaming and async
@pytest.mark.parametrize("make_model, expected", [
    # FakeListChatModel streams one character per chunk.
    (lambda: FakeListChatModel(responses=["hello world"]), "hello world"),
    # GenericFakeChatModel streams word by word (and drops tool calls and usage when streaming).
    (lambda: GenericFakeChatModel(messages=iter([AIMessage("one two three")])), "one two three"),
])
def test_sync_stream_records_full_text_and_time_to_first_token(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler,
        make_model: Any, expected: str) -> None:
    chunks = [c.content for c in make_model().stream("hi", config=_cfg(handler))]
    assert len(chunks) > 1 and "".join(chunks) == expected

    [record] = _records(rec, store)
    assert record.output == expected
    assert record.time_to_first_token_ms is not None
    assert 0 <= record.time_to_first_token_ms <= record.latency_ms  # type: ignore[operator]
    assert record.metadata["stream"] is True


def test_stream_of_a_model_without_native_streaming_keeps_tool_calls_and_usage(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    answer = AIMessage("calling", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1"}],
                       usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7})
    list(FakeMessagesListChatModel(responses=[answer]).stream("hi", config=_cfg(handler)))
    [record] = _records(rec, store)
    assert record.output == "calling"
    assert record.tool_calls == [sa.ToolCall(name="f", arguments={"x": 1}, id="c1")]
    assert record.usage.input_tokens == 3 and record.usage.output_tokens == 4


def test_async_stream_records_full_text_and_time_to_first_token(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    async def consume() -> str:
        text = ""
        async for chunk in FakeListChatModel(responses=["async hello"]).astream(
                "hi", config=_cfg(handler)):
            text += str(chunk.content)
        return text

    assert asyncio.run(consume()) == "async hello"
    [record] = _records(rec, store)
    assert record.output == "async hello"
    assert record.time_to_first_token_ms is not None


@pytest.mark.skipif(not hasattr(BaseCallbackHandler, "on_stream_event"),
                    reason="stream_events(version='v3') needs langchain-core >= 1.7")
@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_v3_stream_events_record_full_text_and_time_to_first_token(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    llm = FakeListChatModel(responses=["protocol events"])
    for _ in llm.stream_events("hi", version="v3", config=_cfg(handler)):
        pass
    [record] = _records(rec, store)
    assert record.output == "protocol events"
    assert record.time_to_first_token_ms is not None


def test_ainvoke_is_recorded(rec: sa.Recorder, store: sa.Store,
                             handler: SLMCallbackHandler) -> None:
    reply = asyncio.run(FakeListChatModel(responses=["pong"]).ainvoke(
        "ping", config=_cfg(handler, tags=["async"])))
    assert reply.content == "pong"
    [record] = _records(rec, store)
    assert (record.messages[0].content, record.output, record.tags) == ("ping", "pong", ["async"])


def test_fifty_concurrent_ainvokes_are_all_recorded_with_distinct_ids(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    llm = FakeListChatModel(responses=[f"answer {i}" for i in range(50)])

    async def main() -> list[Any]:
        return await asyncio.gather(*(
            llm.ainvoke(f"question {i}", config=_cfg(handler)) for i in range(50)))

    replies = asyncio.run(main())
    records = _records(rec, store)
    assert len(records) == 50
    assert len({r.id for r in records}) == 50
    assert {r.messages[0].content for r in records} == {f"question {i}" for i in range(50)}
    assert sorted(r.output or "" for r in records) == sorted(str(r.content) for r in replies)
    assert handler.open_runs == 0


def test_plain_llm_is_recorded_as_a_completion(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    assert FakeListLLM(responses=["4"]).invoke("2 + 2 =", config=_cfg(handler)) == "4"
    [record] = _records(rec, store)
    assert record.operation == "completion"
    assert [(m.role, m.content) for m in record.messages] == [("user", "2 + 2 =")]
    assert record.output == "4"
    assert record.provider == "fakelist"


# ---------------------------------------------------------------------- errors
def test_failing_model_is_recorded_with_its_error_and_the_host_sees_only_its_own(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    with pytest.raises(_HostError, match="provider unavailable") as caught:
        _BrokenChat(responses=["never"]).invoke("hi", config=_cfg(handler))
    assert type(caught.value) is _HostError

    [record] = _records(rec, store)
    assert record.error == "_HostError: provider unavailable"
    assert record.output is None
    assert not record.succeeded
    assert record.latency_ms is not None
    assert rec.stats().hook_errors == 0
    assert handler.open_runs == 0


def test_stream_failing_midway_keeps_the_partial_text_in_metadata(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    llm = FakeListChatModel(responses=["abcdef"], error_on_chunk_number=3)
    received = []
    with pytest.raises(FakeListChatModelError):
        for chunk in llm.stream("hi", config=_cfg(handler)):
            received.append(chunk.content)
    assert received == ["a", "b", "c"]
    [record] = _records(rec, store)
    assert record.error == "FakeListChatModelError: "
    assert record.output is None
    assert record.metadata["partial_output"] == "abc"
    assert record.time_to_first_token_ms is not None


# ---------------------------------------------------------------------- trace structure
def test_two_step_chain_records_share_the_root_trace_and_point_to_the_chain(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    ask = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "Q: {q}")])
    refine = ChatPromptTemplate.from_messages([("human", "Improve: {q}")])
    chain = (ask | FakeListChatModel(responses=["draft"]) | StrOutputParser()
             | (lambda text: {"q": text}) | refine
             | FakeListChatModel(responses=["final"]))
    root = uuid.uuid4()
    assert chain.invoke({"q": "why?"}, config=_cfg(handler, run_id=root)).content == "final"

    records = _records(rec, store)
    assert [(r.trace_id, r.parent_id, r.metadata.get("parent_name"),
             [(m.role, m.content) for m in r.messages], r.output) for r in records] == [
        (str(root), str(root), "RunnableSequence",
         [("system", "Be brief."), ("user", "Q: why?")], "draft"),
        (str(root), str(root), "RunnableSequence", [("user", "Improve: draft")], "final"),
    ]
    assert len({r.id for r in records} | {str(root)}) == 3
    assert handler.open_runs == 0  # every chain step ended and was forgotten


def test_nested_chains_and_parallel_threads_keep_the_outer_root_as_trace(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    inner = ChatPromptTemplate.from_messages([("human", "{q}")]) | RunnableParallel(
        a=FakeListChatModel(responses=["A"]), b=FakeListChatModel(responses=["B"]))

    def outer_step(q: str, config: Any) -> Any:
        return inner.invoke({"q": q}, config)

    outer = RunnableLambda(outer_step).with_config(run_name="outer")
    root = uuid.uuid4()
    outer.invoke("go", config=_cfg(handler, run_id=root))

    records = _records(rec, store)
    assert sorted(r.output or "" for r in records) == ["A", "B"]
    assert {r.trace_id for r in records} == {str(root)}
    # Both branches ran in worker threads under the same RunnableParallel run.
    assert len({r.parent_id for r in records}) == 1
    assert records[0].parent_id not in (None, str(root))
    assert {r.metadata["parent_name"] for r in records} == {"RunnableParallel<a,b>"}


def test_llm_whose_parent_is_unknown_uses_the_parent_as_trace(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    parent = uuid.uuid4()  # a run started before the handler was attached
    run_id = uuid.uuid4()
    handler.on_chat_model_start({}, [[HumanMessage("hi")]], run_id=run_id,
                                parent_run_id=parent)
    from langchain_core.outputs import ChatGeneration, LLMResult

    handler.on_llm_end(LLMResult(generations=[[ChatGeneration(message=AIMessage("x"))]]),
                       run_id=run_id)
    [record] = _records(rec, store)
    assert (record.id, record.parent_id, record.trace_id) == (str(run_id), str(parent),
                                                             str(parent))


# ---------------------------------------------------------------------- instrument()
def test_instrument_registers_a_configure_hook_whose_get_returns_the_handler(
        rec: sa.Recorder) -> None:
    # Leans on LangChain's private registry: this test is the alarm if it changes.
    detach = instrument(rec, agent="global")
    try:
        [entry] = _our_hooks()
        slot, inheritable, handler_class, env_var = entry
        assert slot.get() is detach.handler  # type: ignore[attr-defined]
        assert (inheritable, handler_class, env_var) == (True, None, None)
    finally:
        detach()
    assert _our_hooks() == []
    detach()  # idempotent


def test_instrument_captures_calls_made_without_callbacks_also_in_worker_threads(
        rec: sa.Recorder, store: sa.Store) -> None:
    detach = rec.instrument_langchain(agent="global")
    try:
        llm = FakeListChatModel(responses=["main", "worker"])
        llm.invoke("from main")
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(llm.invoke, "from worker").result()
        # A plain thread does not copy context variables either.
        thread = threading.Thread(target=lambda: FakeListLLM(responses=["t"]).invoke("raw"))
        thread.start()
        thread.join()
    finally:
        detach()
    records = _records(rec, store)
    assert sorted(r.messages[0].content or "" for r in records) == [
        "from main", "from worker", "raw"]
    assert {r.agent for r in records} == {"global"}


def test_instrumented_chain_records_each_llm_call_once_with_its_trace(
        rec: sa.Recorder, store: sa.Store) -> None:
    detach = rec.instrument_langchain()
    try:
        chain = (ChatPromptTemplate.from_messages([("human", "{q}")])
                 | FakeListChatModel(responses=["one"]) | StrOutputParser()
                 | FakeListChatModel(responses=["two"]))
        root = uuid.uuid4()
        chain.invoke({"q": "start"}, config={"run_id": root})
    finally:
        detach()
    records = _records(rec, store)
    assert [(r.output, r.trace_id, r.parent_id) for r in records] == [
        ("one", str(root), str(root)), ("two", str(root), str(root))]
    assert (rec.stats().received, rec.stats().duplicates) == (2, 0)


def test_after_detach_nothing_more_is_captured(rec: sa.Recorder, store: sa.Store) -> None:
    detach = rec.instrument_langchain()
    llm = FakeListChatModel(responses=["x"])
    llm.invoke("captured")
    detach()
    llm.invoke("not captured")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(llm.invoke, "not captured either").result()
    assert [r.messages[0].content for r in _records(rec, store)] == ["captured"]


def test_handler_passed_explicitly_while_instrumented_records_once(
        rec: sa.Recorder, store: sa.Store) -> None:
    detach = rec.instrument_langchain()
    try:
        llm = FakeListChatModel(responses=["once"])
        llm.invoke("hi", config=_cfg(detach.handler))  # type: ignore[attr-defined]
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | llm.with_config(
            callbacks=[detach.handler])  # type: ignore[attr-defined]
        chain.invoke({"q": "again"})
    finally:
        detach()
    records = _records(rec, store)
    assert [r.messages[0].content for r in records] == ["hi", "again"]
    stats = rec.stats()
    assert (stats.received, stats.duplicates) == (2, 0)  # no second copy was even built


def test_recorder_close_detaches_the_global_hook(store: sa.Store) -> None:
    recorder = sa.Recorder(store)
    recorder.instrument_langchain()
    assert len(_our_hooks()) == 1
    recorder.close()
    assert _our_hooks() == []


# ---------------------------------------------------------------------- bad input
class _Opaque:
    """Not JSON, and even its repr fails."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_hostile_inputs_are_recorded_and_the_host_call_succeeds(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    huge = "x" * 10_000_000
    limit = rec.options.max_field_chars
    llm = FakeListChatModel(responses=["ok"])
    cases: list[tuple[Any, dict[str, Any]]] = [
        # bytes content (not valid UTF-8), built past validation as a buggy integration might
        ([HumanMessage.model_construct(content=b"\xff\xfe raw")], {"case": "bytes"}),
        # a lone surrogate from a bad decode
        ("lone \ud800 surrogate", {"case": "surrogate"}),
        # a 10 MB prompt
        (huge, {"case": "huge"}),
        # cyclic and unserialisable metadata
        ("meta", {"case": "meta", "cyclic": cyclic, "opaque": _Opaque(), "raw": b"\xff"}),
        # None and empty content
        ([HumanMessage.model_construct(content=None), HumanMessage("")], {"case": "empty"}),
    ]
    for prompt, metadata in cases:
        assert llm.invoke(prompt, config=_cfg(handler, metadata=metadata)).content == "ok"

    by_case = {r.metadata["case"]: r for r in _records(rec, store)}
    assert set(by_case) == {"bytes", "surrogate", "huge", "meta", "empty"}
    assert by_case["bytes"].messages[0].content == "\\xff\\xfe raw"
    assert by_case["surrogate"].messages[0].content == "lone \\ud800 surrogate"
    content = by_case["huge"].messages[0].content or ""
    assert content == "x" * limit + truncation_marker(10_000_000 - limit)
    meta = by_case["meta"].metadata
    assert meta["cyclic"] == {"name": "loop", "self": "<cycle>"}
    assert meta["opaque"].startswith("<unrepresentable _Opaque")
    assert meta["raw"] == {"__bytes_b64__": "/w=="}
    assert [m.content for m in by_case["empty"].messages] == [None, ""]
    assert rec.stats().build_errors == 0 and rec.stats().hook_errors == 0


def test_malformed_tool_call_json_is_kept_verbatim(
        rec: sa.Recorder, store: sa.Store, handler: SLMCallbackHandler) -> None:
    bad = {"name": "get_weather", "args": '{"city": "Os', "id": "call_x",
           "error": "Function get_weather arguments are not valid JSON."}
    reply = AIMessage("", invalid_tool_calls=[bad])
    FakeMessagesListChatModel(responses=[reply]).invoke(
        [HumanMessage("weather?"), AIMessage("", invalid_tool_calls=[bad])],
        config=_cfg(handler))
    [record] = _records(rec, store)
    expected = sa.ToolCall(name="get_weather", arguments={}, id="call_x",
                           raw_arguments='{"city": "Os',
                           error="Function get_weather arguments are not valid JSON.")
    assert record.tool_calls == [expected]
    assert record.messages[1].tool_calls == [expected]


class _FailingSink:
    def __init__(self) -> None:
        self.calls = 0

    def add_many(self, records: Any, *, raws: Any = None) -> int:
        self.calls += 1
        raise OSError("disk on fire")


def test_a_store_that_fails_every_write_never_raises_into_the_host() -> None:
    sink = _FailingSink()
    recorder = sa.Recorder(sink)
    try:
        handler = recorder.langchain_handler()
        assert FakeListChatModel(responses=["fine"]).invoke(
            "hi", config={"callbacks": [handler]}).content == "fine"
        assert recorder.flush(timeout=30) is False
        assert sink.calls >= 1
        assert recorder.stats().dropped_write_failed == 1
    finally:
        recorder.close()


def test_a_failing_hook_is_counted_and_never_raises_into_the_host(
        rec: sa.Recorder, handler: SLMCallbackHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_emit(pending: Any) -> None:
        raise RuntimeError("queue exploded")

    monkeypatch.setattr(rec, "_emit", broken_emit)
    assert FakeListChatModel(responses=["fine"]).invoke(
        "hi", config=_cfg(handler)).content == "fine"
    assert rec.stats().hook_errors == 1


# ---------------------------------------------------------------------- memory bounds
def test_runs_that_never_end_are_swept(rec: sa.Recorder, store: sa.Store) -> None:
    handler: SLMCallbackHandler = rec.langchain_handler(max_run_age_s=0.2)
    for _ in range(1_000):  # chains that start and never end
        handler.on_chain_start({}, {}, run_id=uuid.uuid4())
    stream: Any = FakeListChatModel(responses=["abandoned"]).stream("hi", config=_cfg(handler))
    next(stream)  # a stream nobody finishes: its LLM run stays open
    assert handler.open_runs == 1_001

    time.sleep(0.3)
    FakeListChatModel(responses=["later"]).invoke("hi", config=_cfg(handler))
    assert handler.swept_runs == 1_001
    assert handler.open_runs == 0
    stream.close()  # ends a run the handler already forgot: nothing recorded, nothing raised
    assert [r.output for r in _records(rec, store)] == ["later"]
    assert rec.stats().hook_errors == 0


def test_max_run_age_must_be_positive(rec: sa.Recorder) -> None:
    with pytest.raises(sa.errors.ConfigError, match="max_run_age_s"):
        rec.langchain_handler(max_run_age_s=0)
