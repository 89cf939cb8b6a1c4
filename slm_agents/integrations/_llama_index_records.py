"""Turn a finished LlamaIndex LLM call into a :class:`~slm_agents.CallRecord` (writer side).

Kept apart from :mod:`slm_agents.integrations.llama_index` so that module holds only what runs on
the host's thread. Everything here runs on the recorder's writer thread, through
``_PendingLLMCall.build``, so it can afford to be thorough. :func:`build_record` reads the pending
call by attribute only, and reads LlamaIndex objects (``ChatMessage``, ``ChatResponse``, tool
metadata) the same way, so it never imports ``llama_index`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..capture.sanitize import clean_text, json_safe, tool_call_from_parts
from ..records import CallRecord, Message, ToolCall, Usage, new_id

if TYPE_CHECKING:  # only for the annotation: the capture module imports this one
    from .llama_index import _PendingLLMCall

__all__ = ["build_record"]

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
          "tool": "tool", "function": "tool", "chatbot": "assistant", "model": "assistant"}
_PARAM_KEYS = ("temperature", "max_tokens", "max_new_tokens", "top_p", "top_k", "stop", "seed",
               "frequency_penalty", "presence_penalty")
_NOT_PARAMS = frozenset({"tools", "formatted", "messages", "prompt"})
_INPUT_KEYS = ("input_tokens", "prompt_tokens", "prompt_token_count", "input_token_count")
_OUTPUT_KEYS = ("output_tokens", "completion_tokens", "candidates_token_count",
                "output_token_count")


def build_record(call: _PendingLLMCall) -> CallRecord:
    """The record of one finished call, from the handler module's ``_PendingLLMCall``."""
    limit = call.capture.recorder.options.max_field_chars
    kwargs = _mapping(call.kwargs)
    model_dict = _mapping(call.model_dict)
    if call.operation == "chat":
        messages = [_message(m, limit) for m in _items(call.inputs)]
    else:
        messages = [_text_message("user", clean_text(call.inputs, limit))]
    response = call.response if call.response is not None else call.last
    output, tool_calls = _output(response, limit)
    raw = getattr(response, "raw", None)
    tags = _mapping(call.tags)
    metadata: dict[str, Any] = {}
    if model_dict.get("class_name"):
        metadata["llm_class"] = clean_text(model_dict["class_name"], 1000)
    if call.t_first is not None:
        metadata["stream"] = True
    if tags:
        metadata["instrument_tags"] = json_safe(tags, limit)
    params = {key: json_safe(model_dict[key], limit) for key in _PARAM_KEYS
              if model_dict.get(key) is not None}
    params.update({clean_text(key, 1000) or "": json_safe(value, limit)
                   for key, value in kwargs.items() if key not in _NOT_PARAMS})
    error = call.error
    end = call.t_end if call.t_end is not None else call.t0
    record_id = call.span_id or new_id()
    return CallRecord(
        id=record_id,
        trace_id=call.trace_id or record_id,
        parent_id=call.parent_id,
        agent=call.capture.agent,
        model=_model_name(model_dict, raw),
        operation=call.operation,
        messages=messages,
        tools=_tools(kwargs.get("tools"), limit),
        output=output,
        tool_calls=tool_calls,
        usage=_usage(response),
        latency_ms=(end - call.t0) * 1000.0,
        time_to_first_token_ms=None if call.t_first is None else (call.t_first - call.t0) * 1e3,
        started_at=datetime.fromtimestamp(call.wall0, timezone.utc),
        error=None if error is None else _error_text(error, limit),
        finish_reason=_finish_reason(raw),
        request_params=params,
        human_facing=tags.get("human_facing") is True,
        metadata=metadata,
        source="llama_index",
    )


