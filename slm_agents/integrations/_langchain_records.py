"""Turn a finished LangChain LLM run into a :class:`~slm_agents.CallRecord` (writer side).

Kept apart from :mod:`slm_agents.integrations.langchain` so that module holds only what runs on
the host's thread. Everything here runs on the recorder's writer thread, through
``_PendingLLMCall.build``, so it can afford to be thorough. :func:`build_record` reads the pending
call by attribute only; what each record field comes from is described in the docstring of
:mod:`slm_agents.integrations.langchain`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..capture.sanitize import clean_text, json_safe, split_content, tool_call_from_parts
from ..records import CallRecord, Message, ToolCall, Usage

if TYPE_CHECKING:  # only for the annotation: the handler module imports this one
    from .langchain import _PendingLLMCall

__all__ = ["build_record"]

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant",
          "system": "system", "developer": "system", "tool": "tool", "function": "tool"}
_PARAM_KEYS = ("temperature", "max_tokens", "max_completion_tokens", "max_new_tokens", "top_p",
               "top_k", "stop", "seed", "frequency_penalty", "presence_penalty", "tool_choice",
               "parallel_tool_calls", "response_format")
_LS_PARAMS = {"ls_temperature": "temperature", "ls_max_tokens": "max_tokens", "ls_stop": "stop"}
_DROPPED_METADATA = frozenset({"lc_versions"})


def build_record(call: _PendingLLMCall) -> CallRecord:
    """The record of one finished run, from the handler module's ``_PendingLLMCall``."""
    handler = call.handler
    limit = handler.recorder.options.max_field_chars
    run_meta = call.metadata if isinstance(call.metadata, Mapping) else {}
    params = call.kwargs.get("invocation_params")
    params = params if isinstance(params, Mapping) else {}
    inputs = call.inputs[0] if isinstance(call.inputs, list) and call.inputs else None
    if call.operation == "chat":
        messages = [_message(m, limit) for m in (inputs if isinstance(inputs, list) else [])]
    else:
        messages = [_text_message("user", clean_text(inputs, limit))]

    metadata: dict[str, Any] = {}
    safe_meta = json_safe(dict(run_meta), limit)
    for key, value in safe_meta.items():
        if not key.startswith("ls_") and key not in _DROPPED_METADATA:
            metadata[key] = value
    if call.parent is not None and call.parent[3] is not None:
        metadata["parent_name"] = clean_text(call.parent[3], 1000)
    llm_class = _class_name(call.serialized)
    if llm_class:
        metadata["llm_class"] = llm_class
    if call.t_first is not None:
        metadata["stream"] = True
    run_name = call.kwargs.get("name")
    if isinstance(run_name, str) and run_name:
        metadata["run_name"] = clean_text(run_name, 1000)
    options = call.kwargs.get("options")
    structured = options.get("ls_structured_output_format") if isinstance(options, Mapping) \
        else None
    if structured:  # with_structured_output(): the schema the answer must follow
        metadata["structured_output_format"] = json_safe(structured, limit)

    out = _Output(call.response, limit)
    if out.parts:
        metadata["output_parts"] = out.parts
    if out.candidates > 1:
        metadata["candidates"] = out.candidates
    if call.error is not None and out.text:
        metadata["partial_output"] = out.text  # what a failed stream produced before failing
    model = _first_str(run_meta.get("ls_model_name"), params.get("model"),
                       params.get("model_name"))
    if out.model and out.model != model:
        metadata["response_model"] = out.model
    agent = run_meta.get("agent")

    run_id = str(call.run_id)
    parent_id = None if call.parent_id is None else str(call.parent_id)
    if call.parent is not None:
        trace_id = str(call.parent[1])
    else:
        trace_id = parent_id or run_id
    end = call.t_end if call.t_end is not None else call.t0
    tags = [clean_text(t, 1000) or "" for t in (call.tags or ())
            if not (isinstance(t, str) and t.startswith("seq:step:"))]
    return CallRecord(
        id=run_id,
        trace_id=trace_id,
        parent_id=parent_id,
        agent=agent if isinstance(agent, str) else handler.agent,
        model=clean_text(model or out.model, 1000),
        provider=clean_text(_first_str(run_meta.get("ls_provider")), 1000),
        operation=call.operation,
        messages=messages,
        tools=_tools(params.get("tools"), params.get("functions"), limit),
        output=None if call.error is not None else out.text,
        tool_calls=out.tool_calls,
        usage=out.usage,
        latency_ms=(end - call.t0) * 1000.0,
        time_to_first_token_ms=None if call.t_first is None else (call.t_first - call.t0) * 1e3,
        started_at=datetime.fromtimestamp(call.wall0, timezone.utc),
        error=None if call.error is None else _error_text(call.error, limit),
        finish_reason=out.finish_reason,
        request_params=_request_params(params, run_meta, limit),
        tags=list(dict.fromkeys(tags)),
        metadata=metadata,
        source="langchain",
    )


