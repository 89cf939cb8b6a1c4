"""The swappable reduction and clustering stages, and their defaults.

A reducer is anything with ``fit_transform(X)``; a clusterer anything with ``fit(X)`` and
``labels_`` (scikit-learn's ``KMeans``, ``AgglomerativeClustering``, ``hdbscan.HDBSCAN``...).
:class:`NoReduction` skips the reduction stage honestly.

The default clusterer, :class:`AutoHDBSCAN`, has no granularity knob to tune by hand: it fits
HDBSCAN for a range of ``min_cluster_size`` values scaled to the number of rows, scores each
result by density-based cluster validity (DBCV, in the fast form hdbscan computes on its minimum
spanning tree, where noise counts against a result by the share of rows it leaves out), and keeps
the coarsest result within one standard error of the best score. What was tried and chosen is in
``selection_``.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

from .._params import ParamsMixin
from ..errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["AutoHDBSCAN", "NoReduction", "PCAReducer", "SilhouetteAgglomerative",
           "default_reducer", "weighted_validity"]

logger = logging.getLogger("slm_agents.cluster")

_PCA_SAMPLE = 5000


class NoReduction(ParamsMixin):
    """A reducer that returns its input unchanged (skips the reduction stage).

    Examples:
        >>> NoReduction().fit_transform([[1.0, 2.0]])
        [[1.0, 2.0]]
    """

    def fit(self, X: Any, y: Any = None) -> NoReduction:
        """Nothing to learn; returns self."""
        return self

    def transform(self, X: Any) -> Any:
        """``X`` itself."""
        return X

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """``X`` itself."""
        return X


class PCAReducer(ParamsMixin):
    """Linear reduction to the leading principal components that explain ``variance`` of the data.

    The default reducer. Tasks are the main axes of variation in an agent's calls (structure
    first, then topic), while phrasing, names and numbers spread thinly over the many trailing
    components; keeping the leading ones keeps distances between tasks as they are and blurs the
    rest, and leaves few enough dimensions for a density clusterer. A neighbour-graph method such
    as UMAP does the opposite on templated logs: it tears each task into one island per phrasing,
    which a density clusterer then reports as separate tasks (pass ``umap.UMAP(...)`` as the
    reducer to get that behaviour).

    Args:
        variance: Share of the total variance to keep (0 to 1).
        max_components: Upper bound on the number of components.
        random_state: Seed of the randomised SVD (and of the 5,000 rows it is fitted on when
            there are more).

    Examples:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(100, 20)) * ([10] * 2 + [1] * 18)
        >>> PCAReducer(variance=0.7).fit_transform(X).shape[1] <= 20
        True
    """

    def __init__(self, variance: float = 0.7, max_components: int = 32,
                 random_state: int | None = 0) -> None:
        self.variance = variance
        self.max_components = max_components
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> PCAReducer:
        """Learn the components; sets ``n_components_`` and ``pca_``."""
        import numpy as np
        from sklearn.decomposition import PCA

        if not 0 < self.variance <= 1:
            raise ConfigError(f"variance must be in (0, 1], got {self.variance!r}")
        X = np.asarray(X, dtype=np.float64)
        if len(X) > _PCA_SAMPLE:  # the leading axes are settled long before 5,000 rows
            rng = np.random.default_rng(self.random_state)
            X = X[rng.choice(len(X), _PCA_SAMPLE, replace=False)]
        n, d = X.shape
        width = max(1, min(int(self.max_components), n - 1, d))
        self.pca_ = PCA(n_components=width, svd_solver="randomized" if width < min(n, d) - 1
                        else "full", random_state=self.random_state).fit(X)
        total = float(X.var(axis=0, ddof=1).sum()) if n > 1 else 0.0
        shares = self.pca_.explained_variance_ / total if total > 0 else np.ones(width)
        self.n_components_ = int(min(width, np.searchsorted(np.cumsum(shares),
                                                            self.variance) + 1))
        return self

    def transform(self, X: Any) -> Any:
        """The leading ``n_components_`` principal coordinates of ``X``."""
        return self.pca_.transform(X)[:, :self.n_components_]

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)


def default_reducer(n_rows: int, random_state: int | None) -> Any:
    """:class:`PCAReducer` keeping 70% of the variance; :class:`NoReduction` for 3 rows or fewer."""
    if n_rows <= 3:
        return NoReduction()
    return PCAReducer(random_state=random_state)


def candidate_sizes(n_rows: int) -> list[int]:
    """``min_cluster_size`` values to try for ``n_rows`` rows: 6 steps from ~0.2% to ~5% of rows.

    A task has at least 5 calls (fewer for inputs of under 20 rows, never under 2): below that
    a group is an anecdote, not a task worth a specialist.
    """
    low = max(2, min(5, n_rows // 4), n_rows // 500)
    high = max(low, n_rows // 20)
    if high == low:
        return [low]
    steps = [low * (high / low) ** (i / 5) for i in range(6)]
    return sorted({max(2, int(round(s))) for s in steps})


def weighted_validity(mst: np.ndarray, labels: np.ndarray,
                      weights: np.ndarray) -> tuple[float, float]:
    """DBCV's fast estimate (hdbscan's ``relative_validity_``) with rows counted by weight.

    Args:
        mst: The mutual-reachability minimum spanning tree, rows ``(from, to, distance)``.
        labels: Cluster of each row, ``-1`` for noise.
        weights: How many calls each row stands for.

    Returns:
        The score in ``[-1, 1]`` (higher is better; ``-1`` when there is no cluster), and its
        standard error: the score is a size-weighted mean of per-cluster validities, and their
        spread says how much it would move with a slightly different sample.
    """
    import numpy as np

    n_clusters = int(labels.max()) + 1 if len(labels) else 0
    if n_clusters == 0:
        return -1.0, 0.0
    sizes = np.bincount(labels + 1, weights=weights, minlength=n_clusters + 1)
    total = sizes.sum()
    src, dst, dist = mst[:, 0].astype(np.intp), mst[:, 1].astype(np.intp), mst[:, 2]
    l1, l2 = labels[src], labels[dst]
    max_distance = dist.max() if len(dist) else 0.0
    one_noise = (l1 == -1) ^ (l2 == -1)
    neither = (l1 != -1) & (l2 != -1)
    sparseness = np.zeros(n_clusters)
    separation = np.full(n_clusters, np.inf)
    same, diff = neither & (l1 == l2), neither & (l1 != l2)
    np.maximum.at(sparseness, l1[same], dist[same])
    np.minimum.at(separation, l1[diff], dist[diff])
    np.minimum.at(separation, l2[diff], dist[diff])
    outlier_sep = dist[one_noise].min() if one_noise.any() else max_distance
    # A cluster that is an island of the tree gets a large separation (as hdbscan does).
    separation[np.isinf(separation)] = 2 * (max_distance if n_clusters > 1 else outlier_sep)
    denom = np.maximum(np.maximum(separation, sparseness), 1e-12)
    validity = (separation - sparseness) / denom
    share = sizes[1:] / total
    score = float(np.sum(share * validity))
    mean = score / max(float(share.sum()), 1e-12)
    error = float(np.sqrt(np.sum(share ** 2 * (validity - mean) ** 2)) / max(share.sum(), 1e-12))
    return score, error


class AutoHDBSCAN(ParamsMixin):
    """HDBSCAN with its granularity chosen from the data (see the module docstring).

    Args:
        min_cluster_size: Fix the smallest task size (in rows) instead of choosing it.
        min_samples: HDBSCAN's ``min_samples`` (``None``: the smallest ``min_cluster_size`` tried).
        cluster_selection_method: ``"eom"`` (HDBSCAN's default) or ``"leaf"``.

    Attributes:
        labels_: Cluster of each row (``-1`` = noise).
        selection_: The candidates tried, their scores and the chosen one.

    Examples:
        >>> from sklearn.datasets import make_blobs
        >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
        >>> model = AutoHDBSCAN().fit(X)
        >>> int(model.labels_.max()) + 1
        3
    """

    def __init__(self, min_cluster_size: int | None = None, min_samples: int | None = None,
                 cluster_selection_method: str = "eom") -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> AutoHDBSCAN:
        """Fit every candidate and keep one; ``sample_weight``: calls per row (for the scores)."""
        import numpy as np

        try:
            import hdbscan
        except ImportError:
            raise MissingDependencyError("hdbscan", "cluster", "the default clusterer") from None
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise ConfigError("cluster_selection_method must be 'eom' or 'leaf', got "
                              f"{self.cluster_selection_method!r}")
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        weights = (np.ones(n) if sample_weight is None
                   else np.asarray(sample_weight, dtype=np.float64))
        if self.min_cluster_size is not None:
            size = self.min_cluster_size
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
                raise ConfigError(f"min_cluster_size must be an int >= 2 or None, "
                                  f"got {self.min_cluster_size!r}")
            sizes = [int(self.min_cluster_size)]
        else:
            sizes = candidate_sizes(n)
        tried: list[dict[str, Any]] = []
        results: list[tuple[float, float, np.ndarray]] = []
        # Density is judged at the finest granularity tried (core points need that many
        # neighbours); larger sizes then only decide which dense groups count as tasks. With
        # min_samples fixed, every candidate shares one mutual-reachability spanning tree and one
        # single-linkage tree: build them once, then cut the tree at each size (the cut is
        # milliseconds; the tree is most of HDBSCAN's time).
        samples = self.min_samples if self.min_samples is not None else min(sizes[0], max(2, n))
        samples = max(1, min(int(samples), n - 1))
        tree: Any = None
        mst = np.zeros((0, 3))
        for size in sizes:
            size = min(size, max(2, n))
            if tree is None:
                model = hdbscan.HDBSCAN(min_cluster_size=size, min_samples=samples,
                                        cluster_selection_method=self.cluster_selection_method,
                                        gen_min_span_tree=True, core_dist_n_jobs=1)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # only within this call: hdbscan's noise
                    labels = model.fit(X).labels_.astype(np.int64)
                if n > 1:
                    mst = model.minimum_spanning_tree_.to_numpy()
                tree = model._single_linkage_tree
            else:
                labels = _cut_tree(X, tree, size, self.cluster_selection_method)
            score, error = weighted_validity(mst, labels, weights)
            noise = float(weights[labels == -1].sum() / weights.sum())
            tried.append({"min_cluster_size": size, "min_samples": samples,
                          "n_clusters": int(labels.max()) + 1, "noise_share": round(noise, 4),
                          "score": round(score, 4), "score_error": round(error, 4)})
            results.append((score, error, labels))
        pick = _one_standard_error_pick(results)
        self.labels_ = results[pick][2] if pick is not None else np.full(n, -1, dtype=np.int64)
        self.selection_ = {
            "method": (f"hdbscan ({self.cluster_selection_method}); min_cluster_size: the largest "
                       "candidate whose DBCV (relative validity) is within "
                       "one standard error of the best") if len(sizes) > 1
            else "hdbscan with a fixed min_cluster_size",
            "candidates": tried,
            "chosen": tried[pick] if pick is not None else None,
        }
        logger.info("AutoHDBSCAN: %s", tried)
        return self


class SilhouetteAgglomerative(ParamsMixin):
    """Agglomerative clustering with the number of clusters (1 to ``max_clusters``) chosen by
    silhouette: the default clusterer *within one context* (an agent, its prompt and its tools).

    A context serves a handful of tasks, and its calls are the paraphrases of a few intents: a
    density clusterer sees every phrasing template as a dense island and reports each one as a
    task, while the silhouette of an average-linkage cut rises and falls with the intents. The
    cut is chosen like a one-standard-error rule: the fewest clusters whose silhouette is within
    ``tolerance`` of the best (finer cuts that only split a template off gain a little
    silhouette); when no cut reaches ``min_silhouette``, the context is one task.

    Args:
        max_clusters: Most clusters tried.
        tolerance: Silhouette a coarser cut may give up against the best one.
        min_silhouette: Below this best silhouette, everything is one cluster.
        linkage: ``"average"``, ``"complete"``, ``"single"`` or ``"ward"`` (Euclidean only).
        metric: ``"cosine"`` or ``"euclidean"``.
        sample: Rows the cuts are computed and scored on; the others take the label of their
            5 nearest sampled rows (agglomerative clustering is quadratic in rows).
        random_state: Seed of the sample.

    Attributes:
        labels_: Cluster of each row (never ``-1``).
        selection_: The silhouette of each cut tried and the chosen number of clusters.

    Examples:
        >>> from sklearn.datasets import make_blobs
        >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
        >>> int(SilhouetteAgglomerative(metric="euclidean").fit(X).labels_.max()) + 1
        3
    """

    def __init__(self, max_clusters: int = 8, tolerance: float = 0.03,
                 min_silhouette: float = 0.1, min_share: float = 0.1, linkage: str = "average",
                 metric: str = "cosine", sample: int = 2000, random_state: int | None = 0) -> None:
        self.max_clusters = max_clusters
        self.min_share = min_share
        self.tolerance = tolerance
        self.min_silhouette = min_silhouette
        self.linkage = linkage
        self.metric = metric
        self.sample = sample
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> SilhouetteAgglomerative:
        """Try every cut from 2 to ``max_clusters`` clusters and keep one (see the class doc)."""
        import numpy as np
        from sklearn.cluster import AgglomerativeClustering
        from sklearn.metrics import silhouette_score

        if isinstance(self.max_clusters, bool) or not isinstance(self.max_clusters, int) or \
                self.max_clusters < 1:
            raise ConfigError(f"max_clusters must be an int >= 1, got {self.max_clusters!r}")
        if self.linkage not in ("average", "complete", "single", "ward"):
            raise ConfigError(f"linkage must be average, complete, single or ward, got "
                              f"{self.linkage!r}")
        if self.metric not in ("cosine", "euclidean"):
            raise ConfigError(f"metric must be 'cosine' or 'euclidean', got {self.metric!r}")
        X = np.asarray(X, dtype=np.float64)
        n = len(X)
        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(n, min(n, int(self.sample)), replace=False))
        Xs = X[sample]
        metric = "euclidean" if self.linkage == "ward" else self.metric
        if metric == "cosine":  # cosine is undefined for a zero row
            norms = np.linalg.norm(Xs, axis=1)
            Xs = Xs[norms > 0] if (norms > 0).sum() >= 2 else Xs + 1e-9
            sample = sample[norms > 0] if (norms > 0).sum() >= 2 else sample
        distinct = len(np.unique(Xs, axis=0)) if len(Xs) else 0
        tried: dict[int, float] = {}
        cuts: dict[int, np.ndarray] = {}
        for k in range(2, min(int(self.max_clusters), distinct - 1) + 1):
            labels = AgglomerativeClustering(n_clusters=k, linkage=self.linkage,
                                             metric=metric).fit(Xs).labels_
            if np.bincount(labels).min() < self.min_share * len(labels):
                continue  # a cut that splits off a sliver is not a task boundary
            tried[k] = float(silhouette_score(Xs, labels, metric=metric))
            cuts[k] = labels
        best = max(tried.values(), default=-1.0)
        chosen = 1
        if best >= self.min_silhouette:
            chosen = min(k for k, score in tried.items() if score >= best - self.tolerance)
        if chosen == 1:
            self.labels_ = np.zeros(n, dtype=np.int64)
        else:
            from sklearn.neighbors import KNeighborsClassifier

            neighbours = KNeighborsClassifier(n_neighbors=min(5, len(Xs)), metric=metric)
            self.labels_ = neighbours.fit(Xs, cuts[chosen]).predict(X).astype(np.int64)
            self.labels_[sample] = cuts[chosen]
        self.selection_ = {
            "method": (f"agglomerative ({self.linkage}, {metric}); clusters: the fewest whose "
                       f"silhouette is within {self.tolerance} of the best (one if the best is "
                       f"under {self.min_silhouette})"),
            "silhouettes": {k: round(v, 4) for k, v in tried.items()},
            "chosen": {"n_clusters": chosen, "silhouette": round(tried.get(chosen, 0.0), 4)},
        }
        return self


def _cut_tree(X: np.ndarray, tree: np.ndarray, size: int, method: str) -> np.ndarray:
    """HDBSCAN's labels for ``min_cluster_size=size`` from an already built single-linkage tree
    (what ``hdbscan.HDBSCAN.fit`` does after building the tree; same result)."""
    import numpy as np
    from hdbscan.hdbscan_ import _tree_to_labels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = _tree_to_labels(X, tree, min_cluster_size=size,
                                 cluster_selection_method=method)[0]
    return np.asarray(labels, dtype=np.int64)


def _one_standard_error_pick(results: list[tuple[float, float, Any]]) -> int | None:
    """Index of the coarsest result scoring within one standard error of the best.

    Candidates come in order of growing ``min_cluster_size``. Scores of neighbouring granularities
    are often within noise of each other; the one-standard-error rule of model selection
    (Breiman et al., 1984) then prefers the simpler model: fewer, larger tasks.
    """
    found = [i for i, (_, _, labels) in enumerate(results) if labels.max() >= 0]
    if not found:
        return None
    best = max(found, key=lambda i: results[i][0])
    floor = results[best][0] - results[best][1]
    return max(i for i in found if results[i][0] >= floor)
