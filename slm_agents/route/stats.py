"""What a router did: calls per route and task, fallbacks and their reasons, estimated savings.

The router adds one :class:`CallOutcome` per call under a lock; :meth:`StatsCollector.snapshot`
turns the counters into a :class:`RouterStats` and prices the token counts. Savings are an
estimate: the calls a specialist served are priced at the LLM's rates with the specialist's token
counts (or about 4 characters per token where a model reports none), minus everything the
specialists cost, failed attempts, retries, samples and shadow calls included.

Examples:
    >>> collector = StatsCollector()
    >>> collector.add(CallOutcome(route="specialist", task="faq", reason="confident",
    ...                           specialist_tokens=(100, 20), served_tokens=(100, 20),
    ...                           specialist_calls=1))
    >>> stats = collector.snapshot(RoutePrices())
    >>> stats.calls, stats.by_route["specialist"], stats.cost_saved > 0
    (1, 1, True)
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError

__all__ = ["CallOutcome", "Price", "RoutePrices", "RouterStats", "StatsCollector", "as_prices"]


@dataclass(frozen=True)
class Price:
    """Dollars per 1,000 input and output tokens."""

    input_per_1k: float
    output_per_1k: float

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        """The price of that many tokens."""
        return (input_tokens * self.input_per_1k + output_tokens * self.output_per_1k) / 1000.0


@dataclass(frozen=True)
class RoutePrices:
    """Prices of the two routes.

    The defaults are a GPT-4o-class hosted LLM ($2.50 / $10 per million tokens, the default of
    :class:`~slm_agents.cluster.report.Prices`) and a self-hosted small model at about 1/50 of
    that ($0.05 / $0.20 per million); give your own for real figures.
    """

    llm: Price = field(default_factory=lambda: Price(0.0025, 0.01))
    specialist: Price = field(default_factory=lambda: Price(0.00005, 0.0002))


def _price(value: Any, what: str) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        try:
            return Price(float(value["input_per_1k"]), float(value["output_per_1k"]))
        except (KeyError, TypeError, ValueError):
            pass
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        return Price(float(value[0]), float(value[1]))
    elif hasattr(value, "input_per_1k") and hasattr(value, "output_per_1k"):
        return Price(float(value.input_per_1k), float(value.output_per_1k))
    raise ConfigError(f"prices[{what!r}] must be a Price, a Prices, a (input_per_1k, "
                      f"output_per_1k) pair or a dict with those keys; got {value!r}")


def as_prices(prices: Any) -> RoutePrices:
    """Normalise ``None``, a :class:`RoutePrices`, or ``{"llm": ..., "specialist": ...}``.

    Examples:
        >>> as_prices({"llm": (0.003, 0.015)}).llm.output_per_1k
        0.015
    """
    if prices is None:
        return RoutePrices()
    if isinstance(prices, RoutePrices):
        return prices
    if isinstance(prices, Mapping):
        unknown = set(prices) - {"llm", "specialist"}
        if unknown:
            raise ConfigError(f"unknown prices keys {sorted(unknown)}; valid keys are: llm, "
                              "specialist")
        default = RoutePrices()
        return RoutePrices(
            llm=_price(prices["llm"], "llm") if "llm" in prices else default.llm,
            specialist=(_price(prices["specialist"], "specialist") if "specialist" in prices
                        else default.specialist))
    raise ConfigError("prices must be None, a RoutePrices or a dict {'llm': ..., "
                      f"'specialist': ...}}; got {type(prices).__name__}")


@dataclass(slots=True)
class CallOutcome:
    """What one routed call did (the router fills one per call).

    Attributes:
        route: The route that served the answer.
        task: The task (``None`` when unknown).
        reason: The decision's reason.
        fallback_reason: Why a specialist's answer was not served, when one was tried.
        specialist_calls: Specialist generations made (samples, retries and shadow included).
        retried: A retry with feedback was made; ``retry_served``: and its answer was served.
        specialist_tokens: Input and output tokens over all specialist generations.
        llm_tokens: Input and output tokens of the LLM's answer (when it was called).
        served_tokens: Tokens of the answer served by a specialist (priced at LLM rates for the
            savings estimate).
        shadow_agreement: In shadow mode, whether the specialist agreed with the LLM.
        error: The LLM failed (the call raised).
        overhead_ms: Routing time spent outside the models.
    """

    route: str
    task: Any = None
    reason: str = ""
    fallback_reason: str | None = None
    specialist_calls: int = 0
    retried: bool = False
    retry_served: bool = False
    specialist_tokens: tuple[float, float] = (0.0, 0.0)
    llm_tokens: tuple[float, float] = (0.0, 0.0)
    served_tokens: tuple[float, float] = (0.0, 0.0)
    shadow_agreement: bool | None = None
    error: bool = False
    overhead_ms: float = 0.0


@dataclass(frozen=True)
class RouterStats:
    """A snapshot of a router's counters, with costs at the given prices.

    Attributes:
        calls: Calls routed (failed ones included).
        by_route: Calls served per route (``"specialist"``, ``"llm"``).
        by_task: Per task (``None`` for unassigned calls), calls served per route.
        decision_reasons: Calls per decision reason (see :class:`RouteDecision`).
        specialist_attempts: Calls on which a specialist was tried (shadow calls excluded).
        fallbacks: Of those, calls escalated to the LLM; ``fallback_rate`` is their share.
        fallback_reasons: Escalations per reason (``parse_error``, ``timeout``...).
        retries: Retries with feedback made; ``retry_successes``: retries whose answer was served.
        specialist_generations: All specialist generations (samples, retries, shadow included).
        shadow_calls: Calls answered in shadow mode; ``shadow_agreement_rate``: the share where
            the specialist agreed with the LLM (``None`` before any).
        errors: Calls where the LLM failed too (they raised ``RoutingError``).
        tokens: Input/output tokens per route, estimated where a model reported none.
        llm_cost / specialist_cost: What was spent per route.
        baseline_cost: What the LLM alone would have cost for every call.
        cost_saved: ``baseline_cost - llm_cost - specialist_cost``; ``saved_share``: its share
            of the baseline.
        mean_overhead_ms: Mean routing time per call outside the models.
        prices: The prices used.
    """

    calls: int
    by_route: dict[str, int]
    by_task: dict[Any, dict[str, int]]
    decision_reasons: dict[str, int]
    specialist_attempts: int
    fallbacks: int
    fallback_rate: float
    fallback_reasons: dict[str, int]
    retries: int
    retry_successes: int
    specialist_generations: int
    shadow_calls: int
    shadow_agreement_rate: float | None
    errors: int
    tokens: dict[str, dict[str, float]]
    llm_cost: float
    specialist_cost: float
    baseline_cost: float
    cost_saved: float
    saved_share: float
    mean_overhead_ms: float
    prices: RoutePrices

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (task keys as text, ``None`` as ``"unassigned"``)."""
        out = asdict(self)
        out["by_task"] = {("unassigned" if k is None else str(k)): v
                          for k, v in self.by_task.items()}
        return out

    def summary(self) -> str:
        """A few readable lines."""
        share = self.by_route.get("specialist", 0) / self.calls if self.calls else 0.0
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.fallback_reasons.items()))
        reasons = f": {reasons}" if reasons else ""
        return (f"{self.calls} calls: {share:.1%} served by specialists; "
                f"{self.fallbacks} fallbacks ({self.fallback_rate:.1%}{reasons}); "
                f"estimated ${self.cost_saved:.4f} saved ({self.saved_share:.1%} of "
                f"${self.baseline_cost:.4f})")


