"""Step S3: discover the tasks an agent's LLM calls perform, and assign new calls to them.

:class:`TaskClusterer` follows scikit-learn's estimator contract. ``fit`` runs, in order:

1. **Describe** each call by its signals (:mod:`slm_agents.cluster.features`): the embedded
   variable content (last user turn and tool results; numbers, dates, ids and the like masked
   with ``mask_content``), the agent, the masked system-prompt template, the tools offered and
   the output kind, each weighted (0 turns one off).
2. **De-duplicate** identical feature rows: agent logs repeat themselves. The reducer sees each
   distinct row once (identical points would tear a neighbour graph such as UMAP's apart); the
   clusterer sees a row repeated as often as its calls, up to the smallest task size tried, so a
   call made over and over can be a task of its own but cannot outweigh the varied calls of the
   task it belongs to; the neighbour votes count every call.
3. **Split by context** (``split_by_context=True``): calls whose structure is alike (agent,
   masked prompt template and tools offered, cosine similarity of those blocks at least
   ``context_similarity``) form one context, e.g. one agent across an edit of its prompt. The
   tasks of a context differ only by what is asked, which one space over every call hides behind
   the large distances between agents; so each context is clustered on its own, on the content
   and output-kind blocks.
4. **Reduce** the rows (default: :class:`~slm_agents.cluster.stages.PCAReducer`, the leading
   principal components holding 70% of the variance) and **cluster** them. Within a context the
   default is :class:`~slm_agents.cluster.stages.SilhouetteAgglomerative` (1 to 8 tasks, the
   count chosen by silhouette): a density clusterer reports each phrasing template of an intent
   as a task of its own there. When the calls form a single context (plain strings, one agent
   with one prompt and toolset), the default is
   :class:`~slm_agents.cluster.stages.AutoHDBSCAN`, whose granularity is chosen from the data
   and which has no upper bound on the number of tasks.
   Why not UMAP by default: on templated agent logs its 15-neighbour graph tears each task into
   one island per phrasing and HDBSCAN then reports each island as a task (on our synthetic
   8-task logs, NMI 0.63-0.81 with UMAP against 0.95-1.0 with PCA); ``reducer=umap.UMAP(...)``
   is one argument away, and UMAP draws the 2-D map of ``embedding_2d_``.
5. **Tidy** the labels: tasks are numbered by size (0 is the largest); calls the clusterer left
   unassigned join the task their nearest assigned neighbours in the feature space vote for, but
   only with a confidence of at least ``min_confidence``; the rest stay ``-1``.
6. **Describe** the tasks: c-TF-IDF keywords, representative calls (closest to the centroid) and
   a name (:mod:`slm_agents.cluster.naming`).

``predict`` and ``assign`` never refit and never call UMAP: a new call is embedded (through a
content-hash cache) and voted on by its nearest training calls in the feature space
(:class:`~slm_agents.cluster.assign.NeighbourIndex`).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._params import ParamsMixin
from ..errors import ClusteringError, ConfigError, NotFittedError
from ..records import CallRecord
from .assign import NeighbourIndex
from .embedders import EmbeddingCache, MiniLMEmbedder, text_digest
from .features import (
    BLOCKS,
    CallView,
    FeatureSpace,
    as_items,
    check_weights,
    mask_template,
    view_of,
)
from .naming import TaskSummaryInput, class_tfidf_keywords, name_tasks
from .stages import AutoHDBSCAN, SilhouetteAgglomerative, candidate_sizes, default_reducer

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .report import ClusterReport

__all__ = ["TaskClusterer"]

logger = logging.getLogger("slm_agents.cluster")

_N_REPRESENTATIVES = 5
_VOTERS = 15  # neighbours (calls) that vote on a call's task
_UMAP_LAYOUT_ROWS = 1000  # fewer distinct rows: their first two principal components make the map
_UMAP_LAYOUT_SAMPLE = 3000
_MIN_CONTEXT_CALLS = 10  # a context with fewer calls is one task


class TaskClusterer(ParamsMixin):
    """Finds the tasks among an agent's LLM calls; assigns new calls to them.

    Args:
        embedder: Anything with ``embed(texts) -> (n, d) float32`` array; ``None`` uses
            :class:`~slm_agents.cluster.embedders.MiniLMEmbedder` (offline all-MiniLM-L6-v2).
        reducer: Anything with ``fit_transform(X)`` (``umap.UMAP(n_components=5,
            metric="cosine")``, say); ``None`` uses
            :class:`~slm_agents.cluster.stages.PCAReducer` (see the module docstring);
            :class:`~slm_agents.cluster.stages.NoReduction` skips the stage.
        clusterer: Anything with ``fit(X)`` and ``labels_`` (``-1`` = noise), cloned for each
            context; ``None`` uses :class:`~slm_agents.cluster.stages.SilhouetteAgglomerative`
            within contexts and :class:`~slm_agents.cluster.stages.AutoHDBSCAN` when all calls
            share one context.
        text_weight: Weight of the variable content (last user turn and tool results).
        agent_weight: Weight of the agent's name.
        template_weight: Weight of the system prompt, its variable parts masked.
        tools_weight: Weight of the set of tools offered.
        output_weight: Weight of the output kind (the tool called, or text). Unknown for a call
            being routed; such a call is compared on its other signals only. Small by default:
            the steps of one task end differently (a tool call, then a text answer after the
            tool's result), so a large weight splits tasks by step.
        split_by_context: Cluster each context (calls with alike agent, template and tools) on
            its own; ``False`` clusters every call in one space.
        context_similarity: Cosine similarity of the agent, template and tools blocks at which
            two call structures belong to one context (0 to 1).
        mask_content: Embed the content with its numbers, dates, times, ids, e-mails, URLs and
            quoted strings masked (as the system prompt is, :func:`mask_template`): calls of
            one template that differ only in such values are one call to the embedder, and
            the values cannot pull a task apart. Keywords still come from the raw text.
        min_cluster_size: Smallest task, in distinct calls, for :class:`AutoHDBSCAN`; ``None``
            chooses it from the data (see ``selection_``).
        random_state: Seed of the reducer.
        cache_dir: Directory for an on-disk embedding cache (SQLite of float32 vectors keyed by
            a hash of the text); ``None`` caches in memory only.
        namer: Optional ``callable(TaskSummaryInput) -> str`` naming each task (an LLM prompt,
            say); the default name is ``"<tool or agent>: <keywords>"``.
        min_confidence: Confidence (0 to 1) a call needs to be assigned to a task by its
            neighbours, in ``fit`` (calls the clusterer left unassigned) and in ``predict``.
        show_progress: Show a progress bar while embedding; ``None``: when stderr is a terminal.

    Weights are shares of the similarity: each signal is a unit-norm block scaled by the square
    root of its weight, so a weight of 1 gives a signal as much say as the text.

    Attributes:
        labels_: Task of each fitted item (``-1`` = unassigned).
        n_tasks_: Number of tasks found.
        task_names_: Task -> name.
        keywords_: Task -> c-TF-IDF keywords.
        representatives_: Task -> indices of its most central fitted items, most central first.
        selection_: How the granularity was chosen, and the share of calls left unassigned.
        embedding_2d_: 2-D coordinates of the fitted items for plots (computed on first use).
        embedder_, reducer_, clusterer_: The stages used.

    Examples:
        >>> from slm_agents.cluster import HashingEmbedder
        >>> texts = [f"book a flight to city {i}" for i in range(20)]
        >>> texts += [f"what is the weather in town {i}" for i in range(20)]
        >>> clf = TaskClusterer(embedder=HashingEmbedder()).fit(texts)
        >>> clf.n_tasks_, bool(clf.labels_[0] != clf.labels_[-1])
        (2, True)
        >>> clf.assign("book a flight to city 99")[0] == int(clf.labels_[0])
        True
    """

    def __init__(
        self,
        embedder: Any = None,
        reducer: Any = None,
        clusterer: Any = None,
        text_weight: float = 1.0,
        agent_weight: float = 0.5,
        template_weight: float = 0.5,
        tools_weight: float = 0.5,
        output_weight: float = 0.1,
        split_by_context: bool = True,
        context_similarity: float = 0.6,
        mask_content: bool = True,
        min_cluster_size: int | None = None,
        random_state: int | None = 0,
        cache_dir: str | Path | None = None,
        namer: Callable[[TaskSummaryInput], str] | None = None,
        min_confidence: float = 0.5,
        show_progress: bool | None = None,
    ) -> None:
        self.embedder = embedder
        self.reducer = reducer
        self.clusterer = clusterer
        self.text_weight = text_weight
        self.agent_weight = agent_weight
        self.template_weight = template_weight
        self.tools_weight = tools_weight
        self.output_weight = output_weight
        self.split_by_context = split_by_context
        self.context_similarity = context_similarity
        self.mask_content = mask_content
        self.min_cluster_size = min_cluster_size
        self.random_state = random_state
        self.cache_dir = cache_dir
        self.namer = namer
        self.min_confidence = min_confidence
        self.show_progress = show_progress

    # ----------------------------------------------------------------------------------- fit
    def fit(self, items: Sequence[CallRecord | str], y: Any = None) -> TaskClusterer:
        """Discover the tasks among ``items`` (records, strings, or dicts of record fields).

        Raises:
            ClusteringError: no items, only empty texts, items of another type, or a stage that
                returned something unusable.
            ConfigError: an invalid option.
        """
        import numpy as np

        records = as_items(items)
        if not records:
            raise ClusteringError("no items to cluster: pass a non-empty list of CallRecords or "
                                  "strings")
        weights = self._validated_options()
        views = [view_of(item) for item in records]
        if not any(v.text for v in views) and not any(v.is_record for v in views):
            raise ClusteringError("every item is an empty string: there is nothing to cluster on")
        self.embedder_ = self.embedder if self.embedder is not None else MiniLMEmbedder()
        cache = self._cache_for(self.embedder_)
        texts = [v.text for v in views]
        embedded = self._embedding_texts(views)
        vectors = cache.embed(embedded) if weights["text"] > 0 else None
        space = FeatureSpace.fit(views, weights, vectors.shape[1] if vectors is not None else 0)
        X, present = space.transform(views, vectors)
        if not present.any():
            raise ClusteringError("no item has a signal to cluster on: every text is empty or "
                                  "embeds to a zero vector, and no structural signal is on")
        rows, first, inverse, counts = _distinct_rows(X)
        context = (_contexts(rows, space, self.context_similarity) if self.split_by_context
                   else np.zeros(len(rows), dtype=np.int64))
        if context.max() > 0:
            row_labels, selection = self._cluster_by_context(rows, counts, space, context)
        else:
            row_labels, selection = self._cluster_rows(rows, counts)
        index, row_labels, tidy = self._tidy(row_labels, rows, space, present[first], counts)
        self.feature_space_ = space
        self._index = index
        self._cache = cache
        self._fit_items: list[CallRecord | str] | None = records
        self._fit_digests = sorted({text_digest(t) for t in embedded if t})
        self._fit_inverse = inverse
        self._embedding_2d: np.ndarray | None = None
        self.labels_ = row_labels[inverse]
        self.n_tasks_ = int(row_labels.max()) + 1
        self.representatives_ = _representatives(rows, row_labels, counts, first)
        self.keywords_ = class_tfidf_keywords(texts, self.labels_)
        for task in range(self.n_tasks_):
            self.keywords_.setdefault(task, [])
        self.task_names_ = name_tasks(views, self.labels_, self.keywords_, self.representatives_,
                                      self.namer)
        unassigned = float(np.mean(self.labels_ == -1))
        self.selection_ = {**selection, **tidy, "n_items": len(records),
                           "n_distinct": int(len(rows)), "n_tasks": self.n_tasks_,
                           "unassigned_share": round(unassigned, 4)}
        logger.info("TaskClusterer: %d items, %d tasks, %.1f%% unassigned", len(records),
                    self.n_tasks_, 100 * unassigned)
        return self

    def fit_predict(self, items: Sequence[CallRecord | str], y: Any = None) -> np.ndarray:
        """``fit(items)`` and return ``labels_``."""
        return self.fit(items).labels_

    def _embedding_texts(self, views: Sequence[CallView]) -> list[str]:
        """What the embedder reads: the content, its variable values masked when asked."""
        if self.mask_content:
            return [mask_template(v.text) if v.text else "" for v in views]
        return [v.text for v in views]

    def _validated_options(self) -> dict[str, float]:
        weights = check_weights({name: getattr(self, f"{name}_weight") for name in BLOCKS})
        if not isinstance(self.min_confidence, (int, float)) or not 0 <= self.min_confidence <= 1:
            raise ConfigError(f"min_confidence must be a number in [0, 1], "
                              f"got {self.min_confidence!r}")
        if isinstance(self.context_similarity, bool) or not isinstance(
                self.context_similarity, (int, float)) or not 0 <= self.context_similarity <= 1:
            raise ConfigError(f"context_similarity must be a number in [0, 1], "
                              f"got {self.context_similarity!r}")
        if self.min_cluster_size is not None and (
                isinstance(self.min_cluster_size, bool)
                or not isinstance(self.min_cluster_size, int) or self.min_cluster_size < 2):
            raise ConfigError(f"min_cluster_size must be an int >= 2 or None, "
                              f"got {self.min_cluster_size!r}")
        for name, needed in (("embedder", "embed"), ("reducer", "fit_transform"),
                             ("clusterer", "fit")):
            stage = getattr(self, name)
            if stage is not None and not callable(getattr(stage, needed, None)):
                raise ConfigError(f"{name} must have a {needed}() method, got "
                                  f"{type(stage).__name__}")
        return weights

    def _cache_for(self, embedder: Any) -> EmbeddingCache:
        show = self.show_progress if self.show_progress is not None else sys.stderr.isatty()
        old = getattr(self, "_cache", None)
        # A refit with the same embedder (or one making the same vectors) keeps the vectors.
        if old is not None and old.cache_dir == self.cache_dir and (
                old.embedder is embedder
                or old.key is not None and old.key == getattr(embedder, "cache_key", None)):
            old.embedder, old.show_progress = embedder, show
            return old
        return EmbeddingCache(embedder, self.cache_dir, show_progress=show)

    def _cluster_rows(self, rows: np.ndarray, counts: np.ndarray, reducer: Any = None,
                      clusterer: Any = None) -> tuple[np.ndarray, dict]:
        import numpy as np

        if len(rows) == 1:
            self.reducer_ = self.reducer
            self.clusterer_ = self.clusterer
            self._reduced: np.ndarray | None = None
            return np.zeros(1, dtype=np.int64), {"method": "all items are identical: one task"}
        self.reducer_ = reducer if reducer is not None else (
            self.reducer if self.reducer is not None
            else default_reducer(len(rows), self.random_state))
        reduced = np.asarray(self.reducer_.fit_transform(rows))
        if reduced.ndim != 2 or reduced.shape[0] != len(rows):
            raise ClusteringError(f"reducer {type(self.reducer_).__name__} returned shape "
                                  f"{reduced.shape} for {len(rows)} rows")
        self._reduced = reduced
        self.clusterer_ = clusterer if clusterer is not None else (
            self.clusterer if self.clusterer is not None
            else AutoHDBSCAN(min_cluster_size=self.min_cluster_size))
        # A repeated call enters the clusterer as up to `cap` identical points: enough to stand as
        # a task of its own when nothing else is near, not enough to outweigh its task's varied
        # calls. Identical points share a label, read back at each row's first point.
        cap = candidate_sizes(int(counts.sum()))[0]
        repeats = np.minimum(counts, cap).astype(np.int64)
        self.clusterer_.fit(np.repeat(reduced, repeats, axis=0))
        starts = np.concatenate([[0], np.cumsum(repeats)[:-1]])
        labels = np.asarray(getattr(self.clusterer_, "labels_", None))
        if labels.shape != (int(repeats.sum()),) or not np.issubdtype(labels.dtype, np.integer):
            raise ClusteringError(f"clusterer {type(self.clusterer_).__name__} must set labels_ "
                                  f"to one integer per row; got shape {labels.shape}")
        selection = dict(getattr(self.clusterer_, "selection_", None)
                         or {"method": f"{type(self.clusterer_).__name__} (given)"})
        selection["reducer"] = type(self.reducer_).__name__
        return labels[starts].astype(np.int64), selection

    def _cluster_by_context(self, rows: np.ndarray, counts: np.ndarray, space: FeatureSpace,
                            context: np.ndarray) -> tuple[np.ndarray, dict]:
        """Cluster each context's calls on their content and output kind, apart from the others.

        A context is a group of calls with the same structure (agent, prompt template, tools
        offered; see :func:`_contexts`): the tasks inside it differ only by what is asked, which
        a single space over every call hides behind the large distances between agents.
        """
        import numpy as np
        from sklearn.base import clone

        content = np.zeros(rows.shape[1], dtype=bool)
        for name in ("text", "output"):
            if name in space.slices:
                content[space.slices[name]] = True
        labels = np.full(len(rows), -1, dtype=np.int64)
        contexts: list[dict[str, Any]] = []
        offset = 0
        for c in range(int(context.max()) + 1):
            members = np.flatnonzero(context == c)
            calls = int(counts[members].sum())
            found, chosen = 1, {"method": "too few calls to split: one task"}
            local = np.zeros(len(members), dtype=np.int64)
            if calls >= _MIN_CONTEXT_CALLS and len(members) >= 4 and content.any():
                reducer = (clone(self.reducer) if self.reducer is not None
                           else default_reducer(len(members), self.random_state))
                clusterer = (clone(self.clusterer) if self.clusterer is not None
                             else SilhouetteAgglomerative(random_state=self.random_state))
                local, chosen = self._cluster_rows(rows[members][:, content], counts[members],
                                                   reducer, clusterer)
                found = int(local.max()) + 1
                if found <= 0:  # the clusterer found nothing: the context is one task
                    local[:], found = 0, 1
            labels[members] = np.where(local >= 0, local + offset, -1)
            offset += found
            contexts.append({"calls": calls, "distinct": int(len(members)), "tasks": found,
                             "selection": chosen})
        self.reducer_ = self.reducer
        self.clusterer_ = self.clusterer
        self._reduced = None  # no single reduced space; the 2-D map uses the feature rows
        return labels, {
            "method": (f"calls split into {len(contexts)} contexts (agent, prompt template and "
                       f"tools with similarity >= {self.context_similarity}), each clustered on "
                       "its content and output kind"),
            "contexts": contexts}

    def _tidy(self, labels: np.ndarray, rows: np.ndarray, space: FeatureSpace,
              present: np.ndarray, counts: np.ndarray) -> tuple[NeighbourIndex, np.ndarray, dict]:
        labels = labels.copy()
        labels[labels < 0] = -1
        labels = _by_size(labels, counts)
        text_cols = space.slices.get("text")
        noise = labels == -1
        reassigned = 0
        if noise.any() and labels.max() >= 0:
            # Voters are the assigned calls only: a noise point inside a task's region joins it,
            # one far from every task (closeness) or between tasks (split vote) stays -1.
            voters = NeighbourIndex.build(rows[~noise], text_cols, labels[~noise], counts[~noise],
                                          present[~noise], _VOTERS, self.min_confidence)
            new, _ = voters.query(rows[noise], present[noise])
            reassigned = int(counts[noise][new >= 0].sum())
            labels[noise] = new
        note = {}
        if labels.max() < 0:
            labels[:] = 0
            note["note"] = "the clusterer found no task: all items form one task"
        labels = _by_size(labels, counts)
        index = NeighbourIndex.build(rows, space.slices.get("text"), labels, counts, present,
                                     _VOTERS, self.min_confidence)
        return index, labels, {**note, "reassigned_calls": reassigned}

    # ------------------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "_index"):
            raise NotFittedError("this TaskClusterer is not fitted yet: call fit(items) first "
                                 "(or TaskClusterer.load(path))")

    def predict(self, items: Sequence[CallRecord | str]) -> np.ndarray:
        """The task of each item (``-1``: no task with enough confidence)."""
        return self.predict_with_confidence(items)[0]

    def predict_with_confidence(self, items: Sequence[CallRecord | str]
                                ) -> tuple[np.ndarray, np.ndarray]:
        """The task of each item and the confidence in it, in ``[0, 1]``.

        For an item left unassigned (``-1``) the confidence is that of the nearest task, below
        ``min_confidence``.
        """
        import numpy as np

        self._check_fitted()
        records = as_items(items)
        if not records:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return self._predict_views([view_of(item) for item in records])

    def _predict_views(self, views: list) -> tuple[np.ndarray, np.ndarray]:
        space = self.feature_space_
        vectors = self._cache.embed(self._embedding_texts(views)) if space.text_dim else None
        rows, present = space.transform(views, vectors)
        labels, confidence = self._index.query(rows, present)
        labels[present <= 0] = -1
        confidence[present <= 0] = 0.0
        return labels, confidence

    #: ``assign`` also takes a :class:`~slm_agents.cluster.features.CallView` (the router builds
    #: one straight from a call's messages, cheaper than a CallRecord).
    accepts_call_views = True

    def assign(self, item: CallRecord | str | dict | CallView) -> tuple[int, float]:
        """The task of one call and the confidence in it: the router's hot path (no refit)."""
        self._check_fitted()
        view = item if isinstance(item, CallView) else view_of(as_items([item], what="item")[0])
        labels, confidence = self._predict_views([view])
        return int(labels[0]), float(confidence[0])

    # ------------------------------------------------------------------------------ reports
    @property
    def embedding_2d_(self) -> np.ndarray:
        """2-D coordinates of the fitted items for plots (a UMAP of the reduced rows, or their
        first two principal components when there are fewer than 1,000 distinct rows).

        Computed on first use and kept (UMAP of at most 3,000 rows: seconds, plus numba's
        one-off compilation in a new process).
        """
        self._check_fitted()
        if self._embedding_2d is None:
            self._embedding_2d = _layout_2d(getattr(self, "_reduced", None), self._index,
                                            self.random_state)[self._fit_inverse]
        return self._embedding_2d

    def report(self, prices: Any = None, records: Sequence[CallRecord | str] | None = None
               ) -> ClusterReport:
        """A :class:`~slm_agents.cluster.report.ClusterReport` of the tasks.

        Args:
            prices: :class:`~slm_agents.cluster.report.Prices` for cost estimates.
            records: The items to report on; ``None`` uses the items given to ``fit`` (after
                ``load``, pass them again). Other items are labelled with ``predict``.
        """
        from .report import ClusterReport

        self._check_fitted()
        if records is None:
            if self._fit_items is None:
                raise ConfigError("this clusterer was loaded from disk and has no fitted items: "
                                  "pass records=... to report()")
            return ClusterReport.build(
                self._fit_items, self.labels_, self.task_names_, keywords=self.keywords_,
                representatives=self.representatives_, coords_2d=self.embedding_2d_,
                selection=self.selection_, prices=prices)
        items = as_items(records, what="records")
        return ClusterReport.build(items, self.predict(items), self.task_names_,
                                   keywords=self.keywords_, selection=self.selection_,
                                   prices=prices)

    # ---------------------------------------------------------------------------- save/load
    def save(self, path: str | Path) -> Path:
        """Save the fitted clusterer to the directory ``path`` (JSON and ``.npz``, no pickle)."""
        from .persist import save_clusterer

        self._check_fitted()
        return save_clusterer(self, Path(path))

    @classmethod
    def load(cls, path: str | Path, embedder: Any = None, **params: Any) -> TaskClusterer:
        """Load a clusterer saved by :meth:`save`; predictions are identical.

        Args:
            path: The directory given to :meth:`save`.
            embedder: Required when the clusterer was fitted with a custom embedder.
            **params: Values for parameters that could not be saved as JSON (a custom
                ``reducer``, ``clusterer`` or ``namer``), or to override saved ones.
        """
        from .persist import load_clusterer

        return load_clusterer(cls, Path(path), embedder=embedder, **params)


def _distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows, the first item of each, each item's row, and the calls per row."""
    import numpy as np

    seen: dict[bytes, int] = {}
    inverse = np.empty(len(X), dtype=np.int64)
    first: list[int] = []
    for i, row in enumerate(X):
        j = seen.setdefault(row.tobytes(), len(first))
        if j == len(first):
            first.append(i)
        inverse[i] = j
    first_arr = np.asarray(first, dtype=np.int64)
    return X[first_arr], first_arr, inverse, np.bincount(inverse).astype(np.float64)


def _contexts(rows: np.ndarray, space: FeatureSpace, threshold: float) -> np.ndarray:
    """Context of each row: rows whose agent, template and tools blocks are similar."""
    import numpy as np
    from scipy.sparse.csgraph import connected_components

    cols = np.zeros(rows.shape[1], dtype=bool)
    for name in ("agent", "template", "tools"):
        if name in space.slices:
            cols[space.slices[name]] = True
    if not cols.any():
        return np.zeros(len(rows), dtype=np.int64)
    combos, combo_id = np.unique(rows[:, cols], axis=0, return_inverse=True)
    norms = np.maximum(np.linalg.norm(combos, axis=1, keepdims=True), 1e-12)
    unit = combos / norms
    _, comp = connected_components(unit @ unit.T >= threshold, directed=False)
    return comp[combo_id.reshape(-1)].astype(np.int64)


def _by_size(labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Renumber tasks 0.. by calls, largest first (``-1`` stays)."""
    import numpy as np

    tasks = [t for t in np.unique(labels) if t >= 0]
    sizes = {t: counts[labels == t].sum() for t in tasks}
    order = sorted(tasks, key=lambda t: (-sizes[t], t))
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping.get(int(t), -1) for t in labels], dtype=np.int64)


def _representatives(rows: np.ndarray, labels: np.ndarray, counts: np.ndarray,
                     first: np.ndarray) -> dict[int, list[int]]:
    """Per task, the fitted items whose rows are closest to the task's centroid."""
    import numpy as np

    out: dict[int, list[int]] = {}
    norms = np.maximum(np.linalg.norm(rows, axis=1), 1e-12)
    for task in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == task)
        centroid = (rows[members] * counts[members, None]).sum(axis=0)
        sims = rows[members] @ centroid / norms[members]
        best = members[np.argsort(-sims, kind="stable")[:_N_REPRESENTATIVES]]
        out[task] = [int(first[j]) for j in best]
    return out


def _layout_2d(reduced: np.ndarray | None, index: NeighbourIndex,
               random_state: int | None) -> np.ndarray:
    """2-D coordinates of the distinct rows, for plots."""
    import numpy as np

    source = reduced
    if source is None:
        struct = index.combos[index.combo_id]
        source = np.hstack([index.text, struct]) if index.text.shape[1] else struct
    source = np.asarray(source, dtype=np.float64)
    n = len(source)
    if source.shape[1] == 2:
        return source
    if n >= _UMAP_LAYOUT_ROWS:
        try:
            from umap import UMAP
        except ImportError:  # pragma: no cover - umap comes with the cluster extra
            pass
        else:
            # A map needs no more than a few thousand points laid out by UMAP (200 epochs is
            # plenty for a picture); the others sit at the mean place of their 5 nearest.
            rng = np.random.default_rng(0)
            sample = np.sort(rng.choice(n, min(n, _UMAP_LAYOUT_SAMPLE), replace=False))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                placed = np.asarray(UMAP(n_components=2, n_neighbors=15, n_epochs=200,
                                         random_state=random_state, low_memory=True,
                                         n_jobs=1 if random_state is not None else -1
                                         ).fit_transform(source[sample]))
            if len(sample) == n:
                return placed
            from sklearn.neighbors import NearestNeighbors

            near = NearestNeighbors(n_neighbors=5).fit(source[sample]).kneighbors(
                source, return_distance=False)
            out = placed[near].mean(axis=1)
            out[sample] = placed
            return out
    out = np.zeros((n, 2))
    if n >= 2:
        from sklearn.decomposition import PCA

        width = min(2, source.shape[1], n)
        out[:, :width] = PCA(n_components=width, random_state=0).fit_transform(source)
    return out
