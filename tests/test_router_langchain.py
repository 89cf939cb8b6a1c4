"""LangChain and the router: chat models as routed models, the router as a LangChain chat model.

The LLM side is LangChain's own fake chat models (``FakeMessagesListChatModel`` keeps tool calls
and usage); the specialist is a small class with ``generate()`` returning a fixed answer, as a
user-supplied component would.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import (  # noqa: E402
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: E402
from pydantic import Field  # noqa: E402

from slm_agents.errors import ConfigError  # noqa: E402
from slm_agents.integrations.langchain_router import LangChainModel  # noqa: E402
from slm_agents.records import ToolCall  # noqa: E402
from slm_agents.route.adapters import CallableModel, as_generative  # noqa: E402
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


class ToolAwareFake(FakeMessagesListChatModel):
    """The fake chat model plus ``bind_tools``, recording what each call received."""

    seen: list[dict[str, Any]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools],
                         tool_choice=tool_choice, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> Any:
        self.seen.append({"messages": messages, "tools": kwargs.get("tools"),
                          "tool_choice": kwargs.get("tool_choice")})
        return super()._generate(messages, stop, run_manager, **kwargs)


class FixedSpecialist:
    """A user-supplied specialist: always the same answer."""

    def __init__(self, answer: Generation) -> None:
        self.answer = answer
        self.calls: list[list[dict[str, Any]]] = []

    def generate(self, messages: Any, tools: Any = None, **kwargs: Any) -> Generation:
        self.calls.append(list(messages))
        return self.answer


def _ai(content: str = "", calls: list[dict[str, Any]] | None = None,
        usage: tuple[int, int] = (7, 3)) -> AIMessage:
    return AIMessage(content=content, tool_calls=calls or [], usage_metadata={
        "input_tokens": usage[0], "output_tokens": usage[1],
        "total_tokens": usage[0] + usage[1]})


# ------------------------------------------------------------------- LangChainModel (wrapper)
def test_when_tools_are_offered_then_they_are_bound_and_tool_calls_come_back() -> None:
    fake = ToolAwareFake(responses=[_ai(calls=[{"name": "get_weather", "args": {"city": "Oslo"},
                                                "id": "c2"}])])
    gen = LangChainModel(fake).generate(CONVERSATION, tools=[WEATHER_TOOL],
                                        tool_choice="any")

    assert gen.text is None and gen.parse_error is None
    assert gen.tool_calls == [ToolCall(name="get_weather", arguments={"city": "Oslo"}, id="c2")]
    assert (gen.input_tokens, gen.output_tokens) == (7, 3)
    assert gen.latency_ms >= 0 and "<tool_call>" in gen.raw
    seen = fake.seen[0]
    assert seen["tools"] == [WEATHER_TOOL] and seen["tool_choice"] == "any"
    kinds = [type(m).__name__ for m in seen["messages"]]
    assert kinds == ["SystemMessage", "HumanMessage", "AIMessage", "ToolMessage"]
    assert seen["messages"][2].tool_calls[0]["args"] == {"city": "Oslo"}
    assert seen["messages"][3].tool_call_id == "c1"


def test_when_the_model_cannot_bind_tools_then_it_is_called_without_them() -> None:
    fake = FakeMessagesListChatModel(responses=[_ai("It is sunny.")])
    gen = LangChainModel(fake).generate(CONVERSATION, tools=[WEATHER_TOOL])
    assert gen.text == "It is sunny." and gen.tool_calls == [] and gen.raw == "It is sunny."


def test_when_tool_arguments_are_malformed_then_the_generation_reports_it() -> None:
    bad = AIMessage(content="", invalid_tool_calls=[
        {"name": "get_weather", "args": "{city: Oslo", "id": "c3", "error": "bad json",
         "type": "invalid_tool_call"}])
    gen = LangChainModel(FakeMessagesListChatModel(responses=[bad])).generate(CONVERSATION)
    assert gen.parse_error is not None and "get_weather" in gen.parse_error
    assert gen.tool_calls[0].raw_arguments == "{city: Oslo"


def test_async_and_streaming_calls_use_the_models_own_async_and_stream() -> None:
    model = LangChainModel(GenericFakeChatModel(messages=iter(["one two three", "four"])))
    assert "".join(model.stream([{"role": "user", "content": "count"}])) == "one two three"

    async def run() -> Generation:
        return await model.agenerate([{"role": "user", "content": "more"}])

    assert asyncio.run(run()).text == "four"


def test_as_generative_accepts_each_documented_form() -> None:
    fake = FakeMessagesListChatModel(responses=[_ai("ok")])
    specialist = FixedSpecialist(Generation(text="x"))

    assert isinstance(as_generative(fake), LangChainModel)  # a LangChain chat model
    assert as_generative(specialist) is specialist  # anything with generate() passes through
    wrapped = as_generative(lambda messages, tools: "Paris")  # a plain callable
    assert isinstance(wrapped, CallableModel)
    assert wrapped.generate([{"role": "user", "content": "?"}]).text == "Paris"
    with pytest.raises(ConfigError, match="LangChain chat model"):  # the message lists forms
        as_generative(42)


def test_a_callable_returning_raw_model_text_is_parsed_as_model_output() -> None:
    def raw_model(messages: Any, tools: Any) -> str:
        return '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'

    gen = as_generative(raw_model).generate(CONVERSATION, [WEATHER_TOOL])
    assert gen.tool_calls[0].arguments == {"city": "Oslo"} and gen.parse_error is None
    unoffered = as_generative(raw_model).generate(CONVERSATION)  # parsed even without tools
    assert unoffered.tool_calls[0].name == "get_weather"
    with pytest.raises(TypeError, match="a model returned int"):
        as_generative(lambda messages: 42).generate(CONVERSATION)


def test_a_callable_may_return_an_openai_message_or_be_async() -> None:
    async def llm(messages: Any, tools: Any) -> dict[str, Any]:
        return {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c9", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]}

    model = as_generative(llm)
    gen = asyncio.run(model.agenerate(CONVERSATION, [WEATHER_TOOL]))  # type: ignore[attr-defined]
    assert gen.tool_calls[0].id == "c9" and gen.tool_calls[0].arguments == {"city": "Rome"}
    assert model.generate(CONVERSATION, [WEATHER_TOOL]).tool_calls[0].name == "get_weather"

    async def sync_call_inside_a_running_loop() -> Generation:
        return model.generate(CONVERSATION, [WEATHER_TOOL])

    assert asyncio.run(sync_call_inside_a_running_loop()).tool_calls[0].id == "c9"


def test_a_tool_message_round_trip_keeps_ids() -> None:
    fake = ToolAwareFake(responses=[_ai("done")])
    LangChainModel(fake).generate(CONVERSATION)
    messages = fake.seen[0]["messages"]
    assert isinstance(messages[1], HumanMessage) and isinstance(messages[3], ToolMessage)
    assert messages[2].tool_calls[0]["id"] == messages[3].tool_call_id == "c1"




# ----------------------------------------------------------- the router as a LangChain model
from langchain_core.language_models import BaseChatModel  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from slm_agents.route import Router  # noqa: E402
from slm_agents.route.adapters import router_as_langchain, specialist_as_tool  # noqa: E402

OSLO_CALL = Generation(tool_calls=[ToolCall(name="get_weather", arguments={"city": "Oslo"})],
                       input_tokens=11, output_tokens=4)


@tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    sky: str


def _weather_policy(call: Any) -> Any:
    """The specialist takes a user's weather question; everything else goes to the LLM."""
    last = call.messages[-1]
    if last.get("role") == "user" and "weather" in (last.get("content") or "").lower():
        return ("weather", 0.9)
    return None


