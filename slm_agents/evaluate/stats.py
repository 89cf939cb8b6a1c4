"""Percentile bootstrap confidence intervals, paired comparisons and quantiles.

The bootstrap resamples examples with replacement ``resamples`` times and reads the interval off
the percentiles of the resampled means (Efron's percentile method). Every draw comes from
``numpy.random.default_rng([seed, crc32(name)])``, so an interval depends only on the values,
the seed and the metric's name: adding a metric never changes the others' intervals.

numpy is imported on first use (``import slm_agents`` stays light).

Examples:
    >>> low, high = bootstrap_ci([1, 0, 1, 1, 0, 1, 1, 1], seed=0)
    >>> low <= 0.75 <= high
    True
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, MissingDependencyError

__all__ = ["PairedDifference", "bootstrap_ci", "bootstrap_difference", "quantile"]

# Resampled index blocks are kept under ~16 MB whatever the number of examples.
_BLOCK_CELLS = 2_000_000


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - numpy ships with every extra we test
        raise MissingDependencyError("numpy", "train", "bootstrap confidence intervals") from exc
    return numpy


def _rng(seed: int, name: str) -> Any:
    return _numpy().random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def _check(resamples: int, confidence: float) -> None:
    if int(resamples) < 1:
        raise ConfigError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")


def _resampled_means(values: Any, resamples: int, rng: Any) -> Any:
    np = _numpy()
    n = len(values)
    block = max(1, _BLOCK_CELLS // max(n, 1))
    means = []
    for start in range(0, resamples, block):
        rows = min(block, resamples - start)
        means.append(values[rng.integers(0, n, size=(rows, n))].mean(axis=1))
    return np.concatenate(means)


def bootstrap_ci(values: Sequence[float], *, resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0, name: str = "") -> tuple[float, float] | None:
    """The percentile-bootstrap confidence interval of the mean of ``values``.

    Args:
        values: One number per example (booleans count as 0/1).
        resamples: Number of bootstrap resamples.
        confidence: Coverage of the two-sided interval (0.95: the 2.5th to 97.5th percentiles).
        seed: Seed of the random draws.
        name: The metric's name, mixed into the seed (see the module docstring).

    Returns:
        ``(low, high)``, or ``None`` when there are no values.

    Raises:
        ConfigError: ``resamples`` below 1 or ``confidence`` outside ``(0, 1)``.
    """
    _check(resamples, confidence)
    if len(values) == 0:
        return None
    np = _numpy()
    array = np.asarray(values, dtype=float)
    means = _resampled_means(array, int(resamples), _rng(seed, name))
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedDifference:
    """The bootstrap distribution of ``mean(a) - mean(b)``, summarised.

    Attributes:
        difference: The observed difference of the means.
        low: The two-sided interval's lower end at the requested confidence.
        high: Its upper end.
        lower_bound: The one-sided lower bound at that confidence (the
            ``1 - confidence`` quantile): above zero means "a beats b" with that confidence.
        p_better: The share of resamples in which ``a``'s mean exceeds ``b``'s.
        paired: Whether the examples were resampled together (same examples in both) or
            each side on its own.
    """

    difference: float
    low: float
    high: float
    lower_bound: float
    p_better: float
    paired: bool


def bootstrap_difference(a: Sequence[float], b: Sequence[float], *, paired: bool = True,
                         resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                         name: str = "") -> PairedDifference:
    """Bootstrap the difference of two means, paired (same examples) or independent.

    Paired resampling draws the same example indices for both sides, so per-example difficulty
    cancels out: the usual test for "model A beats model B on the same test set".

    Raises:
        ConfigError: an empty side, sides of different lengths when ``paired``, or bad
            ``resamples``/``confidence``.
    """
    _check(resamples, confidence)
    if len(a) == 0 or len(b) == 0:
        raise ConfigError("cannot compare: one side has no values for this metric")
    if paired and len(a) != len(b):
        raise ConfigError(f"paired comparison needs equal lengths, got {len(a)} and {len(b)}")
    np = _numpy()
    left, right = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = _rng(seed, f"difference:{name}")
    if paired:
        diffs = _resampled_means(left - right, int(resamples), rng)
    else:
        diffs = (_resampled_means(left, int(resamples), rng)
                 - _resampled_means(right, int(resamples), rng))
    tail = (1.0 - confidence) / 2
    low, high, bound = np.quantile(diffs, [tail, 1.0 - tail, 1.0 - confidence])
    return PairedDifference(float(left.mean() - right.mean()), float(low), float(high),
                            float(bound), float((diffs > 0).mean()), paired)


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile by linear interpolation (numpy's default), without numpy.

    Examples:
        >>> quantile([1, 2, 3, 4], 0.5), quantile([10.0], 0.95), quantile([], 0.5)
        (2.5, 10.0, None)
    """
    data = sorted(float(v) for v in values)
    if not data:
        return None
    position = (len(data) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(data) - 1)
    return data[below] + (data[above] - data[below]) * (position - below)