def _first_str(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value
    return None


def _class_name(serialized: Any) -> str | None:
    if isinstance(serialized, Mapping):
        path = serialized.get("id")
        if isinstance(path, list) and path and isinstance(path[-1], str):
            return clean_text(path[-1], 1000)
    return None


def _error_text(error: BaseException, limit: int) -> str | None:
    try:
        text = f"{type(error).__name__}: {error}"
    except Exception as exc:  # a broken __str__ must not lose the record
        text = f"{type(error).__name__}: <unprintable: {exc!r}>"
    return clean_text(text, limit)


def _request_params(params: Mapping[str, Any], run_meta: Mapping[str, Any],
                    limit: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for meta_key, name in _LS_PARAMS.items():
        if run_meta.get(meta_key) is not None:
            found[name] = json_safe(run_meta[meta_key], limit)
    for key in _PARAM_KEYS:
        if params.get(key) is not None:
            found[key] = json_safe(params[key], limit)
    return found


def _text_message(role: str, content: str | None) -> Message:
    # Every field given: pydantic's model_construct inspects default factories otherwise.
    return Message.model_construct(role=role, content=content, tool_calls=[], tool_call_id=None,
                                   name=None, metadata={})


def _role(msg: Any) -> str:
    kind = getattr(msg, "type", None)
    if isinstance(kind, str) and kind.endswith("MessageChunk"):  # AIMessageChunk, ...
        kind = kind[: -len("MessageChunk")].lower()
    if kind == "chat" or not isinstance(kind, str):  # ChatMessage: a free-form role
        role = clean_text(getattr(msg, "role", None), 100) or "user"
        return _ROLES.get(role, role)
    return _ROLES.get(kind, kind)


def _tool_calls(msg: Any) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for raw in getattr(msg, "tool_calls", None) or ():
        if isinstance(raw, Mapping):
            calls.append(tool_call_from_parts(raw.get("name"), raw.get("args"), raw.get("id")))
    for raw in getattr(msg, "invalid_tool_calls", None) or ():
        if isinstance(raw, Mapping):
            error = raw.get("error")
            calls.append(tool_call_from_parts(
                raw.get("name"), raw.get("args"), raw.get("id"),
                error=clean_text(error, 10_000) if error else "invalid tool call"))
    if not calls:  # legacy OpenAI function calling, kept in additional_kwargs
        extra = getattr(msg, "additional_kwargs", None)
        legacy = extra.get("function_call") if isinstance(extra, Mapping) else None
        if isinstance(legacy, Mapping):
            calls.append(tool_call_from_parts(legacy.get("name"), legacy.get("arguments")))
    return calls


def _message(msg: Any, limit: int) -> Message:
    """A LangChain ``BaseMessage`` as a :class:`Message` (never raises on odd content)."""
    if not hasattr(msg, "content"):
        return _text_message("user", clean_text(msg, limit))
    content, parts = split_content(msg.content, limit)
    meta: dict[str, Any] = {"parts": parts} if parts else {}
    status = getattr(msg, "status", None)
    if status == "error":  # a ToolMessage reporting a failed tool run
        meta["status"] = "error"
    return Message.model_construct(
        role=_role(msg),
        content=content,
        tool_calls=_tool_calls(msg),
        tool_call_id=clean_text(getattr(msg, "tool_call_id", None), 10_000),
        name=clean_text(getattr(msg, "name", None), 10_000),
        metadata=meta,
    )


def _tools(tools: Any, functions: Any, limit: int) -> list[dict[str, Any]]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    specs: list[dict[str, Any]] = []
    items = list(tools) if isinstance(tools, Sequence) and not isinstance(tools, str) else []
    for fn in functions if isinstance(functions, Sequence) and not isinstance(functions, str) \
            else ():
        items.append({"type": "function", "function": fn} if isinstance(fn, Mapping) else fn)
    for tool in items:
        spec: Any = tool
        if not (isinstance(tool, Mapping) and "type" in tool):
            try:  # BaseTool, pydantic class, function, Anthropic/Bedrock-style dict
                spec = convert_to_openai_tool(tool)
            except Exception:
                spec = tool
        safe = json_safe(spec, limit)
        specs.append(safe if isinstance(safe, dict) else {"repr": safe})
    return specs


class _Output:
    """What an ``LLMResult`` says about the first candidate, in record fields."""

    __slots__ = ("candidates", "finish_reason", "model", "parts", "text", "tool_calls", "usage")

    def __init__(self, response: Any, limit: int) -> None:
        self.text: str | None = None
        self.parts: list[Any] = []
        self.tool_calls: list[ToolCall] = []
        self.usage = Usage()
        self.model: str | None = None
        self.finish_reason: str | None = None
        self.candidates = 0
        generations = getattr(response, "generations", None)
        first = generations[0] if isinstance(generations, list) and generations else None
        gen = first[0] if isinstance(first, list) and first else None
        self.candidates = len(first) if isinstance(first, list) else 0
        llm_output = getattr(response, "llm_output", None)
        llm_output = llm_output if isinstance(llm_output, Mapping) else {}
        message = getattr(gen, "message", None)
        info = getattr(gen, "generation_info", None)
        info = info if isinstance(info, Mapping) else {}
        response_meta: Mapping[str, Any] = {}
        if message is not None:
            self.text, self.parts = split_content(getattr(message, "content", None), limit)
            self.tool_calls = _tool_calls(message)
            meta = getattr(message, "response_metadata", None)
            response_meta = meta if isinstance(meta, Mapping) else {}
            self.usage = _usage(getattr(message, "usage_metadata", None))
        elif gen is not None:
            self.text = clean_text(getattr(gen, "text", None), limit)
        if self.usage == Usage():
            self.usage = _usage(llm_output.get("token_usage") or llm_output.get("usage"))
        reason = (response_meta.get("finish_reason") or response_meta.get("stop_reason")
                  or info.get("finish_reason") or info.get("stop_reason"))
        self.finish_reason = clean_text(reason, 100) if isinstance(reason, str) else None
        model = _first_str(response_meta.get("model_name"), response_meta.get("model"),
                           llm_output.get("model_name"), llm_output.get("model"))
        self.model = clean_text(model, 1000)


def _count(source: Any, *keys: str) -> int | None:
    if not isinstance(source, Mapping):
        return None
    for key in keys:
        value = source.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _usage(raw: Any) -> Usage:
    """Token counts from ``usage_metadata`` or an OpenAI-style ``token_usage`` dict."""
    if not isinstance(raw, Mapping):
        return Usage()
    cached = (_count(raw.get("input_token_details"), "cache_read")
              or _count(raw.get("prompt_tokens_details"), "cached_tokens"))
    reasoning = (_count(raw.get("output_token_details"), "reasoning")
                 or _count(raw.get("completion_tokens_details"), "reasoning_tokens"))
    return Usage.model_construct(
        input_tokens=_count(raw, "input_tokens", "prompt_tokens"),
        output_tokens=_count(raw, "output_tokens", "completion_tokens"),
        cache_read_tokens=cached, reasoning_tokens=reasoning)