class StatsCollector:
    """Thread-safe counters of :class:`CallOutcome` s (one lock acquisition per call)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self._calls = 0
            self._routes: Counter[str] = Counter()
            self._tasks: dict[Any, Counter[str]] = {}
            self._reasons: Counter[str] = Counter()
            self._fallbacks: Counter[str] = Counter()
            self._n = Counter[str]()
            self._tok = [0.0] * 6  # spec in/out, llm in/out, served in/out
            self._overhead = 0.0

    def add(self, outcome: CallOutcome) -> None:
        """Count one call."""
        with self._lock:
            self._calls += 1
            n = self._n
            if outcome.error:
                n["errors"] += 1
            else:
                self._routes[outcome.route] += 1
                by_task = self._tasks.get(outcome.task)
                if by_task is None:
                    by_task = self._tasks[outcome.task] = Counter()
                by_task[outcome.route] += 1
            self._reasons[outcome.reason] += 1
            if outcome.shadow_agreement is not None:
                n["shadow"] += 1
                n["shadow_agree"] += outcome.shadow_agreement
            elif outcome.specialist_calls:
                n["attempts"] += 1
            if outcome.fallback_reason is not None and outcome.shadow_agreement is None:
                self._fallbacks[outcome.fallback_reason] += 1
            n["generations"] += outcome.specialist_calls
            n["retries"] += outcome.retried
            n["retry_successes"] += outcome.retry_served
            tok = self._tok
            tok[0] += outcome.specialist_tokens[0]
            tok[1] += outcome.specialist_tokens[1]
            tok[2] += outcome.llm_tokens[0]
            tok[3] += outcome.llm_tokens[1]
            tok[4] += outcome.served_tokens[0]
            tok[5] += outcome.served_tokens[1]
            self._overhead += outcome.overhead_ms

    def snapshot(self, prices: RoutePrices) -> RouterStats:
        """The counters as a :class:`RouterStats`, priced at ``prices``."""
        with self._lock:
            calls, n, tok = self._calls, Counter(self._n), list(self._tok)
            routes = {"specialist": self._routes["specialist"], "llm": self._routes["llm"]}
            tasks = {task: {"specialist": c["specialist"], "llm": c["llm"]}
                     for task, c in self._tasks.items()}
            reasons, fallbacks = dict(self._reasons), dict(self._fallbacks)
            overhead = self._overhead
        llm_cost = prices.llm.cost(tok[2], tok[3])
        specialist_cost = prices.specialist.cost(tok[0], tok[1])
        baseline = llm_cost + prices.llm.cost(tok[4], tok[5])
        saved = baseline - llm_cost - specialist_cost
        n_fallbacks = sum(fallbacks.values())
        return RouterStats(
            calls=calls, by_route=routes, by_task=tasks, decision_reasons=reasons,
            specialist_attempts=n["attempts"], fallbacks=n_fallbacks,
            fallback_rate=n_fallbacks / n["attempts"] if n["attempts"] else 0.0,
            fallback_reasons=fallbacks, retries=n["retries"],
            retry_successes=n["retry_successes"], specialist_generations=n["generations"],
            shadow_calls=n["shadow"],
            shadow_agreement_rate=n["shadow_agree"] / n["shadow"] if n["shadow"] else None,
            errors=n["errors"],
            tokens={"specialist": {"input": tok[0], "output": tok[1]},
                    "llm": {"input": tok[2], "output": tok[3]}},
            llm_cost=llm_cost, specialist_cost=specialist_cost, baseline_cost=baseline,
            cost_saved=saved, saved_share=saved / baseline if baseline else 0.0,
            mean_overhead_ms=overhead / calls if calls else 0.0, prices=prices)
