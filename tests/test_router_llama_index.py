"""LlamaIndex and the router: LLMs as routed models, the router as a LlamaIndex LLM.

The LLM side is LlamaIndex's own mocks (``MockLLM``, ``MockFunctionCallingLLM``); the specialist
is a small class with ``generate()`` returning a fixed answer, as a user-supplied component
would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import (  # noqa: E402
    ChatMessage,
    CompletionResponse,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.llms import MockLLM  # noqa: E402
from llama_index.core.llms.callbacks import llm_completion_callback  # noqa: E402
from llama_index.core.llms.mock import MockFunctionCallingLLM  # noqa: E402

from slm_agents.integrations.llama_index_router import (  # noqa: E402
    LlamaIndexModel,
    to_llama_messages,
)
from slm_agents.records import ToolCall  # noqa: E402
from slm_agents.route.adapters import as_generative  # noqa: E402
from slm_agents.train.generation import Generation  # noqa: E402

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
]


class UsageLLM(MockLLM):
    """``MockLLM`` reporting token usage the way OpenAI-style integrations do."""

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="It is sunny.",
                                  raw={"usage": {"prompt_tokens": 4, "completion_tokens": 2}})


class FixedSpecialist:
    """A user-supplied specialist: always the same answer."""

    def __init__(self, answer: Generation) -> None:
        self.answer = answer
        self.calls: list[list[dict[str, Any]]] = []

    def generate(self, messages: Any, tools: Any = None, **kwargs: Any) -> Generation:
        self.calls.append(list(messages))
        return self.answer


def _calling_llm(seen: list[dict[str, Any]]) -> MockFunctionCallingLLM:
    def respond(messages: Any, **kwargs: Any) -> ChatMessage:
        seen.append({"messages": list(messages), "tools": kwargs.get("tools")})
        return ChatMessage(role="assistant", blocks=[ToolCallBlock(
            tool_call_id="t1", tool_name="get_weather", tool_kwargs={"city": "Oslo"})])

    return MockFunctionCallingLLM(response_generator=respond)


# ------------------------------------------------------------------ LlamaIndexModel (wrapper)
def test_when_tools_are_offered_to_a_function_calling_llm_then_tool_calls_come_back() -> None:
    seen: list[dict[str, Any]] = []
    gen = LlamaIndexModel(_calling_llm(seen)).generate(CONVERSATION, tools=[WEATHER_TOOL])

    assert gen.tool_calls == [ToolCall(name="get_weather", arguments={"city": "Oslo"}, id="t1")]
    assert gen.text is None and gen.parse_error is None and "<tool_call>" in gen.raw
    offered = [t.metadata.to_openai_tool() for t in seen[0]["tools"]]
    assert offered == [WEATHER_TOOL]  # the JSON schema survives the stand-in BaseTool
    roles = [m.role for m in seen[0]["messages"]]
    assert roles == [MessageRole.SYSTEM, MessageRole.USER, MessageRole.ASSISTANT,
                     MessageRole.TOOL]


def test_openai_dicts_become_chat_messages_with_tool_blocks_and_ids() -> None:
    messages = to_llama_messages(CONVERSATION)
    call = messages[2].blocks[0]
    assert isinstance(call, ToolCallBlock)
    assert (call.tool_call_id, call.tool_name, call.tool_kwargs) == ("c1", "get_weather",
                                                                     {"city": "Oslo"})
    assert messages[2].additional_kwargs["tool_calls"][0]["function"]["name"] == "get_weather"
    assert messages[3].additional_kwargs == {"tool_call_id": "c1"}
    assert messages[3].content == "sunny"


def test_usage_is_read_from_the_raw_response_and_plain_llms_ignore_tools() -> None:
    gen = LlamaIndexModel(UsageLLM()).generate(CONVERSATION, tools=[WEATHER_TOOL])
    assert gen.text == "It is sunny." and gen.tool_calls == []
    assert (gen.input_tokens, gen.output_tokens) == (4, 2)


def test_async_and_streaming_calls_use_the_llms_own_async_and_stream() -> None:
    model = LlamaIndexModel(MockLLM())
    text = "".join(model.stream([{"role": "user", "content": "hi"}]))
    assert "hi" in text

    async def run() -> tuple[Generation, Generation]:
        seen: list[dict[str, Any]] = []
        plain = await model.agenerate([{"role": "user", "content": "hey"}])
        called = await LlamaIndexModel(_calling_llm(seen)).agenerate(CONVERSATION,
                                                                     [WEATHER_TOOL])
        return plain, called

    plain, called = asyncio.run(run())
    assert "hey" in (plain.text or "") and called.tool_calls[0].name == "get_weather"


def test_as_generative_wraps_a_llama_index_llm() -> None:
    assert isinstance(as_generative(MockLLM()), LlamaIndexModel)
    specialist = FixedSpecialist(Generation(text="x"))
    assert as_generative(specialist) is specialist


# --------------------------------------------------------- the router as a LlamaIndex LLM
from llama_index.core.agent.workflow import FunctionAgent  # noqa: E402
from llama_index.core.chat_engine import SimpleChatEngine  # noqa: E402
from llama_index.core.llms.function_calling import FunctionCallingLLM  # noqa: E402
from llama_index.core.tools import FunctionTool  # noqa: E402

from slm_agents.route import Router  # noqa: E402
from slm_agents.route.adapters import router_as_llama_index, specialist_as_tool  # noqa: E402

OSLO_CALL = Generation(tool_calls=[ToolCall(name="get_weather", arguments={"city": "Oslo"})],
                       input_tokens=11, output_tokens=4)
GREETING = Generation(text="Hello! How can I help?", input_tokens=3, output_tokens=6)


def _weather_tool(ran: list[str]) -> FunctionTool:
    def get_weather(city: str) -> str:
        """Weather in a city."""
        ran.append(city)
        return f"sunny in {city}"

    return FunctionTool.from_defaults(fn=get_weather)


def _policy(call: Any) -> Any:
    """Weather questions and greetings go to their specialists; the rest to the LLM."""
    last = call.messages[-1]
    content = (last.get("content") or "").lower() if last.get("role") == "user" else ""
    if "weather" in content:
        return ("weather", 0.9)
    if content.startswith("hello"):
        return ("greet", 0.9)
    return None


def _router(llm: Any) -> Router:
    return Router(llm, specialists={"weather": FixedSpecialist(OSLO_CALL),
                                    "greet": FixedSpecialist(GREETING)}, policy=_policy)


def test_the_router_is_a_function_calling_llm_with_chat_and_completion_metadata() -> None:
    llm = _router(MockLLM()).as_llama_index()
    assert isinstance(llm, FunctionCallingLLM)
    assert llm.metadata.is_chat_model and llm.metadata.is_function_calling_model
    response = llm.chat([ChatMessage(role="user", content="Hello there")])
    assert response.message.content == "Hello! How can I help?"
    assert response.raw["routing"]["route"] == "specialist"
    assert response.raw["usage"] == {"input_tokens": 3, "output_tokens": 6}
    assert llm.chat([ChatMessage(role="user", content="Hi")],
                    trace_id="conv-3").raw["routing"]["trace_id"] == "conv-3"
    completion = llm.complete("Hello again")
    assert completion.text == "Hello! How can I help?"
    assert completion.additional_kwargs["routing"]["task"] == "greet"


def test_the_router_serves_a_simple_chat_engine_with_sync_async_and_streaming() -> None:
    router = _router(MockLLM())
    engine = SimpleChatEngine.from_defaults(llm=router_as_llama_index(router))

    assert str(engine.chat("Hello!")) == "Hello! How can I help?"
    streamed = engine.stream_chat("What can you do?")  # the LLM (MockLLM echoes its prompt)
    text = "".join(streamed.response_gen)
    assert "What can you do?" in text

    async def run() -> tuple[str, str]:
        answer = await engine.achat("Hello, anyone?")
        streaming = await engine.astream_chat("Hello once more")
        chunks = [delta async for delta in streaming.async_response_gen()]
        return str(answer), "".join(chunks)

    achat, astreamed = asyncio.run(run())
    assert achat == astreamed == "Hello! How can I help?"
    assert len(engine.chat_history) == 8  # four user turns and four answers remembered
    assert router.stats().by_route == {"specialist": 3, "llm": 1}


# The workflow engine inspects its own pydantic members: its deprecation noise, not ours.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("streaming", [True, False])  # FunctionAgent streams by default
def test_the_router_drives_a_function_agent_with_tools(streaming: bool) -> None:
    ran: list[str] = []
    router = _router(MockFunctionCallingLLM())
    agent = FunctionAgent(tools=[_weather_tool(ran)], llm=router_as_llama_index(router),
                          streaming=streaming)

    async def run() -> Any:
        return await agent.run(user_msg="What is the weather in Oslo?")

    result = asyncio.run(run())
    assert ran == ["Oslo"]  # the specialist's tool call was executed by the agent
    # The LLM (the mock answers "Tool calls complete." once it sees tool results) finished.
    assert result.response.content == "Tool calls complete."
    assert router.stats().by_route == {"specialist": 1, "llm": 1}


def test_predict_and_call_runs_the_specialists_tool_call() -> None:
    ran: list[str] = []
    llm = router_as_llama_index(_router(MockFunctionCallingLLM()))
    response = llm.predict_and_call([_weather_tool(ran)], user_msg="Weather in Oslo?")
    assert str(response) == "sunny in Oslo" and ran == ["Oslo"]
    chat = llm.chat_with_tools([_weather_tool(ran)], user_msg="Weather in Oslo?")
    selection = llm.get_tool_calls_from_response(chat)[0]
    assert (selection.tool_name, selection.tool_kwargs) == ("get_weather", {"city": "Oslo"})
    assert selection.tool_id == chat.message.additional_kwargs["tool_calls"][0]["id"]
    with pytest.raises(ValueError, match="tool call"):
        llm.get_tool_calls_from_response(llm.chat([ChatMessage(role="user", content="hi")]))


def test_async_and_streamed_completion_and_chat() -> None:
    llm = router_as_llama_index(_router(MockLLM()))
    assert [r.delta for r in llm.stream_complete("Hello")] == ["Hello! How can I help?"]

    async def run() -> tuple[str, str, str]:
        completion = await llm.acomplete("Hello")
        chat = await llm.achat([ChatMessage(role="user", content="Hello")])
        deltas = [r.delta async for r in await llm.astream_complete("Hello")]
        return completion.text, chat.message.content or "", "".join(deltas)

    assert asyncio.run(run()) == ("Hello! How can I help?",) * 3


def test_a_specialist_exposed_as_a_function_tool_is_called_by_a_larger_model() -> None:
    specialist = FixedSpecialist(Generation(text="Sunny, 21 C."))
    expert = specialist_as_tool(specialist, "weather_expert", "Answers weather questions.",
                                framework="llama_index")
    assert expert.metadata.name == "weather_expert"

    def big_model(messages: Any, **kwargs: Any) -> ChatMessage:
        return ChatMessage(role="assistant", blocks=[ToolCallBlock(
            tool_call_id="x1", tool_name="weather_expert",
            tool_kwargs={"request": "Oslo today?"})])

    big = MockFunctionCallingLLM(response_generator=big_model)
    response = big.predict_and_call([expert], user_msg="Umbrella in Oslo?")
    assert str(response) == "Sunny, 21 C."
    assert specialist.calls == [[{"role": "user", "content": "Oslo today?"}]]
    greeter = _router(MockLLM()).as_tool("greet", framework="llama_index")
    assert greeter.call(request="hi").content == "Hello! How can I help?"
