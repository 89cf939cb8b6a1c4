"""Per-task thresholds from logged calls, with the LLM's answers as the reference.

:func:`calibrate` runs each task's specialist once per example (with the router's checks,
samples and retry, exactly as it would serve) and notes, for each call, the task and confidence
the policy gives and whether the specialist's answer was served-and-agreeing, served-and-
disagreeing, or rejected (rejected answers escalate, so they cost a specialist call but never
quality). A call the specialist does not serve gets the LLM's answer, which agrees by definition.

:func:`choose_thresholds` then picks one threshold per task. Each task's thresholds form a
staircase of (calls served, disagreements); the lower convex hull of every task's staircase,
merged by disagreements per call served, is the efficient frontier of per-task thresholds: the
curve of specialist share against agreement that :class:`CalibrationResult` reports. The chosen
point is the last one holding ``target_agreement`` (most calls to specialists at that quality),
or the first one meeting ``target_llm_share`` or ``budget`` (dollars per 1,000 calls). With
``scope="task"`` every task must hold the target on its own calls instead.

In-sample figures are optimistic: check the thresholds on held-out calls (:func:`replay`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError
from .examples import logged_calls
from .policy import RoutingCall
from .stage import input_chars, output_chars
from .stats import as_prices

if TYPE_CHECKING:  # pragma: no cover
    from .router import Router

__all__ = [
    "CalibrationResult",
    "CalibrationRow",
    "CurvePoint",
    "TaskCalibration",
    "calibrate",
    "calibration_rows",
    "choose_thresholds",
    "replay",
]

Outcome = Literal["agree", "disagree", "invalid", "none"]
NEVER = math.inf


@dataclass(frozen=True, slots=True)
class CalibrationRow:
    """One logged call: its task and confidence, what its specialist did, and the costs.

    ``outcome``: ``"agree"`` / ``"disagree"`` (the specialist's answer was valid and did / did not
    agree with the LLM's), ``"invalid"`` (rejected: it would escalate), ``"none"`` (no specialist
    for the call's task). Costs are dollars for this call: the specialist's turn and the LLM.
    """

    task: Any
    confidence: float
    outcome: Outcome
    specialist_cost: float = 0.0
    llm_cost: float = 0.0


@dataclass(frozen=True)
class CurvePoint:
    """One point of the share-vs-agreement curve and the thresholds that reach it."""

    share: float
    agreement: float
    llm_share: float
    cost_per_1k: float
    thresholds: dict[Any, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskCalibration:
    """One task's calibration: its calls, its specialist's record, the chosen threshold.

    ``specialist_agreement`` is over every call of the task where the specialist's answer was
    valid; ``served``/``served_agreement`` are at the chosen threshold.
    """

    task: Any
    n: int
    valid: int
    specialist_agreement: float | None
    threshold: float
    served: int
    served_agreement: float | None
    note: str = ""


@dataclass(frozen=True)
class CalibrationResult:
    """Chosen thresholds, the figures at that point, and the whole curve.

    Attributes:
        thresholds: ``{task: threshold}`` (``inf``: the task stays on the LLM).
        target: What was asked (``{"agreement": 0.95, "scope": "overall"}``...).
        met: Whether the target could be met.
        n: Calls calibrated on.
        share / agreement / llm_share / cost_per_1k: At the chosen point (in-sample).
        baseline_cost_per_1k: The LLM alone.
        curve: The efficient frontier, from no specialist traffic to the most.
        tasks: Per task figures.
    """

    thresholds: dict[Any, float]
    target: dict[str, Any]
    met: bool
    n: int
    share: float
    agreement: float
    llm_share: float
    cost_per_1k: float
    baseline_cost_per_1k: float
    curve: list[CurvePoint]
    tasks: list[TaskCalibration]

    def thresholds_at(self, *, agreement: float | None = None,
                      share: float | None = None) -> dict[Any, float]:
        """The thresholds of the curve's last point holding ``agreement`` (or the first
        reaching ``share``)."""
        if (agreement is None) == (share is None):
            raise ConfigError("give exactly one of agreement= or share=")
        if agreement is not None:
            ok = [p for p in self.curve if p.agreement >= agreement - 1e-12]
            return dict((ok[-1] if ok else self.curve[0]).thresholds)
        reach = [p for p in self.curve if p.share >= share - 1e-12]  # type: ignore[operator]
        return dict((reach[0] if reach else self.curve[-1]).thresholds)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``inf`` thresholds as ``None``, task keys as text)."""
        def clean(thresholds: Mapping[Any, float]) -> dict[str, float | None]:
            return {str(k): (None if v == NEVER else v) for k, v in thresholds.items()}

        out = asdict(self)
        out["thresholds"] = clean(self.thresholds)
        out["curve"] = [{**asdict(p), "thresholds": clean(p.thresholds)} for p in self.curve]
        for task in out["tasks"]:
            task["threshold"] = None if task["threshold"] == NEVER else task["threshold"]
            task["task"] = str(task["task"])
        return out

    def to_markdown(self, max_points: int = 12) -> str:
        """The per-task table and a sample of the curve, as Markdown."""
        lines = [f"Calibrated on {self.n} calls; target {self.target}"
                 f"{'' if self.met else ' (NOT met)'}: specialists serve {self.share:.1%} at "
                 f"{self.agreement:.1%} agreement; ${self.cost_per_1k:.4f} per 1K calls vs "
                 f"${self.baseline_cost_per_1k:.4f} for the LLM alone.", "",
                 "| task | calls | valid | specialist agreement | threshold | served | note |",
                 "|---|---:|---:|---:|---:|---:|---|"]
        for t in self.tasks:
            agree = "-" if t.specialist_agreement is None else f"{t.specialist_agreement:.1%}"
            threshold = "never" if t.threshold == NEVER else f"{t.threshold:.3f}"
            lines.append(f"| {t.task} | {t.n} | {t.valid} | {agree} | {threshold} | "
                         f"{t.served} | {t.note} |")
        lines += ["", "| specialist share | agreement | $ per 1K calls |", "|---:|---:|---:|"]
        step = max(1, math.ceil(len(self.curve) / max_points))
        points = self.curve[::step] + ([self.curve[-1]] if (len(self.curve) - 1) % step else [])
        lines += [f"| {p.share:.1%} | {p.agreement:.1%} | {p.cost_per_1k:.4f} |" for p in points]
        return "\n".join(lines)


