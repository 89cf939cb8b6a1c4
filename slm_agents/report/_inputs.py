"""What :func:`~slm_agents.report.replacement_report` accepts, normalised once at the boundary.

Records (a list, a :class:`~slm_agents.Store`, or a store path and key), task labels (a fitted or
unfitted clusterer, or labels given directly), measured quality (evaluation reports, specialists
to evaluate, or a model registry), prices and the observed period.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import NormalDist
from typing import Any

from ..cluster.report import ClusterReport, Prices, TaskStats
from ..errors import ClusteringError, ConfigError, StoreNotFoundError
from ..records import CallRecord

__all__ = ["Quality", "as_prices", "collect_quality", "load_records", "observed_period",
           "specialist_rates", "task_labels"]

logger = logging.getLogger("slm_agents")

#: Below this observed span (one hour), volume is not scaled to a month: pass ``period_days``.
MIN_PERIOD_DAYS = 1 / 24


def load_records(source: Any, key: str | None) -> list[CallRecord]:
    """The records of a list or iterable, a store, or a store file opened with ``key``.

    Raises:
        ConfigError: a store path without a key.
        StoreNotFoundError: no store file at the path (never created here).
        WrongKeyError, InvalidKeyError, PermissionDeniedError: from the store.
        ClusteringError: no records.
        TypeError: anything else, or an item that is not a ``CallRecord``.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if key is None:
            raise ConfigError(f"{path} is a store path: pass key=... (a curator or admin key) "
                              "to read it")
        if not path.is_file():
            # Opening a missing path with an admin key would create an empty store.
            raise StoreNotFoundError(f"no store at {path}: pass the path of an existing store "
                                     "file, or the records themselves")
        from ..store import Store

        with Store(path, key=key) as store:
            records = list(store.records())
    elif isinstance(source, CallRecord):
        raise TypeError("pass a list of CallRecord objects, not a single record")
    elif callable(getattr(source, "records", None)):
        records = list(source.records())
    elif isinstance(source, Iterable) and not isinstance(source, (bytes, Mapping)):
        records = list(source)
    else:
        raise TypeError(f"records_or_store must be CallRecords, a Store, or a store path; got "
                        f"{type(source).__name__}")
    for index, record in enumerate(records):
        if not isinstance(record, CallRecord):
            raise TypeError(f"item {index} is a {type(record).__name__}; the report needs "
                            "CallRecord objects (their tokens, timestamps and outputs)")
    if not records:
        raise ClusteringError("no records to report on: the store or list is empty")
    return records


@dataclass
class Labels:
    """Task labels of the records and what the clusterer knows about the tasks."""

    labels: list[int]
    names: dict[int, str]
    keywords: dict[int, list[str]] | None = None
    representatives: dict[int, list[int]] | None = None


def task_labels(records: list[CallRecord], clusterer: Any, labels: Any,
                task_names: Mapping[Any, str] | None) -> Labels:
    """Labels from ``labels`` (ints or task names), or from a clusterer (fitted: ``predict``;
    unfitted: ``fit``; ``None``: a new :class:`~slm_agents.cluster.TaskClusterer`)."""
    names = {int(k): str(v) for k, v in (task_names or {}).items()}
    if labels is not None:
        if clusterer is not None:
            raise ConfigError("pass either clusterer= or labels=, not both")
        return _given_labels(records, labels, names)
    if clusterer is None:
        from ..cluster import TaskClusterer

        clusterer = TaskClusterer()
    try:
        clusterer.labels_  # noqa: B018 - a fitted clusterer has labels (NotFittedError otherwise)
        fitted = True
    except AttributeError:
        fitted = False
    if fitted and callable(getattr(clusterer, "predict", None)):
        values = clusterer.predict(records)
        representatives = None  # they index the clusterer's own fitted items
    elif callable(getattr(clusterer, "fit", None)):
        clusterer.fit(records)
        values = clusterer.labels_
        representatives = getattr(clusterer, "representatives_", None)
    else:
        raise TypeError("clusterer must have fit(items) and labels_ (e.g. TaskClusterer), or "
                        f"be fitted with predict(items); got {type(clusterer).__name__}")
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    found = {int(k): str(v) for k, v in (getattr(clusterer, "task_names_", None) or {}).items()}
    keywords = getattr(clusterer, "keywords_", None)
    return Labels([int(v) for v in values], {**found, **names},
                  {int(k): list(v) for k, v in keywords.items()} if keywords else None,
                  representatives)


