"""The records a registry keeps about each version: :class:`VersionInfo` and its data window.

Also the normalisation of what :meth:`ModelRegistry.register
<slm_agents.refine.ModelRegistry.register>` accepts (tasks, metrics, windows) and the folder name
of a task.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigError

__all__ = ["STATUSES", "DataWindow", "Status", "Task", "VersionInfo", "as_metrics", "as_window",
           "index_problems", "metrics_summary", "task_key", "task_slug"]

STATUSES = ("candidate", "promoted", "rejected", "retired")
Status = Literal["candidate", "promoted", "rejected", "retired"]
Task = int | str


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


class DataWindow(BaseModel):
    """The records a version was trained on: a range of the store's ``started_at`` watermark.

    Attributes:
        since: Earliest record time used (``None``: from the first record).
        until: Latest record time used.
        n_records: Records of the task in the window.
        n_examples: Training examples made from them.
    """

    model_config = ConfigDict(extra="forbid")

    since: datetime | None = None
    until: datetime | None = None
    n_records: int | None = None
    n_examples: int | None = None


class VersionInfo(BaseModel):
    """One registered version of a task's specialist (what the index holds about it).

    Attributes:
        task: The task (an int cluster id or a name).
        version: 1, 2, ... per task.
        status: ``candidate``, ``promoted``, ``rejected`` or ``retired``.
        created_at: When it was registered.
        path: The specialist folder (absolute), or ``None`` when its files were pruned.
        window: The data it was trained on.
        metrics: Point estimates of its evaluation (``n``, ``agreement``...); the full report
            is :meth:`ModelRegistry.metrics`.
        parent: The version that was serving when this one was trained.
        promoted_at: When it was last promoted.
        retired_at: When it stopped serving (superseded or rolled back).
        reason: Why it has its status (``"rolled back"``, ``"below the quality bar"``...).
        metadata: Anything else (JSON values).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Task
    version: int
    status: Status
    created_at: datetime
    path: Path | None = None
    window: DataWindow | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    parent: int | None = None
    promoted_at: datetime | None = None
    retired_at: datetime | None = None
    reason: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


def task_key(task: Task) -> str:
    """The index key of a task (its text form); rejects what is not an int or a non-empty str."""
    if isinstance(task, bool) or not isinstance(task, (int, str)):
        raise ConfigError(f"a task must be an int or a str; got {type(task).__name__}")
    if isinstance(task, str) and not task:
        raise ConfigError("a task name cannot be empty")
    return str(task)


def task_slug(key: str) -> str:
    """A folder name for a task: readable, and unique even on case-insensitive file systems."""
    if re.fullmatch(r"[a-z0-9_][a-z0-9_.-]{0,63}", key):
        return key
    safe = re.sub(r"[^a-z0-9_.-]+", "_", key.lower())[:48].strip("._") or "task"
    return f"{safe}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:8]}"


def metrics_summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Point estimates of a report dict (``EvalReport.to_dict`` or a flat ``{name: value}``)."""
    nested = metrics.get("metrics")
    if isinstance(nested, Mapping):
        summary: dict[str, Any] = {}
        for name in ("n", "n_failed", "latency_ms_median", "cost_per_1k_calls"):
            if metrics.get(name) is not None:
                summary[name] = metrics[name]
        for name, estimate in nested.items():
            value = estimate.get("value") if isinstance(estimate, Mapping) else estimate
            if value is not None:
                summary[name] = value
        return summary
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))
            or v is None}


def as_metrics(metrics: Any) -> dict[str, Any] | None:
    """An EvalReport, its dict or a ``{name: value}`` dict, as a plain dict (or ``None``)."""
    if metrics is None:
        return None
    if hasattr(metrics, "to_dict"):
        metrics = metrics.to_dict()
    if not isinstance(metrics, Mapping):
        raise ConfigError("metrics must be an EvalReport, a dict (EvalReport.to_dict() or "
                          f"{{name: value}}) or None; got {type(metrics).__name__}")
    return dict(metrics)


def as_window(window: Any) -> DataWindow | None:
    """A :class:`DataWindow` from itself, a dict of its fields or a ``(since, until)`` tuple."""
    if window is None or isinstance(window, DataWindow):
        return window
    if isinstance(window, Mapping):
        try:
            return DataWindow.model_validate(dict(window))
        except ValueError as exc:  # pydantic's ValidationError
            raise ConfigError(f"invalid window: {exc}") from exc
    if isinstance(window, tuple) and len(window) == 2:
        return DataWindow(since=window[0], until=window[1])
    raise ConfigError("window must be a DataWindow, a dict of its fields, a (since, until) "
                      f"tuple or None; got {type(window).__name__}")


def index_problems(root: Path, data: Mapping[str, Any]) -> list[str]:
    """Consistency problems of a registry index (see ``ModelRegistry.verify``)."""
    problems: list[str] = []
    for key, entry in data["tasks"].items():
        versions = {v["version"]: v for v in entry["versions"]}
        promoted = [v for v, raw in versions.items() if raw["status"] == "promoted"]
        if len(promoted) > 1:
            problems.append(f"task {key}: several promoted versions {promoted}")
        if entry["current"] is not None and promoted != [entry["current"]]:
            problems.append(f"task {key}: current v{entry['current']} but promoted "
                            f"{promoted}")
        if entry["current"] is None and promoted:
            problems.append(f"task {key}: no current version but promoted {promoted}")
        for version in entry["promotions"]:
            if version not in versions:
                problems.append(f"task {key}: promotions name unknown v{version}")
        for version, raw in versions.items():
            if raw["status"] not in STATUSES:
                problems.append(f"task {key} v{version}: unknown status {raw['status']!r}")
            if raw.get("path") is None:
                continue
            folder = root / raw["path"]
            if not folder.is_dir() or not any(folder.iterdir()):
                problems.append(f"task {key} v{version}: missing files {folder}")
    return problems
