"""Streaming through the router (:meth:`Router.stream` / :meth:`Router.astream`).

A specialist's answer is generated and checked in full before its first chunk is emitted (a
rejected answer must never reach the caller, and small models are fast); it is then emitted as
one chunk. The LLM streams natively when its adapter can and no tools are offered (text chunks
cannot carry structured tool calls); otherwise its answer comes as one chunk. Tool calls are
emitted as ``<tool_call>`` blocks (the format :func:`~slm_agents.train.parse_tool_output` reads
back).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

from ..records import utcnow
from ..train.generation import Generation, format_tool_calls, parse_tool_output

if TYPE_CHECKING:  # pragma: no cover
    from .policy import RouteDecision, RoutingCall
    from .router import Router
    from .stage import StageOutcome

__all__ = ["astream", "render", "stream"]


def render(generation: Generation) -> str:
    """An answer as text: its text, then its tool calls as ``<tool_call>`` blocks."""
    parts = [generation.text] if generation.text else []
    if generation.tool_calls:
        parts.append(format_tool_calls(generation.tool_calls))
    return "\n".join(parts)


def _joined(chunks: list[str], tools: Any) -> Generation:
    text = "".join(chunks)
    if "<tool_call>" in text:
        return parse_tool_output(text, tools)
    return Generation(text=text or None, raw=text)


def _llm_chunks(router: Router, call: RoutingCall, decision: RouteDecision,
                outcome: StageOutcome | None, start: float, started_at: Any,
                ) -> Generator[str, None, tuple[Generation, float]]:
    t0 = time.perf_counter()
    try:
        # Text chunks cannot carry structured tool calls: with tools offered, ask in one go.
        if not router._llm.can_stream or call.tools:
            generation = router._llm.generate(call.messages, call.tools)
            spent = time.perf_counter() - t0
            text = render(generation)
            if text:
                yield text
            return generation, spent
        chunks: list[str] = []
        for chunk in router._llm.stream(call.messages, call.tools):
            if chunk:
                chunks.append(chunk)
                yield chunk
    except Exception as exc:
        raise router._failed(call, decision, outcome, exc, start, started_at) from exc
    return _joined(chunks, call.tools), time.perf_counter() - t0


def stream(router: Router, messages: Any, tools: Any, trace_id: str | None,
           call_id: str | None, agent: str | None = None) -> Iterator[str]:
    """The sync stream of one routed call."""
    start, started_at = time.perf_counter(), utcnow()
    call = router._call(messages, tools, trace_id, call_id, agent)
    decision = router._decide(call)
    outcome = None
    if router._is_shadow(decision):
        future = router._pool().submit(router._specialist_sync, call, decision.task, False)
        generation, spent = yield from _llm_chunks(router, call, decision, None, start,
                                                   started_at)
        outcome = router._wait(future, router.timeout_s)
        router._finish(call, decision, "llm", generation, outcome, start, started_at, spent,
                       shadow=True)
        return
    if decision.route == "specialist":
        outcome = router._specialist_sync(call, decision.task)
        if outcome.generation is not None:
            yield render(outcome.generation)
            router._finish(call, decision, "specialist", outcome.generation, outcome, start,
                           started_at)
            return
    generation, spent = yield from _llm_chunks(router, call, decision, outcome, start,
                                               started_at)
    router._finish(call, decision, "llm", generation, outcome, start, started_at, spent)


async def astream(router: Router, messages: Any, tools: Any, trace_id: str | None,
                  call_id: str | None, agent: str | None = None) -> AsyncIterator[str]:
    """The async stream of one routed call."""
    import asyncio

    start, started_at = time.perf_counter(), utcnow()
    call = router._call(messages, tools, trace_id, call_id, agent)
    decision = router._decide(call)
    outcome = None
    side = None
    if router._is_shadow(decision):
        side = asyncio.ensure_future(router._specialist_async(call, decision.task))
    elif decision.route == "specialist":
        outcome = await router._specialist_async(call, decision.task)
        if outcome.generation is not None:
            yield render(outcome.generation)
            router._finish(call, decision, "specialist", outcome.generation, outcome, start,
                           started_at)
            return
    t0 = time.perf_counter()
    chunks: list[str] = []
    try:
        if router._llm.can_astream and not call.tools:
            async for chunk in router._llm.astream(call.messages, call.tools):
                if chunk:
                    chunks.append(chunk)
                    yield chunk
            generation = _joined(chunks, call.tools)
        else:
            generation = await router._llm.agenerate(call.messages, call.tools)
            text = render(generation)
            if text:
                yield text
    except Exception as exc:
        if side is not None:
            side.cancel()
        raise router._failed(call, decision, outcome, exc, start, started_at) from exc
    spent = time.perf_counter() - t0
    if side is not None:
        outcome = await side
    router._finish(call, decision, "llm", generation, outcome, start, started_at, spent,
                   shadow=side is not None)
