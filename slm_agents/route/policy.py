"""Which task a call belongs to, and how sure we are: routing policies.

A policy implements one method, :meth:`RoutingPolicy.decide`, which reads a :class:`RoutingCall`
and proposes a :class:`RouteDecision` (a task, a confidence and a route). The router then applies
its gates, which can only send a call to the LLM, never the other way: the task must have a
specialist, the confidence must reach the task's threshold, and the call must fall in the task's
canary fraction.

Accepted forms, normalised once by :func:`as_policy`:

- a fitted ``TaskClusterer`` (``clusterer=``): :class:`ClustererPolicy`, which calls
  ``clusterer.assign(record) -> (label, confidence)`` and caches the answer per call content;
- a :class:`RoutingPolicy` subclass;
- a callable ``call -> task | (task, confidence) | RouteDecision | None``: :class:`CallablePolicy`;
- a mapping ``{task: "specialist" | "llm"}`` together with a clusterer: :class:`MappingPolicy`
  (tasks not in the mapping go to the LLM).

Examples:
    >>> policy = as_policy(lambda call: ("faq", 0.9), None)
    >>> policy.decide(RoutingCall([{"role": "user", "content": "hi"}]))
    RouteDecision(route='specialist', task='faq', confidence=0.9, reason='policy', threshold=None)
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..capture.openai_format import messages_from_openai
from ..errors import ConfigError
from ..records import CallRecord

__all__ = [
    "ACCEPTED_POLICY_FORMS",
    "CallablePolicy",
    "ClustererPolicy",
    "MappingPolicy",
    "RouteDecision",
    "RoutingCall",
    "RoutingPolicy",
    "as_policy",
]

Route = Literal["specialist", "llm"]
ROUTES = ("specialist", "llm")

ACCEPTED_POLICY_FORMS = (
    "clusterer=<a fitted TaskClusterer (anything with assign(record) -> (label, confidence))>, "
    "or policy=<a RoutingPolicy subclass instance>, <a callable call -> task | (task, confidence) "
    "| RouteDecision | None>, or <a {task: 'specialist' | 'llm'} mapping, together with a "
    "clusterer>"
)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where one call goes, and why.

    Attributes:
        route: ``"specialist"`` or ``"llm"``.
        task: The task the call was identified as (``None`` when unknown).
        confidence: How sure the identification is, in [0, 1].
        reason: Why this route: ``"confident"`` (every gate passed), ``"below_threshold"``,
            ``"unassigned"`` (no task), ``"no_specialist"``, ``"canary_holdout"``, ``"sticky"``
            (the trace's earlier route), ``"policy"`` (the policy chose), ``"not_in_policy"``,
            ``"policy_error"`` (the policy raised: the LLM serves).
        threshold: The task's threshold that was applied, when one was.
    """

    route: Route
    task: Any = None
    confidence: float = 0.0
    reason: str = "policy"
    threshold: float | None = None


