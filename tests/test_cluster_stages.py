"""The reduction and clustering stages: pass-through, PCA, and HDBSCAN choosing its granularity."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from slm_agents.cluster.stages import (
    AutoHDBSCAN,
    NoReduction,
    PCAReducer,
    SilhouetteAgglomerative,
    candidate_sizes,
    default_reducer,
    weighted_validity,
)
from slm_agents.errors import ConfigError


def test_no_reduction_returns_its_input_unchanged() -> None:
    X = np.arange(6.0).reshape(3, 2)
    assert NoReduction().fit_transform(X) is X
    assert NoReduction().fit(X).transform(X) is X


def test_pca_reducer_keeps_the_components_holding_the_asked_variance() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10)) * np.array([10.0, 5.0] + [0.1] * 8)
    reducer = PCAReducer(variance=0.7)
    assert reducer.fit_transform(X).shape == (200, reducer.n_components_)
    assert reducer.n_components_ <= 2
    assert PCAReducer(variance=0.99999).fit(X).n_components_ > 2


def test_pca_reducer_rejects_a_variance_outside_zero_to_one() -> None:
    with pytest.raises(ConfigError):
        PCAReducer(variance=1.5).fit(np.eye(5))


@pytest.mark.parametrize(("n_rows", "expected"), [
    # tiny inputs still get a size to try
    (10, [2]),
    # a task has at least 5 calls
    (60, [5]),
    # a thousand rows: up to 5%
    (1000, [5, 8, 13, 20, 32, 50]),
    # twenty thousand: from 0.2% to 5%
    (20000, [40, 76, 145, 276, 525, 1000]),
    # a single row: the smallest size HDBSCAN accepts
    (1, [2]),
])
def test_candidate_sizes_scale_with_the_number_of_rows(n_rows: int, expected: list) -> None:
    assert candidate_sizes(n_rows) == expected


def test_default_reducer_is_pca_except_for_a_handful_of_rows() -> None:
    assert isinstance(default_reducer(100, 0), PCAReducer)
    assert isinstance(default_reducer(3, 0), NoReduction)


GRID = [[0, 0], [10, 0], [0, 10], [10, 10], [20, 0], [20, 10]]


@pytest.mark.parametrize(("centers", "n_samples"), [
    # three well separated blobs
    (GRID[:3], 300),
    # six blobs, more points
    (GRID, 1200),
])
def test_auto_hdbscan_recovers_blobs_and_records_its_choice(centers: list, n_samples: int
                                                            ) -> None:
    X, y = make_blobs(n_samples=n_samples, centers=centers, cluster_std=0.6, random_state=1)
    model = AutoHDBSCAN().fit(X)
    assert int(model.labels_.max()) + 1 == len(centers)
    assert adjusted_rand_score(y, model.labels_) > 0.95
    chosen = model.selection_["chosen"]
    assert chosen in model.selection_["candidates"]
    assert len(model.selection_["candidates"]) == len(candidate_sizes(n_samples))


def test_auto_hdbscan_with_a_fixed_size_tries_only_that_size() -> None:
    X, _ = make_blobs(n_samples=200, centers=2, random_state=0)
    model = AutoHDBSCAN(min_cluster_size=20).fit(X)
    assert [c["min_cluster_size"] for c in model.selection_["candidates"]] == [20]


@pytest.mark.parametrize("params", [
    # too small a size
    {"min_cluster_size": 1},
    # not a size at all
    {"min_cluster_size": "big"},
    # unknown selection method
    {"cluster_selection_method": "best"},
])
def test_auto_hdbscan_rejects_invalid_options(params: dict) -> None:
    with pytest.raises(ConfigError):
        AutoHDBSCAN(**params).fit(np.zeros((10, 2)))


def test_counting_rows_as_calls_penalises_noise_by_the_calls_it_drops() -> None:
    mst = np.array([[0, 1, 0.1], [1, 2, 1.0], [2, 3, 0.1], [3, 4, 2.0]])
    labels = np.array([0, 0, 1, 1, -1])
    light, _ = weighted_validity(mst, labels, np.ones(5))
    heavy_noise, _ = weighted_validity(mst, labels, np.array([1, 1, 1, 1, 10.0]))
    assert heavy_noise < light
    assert weighted_validity(mst, np.full(5, -1), np.ones(5)) == (-1.0, 0.0)


def test_stages_survive_sklearn_clone() -> None:
    for stage in (NoReduction(), PCAReducer(variance=0.5), AutoHDBSCAN(min_cluster_size=7)):
        copy = clone(stage)
        assert copy.get_params() == stage.get_params()


def test_auto_hdbscan_cuts_one_tree_exactly_as_separate_hdbscan_fits_would() -> None:
    """Every candidate's labels equal a full hdbscan.HDBSCAN fit at that size (same min_samples)."""
    import hdbscan

    X, _ = make_blobs(n_samples=400, centers=[[0, 0], [4, 0], [0, 4], [9, 9]], cluster_std=0.8,
                      random_state=3)
    model = AutoHDBSCAN().fit(X)
    candidates = model.selection_["candidates"]
    assert len(candidates) > 1
    for candidate in candidates:
        full = hdbscan.HDBSCAN(min_cluster_size=candidate["min_cluster_size"],
                               min_samples=candidate["min_samples"]).fit(X).labels_
        assert candidate["n_clusters"] == int(full.max()) + 1
    chosen = model.selection_["chosen"]
    full = hdbscan.HDBSCAN(min_cluster_size=chosen["min_cluster_size"],
                           min_samples=chosen["min_samples"]).fit(X).labels_
    np.testing.assert_array_equal(model.labels_, full)


@pytest.mark.parametrize("centers", [2, 3, 5])
def test_silhouette_agglomerative_finds_the_number_of_blobs(centers: int) -> None:
    X, truth = make_blobs(n_samples=300, centers=centers, cluster_std=0.4, random_state=1)
    model = SilhouetteAgglomerative(metric="euclidean").fit(X)
    assert adjusted_rand_score(truth, model.labels_) == 1.0
    assert model.selection_["chosen"]["n_clusters"] == centers
    assert centers in model.selection_["silhouettes"]
    assert set(model.selection_["silhouettes"]) <= set(range(2, 9))


def test_silhouette_agglomerative_keeps_structureless_data_as_one_cluster() -> None:
    X = np.random.default_rng(0).uniform(size=(200, 5))
    model = SilhouetteAgglomerative(min_silhouette=0.5, metric="euclidean").fit(X)
    assert set(model.labels_.tolist()) == {0}
    assert model.selection_["chosen"]["n_clusters"] == 1


def test_silhouette_agglomerative_labels_rows_beyond_its_sample_by_their_neighbours() -> None:
    X, truth = make_blobs(n_samples=900, centers=3, cluster_std=0.4, random_state=2)
    model = SilhouetteAgglomerative(metric="euclidean", sample=200).fit(X)
    assert adjusted_rand_score(truth, model.labels_) == 1.0


@pytest.mark.parametrize("params", [{"max_clusters": 0}, {"linkage": "median"},
                                    {"metric": "manhattan"}])
def test_silhouette_agglomerative_rejects_invalid_options(params: dict) -> None:
    with pytest.raises(ConfigError):
        SilhouetteAgglomerative(**params).fit(np.zeros((10, 2)))
