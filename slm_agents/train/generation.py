"""What a model returns for one call, and the shared parser of tool-call output.

Every model the later steps compare (a fine-tuned :class:`~slm_agents.train.Specialist`, a
zero-shot base model, a wrapper around the LLM) answers ``generate(messages, tools)`` with one
:class:`Generation`: the free text and/or the parsed tool calls, the raw decoded output, why that
output is not a valid answer (when it is not), token counts and latency.

Our fine-tuned models write tool calls in the Hermes/Qwen style, one block per call::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Oslo"}}
    </tool_call>

:func:`parse_tool_output` reads that format (and, leniently, a bare JSON object or list of
``{"name", "arguments"}`` objects, as small zero-shot models often write), and
:func:`format_tool_calls` writes it. :func:`example_reference` splits a dataset example into the
model's input and the expected answer (the LLM's logged final assistant turn).

This module is pure Python (pydantic only): importing it never imports torch.

Examples:
    >>> g = parse_tool_output('<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>',
    ...                       tools=[{"type": "function", "function": {"name": "f"}}])
    >>> g.tool_calls[0].name, g.tool_calls[0].arguments, g.text, g.parse_error
    ('f', {'x': 1}, None, None)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ..records import ToolCall

__all__ = [
    "TOOL_CALL_CLOSE",
    "TOOL_CALL_OPEN",
    "Generation",
    "GenerativeModel",
    "example_reference",
    "format_tool_calls",
    "parse_tool_output",
    "tool_names",
]

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

# A block may be left unclosed when generation hit its token limit or stopped at the EOS.
_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


class Generation(BaseModel):
    """One model answer: free text and/or tool calls, with its cost.

    Attributes:
        text: The free-text answer (``None`` when the answer is only tool calls).
        tool_calls: The parsed tool calls (``arguments`` is a dict).
        raw: The decoded output before parsing.
        parse_error: Why ``raw`` is not a valid answer (a malformed block, arguments that are not
            a JSON object, a tool that was not offered), or ``None``.
        input_tokens: Prompt tokens.
        output_tokens: Generated tokens.
        latency_ms: Wall-clock time of the call.

    Examples:
        >>> Generation(text="4").tool_calls
        []
    """

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    raw: str = ""
    parse_error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0


@runtime_checkable
class GenerativeModel(Protocol):
    """Anything that answers a chat call: a Specialist, an LLM wrapper, a callable adapter."""

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None,
                 **kwargs: Any) -> Generation:
        """Answer ``messages`` (OpenAI-style dicts), optionally with ``tools`` offered."""
        ...


def tool_names(tools: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The names of the offered tools, in order (nested OpenAI or flat specs).

    Examples:
        >>> tool_names([{"type": "function", "function": {"name": "a"}}, {"name": "b"}])
        ['a', 'b']
    """
    names: list[str] = []
    for spec in tools or ():
        function = spec.get("function") if isinstance(spec.get("function"), Mapping) else spec
        name = function.get("name") if isinstance(function, Mapping) else None
        if isinstance(name, str):
            names.append(name)
    return names


def _call_from_object(obj: Any) -> tuple[ToolCall | None, str | None]:
    """A ToolCall from a decoded ``{"name", "arguments"}`` object, or the reason it is not one."""
    if not isinstance(obj, dict):
        return None, f"tool call is not a JSON object: {obj!r:.80}"
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None, "tool call has no 'name'"
    # "parameters" is what several zero-shot models write instead of "arguments".
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):
        # OpenAI's wire format carries arguments as a JSON string.
        text: str = arguments
        try:
            arguments = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            return (ToolCall(name=name, raw_arguments=text, error=str(exc)),
                    f"arguments of {name!r} are not JSON: {exc}")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return (ToolCall(name=name, raw_arguments=json.dumps(arguments), error="not an object"),
                f"arguments of {name!r} are not a JSON object")
    return ToolCall(name=name, arguments=arguments), None