@dataclass(slots=True)
class _Point:
    threshold: float
    served: int = 0
    errors: int = 0
    specialist_cost: float = 0.0
    llm_saved: float = 0.0


def _staircase(rows: Sequence[CalibrationRow]) -> list[_Point]:
    """A task's (served, errors, costs) at each distinct confidence, highest first."""
    ordered = sorted(rows, key=lambda r: -r.confidence)
    points = [_Point(NEVER)]
    i = 0
    while i < len(ordered):
        last = points[-1]
        point = _Point(ordered[i].confidence, last.served, last.errors, last.specialist_cost,
                       last.llm_saved)
        while i < len(ordered) and ordered[i].confidence == point.threshold:
            row = ordered[i]
            point.specialist_cost += row.specialist_cost
            if row.outcome in ("agree", "disagree"):
                point.served += 1
                point.llm_saved += row.llm_cost
                point.errors += row.outcome == "disagree"
            i += 1
        points.append(point)
    return points


def _lower_hull(points: list[_Point]) -> list[_Point]:
    """The lower convex hull of (served, errors), from no traffic to the most served."""
    hull: list[_Point] = [points[0]]
    for point in points[1:]:
        if point.served <= hull[-1].served:
            continue  # no more calls served (only rejected answers added): dominated
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b when it is not below the segment a -> point
            if (b.errors - a.errors) * (point.served - a.served) >= \
                    (point.errors - a.errors) * (b.served - a.served):
                hull.pop()
            else:
                break
        hull.append(point)
    return hull


def _point(chosen: Mapping[Any, _Point], n: int, llm_total: float, errors: int,
           served: int) -> CurvePoint:
    cost = llm_total + sum(p.specialist_cost - p.llm_saved for p in chosen.values())
    return CurvePoint(share=served / n, agreement=(n - errors) / n, llm_share=(n - served) / n,
                      cost_per_1k=cost / n * 1000.0,
                      thresholds={t: p.threshold for t, p in chosen.items()})


def _holds(agreement: float, n: int, target: float, z: float | None) -> bool:
    """Whether an agreement measured on ``n`` calls holds the target (with ``z``: its Wilson
    lower bound does)."""
    if z is None or n == 0:
        return agreement >= target - 1e-12
    spread = z * math.sqrt(agreement * (1 - agreement) / n + z * z / (4 * n * n))
    lower = (agreement + z * z / (2 * n) - spread) / (1 + z * z / n)
    return lower >= target - 1e-12


