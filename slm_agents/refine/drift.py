"""Drift: has the traffic moved away from the tasks the specialists were trained for?

Three signals, each measured in the clusterer's own feature space (rows L2-normalised, so every
similarity below is a cosine) against a :class:`Baseline` taken when the clusterer was fitted (and
refreshed for a task whenever it is retrained):

1. **Rising unassigned share.** The share of new calls the clusterer leaves unassigned (label -1)
   minus that share among the calls it was fitted on. Flagged above
   ``max_unassigned_rise`` (default +0.15).
2. **A new dense region.** The unassigned new calls are grouped among themselves (a
   density-based grouping whose radius comes from the known tasks, see :func:`_regions`); a
   group of at least ``min_region_size`` calls whose *cohesion* (mean similarity of its calls to
   their centroid) reaches ``region_cohesion_ratio`` (default 0.9) times the median cohesion of
   the known tasks is as tight as a task: likely a new one. Its size, cohesion, nearest known
   task and that centroid similarity are reported.
3. **A task whose inputs moved.** For each task with at least ``min_items`` new calls: the
   similarity between the centroid of its new calls and its baseline centroid (flagged below
   ``min_centroid_similarity``, default 0.9), and the drop in the mean similarity of its calls
   to the baseline centroid (baseline cohesion minus new cohesion; flagged above
   ``max_similarity_drop``, default 0.1).

Signals 1 and 2 call for re-clustering; signal 3 for retraining that task.

Examples:
    >>> import numpy as np
    >>> X = np.eye(4, dtype=np.float32)[[0, 0, 0, 1, 1, 1]]
    >>> base = Baseline.fit(X, np.array([0, 0, 0, 1, 1, 1]))
    >>> report = detect_drift(base, X[:3], np.array([0, 0, 0]),
    ...                       DriftThresholds(min_items=3))
    >>> report.tasks[0].centroid_similarity, report.flagged
    (1.0, False)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ._fs import atomic_write_json, fsync_dir, read_json

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["Baseline", "DriftReport", "DriftThresholds", "Region", "TaskDrift", "detect_drift"]


class DriftThresholds(BaseModel):
    """When a drift signal counts (see the module docstring for what each one measures).

    Attributes:
        min_items: New calls needed before the unassigned share or a task is judged.
        max_unassigned_rise: Rise of the unassigned share over the baseline that flags drift.
        min_region_size: Calls a group of unassigned calls needs to count as a new region.
        region_cohesion_ratio: A region counts when its cohesion is at least this times the
            median cohesion of the known tasks.
        min_centroid_similarity: A task moved when its new centroid's similarity to the
            baseline centroid falls below this.
        max_similarity_drop: A task moved when its calls' mean similarity to the baseline
            centroid fell by more than this.
        max_region_items: Unassigned calls clustered at most (a seeded sample beyond).
    """

    model_config = ConfigDict(extra="forbid")

    min_items: int = Field(default=20, ge=1)
    max_unassigned_rise: float = Field(default=0.15, ge=0.0, le=1.0)
    min_region_size: int = Field(default=10, ge=2)
    region_cohesion_ratio: float = Field(default=0.9, gt=0.0)
    min_centroid_similarity: float = Field(default=0.9, ge=-1.0, le=1.0)
    max_similarity_drop: float = Field(default=0.1, ge=0.0)
    max_region_items: int = Field(default=2000, ge=10)


class Region(BaseModel):
    """A dense group of unassigned new calls (a candidate new task)."""

    model_config = ConfigDict(extra="forbid")

    size: int
    cohesion: float
    baseline_cohesion: float | None
    nearest_task: int | str | None
    nearest_similarity: float | None
    record_ids: list[str] = Field(default_factory=list)


class TaskDrift(BaseModel):
    """How one task's new calls compare with its baseline."""

    model_config = ConfigDict(extra="forbid")

    task: int | str
    n: int
    centroid_similarity: float
    cohesion: float
    baseline_cohesion: float
    similarity_drop: float
    moved: bool


