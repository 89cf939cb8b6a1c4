"""Capture LlamaIndex LLM calls from the root instrumentation dispatcher.

:class:`LlamaIndexCapture` attaches one event handler and one span handler to
``llama_index.core.instrumentation.get_dispatcher()`` (the root, where every module's events
arrive). On the host's thread it only pairs start and end events by span id and reads clocks; the
LlamaIndex objects it holds are converted into a :class:`~slm_agents.CallRecord` on the recorder's
writer thread.

What it relies on (llama-index-core 0.14): chat and completion calls emit ``LLM*StartEvent`` and
``LLM*EndEvent`` inside their own span; a non-streaming error drops the span instead of ending it;
a streamed call's span exits when the generator is returned, so the record is finished by the end
event (or an ``ExceptionEvent``). An LLM call made inside another one (``MockLLM.chat`` calls
``complete``; ``CustomLLM.astream_chat`` calls ``stream_chat`` from its generator) is the same
user-level call, so only the outermost one is recorded.
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..capture.sanitize import clean_text, json_safe, tool_call_from_parts
from ..errors import ConfigError, MissingDependencyError
from ..records import CallRecord, Message, ToolCall, Usage, new_id

try:
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.events.exception import ExceptionEvent
    from llama_index.core.instrumentation.events.llm import (
        LLMChatEndEvent,
        LLMChatInProgressEvent,
        LLMChatStartEvent,
        LLMCompletionEndEvent,
        LLMCompletionInProgressEvent,
        LLMCompletionStartEvent,
    )
    from llama_index.core.instrumentation.span import BaseSpan
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("llama-index-core", "llamaindex", "LlamaIndex capture") from exc

if TYPE_CHECKING:
    from ..capture.recorder import Recorder

__all__ = ["LlamaIndexCapture"]

_MAX_DEPTH = 256  # longest parent chain or stack walked (guards against cycles)
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
          "tool": "tool", "function": "tool", "chatbot": "assistant", "model": "assistant"}
_PARAM_KEYS = ("temperature", "max_tokens", "max_new_tokens", "top_p", "top_k", "stop", "seed",
               "frequency_penalty", "presence_penalty")
_NOT_PARAMS = frozenset({"tools", "formatted", "messages", "prompt"})
_INPUT_KEYS = ("input_tokens", "prompt_tokens", "prompt_token_count", "input_token_count")
_OUTPUT_KEYS = ("output_tokens", "completion_tokens", "candidates_token_count",
                "output_token_count")
_UNSEEN = object()


class LlamaIndexCapture:
    """Records every LlamaIndex chat and completion call into a :class:`~slm_agents.Recorder`.

    Usually made by :meth:`Recorder.llama_index_handler`, which attaches it and detaches it on
    ``close()``. The root dispatcher is process-wide: while attached, every LLM call in the
    process is captured. Nothing here raises into the host; failures go to the recorder's
    ``hook_errors`` count and the ``slm_agents.capture`` logger.

    Args:
        recorder: Where pending calls go.
        agent: Agent name stamped on the records (the recorder's ``agent`` otherwise).
        max_span_age_s: Spans and calls still open after this long are forgotten (a stream
            nobody consumed, a span that never exited), so memory stays bounded.

    Examples:
        >>> import os, tempfile, slm_agents as sa
        >>> from llama_index.core.llms import ChatMessage, MockLLM
        >>> store = sa.Store(os.path.join(tempfile.mkdtemp(), "calls.db"), key=sa.generate_key())
        >>> with sa.Recorder(store) as rec:
        ...     capture = rec.llama_index_handler(agent="rag")
        ...     _ = MockLLM().chat([ChatMessage(role="user", content="hi")])
        >>> [(r.agent, r.operation, r.messages[0].content) for r in store.records()]
        [('rag', 'chat', 'hi')]
        >>> capture.attached  # close() detached it
        False
    """

    def __init__(self, recorder: Recorder, *, agent: str | None = None,
                 max_span_age_s: float = 3600.0) -> None:
        if not max_span_age_s > 0:
            raise ConfigError(f"max_span_age_s must be > 0 seconds; got {max_span_age_s!r}")
        self.recorder = recorder
        self.agent = agent
        self.max_span_age_s = float(max_span_age_s)
        # span id -> (parent span id, root span id, perf_counter at enter)
        self._spans: dict[str, tuple[str | None, str, float]] = {}
        self._pending: dict[str | None, _PendingLLMCall] = {}  # recorded calls in flight
        self._nested: dict[str | None, float] = {}  # LLM calls inside another one (not recorded)
        self._streaming: set[str | None] = set()  # in-flight calls whose span already exited
        self._sweep_every = min(self.max_span_age_s / 2, 60.0)
        self._next_sweep = time.perf_counter() + self._sweep_every
        self._lock = threading.Lock()
        self._attached = False
        self._event_handler = _EventHandler()
        self._event_handler.capture = self
        self._span_handler = _SpanHandler()
        self._span_handler.capture = self
        self._base_routes: dict[type, Callable[[Any], None]] = {
            LLMChatStartEvent: self._on_chat_start,
            LLMCompletionStartEvent: self._on_completion_start,
            LLMChatInProgressEvent: self._on_progress,
            LLMCompletionInProgressEvent: self._on_progress,
            LLMChatEndEvent: self._on_end,
            LLMCompletionEndEvent: self._on_end,
            ExceptionEvent: self._on_exception,
        }
        self._routes: dict[type, Callable[[Any], None] | None] = dict(self._base_routes)

    # ------------------------------------------------------------------ attach / detach
    @property
    def attached(self) -> bool:
        """Whether the handlers are on the root dispatcher."""
        return self._attached

    def attach(self) -> None:
        """Add the handlers to the root dispatcher (a second call does nothing)."""
        with self._lock:
            if self._attached:
                return
            dispatcher = get_dispatcher()
            dispatcher.add_event_handler(self._event_handler)
            dispatcher.add_span_handler(self._span_handler)
            self._attached = True

    def detach(self) -> None:
        """Remove the handlers from the root dispatcher and forget open calls. Idempotent."""
        with self._lock:
            if not self._attached:
                return
            dispatcher = get_dispatcher()
            # In place and by identity: another thread may be appending its own handler.
            _remove_identical(dispatcher.event_handlers, self._event_handler)
            _remove_identical(dispatcher.span_handlers, self._span_handler)
            self._attached = False
            self._spans.clear()
            self._pending.clear()
            self._nested.clear()
            self._streaming.clear()

    def __repr__(self) -> str:
        state = "attached" if self._attached else "detached"
        return f"LlamaIndexCapture(agent={self.agent!r}, {state})"

    # ------------------------------------------------------------------ hot path: events
    def _on_event(self, event: Any) -> None:
        try:
            route = self._routes.get(event.__class__, _UNSEEN)
            if route is _UNSEEN:
                route = self._route_for(event.__class__)
            if route is not None:
                route(event)  # type: ignore[operator]
        except Exception as exc:
            self.recorder._hook_error(exc, "llama_index event handler")

    def _route_for(self, cls: type) -> Callable[[Any], None] | None:
        # Subclasses of the LLM events (integrations may define some) route like their base.
        found = next((fn for base, fn in self._base_routes.items() if issubclass(cls, base)), None)
        self._routes[cls] = found
        return found

    def _on_chat_start(self, event: Any) -> None:
        self._start(event, "chat")

    def _on_completion_start(self, event: Any) -> None:
        self._start(event, "completion")

    def _start(self, event: Any, operation: str) -> None:
        now = time.perf_counter()
        sid = event.span_id
        span = self._spans.get(sid) if sid is not None else None
        parent = span[0] if span is not None else None
        if ((parent is not None and self._inside_llm_span(parent))
                or (self._streaming and self._inside_llm_stream())):
            self._nested[sid] = now
            return
        root = span[1] if span is not None else sid
        self._pending[sid] = _PendingLLMCall(self, operation, event, sid, parent, root, now,
                                             time.time())
        if now >= self._next_sweep:
            self._sweep(now)

    def _inside_llm_span(self, span_id: str | None) -> bool:
        """Whether ``span_id`` or one of its ancestors is an LLM call in flight."""
        spans, pending, nested = self._spans, self._pending, self._nested
        for _ in range(_MAX_DEPTH):
            if span_id in pending or span_id in nested:
                return True
            info = spans.get(span_id) if span_id is not None else None
            if info is None or info[0] is None:
                return False
            span_id = info[0]
        return False

    def _inside_llm_stream(self) -> bool:
        """Whether this call is made from inside the generator of a streamed LLM call.

        A stream's generator runs in its consumer's context, so span parents do not show the
        nesting; LlamaIndex's stream wrapper (``wrapped_gen``, holding ``span_id``) on the stack
        does. Only walked while a stream is in flight.
        """
        frame: FrameType | None = sys._getframe(1)
        pending, nested = self._pending, self._nested
        for _ in range(_MAX_DEPTH):
            if frame is None:
                return False
            if frame.f_code.co_name == "wrapped_gen":
                owner = frame.f_locals.get("span_id")
                if owner in pending or owner in nested:
                    return True
            frame = frame.f_back
        return False

    def _on_progress(self, event: Any) -> None:
        call = self._pending.get(event.span_id)
        if call is not None:
            if call.t_first is None:
                call.t_first = time.perf_counter()
            call.last = event.response

    def _on_end(self, event: Any) -> None:
        now = time.perf_counter()
        sid = event.span_id
        call = self._pending.pop(sid, None)
        if call is None:
            self._nested.pop(sid, None)
            return
        call.t_end = now
        call.response = event.response
        if self._streaming:
            self._streaming.discard(sid)
        self.recorder._emit(call)

    def _on_exception(self, event: Any) -> None:
        self._fail(event.span_id, event.exception)

    def _fail(self, sid: str | None, error: BaseException | None) -> None:
        now = time.perf_counter()
        call = self._pending.pop(sid, None)
        if call is None:
            self._nested.pop(sid, None)
            return
        call.t_end = now
        call.error = error if error is not None else RuntimeError("LLM span dropped")
        if self._streaming:
            self._streaming.discard(sid)
        self.recorder._emit(call)

    # ------------------------------------------------------------------ hot path: spans
    def _on_span_enter(self, id_: str, parent_id: str | None) -> None:
        try:
            now = time.perf_counter()
            spans = self._spans
            if parent_id is None:
                root = id_
            else:
                info = spans.get(parent_id)
                root = info[1] if info is not None else parent_id
            spans[id_] = (parent_id, root, now)
            if now >= self._next_sweep:
                self._sweep(now)
        except Exception as exc:
            self.recorder._hook_error(exc, "llama_index span enter")

    def _on_span_exit(self, id_: str) -> None:
        try:
            self._spans.pop(id_, None)
            if id_ in self._pending:  # the call returned a stream: it ends with its end event
                self._streaming.add(id_)
        except Exception as exc:
            self.recorder._hook_error(exc, "llama_index span exit")

    def _on_span_drop(self, id_: str, err: BaseException | None) -> None:
        try:
            self._spans.pop(id_, None)
            self._fail(id_, err)
        except Exception as exc:
            self.recorder._hook_error(exc, "llama_index span drop")

    def _sweep(self, now: float) -> None:
        """Forget spans and calls older than ``max_span_age_s`` (they will never close)."""
        self._next_sweep = now + self._sweep_every
        cutoff = now - self.max_span_age_s
        for key, info in list(self._spans.items()):
            if info[2] < cutoff:
                self._spans.pop(key, None)
        for sid, call in list(self._pending.items()):
            if call.t0 < cutoff:
                self._pending.pop(sid, None)
                self._streaming.discard(sid)
        for sid, started in list(self._nested.items()):
            if started < cutoff:
                self._nested.pop(sid, None)


def _remove_identical(handlers: list[Any], handler: Any) -> None:
    for i in range(len(handlers) - 1, -1, -1):
        if handlers[i] is handler:
            del handlers[i]


class _EventHandler(BaseEventHandler):
    """Thin adapter: LlamaIndex's handler types are pydantic models; the logic lives above."""

    capture: Any = None

    @classmethod
    def class_name(cls) -> str:
        return "SLMAgentsEventHandler"

    def handle(self, event: Any, **kwargs: Any) -> None:
        capture = self.capture
        if capture is not None:
            capture._on_event(event)


class _SpanHandler(BaseSpanHandler[BaseSpan]):
    """Keeps no span objects (unlike ``SimpleSpanHandler``): parent links live in the capture."""

    capture: Any = None

    @classmethod
    def class_name(cls) -> str:
        return "SLMAgentsSpanHandler"

    def span_enter(self, id_: str, bound_args: inspect.BoundArguments, instance: Any = None,
                   parent_id: str | None = None, tags: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:
        capture = self.capture
        if capture is not None:
            capture._on_span_enter(id_, parent_id)

    def span_exit(self, id_: str, bound_args: inspect.BoundArguments, instance: Any = None,
                  result: Any = None, **kwargs: Any) -> None:
        capture = self.capture
        if capture is not None:
            capture._on_span_exit(id_)

    def span_drop(self, id_: str, bound_args: inspect.BoundArguments, instance: Any = None,
                  err: BaseException | None = None, **kwargs: Any) -> None:
        capture = self.capture
        if capture is not None:
            capture._on_span_drop(id_, err)

    # The abstract hooks of the base class; unused because the three methods above override
    # the span bookkeeping that would call them.
    def new_span(self, id_: str, bound_args: inspect.BoundArguments, instance: Any = None,
                 parent_span_id: str | None = None, tags: dict[str, Any] | None = None,
                 **kwargs: Any) -> BaseSpan | None:
        return None

    def prepare_to_exit_span(self, id_: str, bound_args: inspect.BoundArguments,
                             instance: Any = None, result: Any = None,
                             **kwargs: Any) -> BaseSpan | None:
        return None

    def prepare_to_drop_span(self, id_: str, bound_args: inspect.BoundArguments,
                             instance: Any = None, err: BaseException | None = None,
                             **kwargs: Any) -> BaseSpan | None:
        return None


class _PendingLLMCall:
    """References and clock readings of one call; :meth:`build` runs on the writer thread."""

    __slots__ = ("capture", "error", "inputs", "kwargs", "last", "model_dict", "operation",
                 "parent_id", "response", "span_id", "t0", "t_end", "t_first", "tags",
                 "trace_id", "wall0")

    def __init__(self, capture: LlamaIndexCapture, operation: str, event: Any,
                 span_id: str | None, parent_id: str | None, trace_id: str | None,
                 t0: float, wall0: float) -> None:
        self.capture = capture
        self.operation = operation
        # The event's fields, not the event: it can be freed at once (less memory held).
        self.inputs = event.messages if operation == "chat" else event.prompt
        self.kwargs = event.additional_kwargs
        self.model_dict = event.model_dict
        self.tags = event.tags
        self.span_id = span_id
        self.parent_id = parent_id
        self.trace_id = trace_id
        self.t0 = t0
        self.wall0 = wall0
        self.t_first: float | None = None
        self.t_end: float | None = None
        self.last: Any = None  # latest streamed chunk (the partial output if the stream fails)
        self.response: Any = None
        self.error: BaseException | None = None

    def build(self) -> CallRecord | None:
        return _build_record(self)


# ---------------------------------------------------------------------- conversion (writer side)
def _build_record(call: _PendingLLMCall) -> CallRecord:
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