class RoutingCall:
    """One call to route: OpenAI-style messages and tools, its ids, and the agent's name.

    ``record`` builds a :class:`~slm_agents.CallRecord` of the input on first use (what a
    clusterer reads).
    """

    __slots__ = ("_record", "agent", "call_id", "messages", "tools", "trace_id")

    def __init__(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, *,
                 trace_id: str | None = None, call_id: str | None = None,
                 agent: str | None = None) -> None:
        self.messages = messages
        self.tools = tools
        self.trace_id = trace_id
        self.call_id = call_id
        self.agent = agent
        self._record: CallRecord | None = None

    @property
    def record(self) -> CallRecord:
        """The call's input as a CallRecord (built once; no output yet)."""
        if self._record is None:
            fields: dict[str, Any] = {
                "messages": messages_from_openai(self.messages),
                "tools": [dict(t) for t in self.tools or ()], "agent": self.agent,
                "trace_id": self.trace_id}
            if self.call_id:
                fields["id"] = self.call_id
            self._record = CallRecord.model_construct(**fields)
        return self._record

    def turns(self) -> list[tuple[str, str | None, str | None]] | None:
        """``(role, text, name)`` of each message, read as :attr:`record` reads them; ``None``
        when a message is not a plain mapping with a role (then only :attr:`record` will do)."""
        from ..capture.sanitize import clean_text, split_content

        out = []
        for message in self.messages:
            if not isinstance(message, Mapping) or not message.get("role"):
                return None
            out.append((clean_text(message["role"], 100) or "user",
                        split_content(message.get("content"))[0],
                        clean_text(message.get("name"), 10_000)))
        return out

    def content_key(self, template: Callable[[str], str] | None = None) -> tuple[Any, ...]:
        """What identifies the call's content for classification: the agent, the tool names,
        the system prompt (through ``template``, e.g. with its dates and names masked) and the
        turns from the last user message on (earlier turns do not change the task of the
        call, and leaving them out lets a conversation's repeated requests share an entry)."""
        messages = self.messages
        last_user = 0
        system: list[Any] = []
        for i, message in enumerate(messages):
            role = message.get("role")
            if role == "user":
                last_user = i
            elif role == "system":
                system.append(message.get("content"))
        tail = tuple((m.get("role"), _text_key(m.get("content")), m.get("name"))
                     for m in messages[last_user:])
        names = tuple(_tool_name(t) for t in self.tools or ())
        if template is not None:
            system = [template(s) if isinstance(s, str) else s for s in system]
        return (self.agent, names, tuple(_text_key(s) for s in system), tail)


def _text_key(content: Any) -> Any:
    if content is None or isinstance(content, str):
        return content
    return repr(content)  # multimodal parts: a list of dicts is not hashable


def _tool_name(spec: Any) -> Any:
    if not isinstance(spec, Mapping):
        return repr(spec)
    function = spec.get("function")
    return (function if isinstance(function, Mapping) else spec).get("name")


class RoutingPolicy(ABC):
    """The one method a routing policy implements: identify a call's task and propose a route.

    Examples:
        >>> class ByAgent(RoutingPolicy):
        ...     def decide(self, call):
        ...         return RouteDecision("specialist", task=call.agent, confidence=1.0)
        >>> ByAgent().decide(RoutingCall([], agent="faq")).task
        'faq'
    """

    @abstractmethod
    def decide(self, call: RoutingCall) -> RouteDecision:
        """Propose a route for ``call``; the router's gates may still send it to the LLM."""


class ClustererPolicy(RoutingPolicy):
    """Identify the task with a fitted clusterer's ``assign(record) -> (label, confidence)``.

    Label ``-1`` (noise) means no task. Answers are cached per call content (a bounded LRU), so a
    repeated call costs a dictionary lookup.

    Args:
        clusterer: A fitted ``TaskClusterer`` or anything with ``assign``.
        cache_size: Call contents remembered (0 turns the cache off).
    """

    def __init__(self, clusterer: Any, cache_size: int = 8192) -> None:
        if not callable(getattr(clusterer, "assign", None)):
            raise TypeError(f"clusterer must have assign(record) -> (label, confidence) (a "
                            f"fitted TaskClusterer); got {type(clusterer).__name__}")
        self.clusterer = clusterer
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[Any, ...], tuple[Any, float]] = OrderedDict()
        self._lock = threading.Lock()
        try:  # the clusterer reads the system prompt with its variable parts masked
            from ..cluster.features import mask_template
        except ImportError:  # pragma: no cover - a trimmed install: exact prompts as keys
            self._template: Callable[[str], str] | None = None
        else:
            self._template = mask_template

    def identify(self, call: RoutingCall) -> tuple[Any, float]:
        """``(task, confidence)`` for the call (task ``None`` when unassigned)."""
        key = call.content_key(self._template) if self.cache_size else None
        if key is not None:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return hit
        item: Any = None
        if getattr(self.clusterer, "accepts_call_views", False):
            # TaskClusterer reads a few fields of the call: build just those (a CallRecord costs
            # about a millisecond of pydantic defaults on this hot path).
            turns = call.turns()
            if turns is not None:
                from ..cluster.features import view_of_turns

                item = view_of_turns(turns, call.agent, [
                    str(n) for n in (_tool_name(t) for t in call.tools or ()) if n])
        label, confidence = self.clusterer.assign(item if item is not None else call.record)
        label = int(label)  # numpy integers are not JSON values
        answer = (None if label < 0 else label, float(confidence))
        if key is not None:
            with self._lock:
                self._cache[key] = answer
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return answer

    def decide(self, call: RoutingCall) -> RouteDecision:
        task, confidence = self.identify(call)
        if task is None:
            return RouteDecision("llm", None, confidence, "unassigned")
        return RouteDecision("specialist", task, confidence, "policy")


