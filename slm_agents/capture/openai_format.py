"""Convert OpenAI-style chat messages and responses (dicts or SDK objects) into records.

This is the format plain functions wrapped by :meth:`Recorder.trace` speak: a list of
``{"role": ..., "content": ...}`` dicts in; text, an assistant message, or a chat-completion
response out. Every function is total: unknown shapes are kept as text, never raised on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..records import Message, ToolCall, Usage
from .sanitize import (
    DEFAULT_MAX_CHARS,
    clean_text,
    json_safe,
    split_content,
    tool_call_from_parts,
)

__all__ = ["ParsedOutput", "messages_from_openai", "output_from_openai", "tools_from_openai"]

# LangChain message types -> OpenAI roles (for functions that pass LangChain messages around).
_ROLE_BY_TYPE = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool",
                 "function": "tool", "developer": "system"}


def _as_mapping(obj: Any) -> Mapping[str, Any] | None:
    if isinstance(obj, Mapping):
        return obj
    dump = getattr(obj, "model_dump", None)  # OpenAI SDK objects are pydantic models
    if callable(dump):
        try:
            dumped = dump()
        except Exception:
            return None
        return dumped if isinstance(dumped, Mapping) else None
    return None


def _tool_calls_of(raw_calls: Any) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for raw in raw_calls or []:
        call = _as_mapping(raw)
        if call is None:
            continue
        fn = _as_mapping(call.get("function")) or call  # OpenAI nests; LangChain is flat
        arguments = fn.get("arguments", fn.get("args"))
        calls.append(tool_call_from_parts(fn.get("name"), arguments, call.get("id")))
    return calls


def _message_of(item: Any, max_chars: int) -> Message:
    mapping = _as_mapping(item)
    if mapping is None and hasattr(item, "content"):  # LangChain / LlamaIndex message objects
        role = getattr(item, "role", None) or _ROLE_BY_TYPE.get(getattr(item, "type", ""), "user")
        mapping = {"role": str(getattr(role, "value", role)), "content": item.content,
                   "tool_calls": getattr(item, "tool_calls", None),
                   "tool_call_id": getattr(item, "tool_call_id", None),
                   "name": getattr(item, "name", None)}
    if mapping is None:
        return Message.model_construct(role="user", content=clean_text(item, max_chars))
    role = mapping.get("role") or _ROLE_BY_TYPE.get(str(mapping.get("type", "")), "user")
    content, parts = split_content(mapping.get("content"), max_chars)
    return Message.model_construct(
        role=clean_text(role, 100) or "user",
        content=content,
        tool_calls=_tool_calls_of(mapping.get("tool_calls")),
        tool_call_id=clean_text(mapping.get("tool_call_id"), 10_000),
        name=clean_text(mapping.get("name"), 10_000),
        metadata={"parts": parts} if parts else {},
    )


def messages_from_openai(messages: Any, max_chars: int = DEFAULT_MAX_CHARS) -> list[Message]:
    """Convert an OpenAI-style conversation (or a bare prompt string) into messages."""
    if messages is None:
        return []
    if isinstance(messages, (str, bytes, bytearray)) or _as_mapping(messages) is not None:
        messages = [messages]
    try:
        items = list(messages)
    except TypeError:
        items = [messages]
    return [_message_of(item, max_chars) for item in items]


def tools_from_openai(tools: Any, max_chars: int = DEFAULT_MAX_CHARS) -> list[dict[str, Any]]:
    """JSON-safe copies of OpenAI-style tool specs (other objects are dumped or kept as text)."""
    if not tools:
        return []
    safe = json_safe(list(tools) if not isinstance(tools, Mapping) else [tools], max_chars)
    return [t if isinstance(t, dict) else {"repr": t} for t in safe]


class ParsedOutput:
    """What a call returned, in record fields."""

    __slots__ = ("finish_reason", "model", "output", "tool_calls", "usage")

    def __init__(self, output: str | None = None, tool_calls: list[ToolCall] | None = None,
                 usage: Usage | None = None, model: str | None = None,
                 finish_reason: str | None = None) -> None:
        self.output = output
        self.tool_calls = tool_calls or []
        self.usage = usage or Usage()
        self.model = model
        self.finish_reason = finish_reason


def _usage_of(raw: Any) -> Usage:
    usage = _as_mapping(raw)
    if not usage:
        return Usage()

    def count(*keys: str) -> int | None:
        for key in keys:
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    return Usage(input_tokens=count("prompt_tokens", "input_tokens"),
                 output_tokens=count("completion_tokens", "output_tokens"))


def output_from_openai(result: Any, max_chars: int = DEFAULT_MAX_CHARS) -> ParsedOutput:
    """Read text, tool calls, usage, model and finish reason from a call's return value.

    Accepts text, an assistant message (dict, OpenAI SDK or LangChain object), or a full chat
    completion response (``{"choices": [...], "usage": ..., "model": ...}``).
    """
    if result is None or isinstance(result, (str, bytes, bytearray)):
        return ParsedOutput(output=clean_text(result, max_chars))
    mapping = _as_mapping(result)
    if mapping is not None and isinstance(mapping.get("choices"), list) and mapping["choices"]:
        choice = _as_mapping(mapping["choices"][0]) or {}
        inner = output_from_openai(choice.get("message", choice.get("text")), max_chars)
        inner.usage = _usage_of(mapping.get("usage"))
        inner.model = clean_text(mapping.get("model"), 1000)
        inner.finish_reason = clean_text(choice.get("finish_reason"), 100)
        return inner
    if mapping is None and hasattr(result, "content"):  # LangChain AIMessage and friends
        message = _message_of(result, max_chars)
        parsed = ParsedOutput(output=message.content, tool_calls=message.tool_calls)
        parsed.usage = _usage_of(getattr(result, "usage_metadata", None))
        return parsed
    if mapping is not None and ("content" in mapping or "tool_calls" in mapping):
        message = _message_of(mapping, max_chars)
        return ParsedOutput(output=message.content, tool_calls=message.tool_calls)
    return ParsedOutput(output=clean_text(result, max_chars))
