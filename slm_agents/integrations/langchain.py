"""Capture LangChain chat-model and LLM calls with a callback handler.

:class:`SLMCallbackHandler` is a synchronous ``BaseCallbackHandler`` with ``run_inline = True``,
the cheapest way into LangChain's callback system (an ``AsyncCallbackHandler`` costs a new event
loop per event from sync code; a handler without ``run_inline`` costs an executor hop per event
under ``ainvoke``). On the host's thread its hooks only keep references and clock readings; the
LangChain objects are turned into a :class:`~slm_agents.CallRecord` by :meth:`_PendingLLMCall.build`
on the recorder's writer thread.

:func:`instrument` attaches one handler to every LangChain run in the process through
``langchain_core.tracers.context.register_configure_hook`` with an object whose ``.get()``
returns the handler. A ``ContextVar`` would not reach plain worker threads; this does. The
registry (``_configure_hooks``) and the way ``CallbackManager.configure`` reads it are private to
LangChain, so ``tests/test_langchain_capture.py`` keeps a test on them.

What is recorded (langchain-core 1.x):

- ``id`` is the LLM run id, ``parent_id`` its parent run, ``trace_id`` the outermost run the
  handler saw start (chain, tool and retriever runs are tracked while they are open).
- ``model`` comes from ``metadata["ls_model_name"]``, else ``invocation_params`` ``model`` /
  ``model_name``, else the model the response names; ``provider`` from ``ls_provider``;
  ``request_params`` from ``invocation_params`` and the ``ls_*`` metadata.
- ``metadata`` is the run's metadata (JSON-safe) without the ``ls_*`` keys and ``lc_versions``
  (they are mapped into fields or are LangChain bookkeeping), plus, where known:
  ``parent_name``, ``run_name``, ``llm_class``, ``stream``, ``structured_output_format``,
  ``response_model``, ``output_parts`` (non-text output blocks), ``candidates`` (when n > 1)
  and ``partial_output`` (the text a failed stream produced). ``tags`` are the run's tags
  without LangChain's positional ``seq:step:N`` tags.
- ``agent`` is the run's ``metadata["agent"]`` when it is a string, else the handler's ``agent``,
  else the recorder's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime, timezone
from time import perf_counter, time
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from ..capture.sanitize import clean_text, json_safe, tool_call_from_parts
from ..errors import ConfigError, MissingDependencyError
from ..records import CallRecord, Message, ToolCall, Usage

try:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import LLMResult
    from langchain_core.tracers import context as _lc_context
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("langchain-core", "langchain", "LangChain capture") from exc

if TYPE_CHECKING:
    from ..capture.recorder import Recorder

__all__ = ["SLMCallbackHandler", "instrument"]

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant",
          "system": "system", "developer": "system", "tool": "tool", "function": "tool"}
_PARAM_KEYS = ("temperature", "max_tokens", "max_completion_tokens", "max_new_tokens", "top_p",
               "top_k", "stop", "seed", "frequency_penalty", "presence_penalty", "tool_choice",
               "parallel_tool_calls", "response_format")
_LS_PARAMS = {"ls_temperature": "temperature", "ls_max_tokens": "max_tokens", "ls_stop": "stop"}
_DROPPED_METADATA = frozenset({"lc_versions"})


class SLMCallbackHandler(BaseCallbackHandler):
    """A LangChain callback handler that records every chat-model and LLM call.

    Usually made by :meth:`Recorder.langchain_handler` (pass it in ``config={"callbacks": [h]}``)
    or attached process-wide by :meth:`Recorder.instrument_langchain`. Nothing here raises into
    the host: failures go to the recorder's ``hook_errors`` count and the ``slm_agents.capture``
    logger.

    Args:
        recorder: Where pending calls go.
        agent: Agent name for this handler's records (overrides the recorder's ``agent``; a run's
            ``metadata["agent"]`` still wins).
        max_run_age_s: Runs still open after this long are forgotten (a stream nobody consumed,
            a chain that never ended), so memory stays bounded; counted in :attr:`swept_runs`.

    Examples:
        >>> import os, tempfile, slm_agents as sa
        >>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
        >>> store = sa.Store(os.path.join(tempfile.mkdtemp(), "calls.db"), key=sa.generate_key())
        >>> with sa.Recorder(store) as rec:
        ...     handler = rec.langchain_handler(agent="triage")
        ...     _ = FakeListChatModel(responses=["hello"]).invoke(
        ...         "hi", config={"callbacks": [handler]})
        >>> [(r.agent, r.messages[0].content, r.output) for r in store.records()]
        [('triage', 'hi', 'hello')]
    """

    run_inline = True
    raise_error = False
    # Agent actions, retries and custom events carry nothing we record: skip the calls.
    ignore_agent = True
    ignore_retry = True
    ignore_custom_event = True

    def __init__(self, recorder: Recorder, *, agent: str | None = None,
                 max_run_age_s: float = 3600.0) -> None:
        if not max_run_age_s > 0:
            raise ConfigError(f"max_run_age_s must be > 0 seconds; got {max_run_age_s!r}")
        self.recorder = recorder
        self.agent = agent
        self.max_run_age_s = float(max_run_age_s)
        self.swept_runs = 0
        # LLM calls in flight: run id -> pending call.
        self._calls: dict[UUID, _PendingLLMCall] = {}
        # Open chain/tool/retriever runs: run id -> (parent id, root id, perf_counter, name).
        self._runs: dict[UUID, tuple[UUID | None, UUID, float, str | None]] = {}
        self._sweep_every = min(self.max_run_age_s / 2, 60.0)
        self._next_sweep = perf_counter() + self._sweep_every
        self._active = True  # False once instrument()'s detach ran: no new calls are recorded

    def __repr__(self) -> str:
        return f"SLMCallbackHandler(agent={self.agent!r}, open_runs={self.open_runs})"

    @property
    def open_runs(self) -> int:
        """LLM calls and chain/tool/retriever runs started and not yet ended."""
        return len(self._calls) + len(self._runs)

    # ------------------------------------------------------------------ hot path: LLM runs
    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]],
                            *, run_id: UUID, parent_run_id: UUID | None = None,
                            tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                            **kwargs: Any) -> None:
        try:
            if self._active:
                self._start("chat", messages, run_id, parent_run_id, tags, metadata, kwargs,
                            serialized)
        except Exception as exc:
            self.recorder._hook_error(exc, "langchain on_chat_model_start")

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID,
                     parent_run_id: UUID | None = None, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            if self._active:
                self._start("completion", prompts, run_id, parent_run_id, tags, metadata, kwargs,
                            serialized)
        except Exception as exc:
            self.recorder._hook_error(exc, "langchain on_llm_start")

    def _start(self, operation: str, inputs: Any, run_id: UUID, parent_run_id: UUID | None,
               tags: Any, metadata: Any, kwargs: dict[str, Any], serialized: Any) -> None:
        now = perf_counter()
        parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
        self._calls[run_id] = _PendingLLMCall(self, operation, inputs, run_id, parent_run_id,
                                              parent, tags, metadata, kwargs, serialized, now,
                                              time())
        if now >= self._next_sweep:
            self._sweep(now)

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, run_id: UUID,
                         parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        try:
            call = self._calls.get(run_id)
            if call is not None and call.t_first is None:
                call.t_first = perf_counter()
        except Exception as exc:
            self.recorder._hook_error(exc, "langchain on_llm_new_token")

    def on_stream_event(self, event: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                        tags: list[str] | None = None, **kwargs: Any) -> None:
        # stream_events(version="v3") reports protocol events instead of tokens.
        try:
            call = self._calls.get(run_id)
            if (call is not None and call.t_first is None and isinstance(event, dict)
                    and event.get("event") == "content-block-delta"):
                call.t_first = perf_counter()
        except Exception as exc:
            self.recorder._hook_error(exc, "langchain on_stream_event")

    def on_llm_end(self, response: LLMResult, *, run_id: UUID,
                   parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        try:
            call = self._calls.pop(run_id, None)
            if call is not None:
                call.t_end = perf_counter()
                call.response = response
                self.recorder._emit(call)
        except Exception as exc:
            self.recorder._hook_error(exc, "langchain on_llm_end")

    def on_llm_error(self, error: BaseException, *, run_id: UUID,
                     parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        try:
            call = self._calls.pop(run_id, None)
            if call is not None:
                call.t_end = perf_counter()
                call.error = error
                call.response = kwargs.get("response")  # the partial stream, if any
                self.recorder._emit(call)
        except Exception as exc:
            self.recorder._hook_error(exc, "langchain on_llm_error")

    # ------------------------------------------------------------------ hot path: other runs
    def _track(self, serialized: Any, run_id: UUID, parent_run_id: UUID | None,
               name: Any) -> None:
        now = perf_counter()
        if parent_run_id is None:
            root = run_id
        else:
            info = self._runs.get(parent_run_id)
            root = parent_run_id if info is None else info[1]
        if name is None and isinstance(serialized, dict):
            name = serialized.get("name")
        self._runs[run_id] = (parent_run_id, root, now, name)
        if now >= self._next_sweep:
            self._sweep(now)

    def on_chain_start(self, serialized: dict[str, Any], inputs: dict[str, Any], *,
                       run_id: UUID, parent_run_id: UUID | None = None,
                       tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                       **kwargs: Any) -> None:
        try:
            if self._active:
                self._track(serialized, run_id, parent_run_id, kwargs.get("name"))
        except Exception as exc:
            self.recorder._hook_error(exc, "langchain on_chain_start")

    def on_tool_start(self, serialized: dict[str, Any], input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, tags: list[str] | None = None,
                      metadata: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
        try:
            if self._active:
                self._track(serialized, run_id, parent_run_id, kwargs.get("name"))
        except Exception as exc:
            self.recorder._hook_error(exc, "langchain on_tool_start")

    def on_retriever_start(self, serialized: dict[str, Any], query: str, *, run_id: UUID,
                           parent_run_id: UUID | None = None, tags: list[str] | None = None,
                           metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            if self._active:
                self._track(serialized, run_id, parent_run_id, kwargs.get("name"))
        except Exception as exc:
            self.recorder._hook_error(exc, "langchain on_retriever_start")

    def _end_run(self, run_id: UUID) -> None:
        try:
            self._runs.pop(run_id, None)
        except Exception as exc:  # pragma: no cover - a dict pop with a default
            self.recorder._hook_error(exc, "langchain run end")

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_run(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_run(run_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_run(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_run(run_id)

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_run(run_id)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_run(run_id)

    def _sweep(self, now: float) -> None:
        """Forget runs and calls older than ``max_run_age_s`` (they will never end)."""
        self._next_sweep = now + self._sweep_every
        cutoff = now - self.max_run_age_s
        swept = 0
        for run_id, info in list(self._runs.items()):
            if info[2] < cutoff and self._runs.pop(run_id, None) is not None:
                swept += 1
        for run_id, call in list(self._calls.items()):
            if call.t0 < cutoff and self._calls.pop(run_id, None) is not None:
                swept += 1
        self.swept_runs += swept


class _PendingLLMCall:
    """References and clock readings of one LLM run; :meth:`build` runs on the writer thread."""

    __slots__ = ("error", "handler", "inputs", "kwargs", "metadata", "operation", "parent",
                 "parent_id", "response", "run_id", "serialized", "t0", "t_end", "t_first",
                 "tags", "wall0")

    def __init__(self, handler: SLMCallbackHandler, operation: str, inputs: Any, run_id: UUID,
                 parent_id: UUID | None, parent: tuple[Any, ...] | None, tags: Any,
                 metadata: Any, kwargs: dict[str, Any], serialized: Any, t0: float,
                 wall0: float) -> None:
        self.handler = handler
        self.operation = operation
        self.inputs = inputs
        self.run_id = run_id
        self.parent_id = parent_id
        self.parent = parent  # the parent's (parent id, root id, t0, name) when tracked
        self.tags = tags
        self.metadata = metadata
        self.kwargs = kwargs
        self.serialized = serialized
        self.t0 = t0
        self.wall0 = wall0
        self.t_first: float | None = None
        self.t_end: float | None = None
        self.response: Any = None
        self.error: BaseException | None = None

    def build(self) -> CallRecord | None:
        return _build_record(self)


# ---------------------------------------------------------------------- conversion (writer side)
def _build_record(call: _PendingLLMCall) -> CallRecord:
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


def _content(content: Any, limit: int) -> tuple[str | None, list[Any]]:
    """Text of a message's content, plus its non-text parts (multimodal blocks)."""
    if content is None or isinstance(content, (str, bytes, bytearray, memoryview)):
        return clean_text(content, limit), []
    if isinstance(content, list):
        texts: list[str] = []
        parts: list[Any] = []
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif isinstance(block, Mapping) and block.get("type") == "text":
                text = block.get("text")
                texts.append(text if isinstance(text, str) else clean_text(text, limit) or "")
            else:
                parts.append(json_safe(block, limit))
        # Cut once, after joining, so the marker counts every dropped character.
        return (clean_text("".join(texts), limit) if texts else None), parts
    return clean_text(content, limit), []


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
    content, parts = _content(msg.content, limit)
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
            self.text, self.parts = _content(getattr(message, "content", None), limit)
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