def choose_thresholds(rows: Sequence[CalibrationRow], target_agreement: float | None = 0.95, *,
                      target_llm_share: float | None = None, budget: float | None = None,
                      scope: str = "overall", min_examples: int = 5,
                      confidence_level: float | None = None) -> CalibrationResult:
    """Pick per-task thresholds from calibration rows (see the module docstring).

    Args:
        rows: One :class:`CalibrationRow` per logged call.
        target_agreement: Agreement with the LLM to hold (used when neither of the next two
            is given).
        target_llm_share: Highest share of calls left to the LLM.
        budget: Highest cost in dollars per 1,000 calls.
        scope: ``"overall"`` (the target over all calls) or ``"task"`` (every task on its own;
            agreement targets only).
        min_examples: Tasks with fewer eligible calls stay on the LLM.
        confidence_level: With an agreement target, hold it with this statistical confidence
            (the Wilson lower bound of the measured agreement must reach the target), which
            guards against thresholds tuned to the noise of a small calibration set.

    Examples:
        >>> rows = [CalibrationRow("a", 0.9, "agree"), CalibrationRow("a", 0.4, "disagree")]
        >>> choose_thresholds(rows, 0.9, min_examples=1).thresholds
        {'a': 0.9}
    """
    if not rows:
        raise ConfigError("no calibration rows: give at least one logged call")
    if target_llm_share is not None and budget is not None:
        raise ConfigError("give at most one of target_llm_share and budget")
    if scope not in ("overall", "task"):
        raise ConfigError(f"scope must be 'overall' or 'task'; got {scope!r}")
    if scope == "task" and (target_llm_share is not None or budget is not None
                            or target_agreement is None):
        raise ConfigError("scope='task' works with target_agreement only")
    if target_llm_share is None and budget is None and target_agreement is None:
        raise ConfigError("give one of target_agreement, target_llm_share or budget")
    for name, value in (("target_agreement", target_agreement),
                        ("target_llm_share", target_llm_share)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} must be in [0, 1]; got {value!r}")
    if confidence_level is not None and not 0.5 <= confidence_level < 1.0:
        raise ConfigError(f"confidence_level must be in [0.5, 1); got {confidence_level!r}")
    z = NormalDist().inv_cdf(confidence_level) if confidence_level is not None else None
    wanted = target_agreement if target_agreement is not None else 0.0
    n = len(rows)
    llm_total = sum(r.llm_cost for r in rows)
    by_task: dict[Any, list[CalibrationRow]] = defaultdict(list)
    for row in rows:
        if row.outcome != "none":
            by_task[row.task].append(row)
    notes: dict[Any, str] = {}
    stairs: dict[Any, list[_Point]] = {}
    for task, task_rows in by_task.items():
        if len(task_rows) < min_examples:
            notes[task] = f"fewer than {min_examples} examples: stays on the LLM"
            stairs[task] = [_Point(NEVER)]
        else:
            stairs[task] = _staircase(task_rows)
    hulls = {task: _lower_hull(points) for task, points in stairs.items()}
    # The frontier: hull segments of every task, fewest disagreements per call served first.
    segments = sorted((((b.errors - a.errors) / (b.served - a.served), task, a, b)
                       for task, hull in hulls.items()
                       for a, b in zip(hull, hull[1:], strict=False)),
                      key=lambda segment: segment[0])
    chosen: dict[Any, _Point] = {task: hull[0] for task, hull in hulls.items()}
    served = errors = 0
    curve = [_point(chosen, n, llm_total, 0, 0)]
    for _, task, start, end in segments:
        # Every staircase point along the segment is a real setting too (finer steps than the
        # hull's vertices), and served and disagreements only grow along it.
        steps = stairs[task]
        for point in steps[steps.index(start) + 1:steps.index(end) + 1]:
            if point.served == chosen[task].served:
                continue  # only rejected answers added: costs more, serves nothing more
            served += point.served - chosen[task].served
            errors += point.errors - chosen[task].errors
            chosen[task] = point
            curve.append(_point(chosen, n, llm_total, errors, served))
    if scope == "task":
        target = {"agreement": target_agreement, "scope": "task"}
        met = True
        pick: dict[Any, _Point] = {}
        for task, points in stairs.items():
            size = len(by_task[task])
            ok = [p for p in points if _holds(1.0 - p.errors / size, size, wanted, z)]
            pick[task] = max(ok or points[:1], key=lambda p: (p.served, -p.specialist_cost))
            met = met and bool(ok)
        total_served = sum(p.served for p in pick.values())
        result = _point(pick, n, llm_total, sum(p.errors for p in pick.values()), total_served)
    elif target_llm_share is not None or budget is not None:
        if target_llm_share is not None:
            target = {"llm_share": target_llm_share}
            hits = [p for p in curve if p.llm_share <= target_llm_share + 1e-12]
        else:
            target = {"budget_per_1k": budget}
            hits = [p for p in curve if p.cost_per_1k <= budget + 1e-12]  # type: ignore[operator]
        met = bool(hits)
        result = hits[0] if hits else (curve[-1] if target_llm_share is not None
                                       else min(curve, key=lambda p: p.cost_per_1k))
    else:
        target = {"agreement": target_agreement, "scope": "overall"}
        holding = [p for p in curve if _holds(p.agreement, n, wanted, z)]
        met = bool(holding)
        result = holding[-1] if holding else curve[0]
    if "agreement" in target and confidence_level is not None:
        target["confidence_level"] = confidence_level
    tasks = []
    for task, task_rows in sorted(by_task.items(), key=lambda kv: str(kv[0])):
        threshold = result.thresholds.get(task, NEVER)
        valid = [r for r in task_rows if r.outcome in ("agree", "disagree")]
        agree = sum(r.outcome == "agree" for r in valid)
        served_rows = [r for r in valid if r.confidence >= threshold]
        tasks.append(TaskCalibration(
            task=task, n=len(task_rows), valid=len(valid),
            specialist_agreement=agree / len(valid) if valid else None, threshold=threshold,
            served=len(served_rows),
            served_agreement=(sum(r.outcome == "agree" for r in served_rows) / len(served_rows)
                              if served_rows else None),
            note=notes.get(task, "")))
    return CalibrationResult(
        thresholds={t.task: t.threshold for t in tasks}, target=target, met=met, n=n,
        share=result.share, agreement=result.agreement, llm_share=result.llm_share,
        cost_per_1k=result.cost_per_1k, baseline_cost_per_1k=llm_total / n * 1000.0,
        curve=curve, tasks=tasks)


