"""Assigning calls to fitted tasks by their nearest training calls (no refit, no UMAP).

:class:`NeighbourIndex` holds the training rows of the feature space (each distinct row once, with
the number of calls it stands for) and their task labels. A call is compared with every row by the
weighted similarity of :class:`~slm_agents.cluster.features.FeatureSpace` (averaged over the signals
the call has), and its ``k`` nearest *calls* vote, weighted by similarity. The confidence in a
task is

    support (the task's share of the vote, unassigned neighbours included)
    x closeness (1 while the call is as near the task as the task's own members usually are to each
    other, falling as ``(r + s) / (d + s)`` beyond: ``d`` the distance to the task's nearest member,
    ``r`` the task's radius (90th percentile of its members' nearest-member distances), ``s`` the
    typical nearest-neighbour distance of the whole data set, so tight tasks are not over-strict).

A call gets the best task when that confidence reaches ``min_confidence``, else ``-1``: calls
between tasks or far from every task stay unassigned. A call identical to a training row takes
that row's label, so predictions on the training items agree with the fitted labels.

Rows are stored factorised, for speed on the router's hot path: the text block as a matrix, the
structural blocks (few distinct combinations of agent, template, tools, output) as an id per row
into a small matrix of distinct combinations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["NeighbourIndex"]

_EXACT = 1e-4  # distances below this are float noise: the same call
_CHUNK = 512
_RADIUS_SAMPLE = 500
_RADIUS_QUANTILE = 0.9


class NeighbourIndex:
    """Nearest-neighbour assignment with a confidence (see the module docstring).

    Args:
        text: Text block of each training row (scaled as in the feature space), float32.
        combo_id: Index of each row's structural block in ``combos``.
        combos: Distinct structural blocks (scaled), float32.
        labels: Task of each row (``-1`` unassigned).
        counts: Calls each row stands for.
        present: Summed weight of the blocks present in each row.
        radii: Radius of each task (index = label).
        scale: Typical nearest-neighbour distance of the data set.
        n_neighbors: Calls that vote.
        min_confidence: Confidence needed to assign a task.
    """

    def __init__(self, text: np.ndarray, combo_id: np.ndarray, combos: np.ndarray,
                 labels: np.ndarray, counts: np.ndarray, present: np.ndarray, radii: np.ndarray,
                 scale: float, n_neighbors: int = 15, min_confidence: float = 0.5) -> None:
        import numpy as np

        self.text = np.ascontiguousarray(text, dtype=np.float32)
        self.combo_id = np.asarray(combo_id, dtype=np.int64)
        self.combos = np.ascontiguousarray(combos, dtype=np.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.float64)
        self.present = np.asarray(present, dtype=np.float64)
        self.radii = np.asarray(radii, dtype=np.float64)
        self.scale = float(scale)
        self.n_neighbors = int(n_neighbors)
        self.min_confidence = float(min_confidence)
        self._combos_t: np.ndarray | None = None  # column-major combos, made on first use

    @classmethod
    def build(cls, rows: np.ndarray, text_cols: slice | None, labels: np.ndarray,
              counts: np.ndarray, present: np.ndarray, n_neighbors: int = 15,
              min_confidence: float = 0.5) -> NeighbourIndex:
        """Factorise the feature rows and measure each task's radius."""
        import numpy as np

        text_mask = np.zeros(rows.shape[1], dtype=bool)
        if text_cols is not None:
            text_mask[text_cols] = True
        text = rows[:, text_mask]
        struct = np.ascontiguousarray(rows[:, ~text_mask])
        combos, combo_id = np.unique(struct, axis=0, return_inverse=True)
        index = cls(text, combo_id.reshape(-1), combos, labels, counts, present,
                    np.zeros(max(int(labels.max()) + 1, 0)), 0.0, n_neighbors, min_confidence)
        index._measure_radii()
        return index

    def split(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A full feature row's text and structural parts (the text block comes first)."""
        width = self.text.shape[1]
        return rows[:, :width], rows[:, width:]

    def similarities(self, q_text: np.ndarray, q_struct: np.ndarray,
                     q_present: np.ndarray) -> np.ndarray:
        """Similarity of each query (rows) to each training row (columns), in ``[-1, 1]``."""
        import numpy as np

        # One call (the router's hot path): numpy's own loops, not a BLAS thread pool whose
        # start-up dominates products this small and stalls when other work holds the cores
        # (the structural product took 7.8 ms through BLAS on a busy 2-core machine, 0.2 ms so).
        single = len(q_text) == 1
        if not self.text.shape[1]:
            sims = np.zeros((len(q_text), 0))
        elif single:
            sims = np.einsum("ij,j->i", self.text, q_text[0])[None, :]
        else:
            sims = q_text @ self.text.T
        if single:
            # A call's structural row is mostly zeros (43 of 550 columns in the benchmark):
            # read only the combinations' columns it has, from a column-major copy, instead
            # of the whole matrix, which the embedder's forward pass has just evicted from the
            # CPU caches (0.84 -> 0.45 ms per call measured).
            if self._combos_t is None:
                self._combos_t = np.ascontiguousarray(self.combos.T)
            q = q_struct[0]
            used = np.flatnonzero(q)
            struct = np.einsum("ij,i->j", self._combos_t[used], q[used])[None, :]
        else:
            struct = q_struct @ self.combos.T
        struct = struct[:, self.combo_id]
        sims = struct if sims.shape[1] == 0 else sims + struct
        return sims / np.maximum(q_present, 1e-12)[:, None]

    def query(self, rows: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Label and confidence of each query row (full feature rows, and their present weight)."""
        import numpy as np

        n = len(rows)
        labels = np.full(n, -1, dtype=np.int64)
        confidence = np.zeros(n, dtype=np.float64)
        q_text, q_struct = self.split(np.asarray(rows, dtype=np.float32))
        for start in range(0, n, _CHUNK):
            part = slice(start, start + _CHUNK)
            sims = self.similarities(q_text[part], q_struct[part], present[part])
            labels[part], confidence[part] = self._vote(sims)
        return labels, confidence

    def _vote(self, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        m, n = sims.shape
        k = min(self.n_neighbors, n)
        if k == 0:
            return np.full(m, -1), np.zeros(m)
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n),
                                                                                 (m, 1))
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1)
        top = np.take_along_axis(top, order, axis=1)
        top_sims = np.take_along_axis(top_sims, order, axis=1)
        dist = np.clip(1.0 - top_sims, 0.0, None)
        labs = self.labels[top]
        # Each row stands for `counts` identical calls: take calls in order of distance until k.
        counts = self.counts[top]
        before = np.cumsum(counts, axis=1) - counts
        calls = np.clip(np.minimum(counts, self.n_neighbors - before), 0.0, None)
        calls[:, 0] = np.maximum(calls[:, 0], 1.0)
        weight = calls * np.clip(top_sims, 1e-6, None)
        is_exact: np.ndarray = np.asarray(dist <= _EXACT)
        has_exact: np.ndarray = np.asarray(is_exact.any(axis=1))
        weight = np.where(has_exact[:, None], weight * is_exact, weight)
        total = np.maximum(weight.sum(axis=1), 1e-12)
        same = labs[:, :, None] == labs[:, None, :]  # (m, k, k): neighbour j' has j's label
        support = (weight[:, None, :] * same).sum(axis=2) / total[:, None]
        nearest = np.where(same, dist[:, None, :], np.inf).min(axis=2)
        radius = self.radii[np.maximum(labs, 0)] if len(self.radii) else np.zeros_like(dist)
        closeness = np.minimum(1.0, (radius + self.scale) / (nearest + self.scale + 1e-12))
        closeness = np.where(has_exact[:, None], 1.0, closeness)
        conf = np.where((labs >= 0) & (weight > 0), support * closeness, -1.0)
        best = conf.argmax(axis=1)
        rows = np.arange(m)
        best_conf = np.clip(conf[rows, best], 0.0, 1.0)
        best_label = np.where(conf[rows, best] >= 0, labs[rows, best], -1)
        label = np.where(best_conf >= self.min_confidence, best_label, -1)
        # An identical training row decides by itself: the majority label of the identical rows
        # (which may be -1), whatever the confidence.
        exact_label = labs[rows, np.where(weight > 0, support, -1.0).argmax(axis=1)]
        return np.where(has_exact, exact_label, label), best_conf

    def _measure_radii(self) -> None:
        """Each task's radius and the data set's typical nearest-neighbour distance."""
        import numpy as np

        rng = np.random.default_rng(0)
        n_tasks = int(self.labels.max()) + 1 if len(self.labels) else 0
        radii = np.zeros(max(n_tasks, 0))
        nearest_all: list[np.ndarray] = []
        for task in range(n_tasks):
            members = np.flatnonzero(self.labels == task)
            sample = members if len(members) <= _RADIUS_SAMPLE else rng.choice(
                members, _RADIUS_SAMPLE, replace=False)
            nearest = np.zeros(len(sample))
            member_text = self.text[members]
            member_struct = self.combos[self.combo_id[members]]
            for start in range(0, len(sample), _CHUNK):
                part = sample[start:start + _CHUNK]
                sims = self.text[part] @ member_text.T if member_text.shape[1] else 0.0
                sims = (sims + self.combos[self.combo_id[part]] @ member_struct.T) / np.maximum(
                    self.present[part], 1e-12)[:, None]
                own = np.searchsorted(members, part)
                sims[np.arange(len(part)), own] = -np.inf
                best = sims.max(axis=1) if len(members) > 1 else np.full(len(part), -np.inf)
                # A row standing for several identical calls has a twin at distance 0.
                best = np.where(self.counts[part] > 1, 1.0, best)
                nearest[start:start + len(part)] = np.clip(1.0 - best, 0.0, 2.0)
            radii[task] = float(np.quantile(nearest, _RADIUS_QUANTILE)) if len(nearest) else 0.0
            nearest_all.append(nearest)
        self.radii = radii
        pooled = np.concatenate(nearest_all) if nearest_all else np.zeros(0)
        positive = pooled[pooled > 0]
        self.scale = float(np.median(positive)) if len(positive) else 1e-3

    def to_arrays(self) -> dict[str, Any]:
        """Arrays for ``np.savez`` (:meth:`from_arrays` reads them back)."""
        import numpy as np

        return {"index_text": self.text, "index_combo_id": self.combo_id,
                "index_combos": self.combos, "index_labels": self.labels,
                "index_counts": self.counts, "index_present": self.present,
                "index_radii": self.radii,
                "index_scalars": np.array([self.scale, self.n_neighbors, self.min_confidence])}

    @classmethod
    def from_arrays(cls, arrays: Any) -> NeighbourIndex:
        """The index saved by :meth:`to_arrays`."""
        scale, n_neighbors, min_confidence = arrays["index_scalars"].tolist()
        return cls(arrays["index_text"], arrays["index_combo_id"], arrays["index_combos"],
                   arrays["index_labels"], arrays["index_counts"], arrays["index_present"],
                   arrays["index_radii"], scale, int(n_neighbors), min_confidence)
