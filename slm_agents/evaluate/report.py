"""The evaluation report: per-example results, metrics with bootstrap intervals, comparisons.

An :class:`EvalReport` keeps every example's prediction, reference and flags
(:class:`ExampleResult`), the aggregate metrics with their percentile-bootstrap intervals
(:class:`Estimate`), latency, throughput and cost, and a per-task breakdown. It round-trips
through JSON (:meth:`EvalReport.to_dict` / :meth:`EvalReport.from_dict`), renders as Markdown,
and compares itself with another report on the same examples with a paired bootstrap
(:meth:`EvalReport.compare`, :meth:`EvalReport.beats`), which is the flywheel's promotion gate.

Metrics (each a mean over the examples it applies to; ``n`` says how many):

======================== ============================================= =====================
metric                   per example                                   applies to
======================== ============================================= =====================
agreement                the answer agrees with the LLM's logged one    every example
tool_call_exact          all calls match exactly (names and arguments)  reference calls tools
tool_name_accuracy       share of call names matched                    reference calls tools
argument_match           share of argument values matched               reference calls tools
call_when_needed         the model called some tool                     reference calls tools
no_call_when_none_needed the model called no tool                       reference calls none
schema_valid_rate        every call is valid for the offered tools      model called tools
exact_match              text equal (whitespace-normalised)             reference is text only
token_f1                 SQuAD token F1 of the texts                    reference is text only
parse_error_rate         the output could not be fully parsed           every example
failure_rate             ``generate`` raised                            every example
======================== ============================================= =====================

**Agreement** is tool-call exact match when the reference calls tools (its text, usually a
preamble, is ignored); otherwise the model must call no tool and its text must match exactly or
reach a token F1 of at least ``agreement_f1`` (0.8 by default). A failed call never agrees.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigError
from ..train.generation import Generation
from . import _render
from .stats import bootstrap_ci, bootstrap_difference, quantile

__all__ = ["METRICS", "Comparison", "Estimate", "EvalReport", "ExampleResult", "Prices"]

logger = logging.getLogger("slm_agents")

# metric name -> ExampleResult attribute holding its per-example value
METRICS: dict[str, str] = {
    "agreement": "agreement",
    "tool_call_exact": "tool_call_exact",
    "tool_name_accuracy": "tool_name_accuracy",
    "argument_match": "argument_match",
    "call_when_needed": "call_when_needed",
    "no_call_when_none_needed": "no_call_when_none_needed",
    "schema_valid_rate": "schema_valid",
    "exact_match": "exact_match",
    "token_f1": "token_f1",
    "parse_error_rate": "parse_error",
    "failure_rate": "failed",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Prices(_Model):
    """What serving costs, to estimate the cost per 1,000 calls.

    Either per-token prices (an API, or your own internal rate), a machine's hourly price, or
    both (they add up). With ``per_hour``, each call is charged the machine time it took
    (its measured latency), divided by ``concurrency`` when the server answers several calls at
    once: cost per call = ``input_tokens / 1000 * input_per_1k + output_tokens / 1000 *
    output_per_1k + per_hour * latency_s / 3600 / concurrency``.

    Examples:
        >>> Prices(per_hour=3.6).cost_per_call(input_tokens=100, output_tokens=20,
        ...                                    latency_ms=500.0)
        0.0005
    """

    input_per_1k: float = Field(0.0, ge=0, description="USD per 1,000 input tokens")
    output_per_1k: float = Field(0.0, ge=0, description="USD per 1,000 output tokens")
    per_hour: float = Field(0.0, ge=0, description="USD per hour of the serving machine")
    concurrency: int = Field(1, ge=1, description="calls the machine serves at once")

    def cost_per_call(self, input_tokens: float, output_tokens: float,
                      latency_ms: float) -> float:
        """The estimated USD cost of one call with these token counts and latency."""
        tokens = input_tokens / 1000 * self.input_per_1k + output_tokens / 1000 * \
            self.output_per_1k
        machine = self.per_hour * (latency_ms / 1000) / 3600 / self.concurrency
        return tokens + machine


class Estimate(_Model):
    """A metric's value over the ``n`` examples it applies to, with its bootstrap interval.

    ``value`` is ``None`` when the metric applies to no example (no reference calls a tool, for
    ``tool_call_exact``); ``low``/``high`` are ``None`` without bootstrap.
    """

    value: float | None = None
    n: int = 0
    low: float | None = None
    high: float | None = None


class ExampleResult(_Model):
    """One example's prediction, reference and flags (``None``: the flag does not apply).

    ``call_mismatches`` says what differs from the reference's tool calls ("wrong argument
    get_weather.city", "missing call search"...); ``schema_errors`` why predicted calls are
    invalid for the offered tools.
    """

    index: int
    task: str = "unassigned"
    key: str = ""
    reference: Generation
    prediction: Generation
    error: str | None = None
    agreement: bool = False
    tool_call_exact: bool | None = None
    tool_name_accuracy: float | None = None
    argument_match: float | None = None
    call_mismatches: list[str] = Field(default_factory=list)
    call_when_needed: bool | None = None
    no_call_when_none_needed: bool | None = None
    schema_valid: bool | None = None
    schema_errors: list[str] = Field(default_factory=list)
    exact_match: bool | None = None
    token_f1: float | None = None

    @property
    def failed(self) -> bool:
        """Whether the model's ``generate`` raised for this example."""
        return self.error is not None

    @property
    def parse_error(self) -> bool:
        """Whether the model's output could not be fully parsed (or the call failed)."""
        return self.failed or self.prediction.parse_error is not None

    def value(self, metric: str) -> float | None:
        """This example's value for ``metric`` (booleans as 0/1), ``None`` where it does not
        apply."""
        raw = getattr(self, _attribute(metric))
        return None if raw is None else float(raw)