def _router(llm: Any, answer: Generation = OSLO_CALL, **kwargs: Any) -> Router:
    return Router(llm, specialists={"weather": FixedSpecialist(answer)}, policy=_weather_policy,
                  **kwargs)


def _run_agent(model: Any, question: str, tools: list[Any]) -> list[BaseMessage]:
    """A plain tool-calling agent loop: bind_tools, run each call, feed ToolMessages back."""
    by_name = {t.name: t for t in tools}
    bound = model.bind_tools(tools)
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(5):
        reply = bound.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        messages.extend(by_name[call["name"]].invoke(call) for call in reply.tool_calls)
    return messages


def test_the_router_is_a_chat_model_that_runs_inside_a_tool_calling_agent_loop() -> None:
    llm = ToolAwareFake(responses=[_ai("It is sunny in Oslo.", usage=(20, 6))])
    router = _router(llm)
    model = router.as_langchain()
    assert isinstance(model, BaseChatModel)

    ai_call, tool_msg, final = _run_agent(model, "What is the weather in Oslo?",
                                          [get_weather])[1:]

    # Turn 1: the specialist answered with a tool call (an id was generated for it).
    assert ai_call.tool_calls[0]["name"] == "get_weather" and ai_call.tool_calls[0]["id"]
    assert ai_call.response_metadata["route"] == "specialist"
    assert ai_call.response_metadata["task"] == "weather"
    assert ai_call.usage_metadata["input_tokens"] == 11
    # The agent ran the tool and answered with the id the router gave.
    assert isinstance(tool_msg, ToolMessage) and tool_msg.content == "sunny in Oslo"
    assert tool_msg.tool_call_id == ai_call.tool_calls[0]["id"]
    # Turn 2: the LLM wrote the final answer from the tool result, with the tools offered.
    assert final.content == "It is sunny in Oslo." and final.response_metadata["route"] == "llm"
    assert final.usage_metadata == {"input_tokens": 20, "output_tokens": 6, "total_tokens": 26}
    seen = llm.seen[0]
    assert [t["function"]["name"] for t in seen["tools"]] == ["get_weather"]
    assert seen["messages"][-1].tool_call_id == tool_msg.tool_call_id
    assert router.stats().by_route == {"specialist": 1, "llm": 1}


