"""Deciding a call's route: the router's gates, on top of the policy's proposal.

The policy proposes a task, a confidence and a route; the gates can only send the call to the
LLM: no specialist for the task, a confidence under the task's threshold, a call outside the
task's canary fraction. With stickiness, a trace keeps the route of its first call (and moves to
the LLM for good once it escalated). Also here: the normalisation of a call's inputs.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..errors import ConfigError
from ..train.generation import Generation
from .models import ModelHandle
from .policy import RouteDecision, RoutingCall, RoutingPolicy
from .stage import StageOutcome, input_chars, output_chars

__all__ = ["DecisionGates", "generation_tokens", "outcome_tokens"]

logger = logging.getLogger("slm_agents")

Messages = Sequence[Mapping[str, Any]]


def _fraction(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number in [0, 1]; got {value!r}") from None
    if not 0.0 <= number <= 1.0 and not (what.startswith("thresholds") and number == math.inf):
        raise ConfigError(f"{what} must be in [0, 1]; got {value!r}")
    return number


def _unit_hash(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the key (the canary's coin)."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _as_messages(messages: Any) -> list[dict[str, Any]] | Messages:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, (list, tuple)):
        if all(isinstance(m, dict) for m in messages):
            return messages
        if all(isinstance(m, Mapping) for m in messages):
            return [dict(m) for m in messages]
    raise TypeError("messages must be a str or a list of OpenAI-style message dicts "
                    f"({{'role': ..., 'content': ...}}); got {type(messages).__name__} (framework "
                    "messages go through router.as_langchain() / router.as_llama_index())")


def _as_tools(tools: Any) -> Messages | None:
    if tools is None or (isinstance(tools, (list, tuple)) and not tools):
        return None
    if isinstance(tools, Mapping):
        return [tools]
    if isinstance(tools, (list, tuple)) and all(isinstance(t, Mapping) for t in tools):
        return tools
    raise TypeError("tools must be None or a list of OpenAI tool specs (dicts with 'function' "
                    "or 'name'); convert framework tools with langchain's convert_to_openai_tool "
                    "or bind them through router.as_langchain().bind_tools(...)")




def outcome_tokens(outcome: StageOutcome | None) -> tuple[float, float]:
    return (outcome.input_tokens, outcome.output_tokens) if outcome is not None else (0.0, 0.0)


def generation_tokens(generation: Generation, call: RoutingCall) -> tuple[float, float]:
    if generation.input_tokens or generation.output_tokens:
        return float(generation.input_tokens), float(generation.output_tokens)
    return input_chars(call.messages) / 4.0, output_chars(generation) / 4.0


class DecisionGates:
    """The deciding half of :class:`~slm_agents.route.Router` (configuration and gates)."""

    specialists: dict[Any, Any]
    seed: int
    agent: str | None
    sticky: bool
    max_traces: int
    _specialists: dict[Any, ModelHandle]
    _policy: RoutingPolicy
    _alias: dict[Any, Any]
    _shadow_all: bool
    _shadow_tasks: frozenset[Any]
    _traces: OrderedDict[str, RouteDecision]
    _lock: threading.Lock

    # ------------------------------------------------------------------ configuration
    def _task_aliases(self, clusterer: Any) -> dict[Any, Any]:
        """Other names of each specialist's task: a label's text form, a clusterer's task name."""
        alias: dict[Any, Any] = {}
        for task in self.specialists:
            alias.setdefault(str(task), task)
        names = getattr(clusterer, "task_names_", None)
        if isinstance(names, Mapping):
            for label, name in names.items():
                if name in self.specialists and label not in self.specialists:
                    alias[label] = alias[str(label)] = name
        return alias

    def _resolve(self, task: Any) -> Any:
        if task in self.specialists:
            return task
        return self._alias.get(task, task)

    @property
    def thresholds(self) -> float | dict[Any, float]:
        """Minimum confidence for the specialist: one number or ``{task: number}``."""
        return self._thresholds if self._thresholds else self._default_threshold

    @thresholds.setter
    def thresholds(self, value: float | Mapping[Any, float]) -> None:
        if isinstance(value, Mapping):
            self._thresholds = {self._resolve(k): _fraction(v, f"thresholds[{k!r}]")
                                for k, v in value.items()}
            self._default_threshold = getattr(self, "_default_threshold", 0.5)
        else:
            self._thresholds = {}
            self._default_threshold = _fraction(value, "thresholds")

    def threshold_for(self, task: Any) -> float:
        """The threshold applied to ``task``."""
        return self._thresholds.get(self._resolve(task), self._default_threshold)

    @property
    def canary(self) -> float | dict[Any, float]:
        """Share of eligible calls sent to the specialist: one number or ``{task: number}``."""
        return self._canary if self._canary else self._default_canary

    @canary.setter
    def canary(self, value: float | Mapping[Any, float]) -> None:
        if isinstance(value, Mapping):
            self._canary = {self._resolve(k): _fraction(v, f"canary[{k!r}]")
                            for k, v in value.items()}
            self._default_canary = 1.0
        else:
            self._canary, self._default_canary = {}, _fraction(value, "canary")

    # ------------------------------------------------------------------ deciding
    def _call(self, messages: Any, tools: Any, trace_id: str | None,
              call_id: str | None, agent: str | None = None) -> RoutingCall:
        msgs = _as_messages(messages)
        if not msgs:
            raise ConfigError("messages is empty: give at least one message")
        return RoutingCall(msgs, _as_tools(tools), trace_id=trace_id,
                           call_id=call_id or str(uuid.uuid4()), agent=agent or self.agent)

    def _propose(self, call: RoutingCall) -> RouteDecision:
        """The policy's proposal with the task resolved (the LLM when the policy fails)."""
        try:
            proposal = self._policy.decide(call)
            if not isinstance(proposal, RouteDecision):
                raise TypeError(f"decide() returned {type(proposal).__name__}, not RouteDecision")
            task = self._resolve(proposal.task) if proposal.task is not None else None
        except Exception:  # a broken policy must not cost availability: the LLM serves
            logger.exception("slm_agents router: the routing policy failed; the LLM serves")
            return RouteDecision("llm", None, 0.0, "policy_error")
        return proposal if task is proposal.task else replace(proposal, task=task)

    def _gate(self, proposal: RouteDecision, call: RoutingCall) -> RouteDecision:
        task, confidence = proposal.task, proposal.confidence
        if proposal.route != "specialist" or task is None:
            return proposal
        if task not in self._specialists:
            return RouteDecision("llm", task, confidence, "no_specialist")
        threshold = self._thresholds.get(task, self._default_threshold)
        if not confidence >= threshold:
            return RouteDecision("llm", task, confidence, "below_threshold", threshold)
        fraction = self._canary.get(task, self._default_canary)
        if fraction < 1.0 and _unit_hash(self.seed, call.call_id or "") >= fraction:
            return RouteDecision("llm", task, confidence, "canary_holdout", threshold)
        return RouteDecision("specialist", task, confidence, "confident", threshold)

    def _decide(self, call: RoutingCall) -> RouteDecision:
        if self.sticky and call.trace_id is not None:
            with self._lock:
                earlier = self._traces.get(call.trace_id)
                if earlier is not None:
                    self._traces.move_to_end(call.trace_id)
            if earlier is not None:
                return replace(earlier, reason="sticky")
        return self._gate(self._propose(call), call)

    def decide(self, messages: Any, tools: Any = None, *, trace_id: str | None = None,
               call_id: str | None = None, agent: str | None = None) -> RouteDecision:
        """Where a call would go, without calling any model (nothing is counted or recorded)."""
        return self._decide(self._call(messages, tools, trace_id, call_id, agent))

    def _remember(self, call: RoutingCall, decision: RouteDecision, route: str) -> None:
        if not self.sticky or call.trace_id is None:
            return
        with self._lock:
            earlier = self._traces.get(call.trace_id)
            if earlier is None or earlier.route != route:
                # An escalated trace stays on the LLM: the conversation does not flip back.
                self._traces[call.trace_id] = replace(decision, route=route)  # type: ignore[arg-type]
            self._traces.move_to_end(call.trace_id)
            while len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)

    def _is_shadow(self, decision: RouteDecision) -> bool:
        task = decision.task
        return (task is not None and (self._shadow_all or task in self._shadow_tasks)
                and task in self._specialists)