def _error_text(error: BaseException, limit: int) -> str | None:
    if isinstance(error, GeneratorExit):  # the consumer stopped iterating: output is partial
        return "GeneratorExit: the stream was closed before it ended"
    return clean_text(f"{type(error).__name__}: {error}", limit)


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` otherwise; ``None`` when absent or failing."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    try:
        return getattr(obj, key, None)
    except Exception:
        return None


def _mapping(obj: Any) -> Mapping[str, Any]:
    if isinstance(obj, Mapping):
        return obj
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            dumped = dump()
        except Exception:
            return {}
        return dumped if isinstance(dumped, Mapping) else {}
    return {}


def _items(obj: Any) -> list[Any] | tuple[Any, ...]:
    return obj if isinstance(obj, (list, tuple)) else []


def _text_message(role: str, content: str | None) -> Message:
    # Every field given: pydantic 2.13's model_construct inspects default factories (~70 µs).
    return Message.model_construct(role=role, content=content, tool_calls=[], tool_call_id=None,
                                   name=None, metadata={})


def _role(role: Any) -> str:
    text = clean_text(getattr(role, "value", role), 100) or "user"
    return _ROLES.get(text, text)


def _message(msg: Any, limit: int) -> Message:
    """A LlamaIndex ``ChatMessage`` (text, tool-call and other blocks) as a :class:`Message`."""
    blocks = getattr(msg, "blocks", None)
    texts: list[str] = []
    parts: list[Any] = []
    calls: list[ToolCall] = []
    if isinstance(blocks, list):
        for block in blocks:
            kind = getattr(block, "block_type", None)
            if kind == "text":
                text = getattr(block, "text", "")
                # Cut once, after joining, so the marker counts every dropped character.
                texts.append(text if isinstance(text, str) else clean_text(text, limit) or "")
            elif kind == "tool_call":
                calls.append(tool_call_from_parts(getattr(block, "tool_name", None),
                                                  getattr(block, "tool_kwargs", None),
                                                  getattr(block, "tool_call_id", None)))
            else:
                parts.append(_part(block, limit))
        content = clean_text("\n".join(texts), limit) if texts else None
    else:
        content = clean_text(getattr(msg, "content", None), limit)
    extra = _mapping(getattr(msg, "additional_kwargs", None))
    if not calls and extra.get("tool_calls"):
        calls = _legacy_tool_calls(extra["tool_calls"])
    return Message.model_construct(
        role=_role(getattr(msg, "role", None)),
        content=content,
        tool_calls=calls,
        tool_call_id=clean_text(extra.get("tool_call_id"), 10_000),
        name=clean_text(extra.get("name"), 10_000),
        metadata={"parts": parts} if parts else {},
    )


def _part(block: Any, limit: int) -> dict[str, Any]:
    """A non-text block (image, audio, document, thinking...) without its binary payload."""
    part: dict[str, Any] = {"type": clean_text(getattr(block, "block_type", None)
                                               or type(block).__name__, 100)}
    for name in getattr(type(block), "model_fields", {}):
        if name == "block_type":
            continue
        value = getattr(block, name, None)
        if value is None:
            continue
        if isinstance(value, (bytes, bytearray, memoryview)):
            part[name] = {"bytes": len(value)}  # media bytes would swamp a text training store
        elif name in ("url", "path"):
            part[name] = clean_text(value, 10_000)
        else:
            part[name] = json_safe(value, limit)
    return part


def _legacy_tool_calls(raw_calls: Any) -> list[ToolCall]:
    """Tool calls kept in ``additional_kwargs["tool_calls"]`` by older integrations."""
    calls = []
    for item in _items(raw_calls):
        call = _mapping(item)
        fn = _mapping(call.get("function")) or call  # OpenAI nests; ToolSelection is flat
        name = fn.get("name", call.get("tool_name"))
        args = fn.get("arguments", fn.get("args", call.get("tool_kwargs")))
        call_id = call.get("id", call.get("tool_id", call.get("tool_call_id")))
        if name is not None or args is not None:
            calls.append(tool_call_from_parts(name, args, call_id))
    return calls


def _tools(raw_tools: Any, limit: int) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    for tool in _items(raw_tools):
        meta = getattr(tool, "metadata", None)
        to_openai = getattr(meta, "to_openai_tool", None)
        if callable(to_openai):
            try:
                spec: Any = to_openai(skip_length_check=True)
            except Exception as exc:
                spec = {"type": "function", "function": {
                    "name": getattr(meta, "name", None),
                    "description": getattr(meta, "description", None), "error": repr(exc)}}
        elif isinstance(tool, Mapping) and "input_schema" in tool:  # Anthropic-style spec
            spec = {"type": "function", "function": {
                "name": tool.get("name"), "description": tool.get("description"),
                "parameters": tool.get("input_schema")}}
        else:
            spec = tool
        safe = json_safe(spec, limit)
        specs.append(safe if isinstance(safe, dict) else {"repr": safe})
    return specs


def _output(response: Any, limit: int) -> tuple[str | None, list[ToolCall]]:
    if response is None:
        return None, []
    message = getattr(response, "message", None)
    if message is not None:  # ChatResponse
        converted = _message(message, limit)
        return converted.content, converted.tool_calls
    return clean_text(getattr(response, "text", None), limit), []  # CompletionResponse


def _count(source: Any, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = _get(source, key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _usage(response: Any) -> Usage:
    """Token counts from ``raw["usage"]``, ``raw["usage_metadata"]`` or ``additional_kwargs``."""
    raw = _get(response, "raw")
    for source in (_get(raw, "usage"), _get(raw, "usage_metadata"),
                   _get(response, "additional_kwargs")):
        if source is None:
            continue
        input_tokens = _count(source, _INPUT_KEYS)
        output_tokens = _count(source, _OUTPUT_KEYS)
        if input_tokens is None and output_tokens is None:
            continue
        cached = (_count(source, ("cache_read_input_tokens", "cached_content_token_count"))
                  or _count(_get(source, "prompt_tokens_details"), ("cached_tokens",))
                  or _count(_get(source, "input_token_details"), ("cache_read",)))
        reasoning = (_count(source, ("thoughts_token_count", "reasoning_tokens"))
                     or _count(_get(source, "completion_tokens_details"), ("reasoning_tokens",))
                     or _count(_get(source, "output_token_details"), ("reasoning",)))
        return Usage.model_construct(input_tokens=input_tokens, output_tokens=output_tokens,
                                     cache_read_tokens=cached, reasoning_tokens=reasoning)
    return Usage()


def _model_name(model_dict: Mapping[str, Any], raw: Any) -> str | None:
    for value in (model_dict.get("model"), model_dict.get("model_name"), _get(raw, "model")):
        # "unknown" is LLMMetadata's placeholder default, not a model name.
        if isinstance(value, str) and value and value != "unknown":
            return clean_text(value, 1000)
    return None


def _finish_reason(raw: Any) -> str | None:
    choices = _get(raw, "choices")
    if isinstance(choices, (list, tuple)) and choices:
        reason = _get(choices[0], "finish_reason")
    else:
        reason = _get(raw, "finish_reason") or _get(raw, "stop_reason")
    return clean_text(reason, 100) if isinstance(reason, str) else None