def test_when_the_specialist_calls_a_tool_not_offered_then_the_llm_answers_in_the_loop() -> None:
    rogue = Generation(tool_calls=[ToolCall(name="delete_files", arguments={})])
    llm = ToolAwareFake(responses=[
        _ai(calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "llm-1"}]),
        _ai("Sunny.")])
    messages = _run_agent(router_as_langchain(_router(llm, rogue)),
                          "What is the weather in Oslo?", [get_weather])

    first = messages[1]
    assert first.response_metadata["route"] == "llm"
    assert first.response_metadata["fallback_reason"] is not None
    assert first.tool_calls[0]["id"] == "llm-1" and messages[-1].content == "Sunny."


def test_async_and_streaming_calls_carry_text_tool_calls_and_the_decision() -> None:
    llm = FakeMessagesListChatModel(responses=[_ai("Hello there."), _ai("Hi again.")])
    model = router_as_langchain(_router(llm))

    chunks = list(model.stream("Good morning"))  # no tools: the LLM's text, streamed
    assert "".join(c.content for c in chunks) == "Hello there."

    async def run() -> tuple[Any, list[Any], Any]:
        bound = model.bind_tools([get_weather])
        ainvoked = await bound.ainvoke("What is the weather in Oslo?")
        streamed = [c async for c in bound.astream("What is the weather in Oslo?")]
        plain = await model.ainvoke("Hello?")
        return ainvoked, streamed, plain

    ainvoked, streamed, plain = asyncio.run(run())
    assert ainvoked.tool_calls[0]["args"] == {"city": "Oslo"}
    merged = streamed[0]
    for chunk in streamed[1:]:
        merged = merged + chunk
    assert merged.tool_calls[0]["name"] == "get_weather"
    assert merged.response_metadata["route"] == "specialist"
    assert plain.content == "Hi again." and plain.response_metadata["route"] == "llm"


def test_with_structured_output_works_through_tool_calling_on_both_routes() -> None:
    answer = Generation(tool_calls=[ToolCall(name="Weather",
                                             arguments={"city": "Oslo", "sky": "clear"})])
    llm = FakeMessagesListChatModel(responses=[_ai(calls=[
        {"name": "Weather", "args": {"city": "Rome", "sky": "sunny"}, "id": "w1"}])])
    model = router_as_langchain(_router(llm, answer))
    structured = model.with_structured_output(Weather)

    assert structured.invoke("What is the weather in Oslo?") == Weather(city="Oslo",
                                                                       sky="clear")
    raw = model.with_structured_output(Weather, include_raw=True).invoke("Describe Rome.")
    assert raw["parsed"] == Weather(city="Rome", sky="sunny")
    assert raw["raw"].response_metadata["route"] == "llm"


