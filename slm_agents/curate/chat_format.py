"""Convert a :class:`~slm_agents.CallRecord` into one OpenAI chat fine-tuning example.

The example is what OpenAI's fine-tuning API, TRL's ``SFTTrainer`` and most chat templates read::

    {"messages": [{"role": "system", "content": "..."},
                  {"role": "user", "content": "..."},
                  {"role": "assistant", "tool_calls": [{"id": "call_0", "type": "function",
                      "function": {"name": "search", "arguments": "{\\"q\\":\\"Oslo\\"}"}}]},
                  {"role": "tool", "tool_call_id": "call_0", "content": "{\\"hits\\": 3}"},
                  {"role": "assistant", "content": "Found 3."}],
     "tools": [{"type": "function", "function": {"name": "search", "parameters": {...}}}]}

The record's input messages come first and its output (text and/or tool calls) is the final
assistant turn. Keys are only written where they mean something: an assistant turn that only
calls tools has no ``content``, ``tool_call_id`` appears on tool turns only, and ``tools`` is left
out when no tool was offered (OpenAI rejects an empty ``tools`` list). Tool-call ids the record
lacks are filled with ``call_<n>`` (numbered within the example, so the conversion is
deterministic), and a tool turn without an id answers the oldest unanswered call before it.
Non-text parts of multimodal messages (``Message.metadata["parts"]``) are not carried over.

Examples:
    >>> from slm_agents.records import CallRecord, Message
    >>> rec = CallRecord(messages=[Message(role="user", content="hi")], output="hello")
    >>> record_to_example(rec)
    {'messages': [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'hello'}]}
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ..records import CallRecord, Message, ToolCall

__all__ = [
    "arguments_json",
    "example_text",
    "record_to_example",
    "template_messages",
    "tool_to_openai",
]


def arguments_json(call: ToolCall) -> str:
    """The call's arguments as the JSON string OpenAI's format carries.

    Arguments that did not parse at capture are passed on verbatim (``raw_arguments``); the
    curator drops such calls unless told not to validate them.
    """
    if call.raw_arguments is not None and (call.error is not None or not call.arguments):
        return call.raw_arguments
    return orjson.dumps(call.arguments).decode("utf-8")


def tool_to_openai(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One tool spec in OpenAI's nested form ``{"type": "function", "function": {...}}``.

    Flat specs (``{"name", "description", "parameters" | "input_schema"}``, as the Responses API
    and Anthropic write them) are nested; anything else is kept as it is.
    """
    if isinstance(spec.get("function"), Mapping):
        return dict(spec)
    name = spec.get("name")
    if not isinstance(name, str):
        return dict(spec)
    function: dict[str, Any] = {"name": name}
    if spec.get("description") is not None:
        function["description"] = spec["description"]
    parameters = spec.get("parameters", spec.get("input_schema"))
    function["parameters"] = parameters if parameters is not None else {
        "type": "object", "properties": {}}
    return {"type": "function", "function": function}


class _Ids:
    """Fills missing tool-call ids and links id-less tool turns to the calls they answer."""

    __slots__ = ("_next", "_pending")

    def __init__(self) -> None:
        self._next = 0
        self._pending: deque[str] = deque()

    def call_id(self, given: str | None) -> str:
        if given is None:
            given = f"call_{self._next}"
            self._next += 1
        self._pending.append(given)
        return given

    def answer(self, given: str | None) -> str | None:
        if given is not None:
            try:
                self._pending.remove(given)
            except ValueError:
                pass
            return given
        return self._pending.popleft() if self._pending else None


def _tool_calls(calls: Iterable[ToolCall], ids: _Ids) -> list[dict[str, Any]]:
    return [
        {"id": ids.call_id(call.id), "type": "function",
         "function": {"name": call.name, "arguments": arguments_json(call)}}
        for call in calls
    ]


def _message(message: Message, ids: _Ids) -> dict[str, Any]:
    role = message.role
    out: dict[str, Any] = {"role": role}
    if message.content is not None:
        out["content"] = message.content
    elif role != "assistant" or not message.tool_calls:
        out["content"] = ""
    if message.tool_calls:
        out["tool_calls"] = _tool_calls(message.tool_calls, ids)
    if role == "tool":
        tool_call_id = ids.answer(message.tool_call_id)
        if tool_call_id is not None:
            out["tool_call_id"] = tool_call_id
    elif message.name is not None:
        # OpenAI's tool turns carry no name; the other roles may.
        out["name"] = message.name
    return out


def record_to_example(record: CallRecord) -> dict[str, Any]:
    """The record as one chat fine-tuning example (see the module docstring for the shape)."""
    ids = _Ids()
    messages = [_message(message, ids) for message in record.messages]
    final: dict[str, Any] = {"role": "assistant"}
    if record.output is not None and (record.output or not record.tool_calls):
        final["content"] = record.output
    if record.tool_calls:
        final["tool_calls"] = _tool_calls(record.tool_calls, ids)
    messages.append(final)
    example: dict[str, Any] = {"messages": messages}
    tools = [tool_to_openai(spec) for spec in record.tools if isinstance(spec, Mapping)]
    if tools:
        example["tools"] = tools
    return example


def example_text(example: Mapping[str, Any]) -> str:
    """A plain-text rendering of an example, for tokenizers that only count text.

    Each turn is ``role: content`` followed by its tool calls as JSON; the tool schemas (which
    also take context) come first.
    """
    parts: list[str] = []
    tools = example.get("tools")
    if tools:
        parts.append(orjson.dumps(tools).decode("utf-8"))
    for message in example.get("messages", ()):
        content = message.get("content")
        parts.append(f"{message.get('role', '')}: {content if content is not None else ''}")
        for call in message.get("tool_calls", ()):
            function = call.get("function", {})
            parts.append(f"{function.get('name', '')}({function.get('arguments', '')})")
    return "\n".join(parts)


def template_messages(example: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The example's messages with tool-call arguments as objects, as chat templates expect.

    Hugging Face chat templates render ``arguments`` with ``tojson``; a JSON string would be
    quoted twice. Arguments that do not parse stay strings.
    """
    messages: list[dict[str, Any]] = []
    for message in example.get("messages", ()):
        calls = message.get("tool_calls")
        if not calls:
            messages.append(dict(message))
            continue
        converted = []
        for call in calls:
            function = dict(call.get("function", {}))
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                try:
                    function["arguments"] = orjson.loads(arguments)
                except orjson.JSONDecodeError:
                    pass
            converted.append({**call, "function": function})
        messages.append({**message, "tool_calls": converted})
    return messages
