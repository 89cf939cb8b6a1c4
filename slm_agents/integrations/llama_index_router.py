"""LlamaIndex on both sides of the router: LLMs as routed models, the router as an LLM.

- :class:`LlamaIndexModel` wraps a LlamaIndex LLM (the fallback LLM, or a specialist served
  through LlamaIndex) as a :class:`~slm_agents.train.GenerativeModel`. OpenAI-style dicts become
  ``ChatMessage``\\ s (tool calls as ``ToolCallBlock``\\ s, and in OpenAI's wire format in
  ``additional_kwargs["tool_calls"]`` for integrations that read them there; tool results carry
  ``additional_kwargs["tool_call_id"]``). Offered tools go through ``chat_with_tools`` when the LLM
  is a function-calling model, as stand-in ``BaseTool``\\ s whose metadata reproduce the JSON
  schema; other LLMs are called without tools. Responses are read back with the capture
  integration's converters (:mod:`slm_agents.integrations._llama_index_records`) and, for tool
  calls, the LLM's own ``get_tool_calls_from_response``.
- :class:`RouterLLM` is a real ``FunctionCallingLLM`` holding a
  :class:`~slm_agents.route.Router`, so ``SimpleChatEngine``, ``FunctionAgent`` and
  ``predict_and_call`` work with it unchanged. Tool calls in its responses are
  ``ToolCallBlock``\\ s in ``message.blocks`` (and OpenAI-format dicts in
  ``message.additional_kwargs["tool_calls"]`` for older consumers); token counts are in
  ``raw["usage"]``; the routing decision is in ``raw["routing"]`` and
  ``additional_kwargs["routing"]``.
- :func:`specialist_tool` exposes a specialist as a ``FunctionTool`` a larger model can call.

This module imports ``llama_index.core`` at its top, so only LlamaIndex users load it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from ..capture.sanitize import parse_arguments, split_content, tool_call_from_parts
from ..curate.chat_format import arguments_json, tool_to_openai
from ..errors import MissingDependencyError
from ..records import ToolCall
from ..route.adapters import (
    NO_LIMIT,
    agenerate_any,
    call_router,
    decision_metadata,
    make_generation,
    messages_to_openai,
    request_messages,
    tool_output_text,
)
from ..train.generation import Generation
from ._llama_index_records import _legacy_tool_calls, _message, _output, _tools, _usage

try:
    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        ChatResponseAsyncGen,
        ChatResponseGen,
        CompletionResponse,
        CompletionResponseAsyncGen,
        CompletionResponseGen,
        LLMMetadata,
        MessageRole,
        TextBlock,
        ToolCallBlock,
    )
    from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from llama_index.core.llms.function_calling import FunctionCallingLLM
    from llama_index.core.llms.llm import ToolSelection
    from llama_index.core.tools import BaseTool, FunctionTool, ToolMetadata, ToolOutput
    from pydantic import ConfigDict, Field
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("llama-index-core", "llamaindex",
                                 "the LlamaIndex router adapter") from exc

__all__ = ["LlamaIndexModel", "RouterLLM", "specialist_tool", "to_llama_messages"]

_ROLES = {role.value for role in MessageRole}
_REQUIRED_CHOICES = ("any", "required")


def _call_id(given: str | None) -> str:
    return given or f"call_{uuid.uuid4().hex[:24]}"


def to_llama_messages(messages: Sequence[Mapping[str, Any]]) -> list[ChatMessage]:
    """OpenAI-style message dicts as LlamaIndex ``ChatMessage``\\ s."""
    out: list[ChatMessage] = []
    for msg in messages:
        role = msg.get("role") or "user"
        text, _ = split_content(msg.get("content"), NO_LIMIT)
        blocks: list[Any] = [TextBlock(text=text)] if text else []
        extra: dict[str, Any] = {}
        wire = []
        for call in msg.get("tool_calls") or ():
            function = call.get("function", call)
            args, raw, _ = parse_arguments(function.get("arguments", function.get("args")))
            call_id = _call_id(call.get("id"))
            blocks.append(ToolCallBlock(tool_call_id=call_id, tool_name=function.get("name", ""),
                                        tool_kwargs=raw if raw is not None else args))
            wire.append({"id": call_id, "type": "function", "function": {
                "name": function.get("name", ""),
                "arguments": raw if raw is not None else arguments_json(ToolCall(
                    name=function.get("name", ""), arguments=args))}})
        if wire:
            extra["tool_calls"] = wire
        if msg.get("tool_call_id") is not None:
            extra["tool_call_id"] = msg["tool_call_id"]
        if msg.get("name") is not None:
            extra["name"] = msg["name"]
        out.append(ChatMessage(role=role if role in _ROLES else MessageRole.USER,
                               blocks=blocks, additional_kwargs=extra))
    return out


def _openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return messages_to_openai([_message(m, NO_LIMIT) for m in messages])


@dataclass
class _SpecMetadata(ToolMetadata):
    """Tool metadata that reproduces a JSON-schema spec (no pydantic model behind it)."""

    parameters: dict[str, Any] | None = None

    def get_parameters_dict(self) -> dict:
        if self.parameters is not None:
            return dict(self.parameters)
        return super().get_parameters_dict()

    @property
    def fn_schema_str(self) -> str:
        import json

        return json.dumps(self.get_parameters_dict(), ensure_ascii=False)


class _SpecTool(BaseTool):
    """An OpenAI tool spec offered to a LlamaIndex LLM; the agent, not the LLM, runs tools."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        function = tool_to_openai(spec).get("function") or {}
        self._metadata = _SpecMetadata(description=function.get("description") or "",
                                       name=function.get("name"), fn_schema=None,
                                       parameters=function.get("parameters")
                                       or {"type": "object", "properties": {}})

    @property
    def metadata(self) -> ToolMetadata:
        return self._metadata

    def __call__(self, input: Any) -> ToolOutput:
        raise NotImplementedError("a tool spec offered to the model; it cannot run")


