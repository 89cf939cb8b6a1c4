"""Normalise the models a :class:`~slm_agents.route.Router` is given, and reach the frameworks.

The router core speaks one protocol, :class:`~slm_agents.train.GenerativeModel`:
``generate(messages, tools=None) -> Generation`` over OpenAI-style message dicts.
:func:`as_generative` turns every accepted form into it, once, at the boundary:

- a LangChain chat model (or any LangChain ``Runnable`` that takes messages) becomes a
  :class:`~slm_agents.integrations.langchain_router.LangChainModel`;
- a LlamaIndex LLM becomes a :class:`~slm_agents.integrations.llama_index_router.LlamaIndexModel`;
- anything with a ``generate()`` method (a :class:`~slm_agents.train.Specialist`, your own class)
  passes through unchanged;
- a plain callable ``fn(messages, tools) -> Generation | str | dict`` becomes a
  :class:`CallableModel`.

Frameworks are detected with ``isinstance`` only after checking that the framework is already
imported (an object of a framework's class cannot exist otherwise), so this module never imports
LangChain or LlamaIndex itself. :func:`router_as_langchain`, :func:`router_as_llama_index` and
:func:`specialist_as_tool` import the integration modules on first use.

Examples:
    >>> model = as_generative(lambda messages, tools: "Paris")
    >>> model.generate([{"role": "user", "content": "Capital of France?"}]).text
    'Paris'
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any

from ..errors import ConfigError
from ..records import CallRecord, Message, ToolCall
from ..train.generation import (
    TOOL_CALL_OPEN,
    Generation,
    GenerativeModel,
    format_tool_calls,
    parse_tool_output,
)

__all__ = [
    "CallableModel",
    "as_generative",
    "call_router",
    "decision_metadata",
    "make_generation",
    "messages_to_openai",
    "router_as_langchain",
    "router_as_llama_index",
    "specialist_as_tool",
    "tool_output_text",
]

# Conversions for routing must not cut anything: the capture-side converters take a size limit.
NO_LIMIT = 1 << 62
_DECISION_KEYS = ("route", "task", "confidence", "fallback_reason")
_OPTIONAL_DECISION_KEYS = ("reason", "attempts", "model_name", "call_id", "trace_id")
_ACCEPTED = ("a LangChain chat model, a LlamaIndex LLM, an object with a "
             "generate(messages, tools=None) method (e.g. a Specialist), or a callable "
             "(messages, tools) -> Generation | str")
_FRAMEWORKS = ("langchain", "llama_index")


class CallableModel:
    """A plain function as a :class:`~slm_agents.train.GenerativeModel`.

    The function is called as ``fn(messages, tools)`` (or ``fn(messages)`` when it takes a single
    argument) and may return a :class:`~slm_agents.train.Generation`, a string (parsed as model
    output: ``<tool_call>`` blocks and bare JSON calls become tool calls), an OpenAI-style
    assistant message or chat-completion dict, or a LangChain ``AIMessage``.
    ``async def`` functions are awaited by :meth:`agenerate`; :meth:`generate` runs them to
    completion (in a helper thread when the calling thread already runs an event loop).

    Examples:
        >>> m = CallableModel(lambda messages: messages[-1]["content"].upper())
        >>> m.generate([{"role": "user", "content": "hi"}]).text
        'HI'
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"CallableModel needs a callable, got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self._takes_tools = _takes_two_arguments(fn)
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            type(fn).__call__)

    def __repr__(self) -> str:
        return f"CallableModel({self.name!r})"

    def _call(self, messages: Sequence[Mapping[str, Any]],
              tools: Sequence[Mapping[str, Any]] | None) -> Any:
        return self.fn(messages, tools) if self._takes_tools else self.fn(messages)

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Generation:
        """Call the function and read its answer as a :class:`Generation`."""
        t0 = perf_counter()
        result = self._call(messages, tools)
        if inspect.isawaitable(result):
            result = _run_sync(result)
        return generation_from_result(result, tools, (perf_counter() - t0) * 1000.0)

    async def agenerate(self, messages: Sequence[Mapping[str, Any]],
                        tools: Sequence[Mapping[str, Any]] | None = None,
                        **kwargs: Any) -> Generation:
        """Await an ``async`` function; run a plain one in a worker thread."""
        t0 = perf_counter()
        if self._is_async:
            result = await self._call(messages, tools)
        else:
            result = await asyncio.to_thread(self._call, messages, tools)
            if inspect.isawaitable(result):
                result = await result
        return generation_from_result(result, tools, (perf_counter() - t0) * 1000.0)