def _attribute(metric: str) -> str:
    try:
        return METRICS[metric]
    except KeyError:
        raise ConfigError(f"unknown metric {metric!r}; valid metrics are: "
                          f"{', '.join(METRICS)}") from None


@dataclass(frozen=True)
class Comparison:
    """Whether one report beats another on a metric, by a bootstrap of the difference.

    ``beats`` is true when the one-sided lower confidence bound of ``difference`` (this report
    minus the other) is above zero.
    """

    metric: str
    value: float
    other_value: float
    difference: float
    low: float
    high: float
    lower_bound: float
    p_better: float
    confidence: float
    paired: bool
    n: int
    beats: bool

    def __str__(self) -> str:
        verdict = "beats" if self.beats else "does not beat"
        return (f"{self.metric}: {self.value:.3f} vs {self.other_value:.3f} "
                f"(diff {self.difference:+.3f}, {self.confidence:.0%} CI [{self.low:+.3f}, "
                f"{self.high:+.3f}], {'paired' if self.paired else 'unpaired'}, n={self.n}) "
                f"-> {verdict}")


class EvalReport(_Model):
    """The result of :func:`slm_agents.evaluate.evaluate`.

    Attributes:
        model: A label for the evaluated model.
        n: Examples evaluated.
        n_failed: Examples where ``generate`` raised.
        metrics: Name → :class:`Estimate` (see the module docstring's table).
        latency_ms_median: Median latency of the successful calls.
        latency_ms_p95: Their 95th percentile.
        tokens_per_second: Output tokens divided by the time spent generating them.
        mean_input_tokens: Mean prompt tokens per successful call.
        mean_output_tokens: Mean generated tokens per successful call.
        cost_per_1k_calls: Estimated USD per 1,000 calls under ``prices`` (``None`` without).
        prices: The prices used.
        per_task: Task → ``{"n": ..., metric: value}`` (point estimates).
        examples: Every example's :class:`ExampleResult`.
        bootstrap: Resamples used for the intervals (0: none).
        seed: Seed of the resampling.
        confidence: Coverage of the intervals.
        agreement_f1: Token-F1 threshold at which a text answer agrees.

    Examples:
        >>> report = EvalReport.from_results([])
        >>> report.n, report.agreement
        (0, None)
    """

    model: str = ""
    n: int = 0
    n_failed: int = 0
    metrics: dict[str, Estimate] = Field(default_factory=dict)
    latency_ms_median: float | None = None
    latency_ms_p95: float | None = None
    tokens_per_second: float | None = None
    mean_input_tokens: float | None = None
    mean_output_tokens: float | None = None
    cost_per_1k_calls: float | None = None
    prices: Prices | None = None
    per_task: dict[str, dict[str, float | int | None]] = Field(default_factory=dict)
    examples: list[ExampleResult] = Field(default_factory=list)
    bootstrap: int = 1000
    seed: int = 0
    confidence: float = 0.95
    agreement_f1: float = 0.8

    # ------------------------------------------------------------ building

    @classmethod
    def from_results(cls, results: Sequence[ExampleResult], *, model: str = "",
                     prices: Prices | None = None, bootstrap: int = 1000, seed: int = 0,
                     confidence: float = 0.95, agreement_f1: float = 0.8) -> EvalReport:
        """Aggregate per-example results into a report (metrics, intervals, cost, per task).

        Useful to re-aggregate a subset: ``EvalReport.from_results([e for e in r.examples
        if e.task == "weather"])``.

        Raises:
            ConfigError: ``bootstrap`` negative or ``confidence`` outside ``(0, 1)``.
        """
        if bootstrap < 0:
            raise ConfigError(f"bootstrap must be 0 (no intervals) or more, got {bootstrap}")
        if not 0.0 < confidence < 1.0:
            raise ConfigError(f"confidence must be between 0 and 1, got {confidence}")
        results = list(results)
        metrics = {}
        for name in METRICS:
            values = [v for v in (r.value(name) for r in results) if v is not None]
            estimate = Estimate(value=sum(values) / len(values) if values else None,
                                n=len(values))
            if bootstrap and values:
                interval = bootstrap_ci(values, resamples=bootstrap, confidence=confidence,
                                        seed=seed, name=name)
                if interval is not None:
                    estimate.low, estimate.high = interval
            metrics[name] = estimate
        served = [r for r in results if not r.failed]
        latencies = [r.prediction.latency_ms for r in served]
        seconds = sum(latencies) / 1000
        out_tokens = sum(r.prediction.output_tokens for r in served)
        mean_in = sum(r.prediction.input_tokens for r in served) / len(served) if served else None
        mean_out = out_tokens / len(served) if served else None
        cost = None
        if prices is not None and served:
            cost = 1000 * sum(prices.cost_per_call(r.prediction.input_tokens,
                                                   r.prediction.output_tokens,
                                                   r.prediction.latency_ms)
                              for r in served) / len(served)
        return cls(
            model=model, n=len(results), n_failed=len(results) - len(served), metrics=metrics,
            latency_ms_median=quantile(latencies, 0.5), latency_ms_p95=quantile(latencies, 0.95),
            tokens_per_second=out_tokens / seconds if seconds > 0 and out_tokens else None,
            mean_input_tokens=mean_in, mean_output_tokens=mean_out, cost_per_1k_calls=cost,
            prices=prices, per_task=_per_task(results), examples=results, bootstrap=bootstrap,
            seed=seed, confidence=confidence, agreement_f1=agreement_f1)

    # ------------------------------------------------------------ reading

    def value(self, metric: str) -> float | None:
        """The point estimate of ``metric`` (``None`` when it applies to no example)."""
        _attribute(metric)
        estimate = self.metrics.get(metric)
        return None if estimate is None else estimate.value

    def interval(self, metric: str) -> tuple[float, float] | None:
        """The bootstrap interval of ``metric``, or ``None``."""
        _attribute(metric)
        estimate = self.metrics.get(metric)
        if estimate is None or estimate.low is None or estimate.high is None:
            return None
        return estimate.low, estimate.high

    @property
    def agreement(self) -> float | None:
        """Share of examples whose answer agrees with the LLM's logged answer."""
        return self.value("agreement")

    @property
    def tool_call_exact(self) -> float | None:
        """Share of tool-calling examples whose calls all match exactly."""
        return self.value("tool_call_exact")

    @property
    def tool_name_accuracy(self) -> float | None:
        """Mean share of tool names matched, over tool-calling examples."""
        return self.value("tool_name_accuracy")

    @property
    def argument_match(self) -> float | None:
        """Mean share of argument values matched, over tool-calling examples."""
        return self.value("argument_match")

    @property
    def schema_valid_rate(self) -> float | None:
        """Share of examples with predicted calls whose calls are all schema-valid."""
        return self.value("schema_valid_rate")

    @property
    def exact_match(self) -> float | None:
        """Share of text answers equal to the reference (whitespace-normalised)."""
        return self.value("exact_match")

    @property
    def token_f1(self) -> float | None:
        """Mean SQuAD token F1 of text answers."""
        return self.value("token_f1")

    # ------------------------------------------------------------ comparing

    def compare(self, other: EvalReport, metric: str = "agreement", *,
                confidence: float = 0.95, resamples: int | None = None) -> Comparison:
        """Bootstrap the difference ``self - other`` on ``metric``.

        When both reports hold the same examples (matched by their input and reference, in any
        order), the bootstrap is paired: the same examples are resampled on both sides. Else
        each side is resampled on its own (a warning is logged: paired is far more sensitive).

        Args:
            other: The report to compare with (e.g. the current production model's).
            metric: One of :data:`METRICS`.
            confidence: One-sided confidence for ``beats`` and two-sided for the interval.
            resamples: Bootstrap resamples (default: this report's ``bootstrap``, or 1000).

        Raises:
            ConfigError: unknown metric, or a side with no example the metric applies to.
        """
        _attribute(metric)
        resamples = resamples or self.bootstrap or 1000
        mine = {r.key: r.value(metric) for r in self.examples}
        theirs = {r.key: r.value(metric) for r in other.examples}
        # Keys are unique per example (repeats are numbered), so equal key sets mean the same
        # examples, possibly in another order.
        paired = (bool(mine) and len(mine) == len(self.examples)
                  and len(theirs) == len(other.examples) and mine.keys() == theirs.keys())
        if paired:
            keys = [k for k in mine if mine[k] is not None and theirs[k] is not None]
            a = [float(mine[k]) for k in keys]  # type: ignore[arg-type]
            b = [float(theirs[k]) for k in keys]  # type: ignore[arg-type]
        else:
            logger.warning("compare(%s): the reports hold different examples; using an "
                           "unpaired bootstrap", metric)
            a, b = _values(self.examples, metric), _values(other.examples, metric)
        if not a or not b:
            raise ConfigError(f"cannot compare on {metric!r}: it applies to no example of "
                              f"{'this report' if not a else 'the other report'}")
        diff = bootstrap_difference(a, b, paired=paired, resamples=resamples,
                                    confidence=confidence, seed=self.seed, name=metric)
        return Comparison(metric=metric, value=sum(a) / len(a), other_value=sum(b) / len(b),
                          difference=diff.difference, low=diff.low, high=diff.high,
                          lower_bound=diff.lower_bound, p_better=diff.p_better,
                          confidence=confidence, paired=paired, n=len(a),
                          beats=diff.lower_bound > 0)

    def beats(self, other: EvalReport, metric: str = "agreement",
              confidence: float = 0.95) -> bool:
        """Whether this report is better than ``other`` on ``metric`` with that confidence.

        The flywheel's promotion gate: ``candidate.beats(incumbent, "agreement", 0.95)`` is true
        when the one-sided 95% lower bound of the (paired, when both ran on the same examples)
        bootstrap difference is above zero. See :meth:`compare` for the details and errors.
        """
        return self.compare(other, metric, confidence=confidence).beats

    # ------------------------------------------------------------ output

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (:meth:`from_dict` reads it back)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalReport:
        """The report from :meth:`to_dict`'s output."""
        return cls.model_validate(data)

    def to_json(self) -> str:
        """The report as JSON text."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> EvalReport:
        """The report from :meth:`to_json`'s output."""
        return cls.model_validate_json(text)

    def summary(self) -> str:
        """One line: agreement with its interval, the main metrics, speed and cost."""
        return _render.summary(self)

    def to_markdown(self, disagreements: int = 5) -> str:
        """A Markdown report: metrics table with intervals, performance, per task, and the
        first ``disagreements`` examples where the model disagrees with the LLM."""
        return _render.markdown(self, disagreements)

    def __str__(self) -> str:
        return self.summary()


def _values(results: Sequence[ExampleResult], metric: str) -> list[float]:
    return [v for v in (r.value(metric) for r in results) if v is not None]


def _per_task(results: Sequence[ExampleResult]) -> dict[str, dict[str, float | int | None]]:
    groups: dict[str, list[ExampleResult]] = {}
    for result in results:
        groups.setdefault(result.task, []).append(result)
    table: dict[str, dict[str, float | int | None]] = {}
    for task in sorted(groups):
        row: dict[str, float | int | None] = {"n": len(groups[task])}
        for name in METRICS:
            values = _values(groups[task], name)
            row[name] = sum(values) / len(values) if values else None
        table[task] = row
    return table
