"""The promotion gate: a candidate serves only if it clears the bar and beats the incumbent.

Two tests, both at the flywheel's ``confidence`` (default 95%), on the task's held-out calls:

1. **The quality bar.** Agreement with the LLM's logged answers must reach ``quality_bar``. With
   ``bar_bound="lower"`` (the default) the one-sided Wilson lower bound of the agreement is
   compared, not the point estimate: 28 agreeing answers out of 28 clear a 0.9 bar
   (bound 0.912), 20 out of 20 do not (0.881) — a small test set cannot prove much.
   ``bar_bound="point"`` compares the point estimate.
2. **The incumbent.** When a version already serves the task, it is evaluated on the same
   held-out calls and the candidate must beat it: ``candidate.beats(incumbent, "agreement",
   confidence)``, a paired bootstrap of the difference whose one-sided lower bound must be above
   zero. A candidate merely as good as the incumbent is not promoted (no churn).

Examples:
    >>> round(wilson_lower_bound(28, 28, 0.95), 3), round(wilson_lower_bound(20, 20, 0.95), 3)
    (0.912, 0.881)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

__all__ = ["GateResult", "judge", "wilson_lower_bound"]


def wilson_lower_bound(successes: float, n: int, confidence: float = 0.95) -> float:
    """One-sided Wilson score lower bound of a proportion (0 when ``n`` is 0)."""
    if n <= 0:
        return 0.0
    z = NormalDist().inv_cdf(confidence)
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0))
    return max((centre - spread) / (1 + z * z / n), 0.0)


@dataclass
class GateResult:
    """The gate's verdict and the numbers behind it."""

    promote: bool
    reason: str
    agreement: float | None
    lower_bound: float | None
    n: int
    incumbent_agreement: float | None = None
    comparison: dict[str, Any] | None = field(default=None)


def judge(candidate: Any, incumbent: Any | None, *, quality_bar: float, confidence: float,
          bar_bound: str = "lower") -> GateResult:
    """Apply the two tests to a candidate's :class:`~slm_agents.evaluate.EvalReport`.

    Args:
        candidate: The candidate's report on the held-out calls.
        incumbent: The serving version's report on the same calls, or ``None``.
        quality_bar: Agreement the candidate must reach.
        confidence: Confidence of both tests.
        bar_bound: ``"lower"`` (Wilson lower bound) or ``"point"`` (point estimate).
    """
    estimate = candidate.metrics.get("agreement")
    agreement = None if estimate is None else estimate.value
    n = 0 if estimate is None else int(estimate.n)
    if agreement is None or n == 0:
        return GateResult(False, "no held-out example to measure agreement on", None, None, 0)
    bound = wilson_lower_bound(agreement * n, n, confidence)
    measured = bound if bar_bound == "lower" else agreement
    what = f"{confidence:.0%} lower bound" if bar_bound == "lower" else "agreement"
    bar_text = (f"agreement {agreement:.1%} on {n} held-out calls, {what} {measured:.1%} "
                f"{'>=' if measured >= quality_bar else '<'} bar {quality_bar:.0%}")
    result = GateResult(measured >= quality_bar, bar_text, agreement, round(bound, 4), n)
    if incumbent is not None:
        comparison = candidate.compare(incumbent, "agreement", confidence=confidence)
        result.incumbent_agreement = comparison.other_value
        result.comparison = {
            "difference": round(comparison.difference, 4), "low": round(comparison.low, 4),
            "high": round(comparison.high, 4), "lower_bound": round(comparison.lower_bound, 4),
            "p_better": round(comparison.p_better, 4), "paired": comparison.paired,
            "n": comparison.n, "beats": comparison.beats}
        verdict = "beats" if comparison.beats else "does not beat"
        result.reason += (f"; {verdict} the incumbent ({comparison.other_value:.1%}, difference "
                          f"{comparison.difference:+.1%}, one-sided {confidence:.0%} lower bound "
                          f"{comparison.lower_bound:+.1%})")
        result.promote = result.promote and comparison.beats
    return result