class DriftReport(BaseModel):
    """The drift figures of one round (all similarities are cosines in the clusterer's space).

    Attributes:
        n_items: New calls examined.
        unassigned_share: Share of them left unassigned.
        baseline_unassigned_share: That share when the clusterer was fitted.
        unassigned_rise: The difference.
        unassigned_flag: Whether the rise crossed its threshold (with enough calls).
        regions: Dense groups of unassigned calls.
        new_regions: How many of them are tight enough to count as new tasks.
        tasks: Per-task figures (tasks with at least ``min_items`` new calls).
        moved_tasks: Tasks whose inputs moved.
        recluster: Whether the clusterer should be refitted (signal 1 or 2).
        reasons: The flags in words.
        thresholds: The thresholds used.
    """

    model_config = ConfigDict(extra="forbid")

    n_items: int = 0
    unassigned_share: float = 0.0
    baseline_unassigned_share: float = 0.0
    unassigned_rise: float = 0.0
    unassigned_flag: bool = False
    regions: list[Region] = Field(default_factory=list)
    new_regions: int = 0
    tasks: list[TaskDrift] = Field(default_factory=list)
    moved_tasks: list[int | str] = Field(default_factory=list)
    recluster: bool = False
    reasons: list[str] = Field(default_factory=list)
    thresholds: DriftThresholds = Field(default_factory=lambda: DriftThresholds())

    @property
    def flagged(self) -> bool:
        """Whether any signal fired."""
        return bool(self.reasons)

    def to_markdown(self) -> str:
        """The figures as a short Markdown section."""
        lines = [f"- new calls examined: {self.n_items}",
                 f"- unassigned share: {self.unassigned_share:.1%} (at fit "
                 f"{self.baseline_unassigned_share:.1%}, rise {self.unassigned_rise:+.1%}, "
                 f"threshold +{self.thresholds.max_unassigned_rise:.0%})"]
        for region in self.regions:
            lines.append(f"- unassigned region of {region.size} calls: cohesion "
                         f"{region.cohesion:.2f} (tasks' median {_fmt(region.baseline_cohesion)}),"
                         f" nearest task {region.nearest_task!r} at "
                         f"{_fmt(region.nearest_similarity)}")
        if self.tasks:
            lines += ["", "| task | new calls | centroid similarity | cohesion (baseline) | "
                          "drop | moved |", "|---|---:|---:|---:|---:|---|"]
            for t in self.tasks:
                lines.append(f"| {t.task} | {t.n} | {t.centroid_similarity:.3f} | "
                             f"{t.cohesion:.3f} ({t.baseline_cohesion:.3f}) | "
                             f"{t.similarity_drop:+.3f} | {'yes' if t.moved else 'no'} |")
        if self.reasons:
            lines += ["", "Flags: " + "; ".join(self.reasons)]
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def normalise(X: Any) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float64."""
    import numpy as np

    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


def _centroid(rows: np.ndarray) -> tuple[np.ndarray, float]:
    """Unit centroid of unit rows, and their mean similarity to it (the cohesion)."""
    import numpy as np

    centre = rows.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    unit = centre / norm if norm > 0 else centre
    return unit, float((rows @ unit).mean())


class Baseline:
    """Per-task centroids and cohesion, and the unassigned share, of the data a model knows.

    Args:
        centroids: Task -> unit centroid (1-D arrays of one width).
        cohesion: Task -> mean similarity of its calls to its centroid.
        sizes: Task -> calls behind the figures.
        unassigned_share: Share of unassigned calls in the fitted data.
    """

    def __init__(self, centroids: Mapping[Any, Any], cohesion: Mapping[Any, float],
                 sizes: Mapping[Any, int], unassigned_share: float) -> None:
        self.centroids = dict(centroids)
        self.cohesion = {k: float(v) for k, v in cohesion.items()}
        self.sizes = {k: int(v) for k, v in sizes.items()}
        self.unassigned_share = float(unassigned_share)

    @classmethod
    def fit(cls, X: Any, labels: Sequence[Any]) -> Baseline:
        """The baseline of feature rows ``X`` with their task labels (-1: unassigned)."""
        import numpy as np

        rows = normalise(X)
        tasks = np.asarray([int(t) for t in labels], dtype=np.int64)
        centroids, cohesion, sizes = {}, {}, {}
        for task in sorted({int(t) for t in tasks if t >= 0}):
            centroids[task], cohesion[task] = _centroid(rows[tasks == task])
            sizes[task] = int((tasks == task).sum())
        share = float((tasks < 0).mean()) if len(tasks) else 0.0
        return cls(centroids, cohesion, sizes, share)

    def update(self, task: Any, X: Any) -> None:
        """Replace one task's figures with those of ``X`` (e.g. the data it was retrained on)."""
        rows = normalise(X)
        if len(rows):
            self.centroids[task], self.cohesion[task] = _centroid(rows)
            self.sizes[task] = len(rows)

    def save(self, folder: str | Path) -> None:
        """Write ``baseline.json`` and ``baseline.npy`` into ``folder`` (no pickle).

        Write into a new folder and switch to it atomically (the flywheel's state file does):
        the two files are replaced one after the other.
        """
        import numpy as np

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tasks = list(self.centroids)
        matrix = (np.stack([self.centroids[t] for t in tasks]) if tasks
                  else np.zeros((0, 0)))
        with open(folder / "baseline.npy", "wb") as handle:
            np.save(handle, matrix.astype(np.float32), allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(folder)
        atomic_write_json(folder / "baseline.json", {
            "tasks": tasks, "cohesion": [self.cohesion[t] for t in tasks],
            "sizes": [self.sizes[t] for t in tasks],
            "unassigned_share": self.unassigned_share})

    @classmethod
    def load(cls, folder: str | Path) -> Baseline:
        """Read what :meth:`save` wrote."""
        import numpy as np

        folder = Path(folder)
        meta = read_json(folder / "baseline.json")
        matrix = np.load(folder / "baseline.npy", allow_pickle=False)
        tasks = meta["tasks"]
        return cls({t: matrix[i].astype(np.float64) for i, t in enumerate(tasks)},
                   dict(zip(tasks, meta["cohesion"], strict=True)),
                   dict(zip(tasks, meta["sizes"], strict=True)), meta["unassigned_share"])

    def __repr__(self) -> str:
        return (f"Baseline({len(self.centroids)} tasks, unassigned share "
                f"{self.unassigned_share:.2f})")

    def median_cohesion(self) -> float | None:
        """The median cohesion of the known tasks."""
        return median(self.cohesion.values()) if self.cohesion else None


def _regions(rows: np.ndarray, ids: Sequence[str], baseline: Baseline,
             thresholds: DriftThresholds, seed: int) -> list[Region]:
    """Dense groups of unassigned rows: connected components of their similarity graph.

    Two calls are neighbours when their similarity reaches what two calls of a typical known
    task share: the squared cohesion (for unit rows, the mean pairwise similarity of a group is
    the squared length of its mean, i.e. its cohesion squared), scaled by the cohesion ratio. A
    call with at least ``min_region_size - 1`` neighbours is a core; cores that are neighbours
    join one region, and a non-core neighbour of a core joins it too (DBSCAN's rule, with the
    radius set by the known tasks rather than by hand).
    """
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    if len(rows) < thresholds.min_region_size:
        return []
    if len(rows) > thresholds.max_region_items:
        keep = np.random.default_rng(seed).choice(len(rows), thresholds.max_region_items,
                                                  replace=False)
        rows, ids = rows[keep], [ids[i] for i in keep]
    typical = baseline.median_cohesion()
    radius = (thresholds.region_cohesion_ratio * (typical if typical is not None else 0.8)) ** 2
    similar = (rows @ rows.T) >= radius
    np.fill_diagonal(similar, False)
    core = similar.sum(axis=1) >= thresholds.min_region_size - 1
    labels = np.full(len(rows), -1)
    if core.any():
        core_index = np.flatnonzero(core)
        _, parts = connected_components(csr_matrix(similar[np.ix_(core, core)]), directed=False)
        labels[core_index] = parts
        for i in np.flatnonzero(~core):
            linked = core_index[similar[i, core_index]]
            if len(linked):
                labels[i] = labels[linked[0]]
    tasks = list(baseline.centroids)
    centres = np.stack([baseline.centroids[t] for t in tasks]) if tasks else None
    regions = []
    for label in sorted(set(labels.tolist()) - {-1}):
        members = rows[labels == label]
        if len(members) < thresholds.min_region_size:
            continue
        unit, cohesion = _centroid(members)
        nearest, similarity = None, None
        if centres is not None:
            sims = centres @ unit
            best = int(np.argmax(sims))
            nearest, similarity = tasks[best], round(float(sims[best]), 4)
        regions.append(Region(
            size=len(members), cohesion=round(cohesion, 4),
            baseline_cohesion=None if typical is None else round(typical, 4),
            nearest_task=nearest, nearest_similarity=similarity,
            record_ids=[ids[i] for i in np.flatnonzero(labels == label)[:20]]))
    return sorted(regions, key=lambda r: -r.size)


def detect_drift(baseline: Baseline, X: Any, labels: Sequence[Any],
                 thresholds: DriftThresholds | None = None,
                 ids: Sequence[str] | None = None, seed: int = 0) -> DriftReport:
    """Compare new calls (feature rows ``X``, task ``labels``, -1 unassigned) with a baseline.

    Args:
        baseline: What the clusterer (and the specialists) were fitted on.
        X: The new calls' feature rows, in the baseline's feature space.
        labels: Their tasks (-1: unassigned).
        thresholds: When a signal counts.
        ids: Record ids of the rows (reported for the regions).
        seed: Seed of the sample of unassigned calls when there are many.

    Returns:
        The :class:`DriftReport`.
    """
    import numpy as np

    thresholds = thresholds or DriftThresholds()
    rows = normalise(X)
    tasks = np.asarray([int(t) for t in labels], dtype=np.int64)
    n = len(tasks)
    ids = list(ids) if ids is not None else [str(i) for i in range(n)]
    report = DriftReport(n_items=n, thresholds=thresholds,
                         baseline_unassigned_share=round(baseline.unassigned_share, 4))
    if n == 0:
        return report
    share = float((tasks < 0).mean())
    report.unassigned_share = round(share, 4)
    report.unassigned_rise = round(share - baseline.unassigned_share, 4)
    if n >= thresholds.min_items and report.unassigned_rise > thresholds.max_unassigned_rise:
        report.unassigned_flag = True
        report.reasons.append(f"unassigned share rose from {baseline.unassigned_share:.1%} to "
                              f"{share:.1%} (threshold +{thresholds.max_unassigned_rise:.0%})")
    unassigned = np.flatnonzero(tasks < 0)
    report.regions = _regions(rows[unassigned], [ids[i] for i in unassigned], baseline,
                              thresholds, seed)
    typical = baseline.median_cohesion()
    for region in report.regions:
        if typical is None or region.cohesion >= thresholds.region_cohesion_ratio * typical:
            report.new_regions += 1
    if report.new_regions:
        report.reasons.append(f"{report.new_regions} dense region(s) of unassigned calls "
                              f"(largest {report.regions[0].size} calls)")
    for task in sorted({int(t) for t in tasks if t >= 0}):
        members = rows[tasks == task]
        base = baseline.centroids.get(task)
        if len(members) < thresholds.min_items or base is None:
            continue
        unit, _ = _centroid(members)
        centroid_similarity = float(unit @ base)
        cohesion = float((members @ base).mean())
        drop = baseline.cohesion[task] - cohesion
        moved = (centroid_similarity < thresholds.min_centroid_similarity
                 or drop > thresholds.max_similarity_drop)
        report.tasks.append(TaskDrift(
            task=task, n=len(members), centroid_similarity=round(centroid_similarity, 4),
            cohesion=round(cohesion, 4), baseline_cohesion=round(baseline.cohesion[task], 4),
            similarity_drop=round(drop, 4), moved=moved))
        if moved:
            report.moved_tasks.append(task)
            report.reasons.append(f"task {task} moved: centroid similarity "
                                  f"{centroid_similarity:.3f}, similarity drop {drop:+.3f}")
    report.recluster = report.unassigned_flag or report.new_regions > 0
    return report