def _takes_two_arguments(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: use the documented form
        return True
    positional = 0
    for param in params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if param.kind in (inspect.Parameter.POSITIONAL_ONLY,
                          inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2 or any(p.name == "tools" for p in params)


def _run_sync(awaitable: Any) -> Any:
    """Wait for an awaitable from sync code (in a helper thread when a loop already runs here)."""
    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="slm_agents-async") as pool:
        return pool.submit(asyncio.run, wait()).result()


def generation_from_result(result: Any, tools: Sequence[Mapping[str, Any]] | None,
                           latency_ms: float) -> Generation:
    """Read a model's return value as a :class:`Generation`.

    Accepts a Generation, a string (parsed as model output: ``<tool_call>`` blocks and bare JSON
    calls become tool calls), an OpenAI-style assistant message or chat-completion (dict or SDK
    object) or a LangChain ``AIMessage``.

    Raises:
        TypeError: the value is none of these.
    """
    if isinstance(result, Generation):
        if not result.latency_ms:
            return result.model_copy(update={"latency_ms": latency_ms})
        return result
    if isinstance(result, str):
        return parse_tool_output(result, tools).model_copy(update={"latency_ms": latency_ms})
    if not (isinstance(result, Mapping) or hasattr(result, "content")
            or callable(getattr(result, "model_dump", None))):
        raise TypeError(f"a model returned {type(result).__name__}; expected a Generation, a "
                        "string, an OpenAI-style message or completion, or an AIMessage")
    from ..capture.openai_format import output_from_openai

    parsed = output_from_openai(result, NO_LIMIT)
    usage = parsed.usage
    if not parsed.tool_calls and parsed.output and TOOL_CALL_OPEN in parsed.output:
        return parse_tool_output(parsed.output, tools).model_copy(update={
            "input_tokens": usage.input_tokens or 0, "output_tokens": usage.output_tokens or 0,
            "latency_ms": latency_ms})
    return make_generation(parsed.output, parsed.tool_calls, input_tokens=usage.input_tokens,
                           output_tokens=usage.output_tokens, latency_ms=latency_ms)


def make_generation(text: str | None, tool_calls: Sequence[ToolCall], *,
                    input_tokens: int | None = None, output_tokens: int | None = None,
                    latency_ms: float = 0.0) -> Generation:
    """A :class:`Generation` from an LLM's text and already-structured tool calls.

    ``raw`` renders the answer the way our fine-tuned models write it (text, then
    ``<tool_call>`` blocks), so it can be compared with a specialist's raw output;
    ``parse_error`` reports tool calls whose arguments were not a JSON object.
    """
    calls = list(tool_calls)
    if not text and calls:
        text = None
    errors = [f"arguments of {c.name!r} are not a JSON object: {c.error}" for c in calls
              if c.error]
    raw = "\n".join(part for part in (text, format_tool_calls(calls) if calls else None) if part)
    return Generation(text=text, tool_calls=calls, raw=raw,
                      parse_error="; ".join(errors) if errors else None,
                      input_tokens=input_tokens or 0, output_tokens=output_tokens or 0,
                      latency_ms=latency_ms)


def messages_to_openai(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Record messages as OpenAI chat dicts (tool-call ids filled where missing, arguments JSON).

    Reuses the curation step's converter, so what the router sees is exactly what a
    specialist was trained on.
    """
    from ..curate.chat_format import record_to_example

    record = CallRecord.model_construct(messages=list(messages), output=None, tool_calls=[],
                                        tools=[])
    return record_to_example(record)["messages"][:-1]  # drop the (empty) answer turn


def decision_metadata(generation: Any) -> dict[str, Any]:
    """The routing decision carried by a ``RoutedGeneration`` (``None`` where not routed)."""
    meta = {key: getattr(generation, key, None) for key in _DECISION_KEYS}
    for key in _OPTIONAL_DECISION_KEYS:
        value = getattr(generation, key, None)
        if value is not None:
            meta[key] = value
    return meta


def tool_output_text(generation: Generation) -> str:
    """A specialist's answer as a tool result: its tool calls as JSON, else its text."""
    if generation.tool_calls:
        return json.dumps([{"name": c.name, "arguments": c.arguments}
                           for c in generation.tool_calls], ensure_ascii=False)
    if generation.text is not None:
        return generation.text
    if generation.parse_error:
        raise ValueError(f"the specialist's output is not valid: {generation.parse_error}")
    return generation.raw


def tool_name(name: str) -> str:
    """A tool name providers accept (``^[a-zA-Z0-9_-]{1,64}$``)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name).strip("_") or "specialist"
    return cleaned[:64]


def _framework_kind(obj: Any) -> str | None:
    """Which framework ``obj`` belongs to, without importing one that is not loaded."""
    if "langchain_core" in sys.modules:
        from langchain_core.runnables import Runnable

        if isinstance(obj, Runnable):
            return "langchain"
    if "llama_index.core" in sys.modules:
        from llama_index.core.base.llms.base import BaseLLM

        if isinstance(obj, BaseLLM):
            return "llama_index"
    return None


def as_generative(obj: Any) -> GenerativeModel:
    """Normalise an LLM or specialist given to the router into a ``GenerativeModel``.

    Args:
        obj: A LangChain chat model (or messages-in ``Runnable``), a LlamaIndex LLM, an object
            with a ``generate(messages, tools=None)`` method (passed through unchanged), or a
            callable ``(messages, tools) -> Generation | str``.

    Raises:
        ConfigError: ``obj`` is none of the accepted forms (the message lists them).
    """
    kind = _framework_kind(obj)
    if kind == "langchain":
        from ..integrations.langchain_router import LangChainModel

        return LangChainModel(obj)
    if kind == "llama_index":
        from ..integrations.llama_index_router import LlamaIndexModel

        return LlamaIndexModel(obj)
    if callable(getattr(obj, "generate", None)):
        return obj
    if callable(obj):
        return CallableModel(obj)
    raise ConfigError(f"cannot use {type(obj).__name__} as a model: expected {_ACCEPTED}")


def router_as_langchain(router: Any, **kwargs: Any) -> Any:
    """The router as a LangChain ``BaseChatModel`` (see ``RouterChatModel``)."""
    from ..integrations.langchain_router import RouterChatModel

    return RouterChatModel(router=router, **kwargs)


def router_as_llama_index(router: Any, **kwargs: Any) -> Any:
    """The router as a LlamaIndex ``FunctionCallingLLM`` (see ``RouterLLM``)."""
    from ..integrations.llama_index_router import RouterLLM

    return RouterLLM(router=router, **kwargs)


def specialist_as_tool(model: Any, name: str, description: str,
                       framework: str = "langchain") -> Any:
    """A specialist as a tool a larger model can call (``request: str`` in, answer text out).

    Args:
        model: Anything :func:`as_generative` accepts (usually a ``Specialist``).
        name: The tool's name (characters providers reject become ``_``).
        description: What the tool does, for the calling model.
        framework: ``"langchain"`` (a ``StructuredTool``) or ``"llama_index"`` (a
            ``FunctionTool``).

    Raises:
        ConfigError: ``framework`` is not one of the two.
    """
    if framework not in _FRAMEWORKS:
        raise ConfigError(f"unknown framework {framework!r}; valid values are: "
                          f"{', '.join(_FRAMEWORKS)}")
    generative = as_generative(model)
    if framework == "langchain":
        from ..integrations import langchain_router

        return langchain_router.specialist_tool(generative, tool_name(name), description)
    from ..integrations import llama_index_router

    return llama_index_router.specialist_tool(generative, tool_name(name), description)


def request_messages(request: str) -> list[dict[str, Any]]:
    """The one-turn conversation a tool call to a specialist becomes."""
    return [{"role": "user", "content": request}]


async def agenerate_any(model: Any, messages: Sequence[Mapping[str, Any]],
                        tools: Sequence[Mapping[str, Any]] | None = None) -> Generation:
    """``model.agenerate`` when it has one, else ``generate`` in a worker thread."""
    agen = getattr(model, "agenerate", None)
    if callable(agen):
        return await agen(messages, tools)
    return await asyncio.to_thread(model.generate, messages, tools)


@functools.lru_cache(maxsize=64)
def _keywords(func: Callable[..., Any]) -> frozenset[str] | None:
    """The keyword names ``func`` accepts, or ``None`` when it takes ``**kwargs``."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY)


def call_router(method: Callable[..., Any], request: Mapping[str, Any]) -> Any:
    """Call a router method with the parts of ``request`` it accepts.

    The framework adapters build one request (``messages``, ``tools``, ``trace_id`` and, when
    the framework asked for one, ``tool_choice``); a router whose methods do not take
    ``tool_choice`` gets the rest.
    """
    accepted = _keywords(getattr(method, "__func__", method))
    if accepted is None:
        return method(**request)
    return method(**{k: v for k, v in request.items() if k in accepted})
