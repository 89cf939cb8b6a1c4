"""Normalise the models a router is given (the LLM and the specialists) into one interface.

Each model is turned once, when the router is built, into a :class:`ModelHandle` with
``generate``, ``agenerate`` and ``stream``, whatever it was:

- a :class:`~slm_agents.train.GenerativeModel` (``generate(messages, tools=None) -> Generation``),
  e.g. a :class:`~slm_agents.train.Specialist` or :class:`~slm_agents.route.OpenAICompatible`;
- a LangChain chat model or a LlamaIndex LLM (converted by the framework adapters in
  :mod:`slm_agents.route.adapters`, which import the framework only when it is already loaded);
- a callable ``(messages, tools) -> Generation | str | dict`` (or ``(messages) -> ...``), sync or
  async. A string is parsed as model output (``<tool_call>`` blocks become tool calls); a dict is
  read as an OpenAI assistant message or chat-completion response.

Anything else is a :class:`TypeError` that lists these forms.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from ..capture.openai_format import output_from_openai
from ..train.generation import Generation, parse_tool_output

__all__ = ["ACCEPTED_MODEL_FORMS", "ModelHandle", "as_model", "to_generation"]

ACCEPTED_MODEL_FORMS = (
    "a GenerativeModel (an object with generate(messages, tools=None) -> Generation, such as "
    "slm_agents.Specialist or OpenAICompatible), a LangChain chat model, a LlamaIndex LLM, or a "
    "callable (messages, tools) -> Generation | str | dict (sync or async)"
)

Messages = Sequence[Mapping[str, Any]]
Tools = Sequence[Mapping[str, Any]] | None


def to_generation(output: Any, tools: Tools) -> Generation:
    """A model's return value as a :class:`Generation`.

    Raises:
        TypeError: the value is none of Generation, str or an OpenAI message/response dict.
    """
    if isinstance(output, Generation):
        return output
    if isinstance(output, str):
        return parse_tool_output(output, tools)
    if isinstance(output, Mapping):
        parsed = output_from_openai(output)
        text = parsed.output
        if not parsed.tool_calls and text and "<tool_call>" in text:
            generation = parse_tool_output(text, tools)
        else:
            errors = [f"arguments of {c.name!r}: {c.error}" for c in parsed.tool_calls if c.error]
            generation = Generation(text=text, tool_calls=parsed.tool_calls, raw=text or "",
                                    parse_error="; ".join(errors) or None)
        usage = parsed.usage
        if usage.input_tokens or usage.output_tokens:
            generation.input_tokens = usage.input_tokens or 0
            generation.output_tokens = usage.output_tokens or 0
        return generation
    raise TypeError(f"a model returned {type(output).__name__}; expected a Generation, a str or "
                    "an OpenAI assistant message / chat-completion dict")


def _run_coroutine(coro: Any) -> Any:
    """Run a coroutine from sync code, also when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="slm_agents-router-coro", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _positional_arity(func: Callable[..., Any]) -> int:
    """How many positional arguments ``func`` takes (2 when it takes *args or cannot be read)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 2
    count = 0
    for param in params:
        if param.kind is param.VAR_POSITIONAL:
            return 2
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class ModelHandle:
    """One model behind the router, whatever its original form.

    Attributes:
        obj: The object the user gave.
        name: A readable model name (``model_name``/``model``/``name`` attribute, else the type).
    """

    __slots__ = ("_agenerate", "_astream", "_generate", "_stream", "name", "obj")

    def __init__(self, obj: Any, generate: Callable[[Messages, Tools], Any],
                 agenerate: Callable[[Messages, Tools], Any] | None = None,
                 stream: Callable[[Messages, Tools], Iterator[str]] | None = None,
                 astream: Callable[[Messages, Tools], AsyncIterator[str]] | None = None,
                 name: str | None = None) -> None:
        self.obj = obj
        self.name = name or _name_of(obj)
        self._generate = generate
        self._agenerate = agenerate
        self._stream = stream
        self._astream = astream

    @property
    def can_stream(self) -> bool:
        """True when the model streams natively."""
        return self._stream is not None

    @property
    def can_astream(self) -> bool:
        """True when the model streams natively under asyncio."""
        return self._astream is not None

    def generate(self, messages: Messages, tools: Tools) -> Generation:
        """Call the model and read its answer as a Generation (never mutated afterwards)."""
        return to_generation(self._generate(messages, tools), tools)

    async def agenerate(self, messages: Messages, tools: Tools) -> Generation:
        """Call the model without blocking the event loop (a worker thread for sync models)."""
        if self._agenerate is not None:
            output = await self._agenerate(messages, tools)
        else:
            output = await asyncio.to_thread(self._generate, messages, tools)
        return to_generation(output, tools)

    def stream(self, messages: Messages, tools: Tools) -> Iterator[str]:
        """Text chunks: native streaming when the model has it, else one chunk."""
        if self._stream is not None:
            yield from self._stream(messages, tools)
            return
        generation = self.generate(messages, tools)
        yield generation.raw or generation.text or ""

    async def astream(self, messages: Messages, tools: Tools) -> AsyncIterator[str]:
        """Async text chunks: native async streaming when the model has it, else one chunk."""
        if self._astream is not None:
            async for chunk in self._astream(messages, tools):
                yield chunk
            return
        generation = await self.agenerate(messages, tools)
        yield generation.raw or generation.text or ""

    def __repr__(self) -> str:
        return f"ModelHandle({self.name!r})"


def _name_of(obj: Any) -> str:
    for attribute in ("model_name", "model", "name"):
        value = getattr(obj, attribute, None)
        if isinstance(value, str) and value:
            return value
    return getattr(obj, "__name__", None) or type(obj).__name__


def _from_framework(obj: Any) -> Any:
    """The framework adapters' GenerativeModel for ``obj``, or None when it is no framework's."""
    try:
        from . import adapters
    except ModuleNotFoundError as exc:  # the adapters module is optional in a trimmed install
        if exc.name != f"{__package__}.adapters":
            raise
        return None
    convert = getattr(adapters, "as_generative", None)
    if convert is None:
        return None
    wrapped = convert(obj)
    return None if wrapped is obj else wrapped


def _from_generative(obj: Any) -> ModelHandle:
    def generate(messages: Messages, tools: Tools) -> Any:
        return obj.generate(messages, tools)

    agen = getattr(obj, "agenerate", None)
    agenerate = None
    if agen is not None and inspect.iscoroutinefunction(agen):
        async def agenerate(messages: Messages, tools: Tools) -> Any:
            return await agen(messages, tools)

    stream = astream = None
    native_stream = getattr(obj, "stream", None)
    if callable(native_stream):
        def stream(messages: Messages, tools: Tools) -> Iterator[str]:
            return native_stream(messages, tools)  # type: ignore[no-any-return]

    native_astream = getattr(obj, "astream", None)
    if callable(native_astream):
        def astream(messages: Messages, tools: Tools) -> AsyncIterator[str]:
            return native_astream(messages, tools)  # type: ignore[no-any-return]

    return ModelHandle(obj, generate, agenerate, stream, astream)


def _from_callable(func: Callable[..., Any]) -> ModelHandle:
    one_argument = _positional_arity(func) == 1
    # An object whose __call__ is async counts as async too.
    dunder_call = "__call__"
    is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(type(func), dunder_call, None))

    def invoke(messages: Messages, tools: Tools) -> Any:
        return func(messages) if one_argument else func(messages, tools)

    if not is_async:
        return ModelHandle(func, invoke)

    def generate(messages: Messages, tools: Tools) -> Any:
        return _run_coroutine(invoke(messages, tools))

    async def agenerate(messages: Messages, tools: Tools) -> Any:
        return await invoke(messages, tools)

    return ModelHandle(func, generate, agenerate)


def as_model(obj: Any, what: str = "model") -> ModelHandle:
    """Normalise one accepted model form into a :class:`ModelHandle`.

    Raises:
        TypeError: ``obj`` is none of the accepted forms (the message lists them).
    """
    if isinstance(obj, ModelHandle):
        return obj
    if obj is None or isinstance(obj, (str, bytes, Mapping)):
        raise TypeError(f"{what} must be {ACCEPTED_MODEL_FORMS}; got {type(obj).__name__}")
    wrapped = _from_framework(obj)
    if wrapped is not None:
        handle = as_model(wrapped, what)
        handle.obj = obj
        return handle
    if callable(getattr(obj, "generate", None)):
        return _from_generative(obj)
    if callable(obj):
        return _from_callable(obj)
    raise TypeError(f"{what} must be {ACCEPTED_MODEL_FORMS}; got {type(obj).__name__}")