def test_a_specialist_exposed_as_a_tool_is_called_by_a_larger_model() -> None:
    specialist = FixedSpecialist(Generation(text="Sunny, 21 C."))
    expert = specialist_as_tool(specialist, "weather expert", "Answers weather questions.")
    assert expert.name == "weather_expert"
    big = ToolAwareFake(responses=[
        _ai(calls=[{"name": "weather_expert", "args": {"request": "Oslo today?"},
                    "id": "x1"}]),
        _ai("The expert says: sunny, 21 C.")])

    messages = _run_agent(big, "Should I bring an umbrella in Oslo?", [expert])

    assert messages[2].content == "Sunny, 21 C."  # the tool result is the specialist's text
    assert specialist.calls == [[{"role": "user", "content": "Oslo today?"}]]
    assert messages[-1].content == "The expert says: sunny, 21 C."
    assert big.seen[0]["tools"][0]["function"]["name"] == "weather_expert"


def test_router_as_tool_returns_the_specialists_tool_calls_as_json() -> None:
    router = _router(FakeMessagesListChatModel(responses=[_ai("unused")]))
    expert = router.as_tool("weather")
    assert expert.name == "weather_specialist"
    assert json.loads(expert.invoke({"request": "Oslo?"})) == [
        {"name": "get_weather", "arguments": {"city": "Oslo"}}]
    assert json.loads(asyncio.run(expert.ainvoke({"request": "Oslo?"})))[0]["name"] == \
        "get_weather"
    with pytest.raises(ConfigError, match="no specialist"):
        router.as_tool("billing")


def test_a_conversation_id_from_the_run_metadata_or_a_binding_reaches_the_router() -> None:
    llm = FakeMessagesListChatModel(responses=[_ai("a"), _ai("b")])
    model = router_as_langchain(_router(llm))
    first = model.invoke("Hi", config={"metadata": {"thread_id": "conv-7"}})
    assert first.response_metadata["trace_id"] == "conv-7"
    assert model.bind(trace_id="conv-8").invoke("Hi").response_metadata["trace_id"] == "conv-8"


class ScriptedLLM(ToolAwareFake):
    """A fake LLM that calls the weather tool first and answers once it has a tool result."""

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> Any:
        from langchain_core.outputs import ChatGeneration, ChatResult

        self.seen.append({"messages": messages, "tools": kwargs.get("tools")})
        if isinstance(messages[-1], ToolMessage):
            reply = _ai("It is sunny in Oslo.")
        else:
            reply = _ai(calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "l1"}])
        return ChatResult(generations=[ChatGeneration(message=reply)])


@pytest.mark.slow
def test_a_real_base_model_specialist_inside_the_agent_loop_never_breaks_it() -> None:
    pytest.importorskip("torch")
    from slm_agents.train import Specialist

    specialist = Specialist.from_base("smollm2-135m", device="cpu")
    router = Router(ScriptedLLM(responses=[_ai("unused")]),
                    specialists={"weather": specialist}, policy=_weather_policy)

    messages = _run_agent(router.as_langchain(), "What is the weather in Oslo?",
                          [get_weather])

    first, final = messages[1], messages[-1]
    # Whatever the zero-shot model wrote, the agent got a valid turn: the specialist's checked
    # answer (text or a tool call), or the LLM's after an escalation, with its reason.
    assert first.response_metadata["route"] in ("specialist", "llm")
    if first.response_metadata["route"] == "llm":
        assert first.response_metadata["fallback_reason"] is not None
    if first.tool_calls:
        assert first.tool_calls[0]["name"] == "get_weather"
        assert isinstance(messages[2], ToolMessage)
    assert isinstance(final, AIMessage) and not final.tool_calls and final.content
