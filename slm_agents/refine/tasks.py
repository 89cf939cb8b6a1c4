"""Stable task ids across re-clusterings, and a held-out split that never moves.

A clusterer numbers its tasks 0, 1, 2... in each fit, so after re-clustering "task 3" may be
another task. The flywheel therefore keeps its own **task ids**: the first fit's labels, and for
each later fit a map from the new labels to the old ids (:func:`match_labels`: a new cluster
takes the id of the old task most of its calls belonged to, new clusters get new ids).
:class:`TaskAssigner` is a fitted clusterer seen through that map: pass it to
:class:`~slm_agents.route.Router` as ``clusterer=`` and the router's task ids are the registry's.

:func:`stable_split` puts each trace in train, validation or test by a hash of its id, so a call
held out once is held out in every later round: no candidate is ever evaluated on calls it (or
the incumbent) was trained on, as the data grows.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..curate.dataset import Dataset, DatasetSplits

__all__ = ["TaskAssigner", "match_labels", "stable_split"]


class TaskAssigner:
    """A fitted clusterer whose labels are translated into stable task ids.

    Args:
        clusterer: A fitted clusterer (``assign``, ``predict_with_confidence``, ``labels_``).
        task_map: Clusterer label -> task id (labels it does not name are unassigned, ``-1``).
        names: Task id -> readable name.

    Examples:
        >>> class Fitted:
        ...     labels_ = [0, 1]
        ...     def assign(self, item): return (1, 0.9)
        >>> TaskAssigner(Fitted(), {0: 5, 1: 7}).assign("hello")
        (7, 0.9)
    """

    def __init__(self, clusterer: Any, task_map: Mapping[int, int],
                 names: Mapping[int, str] | None = None) -> None:
        self.clusterer = clusterer
        self.task_map = {int(k): int(v) for k, v in task_map.items()}
        self.task_names_ = dict(names or {})

    def __repr__(self) -> str:
        return f"TaskAssigner({type(self.clusterer).__name__}, {len(self.task_map)} tasks)"

    def task_of(self, label: Any) -> int:
        """The task id of a clusterer label (``-1`` when unassigned or unknown)."""
        return self.task_map.get(int(label), -1)

    @property
    def labels_(self) -> Any:
        """The clusterer's fitted labels, as task ids."""
        import numpy as np

        return np.asarray([self.task_of(label) for label in self.clusterer.labels_])

    @property
    def n_tasks_(self) -> int:
        """How many tasks have an id."""
        return len(set(self.task_map.values()))

    def assign(self, item: Any) -> tuple[int, float]:
        """``(task id, confidence)`` for one call (``-1`` when unassigned)."""
        label, confidence = self.clusterer.assign(item)
        return self.task_of(label), float(confidence)

    def predict_with_confidence(self, items: Sequence[Any]) -> tuple[Any, Any]:
        """Task ids and confidences for many calls."""
        import numpy as np

        labels, confidence = self.clusterer.predict_with_confidence(items)
        return np.asarray([self.task_of(label) for label in labels]), np.asarray(confidence)

    def predict(self, items: Sequence[Any]) -> Any:
        """Task ids for many calls."""
        return self.predict_with_confidence(items)[0]


def match_labels(old_tasks: Sequence[int], new_labels: Sequence[int], next_id: int,
                 min_share: float = 0.5) -> tuple[dict[int, int], int]:
    """Map a new fit's labels to stable task ids.

    Args:
        old_tasks: The previous task id of each item of the new fit (``-1``: none).
        new_labels: The new fit's label of each item (``-1``: unassigned).
        next_id: The first unused task id.
        min_share: Share of a new cluster's items an old task needs to pass its id on.

    Returns:
        ``(label -> task id, next unused id)``. Largest new clusters choose first; an old id
        goes to one new cluster at most.

    Examples:
        >>> match_labels([3, 3, 3, -1, -1, 4], [0, 0, 0, 1, 1, 1], next_id=5)
        ({0: 3, 1: 5}, 6)
    """
    members: dict[int, Counter[int]] = {}
    for old, new in zip(old_tasks, new_labels, strict=True):
        if int(new) >= 0:
            members.setdefault(int(new), Counter())[int(old)] += 1
    mapping: dict[int, int] = {}
    taken: set[int] = set()
    for label in sorted(members, key=lambda lab: (-sum(members[lab].values()), lab)):
        votes = members[label]
        total = sum(votes.values())
        best = next((old for old, count in votes.most_common()
                     if old >= 0 and old not in taken and count / total >= min_share), None)
        if best is None:
            best, next_id = next_id, next_id + 1
        taken.add(best)
        mapping[label] = best
    return mapping, next_id


def _unit(seed: int, key: str) -> float:
    digest = hashlib.sha256(f"slm_agents.refine\x00{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def group_key(meta: Mapping[str, Any], index: int) -> str:
    """The split group of an example: its trace, else its record."""
    if meta.get("trace_id"):
        return f"trace\x00{meta['trace_id']}"
    return f"record\x00{meta.get('record_id') or index}"


def stable_split(dataset: Dataset, validation: float, test: float, seed: int = 0) -> DatasetSplits:
    """Train/validation/test by a hash of each example's trace (or record) id.

    Unlike :meth:`Dataset.split`, which deals out the examples it is given, an example's split
    here depends on its own id only, so it never changes as the data grows. Examples within each
    split are ordered by that hash (a stable order for capped evaluation).
    """
    parts: tuple[list[tuple[float, int]], ...] = ([], [], [])
    for index, meta in enumerate(dataset.meta):
        u = _unit(seed, group_key(meta, index))
        part = 2 if u < test else 1 if u < test + validation else 0
        parts[part].append((u, index))
    train, val, held_out = (dataset.subset([i for _, i in sorted(p)]) for p in parts)
    return DatasetSplits(train, val, held_out, report=dataset.report)
