"""Shared pieces of the router tests (no tests here): tools, a scripted specialist, the LLM.

The LLM is LangChain's own fake chat model (``FakeMessagesListChatModel``: it keeps tool calls and
usage), reached through the router's framework adapter. Specialists are small real classes with a
``generate()`` method, as users plug in their own models.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage

from slm_agents.records import ToolCall
from slm_agents.train.generation import Generation

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather forecast for a city.",
    "parameters": {"type": "object", "additionalProperties": False, "required": ["city"],
                   "properties": {"city": {"type": "string"},
                                  "days": {"type": "integer", "minimum": 1, "maximum": 7}}}}}
TOOLS = [WEATHER]
ASK = [{"role": "user", "content": "Weather in Oslo?"}]


def llm_tool_call(city: str = "Oslo", input_tokens: int = 40, output_tokens: int = 8) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": city},
                                              "id": "call_1"}],
                     usage_metadata={"input_tokens": input_tokens, "output_tokens": output_tokens,
                                     "total_tokens": input_tokens + output_tokens})


def llm_text(text: str = "The LLM's answer.", input_tokens: int = 40,
             output_tokens: int = 8) -> AIMessage:
    return AIMessage(content=text, usage_metadata={
        "input_tokens": input_tokens, "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens})


def fake_llm(*responses: AIMessage) -> FakeMessagesListChatModel:
    """LangChain's fake chat model answering ``responses`` in turn (then from the start)."""
    return FakeMessagesListChatModel(responses=list(responses) or [llm_tool_call()])


def weather_call(city: str = "Oslo", **arguments: Any) -> Generation:
    return Generation(tool_calls=[ToolCall(name="get_weather",
                                           arguments={"city": city, **arguments})],
                      input_tokens=30, output_tokens=6)


class Scripted:
    """A specialist that answers from a script, in turn, and remembers what it was asked.

    Script items: a Generation, raw text (parsed as model output), an exception to raise, or a
    callable ``messages -> answer``. The last item repeats. ``gate`` (an Event) makes every call
    wait until it is set (for timeouts).
    """

    def __init__(self, *script: Any, gate: threading.Event | None = None) -> None:
        self.script = list(script)
        self.gate = gate
        self.seen: list[list[dict[str, Any]]] = []
        self._lock = threading.Lock()

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, **_: Any) -> Any:
        with self._lock:
            index = min(len(self.seen), len(self.script) - 1)
            self.seen.append([dict(m) for m in messages])
        if self.gate is not None:
            self.gate.wait(10)
        item = self.script[index]
        if isinstance(item, BaseException):
            raise item
        if callable(item):
            item = item(messages)
        if isinstance(item, str):
            from slm_agents.train.generation import parse_tool_output

            return parse_tool_output(item, tools)
        return item

    @property
    def calls(self) -> int:
        return len(self.seen)


def always(task: Any, confidence: float = 0.9):  # noqa: ANN201 - a policy callable
    """A policy that names one task with one confidence."""
    return lambda call: (task, confidence)