class CallablePolicy(RoutingPolicy):
    """A function ``call -> task | (task, confidence) | RouteDecision | None`` as a policy.

    A bare task means confidence 1.0; ``None`` means no task (the LLM serves).
    """

    def __init__(self, func: Callable[[RoutingCall], Any]) -> None:
        self.func = func

    def decide(self, call: RoutingCall) -> RouteDecision:
        result = self.func(call)
        if isinstance(result, RouteDecision):
            return result
        if result is None:
            return RouteDecision("llm", None, 0.0, "unassigned")
        if isinstance(result, tuple) and len(result) == 2:
            task, confidence = result
            return RouteDecision("specialist" if task is not None else "llm", task,
                                 float(confidence), "policy" if task is not None else "unassigned")
        if isinstance(result, (str, int)) and not isinstance(result, bool):
            return RouteDecision("specialist", result, 1.0, "policy")
        raise TypeError(f"the routing policy returned {type(result).__name__}; expected a task, "
                        "a (task, confidence) tuple, a RouteDecision or None")


class MappingPolicy(RoutingPolicy):
    """A clusterer identifies the task; a ``{task: "specialist" | "llm"}`` mapping picks the
    route. Tasks the mapping does not name go to the LLM (specialists are opted in)."""

    def __init__(self, routes: Mapping[Any, str], clusterer: Any) -> None:
        bad = {task: route for task, route in routes.items() if route not in ROUTES}
        if bad:
            raise ConfigError(f"policy mapping values must be 'specialist' or 'llm'; got {bad!r}")
        self.routes = dict(routes)
        self.identifier = (clusterer if isinstance(clusterer, ClustererPolicy)
                           else ClustererPolicy(clusterer))

    def decide(self, call: RoutingCall) -> RouteDecision:
        task, confidence = self.identifier.identify(call)
        if task is None:
            return RouteDecision("llm", None, confidence, "unassigned")
        route = self.routes.get(task, self.routes.get(str(task)))
        if route is None:  # the mapping may name tasks by the clusterer's task names
            names = getattr(self.identifier.clusterer, "task_names_", None)
            if isinstance(names, Mapping) and task in names:
                route = self.routes.get(names[task])
        if route is None:
            return RouteDecision("llm", task, confidence, "not_in_policy")
        return RouteDecision(route, task, confidence, "policy")  # type: ignore[arg-type]


def as_policy(policy: Any, clusterer: Any) -> RoutingPolicy:
    """Normalise the accepted ``policy``/``clusterer`` forms into one :class:`RoutingPolicy`.

    Raises:
        ConfigError: neither was given, or a mapping came without a clusterer.
        TypeError: ``policy`` or ``clusterer`` is of no accepted form (the message lists them).
    """
    if isinstance(policy, RoutingPolicy):
        return policy
    if isinstance(policy, Mapping):
        if clusterer is None:
            raise ConfigError("a {task: route} policy mapping needs a clusterer to identify the "
                              f"task; accepted forms: {ACCEPTED_POLICY_FORMS}")
        return MappingPolicy(policy, clusterer)
    if policy is None:
        if clusterer is None:
            raise ConfigError(f"give the router a way to identify tasks: {ACCEPTED_POLICY_FORMS}")
        return ClustererPolicy(clusterer)
    if callable(policy) and not isinstance(policy, type):
        return CallablePolicy(policy)
    raise TypeError(f"policy must be one of: {ACCEPTED_POLICY_FORMS}; "
                    f"got {type(policy).__name__}")
