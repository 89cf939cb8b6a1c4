"""LangChain on both sides of the router: chat models as routed models, the router as a chat model.

- :class:`LangChainModel` wraps a LangChain chat model (the LLM, or a specialist served through
  LangChain) as a :class:`~slm_agents.train.GenerativeModel`: OpenAI-style message dicts are
  turned into LangChain messages with ``convert_to_messages``, offered tools are bound with
  ``bind_tools`` when the model implements it (LangChain's fake chat models do not: they are
  called without tools), and the ``AIMessage`` is read back with the capture integration's
  converters (:mod:`slm_agents.integrations._langchain_records`).
- :class:`RouterChatModel` is a real ``BaseChatModel`` holding a
  :class:`~slm_agents.route.Router`: ``invoke``/``ainvoke``/``stream``/``astream``,
  ``bind_tools`` (tools converted with ``convert_to_openai_tool`` and offered to the router) and
  ``with_structured_output`` (LangChain's own, through tool calling). The ``AIMessage`` it returns
  carries ``tool_calls`` (ids generated when the model gave none), ``usage_metadata`` and, in
  ``response_metadata``, the routing decision: ``route``, ``task``, ``confidence``,
  ``fallback_reason``.
- :func:`specialist_tool` exposes a specialist as a ``StructuredTool`` a larger model can call.

Made by :meth:`Router.as_langchain` and :func:`slm_agents.route.adapters.as_generative`; this
module imports ``langchain_core`` at its top, so only LangChain users load it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from time import perf_counter
from typing import Any

from ..capture.sanitize import split_content
from ..errors import MissingDependencyError
from ..route.adapters import (
    NO_LIMIT,
    agenerate_any,
    call_router,
    decision_metadata,
    generation_from_result,
    make_generation,
    messages_to_openai,
    request_messages,
    tool_output_text,
)
from ..train.generation import Generation
from ._langchain_records import _message, _tool_calls, _usage

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_messages
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from langchain_core.runnables import Runnable
    from langchain_core.tools import StructuredTool, ToolException
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from pydantic import ConfigDict, Field
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("langchain-core", "langchain",
                                 "the LangChain router adapter") from exc

__all__ = ["LangChainModel", "RouterChatModel", "specialist_tool"]

# Run metadata keys that name a conversation, in order of preference (LangGraph uses thread_id).
_TRACE_KEYS = ("trace_id", "thread_id", "session_id", "conversation_id")


def _model_name(model: Any) -> str:
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


def _binds_tools(model: Any) -> bool:
    return isinstance(model, BaseChatModel) and type(model).bind_tools is not \
        BaseChatModel.bind_tools


def generation_from_message(output: Any, latency_ms: float) -> Generation:
    """A LangChain model's output (``AIMessage``, text, ...) as a :class:`Generation`."""
    if isinstance(output, BaseMessage):
        text, _ = split_content(output.content, NO_LIMIT)
        usage = _usage(getattr(output, "usage_metadata", None))
        return make_generation(text, _tool_calls(output), input_tokens=usage.input_tokens,
                               output_tokens=usage.output_tokens, latency_ms=latency_ms)
    return generation_from_result(output, None, latency_ms)


def _chunk_text(chunk: Any) -> str:
    if isinstance(chunk, str):
        return chunk
    text, _ = split_content(getattr(chunk, "content", None), NO_LIMIT)
    return text or ""


