"""Stage 7 of the demo: the router replays held-out traffic, the LLM's logged answers as fallback.

The held-out calls are whole traces the specialists never trained on, as the agents made them
(human-facing answers included). Each call goes through :class:`~slm_agents.route.Router`: the
clusterer names its task, a task with a specialist gets the specialist's answer when it keeps
the agent's contract, and every other call escalates to the "LLM", here a replay of the answer
the LLM gave when the call was logged. Agreement is with that logged answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..records import CallRecord
from ..train.generation import Generation

__all__ = ["CappedModel", "ReplayLLM", "ReplayResult", "answer_budget", "held_out_calls",
           "replay_traffic"]


def _key(messages: Sequence[Mapping[str, Any]], tools: Any) -> bytes:
    turns = [[m.get("role"), m.get("content"), m.get("tool_call_id")] for m in messages]
    names = sorted(str((t.get("function") or t).get("name")) for t in tools or ())
    return orjson.dumps([turns, names])


class ReplayLLM:
    """The fallback LLM: answers each call with the answer logged for it (a lookup).

    Examples:
        >>> llm = ReplayLLM()
        >>> llm.remember([{"role": "user", "content": "hi"}], None, Generation(text="hello"))
        >>> llm.generate([{"role": "user", "content": "hi"}]).text
        'hello'
    """

    name = "the LLM (replayed)"

    def __init__(self) -> None:
        self._answers: dict[bytes, Generation] = {}
        self.calls = 0

    def remember(self, messages: Sequence[Mapping[str, Any]], tools: Any,
                 answer: Generation) -> None:
        """Record the logged answer to a call."""
        self._answers[_key(messages, tools)] = answer

    def generate(self, messages: Sequence[Mapping[str, Any]], tools: Any = None,
                 **kwargs: Any) -> Generation:
        """The logged answer (raises ``LookupError`` for a call never logged)."""
        self.calls += 1
        try:
            return self._answers[_key(messages, tools)]
        except KeyError:
            raise LookupError("no logged answer for this call") from None


def answer_budget(tokenizer: Any, answers: Sequence[str]) -> int:
    """A specialist's generation budget: the longest of its task's logged answers in tokens,
    plus a margin (between 8 and 256)."""
    longest = max((len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers),
                  default=0)
    return min(256, max(8, longest + 8))


class CappedModel:
    """A specialist with a generation budget (its task's longest answer, plus a margin)."""

    def __init__(self, model: Any, max_new_tokens: int, name: str) -> None:
        self.model = model
        self.max_new_tokens = max_new_tokens
        self.name = name

    def generate(self, messages: Sequence[Mapping[str, Any]], tools: Any = None,
                 **kwargs: Any) -> Generation:
        """The specialist's answer, at most ``max_new_tokens`` long."""
        kwargs.setdefault("max_new_tokens", self.max_new_tokens)
        return self.model.generate(messages, tools, **kwargs)  # type: ignore[no-any-return]


@dataclass
class ReplayResult:
    """What the router did with the held-out traffic.

    Attributes:
        calls: Calls replayed.
        traces: Traces they belong to.
        specialist: Calls served by a specialist.
        specialist_agreed: Of those, answers agreeing with the LLM's logged one.
        escalations: Calls a specialist was tried on but the LLM answered (its answer broke
            the agent's contract: unparseable, unknown tool, schema violation...).
        agreed: Calls (whatever route) whose served answer agrees with the LLM's.
        by_task: Per task id, ``{"specialist": n, "llm": n}``.
        fallback_reasons: Escalations per reason.
        cost_saved_share: Share of the LLM-only cost saved (the router's price estimates).
        stats: ``router.stats().to_dict()``.
    """

    calls: int = 0
    traces: int = 0
    specialist: int = 0
    specialist_agreed: int = 0
    escalations: int = 0
    agreed: int = 0
    by_task: dict[str, dict[str, int]] = field(default_factory=dict)
    fallback_reasons: dict[str, int] = field(default_factory=dict)
    cost_saved_share: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def specialist_share(self) -> float:
        """Share of the calls a specialist served."""
        return self.specialist / self.calls if self.calls else 0.0

    @property
    def specialist_agreement(self) -> float | None:
        """Agreement of the specialists' served answers with the LLM's (``None``: none)."""
        return self.specialist_agreed / self.specialist if self.specialist else None

    @property
    def agreement(self) -> float:
        """Agreement of every served answer with the LLM's."""
        return self.agreed / self.calls if self.calls else 0.0


def held_out_calls(records: Sequence[CallRecord], test_traces: set[str],
                   limit: int) -> list[CallRecord]:
    """The calls of the held-out traces, whole traces in time order, up to about ``limit``."""
    by_trace: dict[str, list[CallRecord]] = {}
    for record in sorted(records, key=lambda r: (r.started_at, r.id)):
        if record.trace_id in test_traces:
            by_trace.setdefault(record.trace_id, []).append(record)
    chosen: list[CallRecord] = []
    for calls in by_trace.values():
        if len(chosen) >= limit:
            break
        chosen += calls
    return chosen


def replay_traffic(calls: Sequence[CallRecord], specialists: Mapping[int, Any],
                   clusterer: Any, progress: Any = None) -> ReplayResult:
    """Route ``calls`` through a :class:`~slm_agents.route.Router` and score what it served."""
    from ..route import Router, answers_agree
    from ..route.examples import record_reference

    llm = ReplayLLM()
    result = ReplayResult(calls=len(calls), traces=len({c.trace_id for c in calls}))
    by_task: dict[str, Counter[str]] = {}
    with Router(llm, specialists=dict(specialists), clusterer=clusterer) as router:
        for record in calls:
            messages, tools, reference = record_reference(record)
            llm.remember(messages, tools, reference)
            answer = router.invoke(messages, tools, trace_id=record.trace_id,
                                   call_id=record.id, agent=record.agent)
            task = "unassigned" if answer.task is None or answer.task == -1 else str(answer.task)
            by_task.setdefault(task, Counter())[answer.route] += 1
            agrees = answers_agree(answer, reference, tools)
            result.agreed += agrees
            if answer.route == "specialist":
                result.specialist += 1
                result.specialist_agreed += agrees
            if progress is not None:
                progress(1)
        stats = router.stats()
    result.escalations = stats.fallbacks
    result.fallback_reasons = dict(stats.fallback_reasons)
    result.cost_saved_share = stats.saved_share
    result.by_task = {task: dict(counts) for task, counts in sorted(by_task.items())}
    result.stats = stats.to_dict()
    return result