def _given_labels(records: list[CallRecord], labels: Any, names: dict[int, str]) -> Labels:
    values = labels.tolist() if hasattr(labels, "tolist") else list(labels)
    if len(values) != len(records):
        raise ConfigError(f"got {len(values)} labels for {len(records)} records: pass one per "
                          "record")
    if not any(isinstance(v, str) for v in values):
        return Labels([int(v) for v in values], names)
    # Task names per record (an agent role, say): number them in order of first appearance.
    ids: dict[str, int] = {}
    out = []
    for value in values:
        if value is None or value == "":
            out.append(-1)
            continue
        if not isinstance(value, str):
            raise ConfigError("labels must be all ints or all task names (str, None for "
                              f"unassigned); got {value!r} among names")
        out.append(ids.setdefault(value, len(ids)))
    return Labels(out, {**{i: n for n, i in ids.items()}, **names})


def as_prices(prices: Any) -> Prices:
    """LLM prices as a :class:`~slm_agents.cluster.report.Prices` (dollars per 1K tokens)."""
    if prices is None:
        return Prices()
    if isinstance(prices, Prices):
        return prices
    try:
        if isinstance(prices, Mapping):
            return Prices(**prices)
        if isinstance(prices, (tuple, list)) and len(prices) == 2:
            return Prices(input_per_1k=prices[0], output_per_1k=prices[1])
        if hasattr(prices, "input_per_1k") and hasattr(prices, "output_per_1k"):
            return Prices(input_per_1k=prices.input_per_1k, output_per_1k=prices.output_per_1k)
    except ValueError as exc:  # pydantic's ValidationError
        raise ConfigError(f"invalid prices: {exc}") from exc
    raise ConfigError("prices must be a Prices, (input_per_1k, output_per_1k), or a dict with "
                      f"those keys; got {type(prices).__name__}")


def specialist_rates(slm: Any, hardware: Any, slm_prices: Any) -> tuple[float, float, str, str]:
    """``(input, output)`` dollars per 1K tokens of the specialist, its label and the machine.

    Without ``slm_prices`` they come from :func:`~slm_agents.select.estimate_cost`'s roofline,
    which is linear in tokens: a call costs ``input × rate_in + output × rate_out``.
    """
    if slm_prices is not None:
        prices = as_prices(slm_prices)
        label = slm if isinstance(slm, str) else getattr(slm, "id", str(slm))
        return prices.input_per_1k, prices.output_per_1k, label, "priced per token"
    from ..select import estimate_cost

    prefill = estimate_cost(slm, input_tokens=1000, output_tokens=0, hardware=hardware)
    decode = estimate_cost(slm, input_tokens=0, output_tokens=1000, hardware=hardware)
    numeric = isinstance(slm, (int, float)) and not isinstance(slm, bool)
    label = f"a {float(slm):g}B-parameter model" if numeric else prefill.model
    return prefill.cost_per_call, decode.cost_per_call, label, prefill.hardware.name


def observed_period(records: Sequence[CallRecord], period_days: float | None
                    ) -> tuple[float | None, str, datetime, datetime]:
    """The period the records cover, in days, how it was found, and the first and last call."""
    first = min(r.started_at for r in records)
    last = max(r.started_at for r in records)
    if period_days is not None:
        if isinstance(period_days, bool) or not isinstance(period_days, (int, float)) \
                or not math.isfinite(period_days) or period_days <= 0:
            raise ConfigError(f"period_days must be a positive number of days, got "
                              f"{period_days!r}")
        return float(period_days), "given", first, last
    span = (last - first).total_seconds() / 86400
    if span < MIN_PERIOD_DAYS:
        return None, "too short", first, last
    return span, "timestamps", first, last


@dataclass(frozen=True)
class Quality:
    """A specialist's measured agreement with the LLM on a task, with its interval."""

    agreement: float
    n: int | None
    low: float | None
    high: float | None
    source: str


