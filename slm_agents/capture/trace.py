"""``@rec.trace``: capture plain sync and async functions that call an LLM.

The wrapped function keeps its signature, return value and exceptions exactly; capture only
observes. Nested traced calls share a ``trace_id`` and point at their caller through
``parent_id`` (a ``ContextVar``, so it follows ``asyncio`` tasks).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..records import CallRecord, Usage, new_id, utcnow
from .openai_format import messages_from_openai, output_from_openai, tools_from_openai
from .sanitize import clean_text, json_safe

if TYPE_CHECKING:
    from .recorder import Recorder

__all__ = ["TraceDecorator", "current_trace"]

# (trace_id, span_id) of the traced call we are inside, if any.
_current: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "slm_agents_trace", default=None)

_INPUT_NAMES = ("messages", "prompt", "input", "inputs")


def current_trace() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the innermost traced call running now, or ``None``."""
    return _current.get()


class _TracedCall:
    """Pending record of one traced call; converted on the writer thread."""

    __slots__ = ("decorator", "error", "kwargs_seen", "latency_ms", "messages", "parent_id",
                 "result", "span_id", "started_at", "tools", "trace_id")

    def __init__(self, decorator: TraceDecorator, messages: Any, tools: Any, kwargs_seen: Any,
                 result: Any, error: BaseException | None, started_at: datetime,
                 latency_ms: float, trace_id: str, span_id: str, parent_id: str | None) -> None:
        self.decorator = decorator
        self.messages = messages
        self.tools = tools
        self.kwargs_seen = kwargs_seen
        self.result = result
        self.error = error
        self.started_at = started_at
        self.latency_ms = latency_ms
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id

    def build(self) -> CallRecord:
        d = self.decorator
        limit = d.recorder.options.max_field_chars
        parsed = output_from_openai(self.result, limit) if self.error is None else None
        params = {k: json_safe(v, limit) for k, v in (self.kwargs_seen or {}).items()
                  if k in ("temperature", "max_tokens", "top_p", "stop", "seed")}
        requested_model = (self.kwargs_seen or {}).get("model")
        return CallRecord(
            id=self.span_id,
            trace_id=self.trace_id,
            parent_id=self.parent_id,
            agent=d.agent,
            model=(clean_text(requested_model, 1000) or d.model
                   or (parsed.model if parsed else None)),
            operation="chat",
            messages=messages_from_openai(self.messages, limit),
            tools=tools_from_openai(self.tools, limit),
            output=parsed.output if parsed else None,
            tool_calls=parsed.tool_calls if parsed else [],
            usage=parsed.usage if parsed else Usage(),
            latency_ms=self.latency_ms,
            started_at=self.started_at,
            error=None if self.error is None else clean_text(
                f"{type(self.error).__name__}: {self.error}", limit),
            finish_reason=parsed.finish_reason if parsed else None,
            request_params=params,
            human_facing=d.human_facing,
            tags=list(d.tags),
            metadata={"function": d.name, **json_safe(d.metadata, limit)},
            source="trace",
        )


class TraceDecorator:
    """The decorator returned by :meth:`Recorder.trace`; see there for the arguments."""

    def __init__(self, recorder: Recorder, *, name: str | None, agent: str | None,
                 model: str | None, human_facing: bool, tags: tuple[str, ...],
                 metadata: dict[str, Any]) -> None:
        self.recorder = recorder
        self.name = name
        self.agent = agent
        self.model = model
        self.human_facing = human_facing
        self.tags = tags
        self.metadata = metadata

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if self.name is None:
            self.name = getattr(func, "__qualname__", None) or repr(func)
        locate = _input_locator(func)
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                trace_id, span_id, parent_id, token = self._enter()
                started, t0 = utcnow(), time.perf_counter()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    self._finish(locate, args, kwargs, None, exc, started, t0,
                                 trace_id, span_id, parent_id)
                    raise
                finally:
                    _current.reset(token)
                self._finish(locate, args, kwargs, result, None, started, t0,
                             trace_id, span_id, parent_id)
                return result

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            trace_id, span_id, parent_id, token = self._enter()
            started, t0 = utcnow(), time.perf_counter()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                self._finish(locate, args, kwargs, None, exc, started, t0,
                             trace_id, span_id, parent_id)
                raise
            finally:
                _current.reset(token)
            self._finish(locate, args, kwargs, result, None, started, t0,
                         trace_id, span_id, parent_id)
            return result

        return wrapper

    @staticmethod
    def _enter() -> tuple[str, str, str | None, contextvars.Token[tuple[str, str] | None]]:
        outer = _current.get()
        span_id = new_id()
        trace_id = outer[0] if outer else span_id
        parent_id = outer[1] if outer else None
        token = _current.set((trace_id, span_id))
        return trace_id, span_id, parent_id, token

    def _finish(self, locate: Callable[[tuple[Any, ...], dict[str, Any]], Any],
                args: tuple[Any, ...], kwargs: dict[str, Any], result: Any,
                error: BaseException | None, started: datetime, t0: float,
                trace_id: str, span_id: str, parent_id: str | None) -> None:
        latency_ms = (time.perf_counter() - t0) * 1000.0
        try:
            pending = _TracedCall(self, locate(args, kwargs), kwargs.get("tools"), kwargs,
                                  result, error, started, latency_ms, trace_id, span_id,
                                  parent_id)
            self.recorder._emit(pending)
        except Exception as exc:  # capture never breaks the host
            self.recorder._hook_error(exc, f"trace({self.name})")


def _input_locator(func: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], Any]:
    """Decide once, at decoration time, where the call's input lives in its arguments."""
    try:
        params = [p for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params]
    chosen = next((n for n in _INPUT_NAMES if n in names), None)
    if chosen is None:
        # The first parameter that is not self/cls.
        chosen = next((n for n in names if n not in ("self", "cls")), None)
    position = names.index(chosen) if chosen in names else 0
    keyword_only = bool(params) and params[position].kind == inspect.Parameter.KEYWORD_ONLY

    def locate(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if chosen is not None and chosen in kwargs:
            return kwargs[chosen]
        if not keyword_only and position < len(args):
            return args[position]
        return None

    return locate
