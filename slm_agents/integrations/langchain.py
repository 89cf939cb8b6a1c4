"""Capture LangChain chat-model and LLM calls with a callback handler.

:class:`SLMCallbackHandler` is a synchronous ``BaseCallbackHandler`` with ``run_inline = True``,
the cheapest way into LangChain's callback system (an ``AsyncCallbackHandler`` costs a new event
loop per event from sync code; a handler without ``run_inline`` costs an executor hop per event
under ``ainvoke``). On the host's thread its hooks only keep references and clock readings; the
LangChain objects are turned into a :class:`~slm_agents.CallRecord` by :meth:`_PendingLLMCall.build`
on the recorder's writer thread, with the conversion code in
:mod:`slm_agents.integrations._langchain_records`.

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
from collections.abc import Callable
from contextvars import ContextVar
from time import perf_counter, time
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from ..errors import ConfigError, MissingDependencyError
from ..records import CallRecord
from ._langchain_records import build_record as _build_record

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