# ---------------------------------------------------------------------- process-wide hook
class _HandlerSlot:
    """Stands in for the ``ContextVar`` LangChain's configure hooks expect.

    ``CallbackManager.configure`` only calls ``.get()``; returning the handler from a plain
    attribute (not a context variable) makes it reach worker threads too.
    """

    __slots__ = ("handler",)

    def __init__(self, handler: SLMCallbackHandler) -> None:
        self.handler: SLMCallbackHandler | None = handler

    def get(self) -> SLMCallbackHandler | None:
        return self.handler


class _Detach:
    """Removes an :func:`instrument` hook (idempotent). ``.handler`` is the attached handler."""

    __slots__ = ("_lock", "_slot", "handler")

    def __init__(self, slot: _HandlerSlot, handler: SLMCallbackHandler) -> None:
        self._slot = slot
        self._lock = threading.Lock()
        self.handler = handler

    def __call__(self) -> None:
        with self._lock:
            self._slot.handler = None  # configure() sees None and adds nothing from now on
            self.handler._active = False  # runs already configured stop starting new records
            hooks = _lc_context._configure_hooks
            # In place and by identity: another library may hold the same list.
            for i in range(len(hooks) - 1, -1, -1):
                if hooks[i][0] is self._slot:
                    del hooks[i]

    def __repr__(self) -> str:
        state = "attached" if self._slot.handler is not None else "detached"
        return f"<detach LangChain capture ({state})>"


def instrument(recorder: Recorder, **handler_kwargs: Any) -> Callable[[], None]:
    """Attach a :class:`SLMCallbackHandler` to every LangChain run in this process.

    Call sites do not change: every ``CallbackManager.configure`` (each ``invoke``, ``stream``,
    ``batch`` and their async forms, in any thread) adds the handler. A run that also passes the
    same handler explicitly gets it once (LangChain compares configure-hook handlers by
    identity); another handler of the same recorder writes the same record ids, which the store
    ignores as duplicates.

    Args:
        recorder: Where records go.
        **handler_kwargs: Passed to :class:`SLMCallbackHandler` (``agent``, ``max_run_age_s``).

    Returns:
        A function that detaches the hook (idempotent); its ``.handler`` attribute is the handler.
    """
    handler = SLMCallbackHandler(recorder, **handler_kwargs)
    slot = _HandlerSlot(handler)
    _lc_context.register_configure_hook(cast("ContextVar[Any]", slot), True)
    return _Detach(slot, handler)
