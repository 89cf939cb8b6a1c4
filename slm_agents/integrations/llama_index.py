"""Capture LlamaIndex LLM calls from the root instrumentation dispatcher.

:class:`LlamaIndexCapture` attaches one event handler and one span handler to
``llama_index.core.instrumentation.get_dispatcher()`` (the root, where every module's events
arrive). On the host's thread it only pairs start and end events by span id and reads clocks; the
LlamaIndex objects it holds are converted into a :class:`~slm_agents.CallRecord` on the recorder's
writer thread, by :mod:`slm_agents.integrations._llama_index_records`.

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
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingDependencyError
from ..records import CallRecord
from ._llama_index_records import build_record as _build_record

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
