"""The replacement-potential report: which of an agent's LLM calls a small model could take over.

The paper "Small Language Models are the Future of Agentic AI" (NVIDIA, 2025) estimates by hand
that about 60% of MetaGPT's LLM queries, 40% of Open Operator's and 70% of Cradle's could be
served by specialised small models. :func:`replacement_report` computes that estimate from an
agent's own logs:

1. **Tasks.** The calls are clustered into tasks (a :class:`~slm_agents.cluster.TaskClusterer`,
   or labels you give), and each task's share of calls and tokens is counted. Calls left
   unassigned stay on the LLM, and are counted, never hidden.
2. **Costs.** The LLM's cost of each task is its tokens at ``llm_prices``; the specialist's is the
   same tokens at the small model's dollars per 1K input and output tokens, from
   :func:`~slm_agents.select.estimate_cost`'s roofline (the model's parameter count on
   ``hardware``), or at ``slm_prices`` if you pay per token.
3. **Quality.** Where a specialist exists (``evaluations``, ``specialists`` or ``registry``), its
   *measured* agreement with the LLM's logged answers decides, with its 95% interval. Elsewhere a
   *predicted* replaceability score (:class:`~slm_agents.report.ReplaceabilityRule`, a documented
   formula over the task's templated inputs, schema-bound or low-diversity outputs, size and
   human-facing share) stands in, labelled as a prediction.
4. **Verdicts.** Each task is ``"replaceable now"`` (measured agreement ≥ ``quality_bar``),
   ``"likely replaceable"`` (no measurement, predicted score ≥ the rule's threshold) or
   ``"keep on LLM"`` (measured below the bar, which overrides any prediction; predicted below the
   threshold; or unassigned), with the reason.
5. **Volume.** The observed period (first to last call, or ``period_days``) scales the costs to a
   30-day month; savings count the tasks replaceable now, and, as the potential, those likely
   replaceable too.

Examples:
    >>> from slm_agents.records import CallRecord, Message, ToolCall, Usage
    >>> calls = [CallRecord(messages=[Message(role="user", content=f"weather in Oslo {i}")],
    ...                     tool_calls=[ToolCall(name="weather", arguments={"city": "Oslo"})],
    ...                     usage=Usage(input_tokens=500, output_tokens=20))
    ...          for i in range(150)]
    >>> report = replacement_report(calls, labels=[0] * 150, task_names={0: "weather"},
    ...                             period_days=30)
    >>> report.tasks[0].verdict, f"{report.replaceable_share:.0%}"
    ('likely replaceable', '100%')
    >>> report.monthly_savings_potential > 0
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from os import PathLike
from typing import Any, Literal

from ..cluster.report import UNASSIGNED, ClusterReport, Prices, TaskStats
from ..errors import ConfigError
from ._inputs import (
    Quality,
    as_prices,
    collect_quality,
    load_records,
    observed_period,
    specialist_rates,
    task_labels,
)
from .predict import ReplaceabilityRule

__all__ = ["DAYS_PER_MONTH", "KEEP_ON_LLM", "LIKELY_REPLACEABLE", "REPLACEABLE_NOW", "VERDICTS",
           "ReplacementReport", "TaskReplacement", "replacement_report"]

REPLACEABLE_NOW = "replaceable now"
LIKELY_REPLACEABLE = "likely replaceable"
KEEP_ON_LLM = "keep on LLM"
VERDICTS = (REPLACEABLE_NOW, LIKELY_REPLACEABLE, KEEP_ON_LLM)
#: A month, for the monthly figures.
DAYS_PER_MONTH = 30.0
_FORMAT_VERSION = 1


@dataclass
class TaskReplacement:
    """One task's row of the report (``task_id == -1`` is the unassigned calls).

    Costs are over the observed calls (multiply by :attr:`ReplacementReport.monthly_factor` for
    a month).

    Attributes:
        task_id: The task's label.
        name: The task's name.
        calls: Calls in the task.
        call_share: ``calls`` over all calls.
        input_tokens: Input tokens of its calls.
        output_tokens: Output tokens of its calls.
        token_share: Its tokens over all tokens.
        llm_cost: Dollars the LLM cost for these calls.
        specialist_cost: Dollars the specialist would cost for the same tokens.
        human_facing_share: Share of its calls whose output was shown to a person.
        template_share: Replaceability signal from the cluster report (templated inputs).
        input_similarity: Signal: mean similarity of the masked inputs.
        constrained_share: Signal: share of schema-bound outputs.
        output_diversity: Signal: distinct outputs over outputs.
        predicted: The predicted replaceability score (``None`` for unassigned calls).
        agreement: Measured agreement of a specialist with the LLM, or ``None``.
        agreement_low: Lower end of its 95% interval.
        agreement_high: Upper end of its 95% interval.
        eval_n: Examples the agreement was measured on.
        quality_source: Where the measurement comes from.
        verdict: One of :data:`VERDICTS`.
        reason: Why, in words.
    """

    task_id: int
    name: str
    calls: int = 0
    call_share: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    token_share: float = 0.0
    llm_cost: float = 0.0
    specialist_cost: float = 0.0
    human_facing_share: float = 0.0
    template_share: float = 0.0
    input_similarity: float | None = None
    constrained_share: float | None = None
    output_diversity: float | None = None
    predicted: float | None = None
    agreement: float | None = None
    agreement_low: float | None = None
    agreement_high: float | None = None
    eval_n: int | None = None
    quality_source: str | None = None
    verdict: str = KEEP_ON_LLM
    reason: str = ""

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    @property
    def savings(self) -> float:
        """``llm_cost - specialist_cost`` over the observed calls."""
        return self.llm_cost - self.specialist_cost

    @property
    def measured(self) -> bool:
        """Whether a specialist's quality was measured on this task."""
        return self.agreement is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskReplacement:
        """Rebuild from :func:`dataclasses.asdict` output (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(repr=False)
class ReplacementReport:
    """How much of an agent's LLM traffic small specialists can take over, and what it saves.

    Build it with :func:`replacement_report`. Shares are over all calls (the tasks' call shares
    plus the unassigned share sum to 1); costs are over the observed calls, and the ``monthly_``
    figures scale them by :attr:`monthly_factor` (``None`` when the period is unknown).

    Attributes:
        tasks: One :class:`TaskReplacement` per task, largest first.
        unassigned: The calls no task took (always kept on the LLM).
        n_calls: All calls.
        total_tokens: Tokens of all calls.
        llm_cost: Dollars the LLM cost for all calls.
        period_days: Days the calls cover, or ``None`` when too short to scale.
        period_source: ``"given"``, ``"timestamps"`` or ``"too short"``.
        first_call: ISO time of the first call.
        last_call: ISO time of the last call.
        llm_prices: The LLM's prices.
        slm: The specialist model (a catalog id, or its size).
        hardware: The machine the specialist cost assumes (or ``"priced per token"``).
        slm_input_per_1k: The specialist's dollars per 1K input tokens.
        slm_output_per_1k: The specialist's dollars per 1K output tokens.
        quality_bar: Agreement a specialist needs for "replaceable now".
        bar_bound: ``"point"`` (the agreement) or ``"lower"`` (its interval's lower end) meets
            the bar.
        rule: The prediction rule.
    """

    tasks: list[TaskReplacement]
    unassigned: TaskReplacement
    n_calls: int
    total_tokens: int
    llm_cost: float
    period_days: float | None
    period_source: str
    first_call: str
    last_call: str
    llm_prices: Prices = field(default_factory=Prices)
    slm: str = ""
    hardware: str = ""
    slm_input_per_1k: float = 0.0
    slm_output_per_1k: float = 0.0
    quality_bar: float = 0.9
    bar_bound: str = "point"
    rule: ReplaceabilityRule = field(default_factory=ReplaceabilityRule)

    # ------------------------------------------------------------------ figures
    def rows(self) -> list[TaskReplacement]:
        """The tasks, largest first, then the unassigned row."""
        return [*self.tasks, self.unassigned]

    def by_verdict(self, *verdicts: str) -> list[TaskReplacement]:
        """The tasks with one of ``verdicts`` (the unassigned row is ``"keep on LLM"``)."""
        unknown = set(verdicts) - set(VERDICTS)
        if unknown:
            raise ConfigError(f"unknown verdicts {sorted(unknown)}; valid: {', '.join(VERDICTS)}")
        return [t for t in self.rows() if t.verdict in verdicts and t.calls]

    @property
    def monthly_factor(self) -> float | None:
        """``30 / period_days``: observed figures times this are per month."""
        return None if not self.period_days else DAYS_PER_MONTH / self.period_days

    @property
    def replaceable_now_share(self) -> float:
        """Share of calls in tasks a measured specialist can serve now."""
        return sum(t.call_share for t in self.by_verdict(REPLACEABLE_NOW))

    @property
    def likely_share(self) -> float:
        """Share of calls in tasks predicted likely replaceable (not measured yet)."""
        return sum(t.call_share for t in self.by_verdict(LIKELY_REPLACEABLE))

    @property
    def replaceable_share(self) -> float:
        """Share of calls replaceable now or likely replaceable: the paper's estimate."""
        return self.replaceable_now_share + self.likely_share

    @property
    def replaceable_token_share(self) -> float:
        """Share of tokens replaceable now or likely replaceable."""
        return sum(t.token_share for t in self.by_verdict(REPLACEABLE_NOW, LIKELY_REPLACEABLE))

    @property
    def savings_now(self) -> float:
        """Dollars saved over the observed calls by the tasks replaceable now."""
        return sum(t.savings for t in self.by_verdict(REPLACEABLE_NOW))

    @property
    def savings_potential(self) -> float:
        """Dollars saved over the observed calls if the likely tasks are replaced too."""
        return sum(t.savings for t in self.by_verdict(REPLACEABLE_NOW, LIKELY_REPLACEABLE))

    def _monthly(self, value: float | int) -> float | None:
        factor = self.monthly_factor
        return None if factor is None else value * factor

    @property
    def monthly_calls(self) -> float | None:
        """Calls per month at the observed volume."""
        return self._monthly(self.n_calls)

    @property
    def monthly_llm_cost(self) -> float | None:
        """What the LLM costs per month at the observed volume."""
        return self._monthly(self.llm_cost)

    @property
    def monthly_savings_now(self) -> float | None:
        """Dollars saved per month by the tasks replaceable now."""
        return self._monthly(self.savings_now)

    @property
    def monthly_savings_potential(self) -> float | None:
        """Dollars saved per month if the likely replaceable tasks are replaced too."""
        return self._monthly(self.savings_potential)

    # ------------------------------------------------------------------ views
    def summary(self) -> str:
        """One line: the replaceable share and what it saves per month."""
        from ._render import summary

        return summary(self)

    def to_markdown(self) -> str:
        """The report as a Markdown document (every task, with its verdict and reason)."""
        from ._render import render_markdown

        return render_markdown(self)

    def to_html(self, path: str | PathLike[str] | None = None) -> str:
        """The report as one self-contained HTML page, written to ``path`` when given.

        It holds two plots as base64 PNG images (LLM vs specialist cost per task, and the
        replaceable share of calls and cost), loads nothing and runs no script; text that came
        from records is HTML-escaped.

        Raises:
            MissingDependencyError: matplotlib is not installed.
        """
        from ._render import render_html

        page = render_html(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(page)
        return page

    def to_pandas(self) -> Any:
        """One row per task and a last unassigned row: :class:`TaskReplacement`'s fields plus
        ``tokens``, ``savings`` and the monthly costs.

        Raises:
            MissingDependencyError: pandas is not installed.
        """
        from ._render import render_pandas

        return render_pandas(self)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-safe values (:meth:`from_dict` reads it back)."""
        data = asdict(self)
        data["llm_prices"] = self.llm_prices.model_dump()
        data["rule"] = self.rule.model_dump()
        return {"format_version": _FORMAT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplacementReport:
        """Rebuild a report from :meth:`to_dict` output."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["tasks"] = [TaskReplacement.from_dict(t) for t in data.get("tasks", ())]
        values["unassigned"] = TaskReplacement.from_dict(
            data.get("unassigned") or {"task_id": UNASSIGNED, "name": "unassigned"})
        values["llm_prices"] = Prices(**data.get("llm_prices", {}))
        values["rule"] = ReplaceabilityRule(**data.get("rule", {}))
        return cls(**values)

    def __repr__(self) -> str:
        return (f"ReplacementReport(n_calls={self.n_calls}, n_tasks={len(self.tasks)}, "
                f"replaceable_share={self.replaceable_share:.3f})")


def replacement_report(
    records_or_store: Any,
    *,
    key: str | None = None,
    clusterer: Any = None,
    labels: Any = None,
    task_names: Mapping[Any, str] | None = None,
    evaluations: Mapping[Any, Any] | None = None,
    specialists: Mapping[Any, Any] | None = None,
    registry: Any = None,
    slm: Any = "smollm2-135m",
    hardware: Any = "cpu-2core",
    slm_prices: Any = None,
    llm_prices: Any = None,
    period_days: float | None = None,
    quality_bar: float = 0.9,
    bar_bound: Literal["point", "lower"] = "point",
    rule: ReplaceabilityRule | Mapping[str, Any] | None = None,
    max_eval_examples: int = 200,
) -> ReplacementReport:
    """Estimate which of an agent's LLM calls small specialists can serve, and the savings.

    Args:
        records_or_store: ``CallRecord`` objects, a :class:`~slm_agents.Store` (all of its
            records; pass ``store.records(since=...)`` for a window), or the path of a store
            file (with ``key``).
        key: The key to open a store path with (a curator or admin key).
        clusterer: Groups calls into tasks: a fitted clusterer labels them with ``predict``
            (pass ``Flywheel.task_clusterer()`` to use the registry's task ids), an unfitted
            one is fitted on them; ``None`` fits a default
            :class:`~slm_agents.cluster.TaskClusterer`.
        labels: Instead of a clusterer, one task per record: ints (-1 unassigned) or task names
            (``[r.agent for r in records]``; ``None`` unassigned).
        task_names: Names by task id (override the clusterer's).
        evaluations: Measured quality per task (id or name): an
            :class:`~slm_agents.evaluate.EvalReport`, its ``to_dict()``, or ``{"agreement":
            ..., "n": ...}``.
        specialists: Models per task (anything with ``generate``) to evaluate here on up to
            ``max_eval_examples`` of the task's answered calls. Pass calls they were not
            trained on, or the agreement is optimistic.
        registry: A :class:`~slm_agents.refine.ModelRegistry` (or its folder): each task's
            promoted version's registered evaluation. ``evaluations`` override ``specialists``,
            which override the registry.
        slm: The specialist's model for its cost: a catalog id, a
            :class:`~slm_agents.select.ModelCard`, or a parameter count in billions.
        hardware: Where it runs: a :data:`~slm_agents.select.HARDWARE` name or a
            :class:`~slm_agents.select.Hardware`.
        slm_prices: The specialist's prices per 1K tokens, if you pay per token (replaces the
            roofline estimate on ``hardware``).
        llm_prices: The LLM's prices: a :class:`~slm_agents.cluster.Prices`, an
            ``(input_per_1k, output_per_1k)`` pair or a dict (default GPT-4o's list prices).
        period_days: Days the records cover (default: first to last call; under an hour the
            monthly figures are left out).
        quality_bar: Agreement with the LLM a specialist needs to be "replaceable now".
        bar_bound: ``"point"``: the measured agreement must reach the bar; ``"lower"``: the
            lower end of its 95% interval must.
        rule: The :class:`~slm_agents.report.ReplaceabilityRule` (or its fields) of the
            prediction.
        max_eval_examples: Calls per task ``specialists`` are evaluated on.

    Raises:
        ClusteringError: no records.
        ConfigError: a bad option, labels that do not match the records, a task key that names
            no task, a store path without a key.
        StoreNotFoundError: no store at the path.
        WrongKeyError: the key does not open the store.
        TypeError: records that are not ``CallRecord`` objects.
    """
    if isinstance(quality_bar, bool) or not isinstance(quality_bar, (int, float)) \
            or not 0.0 <= quality_bar <= 1.0:
        raise ConfigError(f"quality_bar must be between 0 and 1, got {quality_bar!r}")
    if bar_bound not in ("point", "lower"):
        raise ConfigError(f"bar_bound must be 'point' or 'lower', got {bar_bound!r}")
    if isinstance(max_eval_examples, bool) or not isinstance(max_eval_examples, int) \
            or max_eval_examples < 1:
        raise ConfigError(f"max_eval_examples must be an integer >= 1, got {max_eval_examples!r}")
    try:
        rule = rule if isinstance(rule, ReplaceabilityRule) else ReplaceabilityRule(**(rule or {}))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid rule: {exc}") from exc
    prices = as_prices(llm_prices)
    rate_in, rate_out, slm_label, machine = specialist_rates(slm, hardware, slm_prices)

    records = load_records(records_or_store, key)
    period, period_source, first, last = observed_period(records, period_days)
    found = task_labels(records, clusterer, labels, task_names)
    clusters = ClusterReport.build(records, found.labels, found.names, keywords=found.keywords,
                                   representatives=found.representatives, prices=prices)
    quality = collect_quality(clusters, records, found.labels, evaluations=evaluations,
                              specialists=specialists, registry=registry,
                              max_eval_examples=max_eval_examples)
    human: dict[int, list[bool]] = {}
    for record, label in zip(records, found.labels, strict=True):
        human.setdefault(label, []).append(record.human_facing)

    def row(task: TaskStats) -> TaskReplacement:
        flags = human.get(task.task_id, [])
        out = TaskReplacement(
            task_id=task.task_id, name=task.name, calls=task.size, call_share=task.call_share,
            input_tokens=task.input_tokens, output_tokens=task.output_tokens,
            token_share=task.token_share, llm_cost=task.cost,
            specialist_cost=(task.input_tokens / 1000 * rate_in
                             + task.output_tokens / 1000 * rate_out),
            human_facing_share=sum(flags) / len(flags) if flags else 0.0,
            template_share=task.template_share, input_similarity=task.input_similarity,
            constrained_share=task.constrained_share, output_diversity=task.output_diversity)
        if task.task_id == UNASSIGNED:
            out.reason = ("not a recurring task: calls no task took stay on the LLM"
                          if task.size else "every call belongs to a task")
            return out
        prediction = rule.predict(task, out.human_facing_share)
        out.predicted = prediction.score
        _decide(out, quality.get(task.task_id), prediction.reason, prediction.likely,
                quality_bar, bar_bound)
        return out

    return ReplacementReport(
        tasks=[row(t) for t in clusters.tasks], unassigned=row(clusters.unassigned),
        n_calls=clusters.n_calls, total_tokens=clusters.total_tokens,
        llm_cost=clusters.total_cost, period_days=period, period_source=period_source,
        first_call=_iso(first), last_call=_iso(last), llm_prices=prices, slm=slm_label,
        hardware=machine, slm_input_per_1k=rate_in, slm_output_per_1k=rate_out,
        quality_bar=float(quality_bar), bar_bound=bar_bound, rule=rule)


def _decide(out: TaskReplacement, quality: Quality | None, predicted_reason: str, likely: bool,
            bar: float, bar_bound: str) -> None:
    """Set the verdict: a measurement overrides the prediction."""
    if quality is None:
        out.verdict = LIKELY_REPLACEABLE if likely else KEEP_ON_LLM
        out.reason = predicted_reason
        return
    out.agreement, out.eval_n = quality.agreement, quality.n
    out.agreement_low, out.agreement_high = quality.low, quality.high
    out.quality_source = quality.source
    judged = quality.low if bar_bound == "lower" and quality.low is not None \
        else quality.agreement
    passes = judged >= bar
    what = "agreement" if bar_bound == "point" or quality.low is None \
        else "lower bound of the agreement"
    interval = ("" if quality.low is None or quality.high is None
                else f" [95% CI {quality.low:.1%}–{quality.high:.1%}]")
    on = "" if quality.n is None else f" on {quality.n} calls"
    out.verdict = REPLACEABLE_NOW if passes else KEEP_ON_LLM
    out.reason = (f"measured agreement {quality.agreement:.1%}{interval}{on}: {what} "
                  f"{judged:.1%} {'>=' if passes else '<'} bar {bar:.0%}")
    if not passes and out.predicted is not None:
        out.reason += f"; overrides the prediction ({out.predicted:.2f})"


def _iso(moment: datetime) -> str:
    return moment.isoformat()