class LangChainModel:
    """A LangChain chat model (or messages-in ``Runnable``) as a ``GenerativeModel``.

    Args:
        chat_model: The LangChain model. Tools are bound with its ``bind_tools`` when it
            implements one; otherwise it is called without them.

    Extra keyword arguments of :meth:`generate` are passed to the model's ``invoke``
    (``tool_choice`` goes to ``bind_tools``).

    Examples:
        >>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
        >>> LangChainModel(FakeListChatModel(responses=["4"])).generate(
        ...     [{"role": "user", "content": "2+2?"}]).text
        '4'
    """

    def __init__(self, chat_model: Runnable) -> None:
        self.chat_model = chat_model
        self.name = _model_name(chat_model)

    def __repr__(self) -> str:
        return f"LangChainModel({self.name!r})"

    def _prepare(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None,
                 kwargs: dict[str, Any]) -> tuple[Runnable, list[BaseMessage]]:
        tool_choice = kwargs.pop("tool_choice", None)
        runnable: Runnable = self.chat_model
        if tools and _binds_tools(self.chat_model):
            extra = {} if tool_choice is None else {"tool_choice": tool_choice}
            try:
                runnable = self.chat_model.bind_tools(list(tools), **extra)  # type: ignore[attr-defined]
            except NotImplementedError:
                runnable = self.chat_model
        return runnable, convert_to_messages([dict(m) for m in messages])

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Generation:
        """Answer OpenAI-style ``messages`` with the wrapped model."""
        runnable, lc_messages = self._prepare(messages, tools, kwargs)
        t0 = perf_counter()
        output = runnable.invoke(lc_messages, **kwargs)
        return generation_from_message(output, (perf_counter() - t0) * 1000.0)

    async def agenerate(self, messages: Sequence[Mapping[str, Any]],
                        tools: Sequence[Mapping[str, Any]] | None = None,
                        **kwargs: Any) -> Generation:
        """Async :meth:`generate` (the model's ``ainvoke``)."""
        runnable, lc_messages = self._prepare(messages, tools, kwargs)
        t0 = perf_counter()
        output = await runnable.ainvoke(lc_messages, **kwargs)
        return generation_from_message(output, (perf_counter() - t0) * 1000.0)

    def stream(self, messages: Sequence[Mapping[str, Any]],
               tools: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Iterator[str]:
        """The answer's text, piece by piece (tool-call chunks carry no text and are skipped)."""
        runnable, lc_messages = self._prepare(messages, tools, kwargs)
        for chunk in runnable.stream(lc_messages, **kwargs):
            text = _chunk_text(chunk)
            if text:
                yield text

    async def astream(self, messages: Sequence[Mapping[str, Any]],
                      tools: Sequence[Mapping[str, Any]] | None = None,
                      **kwargs: Any) -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        runnable, lc_messages = self._prepare(messages, tools, kwargs)
        async for chunk in runnable.astream(lc_messages, **kwargs):
            text = _chunk_text(chunk)
            if text:
                yield text


def _call_id(given: str | None) -> str:
    return given or f"call_{uuid.uuid4().hex[:24]}"


def _tool_call_dicts(generation: Generation) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    valid: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    for call in generation.tool_calls:
        if call.error:
            invalid.append({"name": call.name, "args": call.raw_arguments, "id": _call_id(call.id),
                            "error": call.error, "type": "invalid_tool_call"})
        else:
            valid.append({"name": call.name, "args": dict(call.arguments),
                          "id": _call_id(call.id), "type": "tool_call"})
    return valid, invalid


def _usage_metadata(generation: Generation) -> dict[str, int]:
    return {"input_tokens": generation.input_tokens, "output_tokens": generation.output_tokens,
            "total_tokens": generation.input_tokens + generation.output_tokens}


class RouterChatModel(BaseChatModel):
    """A :class:`~slm_agents.route.Router` as a LangChain chat model.

    Drop it in wherever a chat model goes: chains, ``bind_tools`` agent loops,
    ``with_structured_output``. Each call is routed (specialist or LLM) by the router; the
    decision is in ``response_metadata``. A conversation id for sticky routing is read from a
    bound ``trace_id`` (``model.bind(trace_id=...)``) or the run's metadata (``trace_id``,
    ``thread_id``, ``session_id`` or ``conversation_id``).

    Usually made by ``router.as_langchain()``.

    Examples:
        >>> from slm_agents.train import Generation
        >>> class Echo:
        ...     def invoke(self, messages, tools=None, trace_id=None):
        ...         return Generation(text=messages[-1]["content"])
        >>> RouterChatModel(router=Echo()).invoke("hello").content
        'hello'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    router: Any = Field(exclude=True)
    """The router every call goes through."""
    model_name: str = "slm-router"
    """The name reported as the model (``ls_model_name``, ``response_metadata``)."""

    @property
    def _llm_type(self) -> str:
        return "slm-router"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        specialists = getattr(self.router, "specialists", None)
        tasks = sorted(map(str, specialists)) if isinstance(specialists, Mapping) else []
        return {"model_name": self.model_name, "tasks": tasks}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "slm_agents"
        return params

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None,
                   **kwargs: Any) -> Runnable:
        """Offer ``tools`` (dicts, pydantic classes, functions or ``BaseTool``) on every call."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _request(self, messages: list[BaseMessage], run_manager: Any,
                 kwargs: dict[str, Any]) -> dict[str, Any]:
        trace_id = kwargs.pop("trace_id", None)
        if trace_id is None and run_manager is not None:
            meta = getattr(run_manager, "metadata", None) or {}
            trace_id = next((str(meta[k]) for k in _TRACE_KEYS if meta.get(k) is not None), None)
        request: dict[str, Any] = {
            "messages": messages_to_openai([_message(m, NO_LIMIT) for m in messages]),
            "tools": list(kwargs.pop("tools", None) or ()) or None,
            "trace_id": trace_id,
        }
        tool_choice = kwargs.pop("tool_choice", None)
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
        return request

    def _metadata(self, generation: Generation) -> dict[str, Any]:
        meta: dict[str, Any] = {"model_name": self.model_name}
        meta.update(decision_metadata(generation))
        meta["finish_reason"] = "tool_calls" if generation.tool_calls else "stop"
        return meta

    def _ai_message(self, generation: Generation) -> AIMessage:
        valid, invalid = _tool_call_dicts(generation)
        return AIMessage(content=generation.text or "", tool_calls=valid,
                         invalid_tool_calls=invalid,
                         usage_metadata=_usage_metadata(generation),  # type: ignore[arg-type]
                         response_metadata=self._metadata(generation))

    def _whole_chunk(self, generation: Generation) -> ChatGenerationChunk:
        """A routed answer as one final chunk (tool calls as complete tool-call chunks)."""
        valid, invalid = _tool_call_dicts(generation)
        chunks = [{"name": c["name"], "args": json.dumps(c["args"], ensure_ascii=False),
                   "id": c["id"], "index": i, "type": "tool_call_chunk"}
                  for i, c in enumerate(valid)]
        chunks += [{"name": c["name"], "args": c["args"], "id": c["id"],
                    "index": len(valid) + i, "type": "tool_call_chunk"}
                   for i, c in enumerate(invalid)]
        message = AIMessageChunk(content=generation.text or "",
                                 tool_call_chunks=chunks,  # type: ignore[arg-type]
                                 usage_metadata=_usage_metadata(generation),  # type: ignore[arg-type]
                                 response_metadata=self._metadata(generation),
                                 chunk_position="last")
        return ChatGenerationChunk(message=message)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        generation = call_router(self.router.invoke, self._request(messages, run_manager, kwargs))
        return ChatResult(generations=[ChatGeneration(message=self._ai_message(generation))])

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None,
                         **kwargs: Any) -> ChatResult:
        generation = await call_router(self.router.ainvoke,
                                            self._request(messages, run_manager, kwargs))
        return ChatResult(generations=[ChatGeneration(message=self._ai_message(generation))])

    def _piece(self, piece: Any) -> ChatGenerationChunk | None:
        if isinstance(piece, Generation):  # a router stream may end with its full answer
            return self._final_chunk(piece)
        if isinstance(piece, str) and piece:
            return ChatGenerationChunk(message=AIMessageChunk(content=piece))
        return None

    def _final_chunk(self, generation: Generation) -> ChatGenerationChunk:
        return ChatGenerationChunk(message=AIMessageChunk(
            content="", usage_metadata=_usage_metadata(generation),  # type: ignore[arg-type]
            response_metadata=self._metadata(generation), chunk_position="last"))

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, run_manager, kwargs)
        # With tools the answer may be tool calls, which a text stream cannot carry: route the
        # whole call and emit it as one chunk.
        if request["tools"] or not callable(getattr(self.router, "stream", None)):
            chunk = self._whole_chunk(call_router(self.router.invoke, request))
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
            return
        for piece in call_router(self.router.stream, request):
            part = self._piece(piece)
            if part is not None:
                if run_manager is not None:
                    run_manager.on_llm_new_token(part.text, chunk=part)
                yield part

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, run_manager, kwargs)
        astream = getattr(self.router, "astream", None)
        if request["tools"] or not callable(astream):
            chunk = self._whole_chunk(await call_router(self.router.ainvoke, request))
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
            return
        async for piece in call_router(astream, request):
            part = self._piece(piece)
            if part is not None:
                if run_manager is not None:
                    await run_manager.on_llm_new_token(part.text, chunk=part)
                yield part


def _tool_text(generation: Generation) -> str:
    try:
        return tool_output_text(generation)
    except ValueError as exc:  # reported to the calling model (handle_tool_error=True)
        raise ToolException(str(exc)) from exc


def specialist_tool(model: Any, name: str, description: str) -> StructuredTool:
    """A ``GenerativeModel`` as a LangChain ``StructuredTool`` taking one ``request`` string.

    The tool returns the specialist's answer text, or its tool calls as a JSON list of
    ``{"name", "arguments"}``; an invalid output is reported to the caller as a tool error.
    """

    def run(request: str) -> str:
        return _tool_text(model.generate(request_messages(request), None))

    async def arun(request: str) -> str:
        return _tool_text(await agenerate_any(model, request_messages(request)))

    return StructuredTool.from_function(func=run, coroutine=arun, name=name,
                                        description=description, handle_tool_error=True)
