"""The data side of a flywheel round: curation, the training history, features, folders.

:class:`RoundData` holds what one round reads: the curated new records, and (read lazily, only
when a task retrains or the clusterer is refitted) the history in the training window, curated and
labelled with the clusterer in use. Nothing here is written outside the workdir's staging folder
until :func:`save_folder` renames a complete folder into place.
"""

from __future__ import annotations

import copy
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..curate.dataset import UNASSIGNED, Dataset
from ..errors import CurationError
from ..records import CallRecord
from ._fs import flush_tree, fsync_dir, remove_tree
from .drift import Baseline
from .tasks import TaskAssigner

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .flywheel import Flywheel
    from .report import RoundReport
    from .state import FlywheelState

__all__ = ["History", "RoundData", "clone_estimator", "features_of", "llm_answered",
           "load_clusterer", "save_folder"]

logger = logging.getLogger("slm_agents.refine")


def llm_answered(records: Iterable[CallRecord]) -> list[CallRecord]:
    """The records whose output is the LLM's: not those a router's specialist answered."""
    return [r for r in records if r.metadata.get("route") != "specialist"]


def clone_estimator(template: Any) -> Any:
    """An unfitted copy with the same parameters (scikit-learn's ``clone``, without sklearn)."""
    if callable(getattr(template, "get_params", None)):
        return type(template)(**template.get_params(deep=False))
    return copy.deepcopy(template)


def load_clusterer(template: Any, path: Path) -> Any:
    """Load a clusterer the flywheel saved, with the template's class (and custom embedder)."""
    if template is not None and callable(getattr(type(template), "load", None)):
        embedder = getattr(template, "embedder", None)
        if embedder is not None:
            return type(template).load(path, embedder=embedder)
        return type(template).load(path)
    from ..cluster import TaskClusterer

    return TaskClusterer.load(path)


def features_of(clusterer: Any, items: list[CallRecord]) -> np.ndarray | None:
    """The items' rows in the clusterer's feature space (``None`` when it has none to offer).

    Uses a public ``features(items)`` method when the clusterer has one, else the fitted
    :class:`~slm_agents.cluster.TaskClusterer`'s ``feature_space_`` and ``embedder_``.
    """
    import numpy as np

    method = getattr(clusterer, "features", None)
    if callable(method):
        return np.asarray(method(items), dtype=np.float64)
    space = getattr(clusterer, "feature_space_", None)
    embedder = getattr(clusterer, "embedder_", None)
    if space is None or embedder is None:
        return None
    from ..cluster.features import as_items, view_of

    views = [view_of(item) for item in as_items(items)]
    vectors = embedder.embed([v.text for v in views]) if space.text_dim else None
    rows, _present = space.transform(views, vectors)
    return np.asarray(rows, dtype=np.float64)


def save_folder(workdir: Path, relative: str, write: Callable[[Path], Any]) -> str:
    """Write a folder completely in staging, flush it, then rename it to ``workdir/relative``.

    The target name belongs to a round not yet committed, so whatever sits there already is
    garbage from a failed attempt and is replaced.
    """
    staging = workdir / ".staging" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    try:
        write(staging)
        flush_tree(staging)
        target = workdir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            remove_tree(target)
        os.replace(staging, target)
        fsync_dir(target.parent)
    except BaseException:
        remove_tree(staging)
        raise
    return relative


@dataclass
class History:
    """The curated records of the training window."""

    records: list[CallRecord]
    dataset: Dataset | None
    labelled_with: str | None = None


class RoundData:
    """What one round reads, with the expensive parts computed once and only when needed.

    Args:
        flywheel: The flywheel running the round (its store, curator, settings).
        state: The round's new state (which clusterer and task map are in use).
        until: The newest ``started_at`` among the round's records (the window's end).
    """

    def __init__(self, flywheel: Flywheel, state: FlywheelState, until: datetime) -> None:
        self.flywheel = flywheel
        self.state = state
        self.until = until
        window = flywheel.train_window_
        self.since = None if window is None else until - window
        self.baseline: Baseline | None = None
        self.baseline_changed = False
        self._history: History | None = None

    def curate(self, records: list[CallRecord], report: RoundReport) -> Dataset | None:
        """Curate ``records``; ``None`` when nothing survives (the counts go in the report).

        Calls a specialist answered are left out: their outputs are not the LLM's, and a model
        trained or judged on its own answers would only learn to agree with itself.
        """
        curator = self.flywheel.curator_
        usable = llm_answered(records)
        report.curation = {"specialist_answered": len(records) - len(usable)}
        if not usable:
            return None
        try:
            dataset = curator.run(usable)
        except CurationError as exc:
            logger.info("flywheel: no examples left after curation: %s", exc)
            summary = getattr(curator, "report_", None)
            report.curation.update({"n_in": summary.n_in, "n_out": 0, "dropped": summary.dropped}
                                   if summary is not None else {"error": str(exc)})
            return None
        summary = dataset.report
        if summary is not None:
            report.curation.update({"n_in": summary.n_in, "n_out": summary.n_out,
                                    "dropped": summary.dropped})
        return dataset

    @staticmethod
    def kept_records(dataset: Dataset, records: list[CallRecord]) -> list[CallRecord]:
        """The records behind the dataset's examples, in the dataset's order."""
        by_id = {r.id: r for r in records}
        return [by_id[m["record_id"]] for m in dataset.meta]

    def history(self) -> History:
        """The curated records of the training window (read from the store once per round)."""
        if self._history is None:
            end = self.until + timedelta(microseconds=1)  # ``until`` is exclusive in the store
            records = llm_answered(self.flywheel.store.records(since=self.since, until=end))
            try:
                dataset = self.flywheel.curator_.run(records)
            except CurationError:
                self._history = History([], None)
            else:
                self._history = History(self.kept_records(dataset, records), dataset)
            logger.info("flywheel: training window holds %d records, %d examples", len(records),
                        len(self._history.records))
        return self._history

    def labelled_history(self) -> History:
        """:meth:`history`, each example's ``meta["task"]`` set by the clusterer now in use."""
        history = self.history()
        key = f"{self.state.clusterer}:{sorted(self.state.task_map.items())}"
        if history.dataset is not None and history.labelled_with != key:
            clusterer = self.flywheel._clusterer(self.state.clusterer)  # type: ignore[arg-type]
            assigner = TaskAssigner(clusterer, self.state.task_map)
            tasks = assigner.predict(history.records)
            for meta, task in zip(history.dataset.meta, tasks, strict=True):
                meta["task"] = int(task) if int(task) >= 0 else UNASSIGNED
            history.labelled_with = key
        return history

    def update_baseline(self, task: int, records: list[CallRecord]) -> None:
        """Re-centre a retrained task's drift baseline on the data it was trained on."""
        if self.baseline is None or not records:
            return
        clusterer = self.flywheel._clusterer(self.state.clusterer)  # type: ignore[arg-type]
        rows = features_of(clusterer, records)
        if rows is not None:
            self.baseline.update(task, rows)
            self.baseline_changed = True

    def save_baseline(self) -> None:
        """Write a changed baseline to a new folder and point the new state at it."""
        if not self.baseline_changed or self.baseline is None:
            return
        workdir = self.flywheel.workdir_
        baseline = self.baseline
        self.state.baseline = save_folder(workdir, f"baselines/r{self.state.round:05d}",
                                          baseline.save)
        self.baseline_changed = False