def _tool_required(tool_choice: Any) -> bool:
    return tool_choice in _REQUIRED_CHOICES or tool_choice is True


def _from_selections(selections: Sequence[Any]) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for item in selections:
        if isinstance(item, Mapping):
            calls.extend(_legacy_tool_calls([item]))
        else:
            calls.append(tool_call_from_parts(getattr(item, "tool_name", None),
                                              getattr(item, "tool_kwargs", None),
                                              getattr(item, "tool_id", None) or None))
    return calls


class LlamaIndexModel:
    """A LlamaIndex LLM as a ``GenerativeModel``.

    Args:
        llm: The LlamaIndex LLM. Tools are offered through ``chat_with_tools`` when it is a
            function-calling model; otherwise it is called with the messages only.

    Extra keyword arguments of :meth:`generate` go to the LLM's chat call; ``tool_choice``
    ``"any"``/``"required"`` becomes ``tool_required=True``.

    Examples:
        >>> from llama_index.core.llms import MockLLM
        >>> LlamaIndexModel(MockLLM()).generate([{"role": "user", "content": "hi"}]).text
        'user: hi\\nassistant: '
    """

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        name = getattr(getattr(llm, "metadata", None), "model_name", None)
        self.name = name if isinstance(name, str) and name != "unknown" else type(llm).__name__

    def __repr__(self) -> str:
        return f"LlamaIndexModel({self.name!r})"

    def _tool_kwargs(self, tools: Sequence[Mapping[str, Any]] | None,
                     kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """``chat_with_tools`` arguments, or ``None`` when the LLM is called without tools."""
        tool_choice = kwargs.pop("tool_choice", None)
        if not tools or not isinstance(self.llm, FunctionCallingLLM) \
                or not self.llm.metadata.is_function_calling_model:
            return None
        call: dict[str, Any] = {"tools": [_SpecTool(spec) for spec in tools],
                                "allow_parallel_tool_calls": True,
                                "tool_required": _tool_required(tool_choice)}
        if isinstance(tool_choice, str) and tool_choice not in _REQUIRED_CHOICES + ("auto",):
            call["tool_choice"] = tool_choice
        return {**kwargs, **call}

    def _generation(self, response: Any, with_tools: bool, latency_ms: float) -> Generation:
        text, calls = _output(response, NO_LIMIT)
        if with_tools:
            try:
                selections = self.llm.get_tool_calls_from_response(
                    response, error_on_no_tool_call=False)
            except Exception:  # the blocks already read are the fallback
                selections = None
            if selections:
                calls = _from_selections(selections)
        usage = _usage(response)
        return make_generation(text, calls, input_tokens=usage.input_tokens,
                               output_tokens=usage.output_tokens, latency_ms=latency_ms)

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Generation:
        """Answer OpenAI-style ``messages`` with the wrapped LLM."""
        history = to_llama_messages(messages)
        call = self._tool_kwargs(tools, kwargs)
        t0 = perf_counter()
        if call is None:
            response = self.llm.chat(history, **kwargs)
        else:
            response = self.llm.chat_with_tools(chat_history=history, **call)
        return self._generation(response, call is not None, (perf_counter() - t0) * 1000.0)

    async def agenerate(self, messages: Sequence[Mapping[str, Any]],
                        tools: Sequence[Mapping[str, Any]] | None = None,
                        **kwargs: Any) -> Generation:
        """Async :meth:`generate` (the LLM's ``achat``)."""
        history = to_llama_messages(messages)
        call = self._tool_kwargs(tools, kwargs)
        t0 = perf_counter()
        if call is None:
            response = await self.llm.achat(history, **kwargs)
        else:
            response = await self.llm.achat_with_tools(chat_history=history, **call)
        return self._generation(response, call is not None, (perf_counter() - t0) * 1000.0)

    def stream(self, messages: Sequence[Mapping[str, Any]],
               tools: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Iterator[str]:
        """The answer's text, delta by delta."""
        history = to_llama_messages(messages)
        call = self._tool_kwargs(tools, kwargs)
        responses = self.llm.stream_chat(history, **kwargs) if call is None \
            else self.llm.stream_chat_with_tools(chat_history=history, **call)
        for response in responses:
            if response.delta:
                yield response.delta

    async def astream(self, messages: Sequence[Mapping[str, Any]],
                      tools: Sequence[Mapping[str, Any]] | None = None,
                      **kwargs: Any) -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        history = to_llama_messages(messages)
        call = self._tool_kwargs(tools, kwargs)
        responses = await (self.llm.astream_chat(history, **kwargs) if call is None
                           else self.llm.astream_chat_with_tools(chat_history=history, **call))
        async for response in responses:
            if response.delta:
                yield response.delta


class RouterLLM(FunctionCallingLLM):
    """A :class:`~slm_agents.route.Router` as a LlamaIndex function-calling LLM.

    Usually made by ``router.as_llama_index()``. A conversation id for sticky routing can be
    passed as ``trace_id=`` to any call.

    Examples:
        >>> from slm_agents.train import Generation
        >>> class Echo:
        ...     def invoke(self, messages, tools=None, trace_id=None):
        ...         return Generation(text=messages[-1]["content"])
        >>> RouterLLM(router=Echo()).complete("hello").text
        'hello'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    router: Any = Field(exclude=True, description="The router every call goes through.")
    model_name: str = Field(default="slm-router", description="The name reported as the model.")
    context_window: int = Field(default=DEFAULT_CONTEXT_WINDOW, gt=0)
    num_output: int = Field(default=DEFAULT_NUM_OUTPUTS, gt=0)

    @classmethod
    def class_name(cls) -> str:
        return "SLMRouterLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.num_output,
                           is_chat_model=True, is_function_calling_model=True,
                           model_name=self.model_name)

    # --- requests and responses -------------------------------------------------------------

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        tool_required = kwargs.pop("tool_required", False)
        tool_choice = kwargs.pop("tool_choice", None)
        if tool_choice is None and tool_required:
            tool_choice = "required"
        request: dict[str, Any] = {"messages": _openai_messages(messages),
                                   "tools": _tools(kwargs.pop("tools", None), NO_LIMIT) or None,
                                   "trace_id": kwargs.pop("trace_id", None)}
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
        return request

    def _prompt_request(self, prompt: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        return self._request([ChatMessage(role=MessageRole.USER, content=prompt)], kwargs)

    def _response(self, generation: Generation, delta: str | None = None) -> ChatResponse:
        blocks: list[Any] = [TextBlock(text=generation.text)] if generation.text else []
        wire = []
        for call in generation.tool_calls:
            call_id = _call_id(call.id)
            blocks.append(ToolCallBlock(
                tool_call_id=call_id, tool_name=call.name,
                tool_kwargs=call.raw_arguments or "" if call.error else dict(call.arguments)))
            wire.append({"id": call_id, "type": "function",
                         "function": {"name": call.name, "arguments": arguments_json(call)}})
        routing = decision_metadata(generation)
        raw = {"model": self.model_name, "routing": routing,
               "finish_reason": "tool_calls" if wire else "stop",
               "usage": {"input_tokens": generation.input_tokens,
                         "output_tokens": generation.output_tokens}}
        message = ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks,
                              additional_kwargs={"tool_calls": wire} if wire else {})
        return ChatResponse(message=message, raw=raw, additional_kwargs={"routing": routing},
                            delta=generation.text or "" if delta is None else delta)

    @staticmethod
    def _completion(response: ChatResponse) -> CompletionResponse:
        return CompletionResponse(text=response.message.content or "", delta=response.delta,
                                  raw=response.raw,
                                  additional_kwargs={**response.additional_kwargs,
                                                     **response.message.additional_kwargs})

    def _stream_responses(self, request: dict[str, Any]) -> Generator[ChatResponse, None, None]:
        # With tools the answer may be tool calls, which a text stream cannot carry.
        if request["tools"] or not callable(getattr(self.router, "stream", None)):
            yield self._response(call_router(self.router.invoke, request))
            return
        text = ""
        for piece in call_router(self.router.stream, request):
            if isinstance(piece, Generation):  # a router stream may end with its full answer
                yield self._response(piece, delta="")
            elif isinstance(piece, str) and piece:
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
                                   delta=piece)

    async def _astream_responses(self, request: dict[str, Any],
                                 ) -> AsyncGenerator[ChatResponse, None]:
        astream = getattr(self.router, "astream", None)
        if request["tools"] or not callable(astream):
            yield self._response(await call_router(self.router.ainvoke, request))
            return
        text = ""
        async for piece in call_router(astream, request):
            if isinstance(piece, Generation):
                yield self._response(piece, delta="")
            elif isinstance(piece, str) and piece:
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
                                   delta=piece)

    # --- the LLM interface ------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._response(call_router(self.router.invoke, self._request(messages, kwargs)))

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._response(await call_router(self.router.ainvoke,
                                                  self._request(messages, kwargs)))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False,
                 **kwargs: Any) -> CompletionResponse:
        generation = call_router(self.router.invoke, self._prompt_request(prompt, kwargs))
        return self._completion(self._response(generation))

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False,
                        **kwargs: Any) -> CompletionResponse:
        generation = await call_router(self.router.ainvoke,
                                            self._prompt_request(prompt, kwargs))
        return self._completion(self._response(generation))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_responses(self._request(messages, kwargs))

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage],
                           **kwargs: Any) -> ChatResponseAsyncGen:
        return self._astream_responses(self._request(messages, kwargs))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False,
                        **kwargs: Any) -> CompletionResponseGen:
        responses = self._stream_responses(self._prompt_request(prompt, kwargs))
        return (self._completion(r) for r in responses)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False,
                               **kwargs: Any) -> CompletionResponseAsyncGen:
        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            async for response in self._astream_responses(
                    self._prompt_request(prompt, kwargs)):
                yield self._completion(response)

        return gen()

    # --- function calling -------------------------------------------------------------------

    def _prepare_chat_with_tools(self, tools: Sequence[BaseTool],
                                 user_msg: str | ChatMessage | None = None,
                                 chat_history: list[ChatMessage] | None = None,
                                 verbose: bool = False, allow_parallel_tool_calls: bool = False,
                                 tool_required: bool = False, **kwargs: Any) -> dict[str, Any]:
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        return {"messages": messages, "tools": list(tools) or None,
                "tool_required": tool_required, **kwargs}

    def _validate_chat_with_tools_response(self, response: ChatResponse,
                                           tools: Sequence[BaseTool],
                                           allow_parallel_tool_calls: bool = False,
                                           **kwargs: Any) -> ChatResponse:
        if allow_parallel_tool_calls:
            return response
        message = response.message
        calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
        if len(calls) > 1:  # keep the first call only, as OpenAI's integration does
            message.blocks = [b for b in message.blocks
                              if not isinstance(b, ToolCallBlock) or b is calls[0]]
            wire = message.additional_kwargs.get("tool_calls")
            if isinstance(wire, list):
                message.additional_kwargs["tool_calls"] = wire[:1]
        return response

    def get_tool_calls_from_response(self, response: ChatResponse,
                                     error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        """The tool calls of a response (``ToolCallBlock``\\ s, else the legacy kwargs)."""
        calls = _message(response.message, NO_LIMIT).tool_calls
        if not calls and error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but got 0 tool calls.")
        return [ToolSelection(tool_id=c.id or "", tool_name=c.name, tool_kwargs=c.arguments)
                for c in calls]


def specialist_tool(model: Any, name: str, description: str) -> FunctionTool:
    """A ``GenerativeModel`` as a LlamaIndex ``FunctionTool`` taking one ``request`` string.

    The tool returns the specialist's answer text, or its tool calls as a JSON list of
    ``{"name", "arguments"}``; an invalid output raises ``ValueError`` (agents report it to the
    calling model as a tool error).
    """

    def run(request: str) -> str:
        return tool_output_text(model.generate(request_messages(request), None))

    async def arun(request: str) -> str:
        return tool_output_text(await agenerate_any(model, request_messages(request)))

    return FunctionTool.from_defaults(fn=run, async_fn=arun, name=name, description=description)