def _bare_json_calls(text: str) -> list[Any] | None:
    """The text as a bare JSON tool call (object or list of objects with a name), or None."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    items = value if isinstance(value, list) else [value]
    if items and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return items
    return None


def parse_tool_output(raw: str, tools: Sequence[Mapping[str, Any]] | None) -> Generation:
    """Parse a model's decoded output into text and tool calls.

    ``<tool_call>`` blocks (closed or, at the end, unclosed) become tool calls; the text outside
    them, stripped, is the answer text (``None`` when empty). Output that is only a JSON object
    (or list of objects) with a ``"name"`` is also read as tool calls. ``parse_error`` is set when
    a block is not valid JSON, the arguments are not a JSON object, or (when ``tools`` is given)
    a called tool was not offered; such calls are still returned when a name could be read, so
    name accuracy can be scored separately from validity.

    Token counts and latency are left at zero for the caller to fill.

    Args:
        raw: The decoded output (special tokens removed).
        tools: The offered tool specs, or ``None`` to accept any name.

    Returns:
        The parsed :class:`Generation` (``raw`` kept verbatim).

    Examples:
        >>> parse_tool_output("Hello.", None).text
        'Hello.'
        >>> parse_tool_output('{"name": "g", "arguments": {}}', [{"name": "f"}]).parse_error
        "tool 'g' was not offered (offered: f)"
    """
    errors: list[str] = []
    calls: list[ToolCall] = []
    if TOOL_CALL_OPEN in raw:
        for match in _BLOCK.finditer(raw):
            body = match.group(1).strip()
            try:
                obj = json.loads(body)
            except json.JSONDecodeError as exc:
                errors.append(f"tool call block is not valid JSON: {exc}")
                continue
            call, error = _call_from_object(obj)
            if call is not None:
                calls.append(call)
            if error:
                errors.append(error)
        text = _BLOCK.sub("", raw).replace(TOOL_CALL_CLOSE, "").strip() or None
    else:
        bare = _bare_json_calls(raw)
        if bare is not None:
            for obj in bare:
                call, error = _call_from_object(obj)
                if call is not None:
                    calls.append(call)
                if error:
                    errors.append(error)
            text = None
        else:
            text = raw.strip() or None
    if tools is not None:
        offered = tool_names(tools)
        for call in calls:
            if call.name not in offered:
                errors.append(f"tool {call.name!r} was not offered "
                              f"(offered: {', '.join(offered) or 'none'})")
    if not calls and text is None and not errors:
        errors.append("empty output")
    return Generation(text=text, tool_calls=calls, raw=raw,
                      parse_error="; ".join(errors) if errors else None)


def format_tool_calls(calls: Sequence[ToolCall | Mapping[str, Any]]) -> str:
    """Render tool calls as ``<tool_call>`` blocks (the format our fine-tuned models write).

    Accepts :class:`~slm_agents.records.ToolCall` objects or OpenAI wire dicts
    (``{"function": {"name", "arguments": "<json>"}}``); arguments keep their key order.

    Examples:
        >>> print(format_tool_calls([ToolCall(name="f", arguments={"x": 1})]))
        <tool_call>
        {"name": "f", "arguments": {"x": 1}}
        </tool_call>
    """
    blocks = []
    for call in calls:
        if isinstance(call, ToolCall):
            name, arguments = call.name, call.arguments
        else:
            function = call.get("function", call)
            name = function.get("name", "")
            arguments = function.get("arguments", {})
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments) if arguments.strip() else {}
                except json.JSONDecodeError:
                    pass  # kept as a string: the parser will report it
        body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
        blocks.append(f"{TOOL_CALL_OPEN}\n{body}\n{TOOL_CALL_CLOSE}")
    return "\n".join(blocks)


def _assistant_generation(message: Mapping[str, Any]) -> Generation:
    """The expected Generation for a logged assistant turn."""
    calls: list[ToolCall] = []
    errors: list[str] = []
    for wire in message.get("tool_calls") or ():
        function = wire.get("function", wire) if isinstance(wire, Mapping) else {}
        call, error = _call_from_object(dict(function))
        if call is not None:
            calls.append(call.model_copy(update={"id": wire.get("id")}))
        if error:
            errors.append(error)
    content = message.get("content")
    text = content if isinstance(content, str) and content.strip() else None
    raw_parts = [text] if text else []
    if message.get("tool_calls"):
        raw_parts.append(format_tool_calls(list(message["tool_calls"])))
    return Generation(text=text, tool_calls=calls, raw="\n".join(raw_parts),
                      parse_error="; ".join(errors) if errors else None)


def example_reference(
    example: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, Generation]:
    """Split a chat example into (input messages, tools offered, expected final assistant turn).

    The expected :class:`Generation` is the example's last message (the LLM's logged output):
    its text and its tool calls with arguments decoded from JSON; ``raw`` is that turn rendered
    the way our fine-tuned models write it (text, then ``<tool_call>`` blocks).

    Raises:
        ValueError: the example has no messages or its last message is not an assistant turn.

    Examples:
        >>> msgs, tools, ref = example_reference({"messages": [
        ...     {"role": "user", "content": "2+2"}, {"role": "assistant", "content": "4"}]})
        >>> len(msgs), tools, ref.text
        (1, None, '4')
    """
    messages = example.get("messages")
    if not isinstance(messages, Sequence) or not messages:
        raise ValueError("the example has no messages")
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "assistant":
        raise ValueError("the example's last message is not an assistant turn")
    tools = example.get("tools")
    return ([dict(m) for m in messages[:-1]],
            [dict(t) for t in tools] if tools else None,
            _assistant_generation(last))