def replay(rows: Sequence[CalibrationRow], thresholds: Mapping[Any, float],
           default: float = NEVER) -> CurvePoint:
    """Specialist share, agreement and cost of ``thresholds`` on (held-out) rows."""
    if not rows:
        raise ConfigError("no rows to replay")
    served = errors = 0
    cost = 0.0
    for row in rows:
        sent = row.outcome != "none" and row.confidence >= thresholds.get(row.task, default)
        if sent:
            cost += row.specialist_cost
        if sent and row.outcome in ("agree", "disagree"):
            served += 1
            errors += row.outcome == "disagree"
        else:
            cost += row.llm_cost
    n = len(rows)
    return CurvePoint(share=served / n, agreement=(n - errors) / n, llm_share=(n - served) / n,
                      cost_per_1k=cost / n * 1000.0, thresholds=dict(thresholds))


def calibrate(router: Router, examples: Any, *, target_agreement: float | None = 0.95,
              target_llm_share: float | None = None, budget: float | None = None,
              scope: str = "overall", prices: Any = None, apply: bool = True,
              min_examples: int = 5, confidence_level: float | None = None
              ) -> CalibrationResult:
    """Run the router's specialists on logged calls and choose per-task thresholds.

    Args:
        router: The router (its policy, specialists, checks, samples and retry are used).
        examples: CallRecords, OpenAI chat examples whose last turn is the LLM's answer, or a
            :class:`~slm_agents.Dataset` (its ``meta["agent"]`` is used).
        target_agreement, target_llm_share, budget, scope, min_examples, confidence_level:
            See :func:`choose_thresholds`.
        prices: For costs and ``budget`` (default: the router's prices).
        apply: Set ``router.thresholds`` to the chosen ones (other tasks keep theirs).
    """
    rows = calibration_rows(router, examples, prices=prices)
    chosen = choose_thresholds(rows, target_agreement, target_llm_share=target_llm_share,
                               budget=budget, scope=scope, min_examples=min_examples,
                               confidence_level=confidence_level)
    if apply:
        current = router.thresholds
        merged = dict(current) if isinstance(current, Mapping) else {}
        merged.update(chosen.thresholds)
        router.thresholds = merged
    return chosen


def calibration_rows(router: Router, examples: Any, *,
                     prices: Any = None) -> list[CalibrationRow]:
    """One :class:`CalibrationRow` per usable example: the policy's task and confidence, and
    what the task's specialist did (run once, with the router's checks, samples and retry).

    Use it to score thresholds on held-out calls with :func:`replay`.
    """
    price = as_prices(prices) if prices is not None else router.prices
    rows: list[CalibrationRow] = []
    for messages, tools, reference, agent, call_id in logged_calls(examples):
        call = RoutingCall(messages, tools, call_id=call_id, agent=agent or router.agent)
        llm_cost = price.llm.cost(input_chars(messages) / 4.0, output_chars(reference) / 4.0)
        proposal = router._propose(call)
        task = proposal.task
        if proposal.route != "specialist" or task is None or task not in router._specialists:
            rows.append(CalibrationRow(task, proposal.confidence, "none", 0.0, llm_cost))
            continue
        outcome = router._specialist_sync(call, task)
        spent = price.specialist.cost(outcome.input_tokens, outcome.output_tokens)
        if outcome.generation is None:
            result: Outcome = "invalid"
        else:
            agrees = router._agrees(outcome.generation, reference, tools)
            result = "agree" if agrees else "disagree"
        rows.append(CalibrationRow(task, proposal.confidence, result, spent, llm_cost))
    return rows