def wilson_interval(p: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval of a proportion ``p`` observed on ``n`` trials."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0))
    return (max((centre - spread) / (1 + z * z / n), 0.0),
            min((centre + spread) / (1 + z * z / n), 1.0))


def as_quality(value: Any, source: str) -> Quality | None:
    """An EvalReport, its ``to_dict()``, or ``{"agreement": .., "n": ..}`` as a :class:`Quality`
    (``None`` when it measured no example)."""
    if isinstance(value, Mapping) and "metrics" in value:
        from ..evaluate.report import EvalReport

        try:
            value = EvalReport.from_dict(dict(value))
        except ValueError as exc:
            raise ConfigError(f"{source}: not an EvalReport dict: {exc}") from exc
    if hasattr(value, "metrics") and callable(getattr(value, "interval", None)):
        estimate = value.metrics.get("agreement")
        agreement = None if estimate is None else estimate.value
        n = None if estimate is None else int(estimate.n)
        interval = value.interval("agreement")
        if getattr(value, "model", ""):
            source = f"{source}: {value.model}"
    elif isinstance(value, Mapping) and "agreement" in value:
        agreement, n, interval = value["agreement"], value.get("n"), None
    else:
        raise ConfigError(f"{source}: expected an EvalReport, its to_dict(), or "
                          f"{{'agreement': ..., 'n': ...}}; got {type(value).__name__}")
    if agreement is None or n == 0:
        logger.warning("replacement_report: %s measured no example; using the prediction",
                       source)
        return None
    agreement = float(agreement)
    if not 0.0 <= agreement <= 1.0:
        raise ConfigError(f"{source}: agreement must be between 0 and 1, got {agreement}")
    n = None if n is None else int(n)
    if interval is None and n:
        interval = wilson_interval(agreement, n)
    low, high = interval if interval is not None else (None, None)
    return Quality(agreement, n, low, high, source)


def collect_quality(report: ClusterReport, records: list[CallRecord], labels: list[int], *,
                    evaluations: Mapping[Any, Any] | None, specialists: Mapping[Any, Any] | None,
                    registry: Any, max_eval_examples: int) -> dict[int, Quality]:
    """Measured quality per task id: the registry's promoted versions, then ``specialists``
    evaluated here, then ``evaluations`` (a later source overrides an earlier one)."""
    out: dict[int, Quality] = {}
    if registry is not None:
        out.update(_from_registry(report.tasks, registry))
    for key, model in (specialists or {}).items():
        task = _task_for(report.tasks, key, "specialists")
        quality = _evaluate(model, task, records, labels, max_eval_examples)
        if quality is not None:
            out[task.task_id] = quality
    for key, value in (evaluations or {}).items():
        task = _task_for(report.tasks, key, "evaluations")
        quality = as_quality(value, f"evaluation of {task.name!r}")
        if quality is not None:
            out[task.task_id] = quality
    return out


def _task_for(tasks: list[TaskStats], key: Any, what: str) -> TaskStats:
    """The task a key names: its id (int or digits) or its name."""
    for task in tasks:
        if (isinstance(key, int) and not isinstance(key, bool) and key == task.task_id) or \
                (isinstance(key, str) and key in (task.name, str(task.task_id))):
            return task
    known = ", ".join(f"{t.task_id} ({t.name!r})" for t in tasks) or "none"
    raise ConfigError(f"{what}: no task {key!r} in this report; tasks: {known}")


def _evaluate(model: Any, task: TaskStats, records: list[CallRecord], labels: list[int],
              limit: int) -> Quality | None:
    from ..curate.chat_format import record_to_example
    from ..evaluate import evaluate

    usable = [r for r, label in zip(records, labels, strict=True) if label == task.task_id
              and r.error is None and (r.output is not None or r.tool_calls)]
    if not usable:
        logger.warning("replacement_report: task %r has no answered call to evaluate its "
                       "specialist on", task.name)
        return None
    # Evenly spaced, so a long log is sampled across its whole period.
    step = max(len(usable) / limit, 1.0)
    sample = [usable[int(i * step)] for i in range(min(limit, len(usable)))]
    result = evaluate(model, [record_to_example(r) for r in sample], progress=False)
    return as_quality(result, "specialist evaluated on the task's calls")


def _from_registry(tasks: list[TaskStats], registry: Any) -> dict[int, Quality]:
    from ..refine.registry import INDEX, ModelRegistry

    if not isinstance(registry, ModelRegistry):
        if not isinstance(registry, (str, os.PathLike)):
            raise ConfigError("registry must be a ModelRegistry or its folder; got "
                              f"{type(registry).__name__}")
        if not (Path(registry) / INDEX).is_file():
            raise ConfigError(f"no model registry at {registry} (no {INDEX})")
        registry = ModelRegistry(registry)
    out: dict[int, Quality] = {}
    for task in tasks:
        info = registry.current(task.task_id) or (registry.current(task.name)
                                                  if task.name else None)
        if info is None:
            continue
        full = registry.metrics(info.task, info.version)
        if not full and "agreement" not in info.metrics:
            continue  # registered without an evaluation: nothing measured
        quality = as_quality(full if full else info.metrics,
                             f"registry {info.task} v{info.version}")
        if quality is not None:
            out[task.task_id] = quality
    return out
