"""Drift figures, stable task ids, the never-moving split and the promotion gate, in isolation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from slm_agents.curate import Dataset
from slm_agents.evaluate import EvalReport, ExampleResult
from slm_agents.refine.drift import Baseline, DriftThresholds, detect_drift
from slm_agents.refine.gate import judge, wilson_lower_bound
from slm_agents.refine.tasks import TaskAssigner, match_labels, stable_split
from slm_agents.train.generation import Generation


def _blobs(n: int, centers: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=n, centers=np.asarray(centers, dtype=float), cluster_std=0.3,
                      random_state=seed)
    return X, y


CENTRES = np.eye(40)[:4] * 5  # four well separated directions


@pytest.fixture
def baseline() -> Baseline:
    X, y = _blobs(300, CENTRES[:3])
    return Baseline.fit(X, y)


def test_traffic_like_the_training_data_raises_no_flag(baseline: Baseline) -> None:
    X, y = _blobs(150, CENTRES[:3], seed=1)
    report = detect_drift(baseline, X, y)
    assert not report.flagged and not report.recluster and report.unassigned_share == 0
    assert [t.task for t in report.tasks] == [0, 1, 2]
    assert all(t.centroid_similarity > 0.99 and abs(t.similarity_drop) < 0.02
               for t in report.tasks)


def test_a_new_task_shows_as_a_rising_unassigned_share_and_a_dense_region(
        baseline: Baseline) -> None:
    known, y = _blobs(100, CENTRES[:2], seed=1)
    new, _ = _blobs(40, CENTRES[3:4], seed=2)
    X = np.vstack([known, new])
    labels = np.concatenate([y, -np.ones(40, dtype=int)])
    report = detect_drift(baseline, X, labels, ids=[f"r{i}" for i in range(140)])
    assert report.unassigned_flag and report.unassigned_rise == pytest.approx(40 / 140, abs=1e-3)
    assert report.new_regions == 1 and report.recluster
    region = report.regions[0]
    assert region.size == 40 and region.record_ids[0] == "r100"
    assert region.cohesion >= 0.9 * region.baseline_cohesion
    assert region.nearest_similarity is not None and region.nearest_similarity < 0.5
    assert "unassigned share rose" in report.reasons[0] and "dense region" in report.reasons[1]


def test_scattered_unassigned_calls_are_not_a_region(baseline: Baseline) -> None:
    rng = np.random.default_rng(0)
    known, y = _blobs(100, CENTRES[:2], seed=1)
    X = np.vstack([known, rng.normal(size=(40, 40))])
    labels = np.concatenate([y, -np.ones(40, dtype=int)])
    report = detect_drift(baseline, X, labels)
    assert report.unassigned_flag and report.regions == [] and report.new_regions == 0


def test_a_task_whose_inputs_moved_is_flagged_with_its_figures(baseline: Baseline) -> None:
    moved_centre = CENTRES[0] * 0.8 + CENTRES[3] * 0.6  # same task label, inputs shifted
    X, _ = _blobs(50, [moved_centre], seed=3)
    report = detect_drift(baseline, X, np.zeros(50, dtype=int))
    (task,) = report.tasks
    assert task.moved and report.moved_tasks == [0] and not report.recluster
    assert task.centroid_similarity < 0.9 and task.similarity_drop > 0.1
    assert "task 0 moved" in report.reasons[0]
    # After retraining on the moved data, the baseline follows it.
    baseline.update(0, X)
    assert not detect_drift(baseline, X, np.zeros(50, dtype=int)).flagged


def test_too_few_calls_are_not_judged(baseline: Baseline) -> None:
    X, _ = _blobs(5, CENTRES[3:4])
    report = detect_drift(baseline, X, -np.ones(5, dtype=int), DriftThresholds(min_items=20))
    assert report.unassigned_share == 1.0 and not report.flagged


def test_baseline_round_trips_through_files(baseline: Baseline, tmp_path: Path) -> None:
    baseline.save(tmp_path / "b")
    loaded = Baseline.load(tmp_path / "b")
    assert loaded.cohesion == pytest.approx(baseline.cohesion)
    assert loaded.sizes == baseline.sizes and list(loaded.centroids) == [0, 1, 2]
    assert np.allclose(loaded.centroids[1], baseline.centroids[1], atol=1e-6)


def test_drift_report_renders_its_numbers(baseline: Baseline) -> None:
    X, y = _blobs(60, CENTRES[:3], seed=1)
    text = detect_drift(baseline, X, y).to_markdown()
    assert "unassigned share: 0.0%" in text and "| 0 | 20 |" in text


@pytest.mark.parametrize("old, new, expected", [
    # a cluster keeps the id of the task most of its calls had
    ([3, 3, 3, 4, 4, 4], [1, 1, 1, 0, 0, 0], {1: 3, 0: 4}),
    # a cluster of formerly unassigned calls is a new task
    ([3, 3, -1, -1, -1], [0, 0, 1, 1, 1], {0: 3, 1: 5}),
    # two clusters claiming one old task: the larger keeps it, the other is new
    ([3, 3, 3, 3, 3], [0, 0, 0, 1, 1], {0: 3, 1: 5}),
    # a cluster without a clear majority is new
    ([3, 4, -1, -1], [0, 0, 0, 0], {0: 5}),
])
def test_match_labels_keeps_old_ids_where_clusters_overlap(old, new, expected) -> None:
    mapping, next_id = match_labels(old, new, next_id=5)
    assert mapping == expected and next_id == 5 + sum(v >= 5 for v in expected.values())


def test_task_assigner_translates_labels_to_task_ids() -> None:
    class Fitted:
        labels_ = np.array([0, 1, -1])

        def predict_with_confidence(self, items: Any) -> Any:
            return np.array([1, -1, 0]), np.array([0.9, 0.1, 0.8])

    assigner = TaskAssigner(Fitted(), {0: 7, 1: 3}, {7: "seven"})
    labels, confidence = assigner.predict_with_confidence(["a", "b", "c"])
    assert labels.tolist() == [3, -1, 7] and assigner.labels_.tolist() == [7, 3, -1]
    assert assigner.n_tasks_ == 2 and assigner.task_names_ == {7: "seven"}


def _dataset(n: int, prefix: str = "r") -> Dataset:
    examples = [{"messages": [{"role": "user", "content": str(i)},
                              {"role": "assistant", "content": str(i)}]} for i in range(n)]
    return Dataset(examples, [{"record_id": f"{prefix}{i}", "trace_id": f"t{i // 2}"}
                              for i in range(n)])


def test_stable_split_never_moves_an_example_as_the_data_grows() -> None:
    small, large = _dataset(100), _dataset(400)
    held_out = {m["record_id"] for m in stable_split(small, 0.1, 0.2).test.meta}
    grown = {m["record_id"] for m in stable_split(large, 0.1, 0.2).test.meta}
    assert held_out <= grown and 0.1 < len(grown) / 400 < 0.3
    splits = stable_split(large, 0.1, 0.2)
    traces = [{m["trace_id"] for m in part.meta} for _, part in splits.items()]
    assert not (traces[0] & traces[2]) and not (traces[1] & traces[2])  # traces stay together
    assert sum(splits.sizes().values()) == 400


def _report(values: list[int]) -> EvalReport:
    answer = Generation(text="x")
    results = [ExampleResult(index=i, key=f"k{i}", agreement=bool(v), reference=answer,
                             prediction=answer) for i, v in enumerate(values)]
    return EvalReport.from_results(results, bootstrap=500)


def test_wilson_bound_is_what_the_gate_documents() -> None:
    assert wilson_lower_bound(28, 28) == pytest.approx(0.912, abs=1e-3)
    assert wilson_lower_bound(0, 0) == 0.0 and wilson_lower_bound(0, 10) == 0.0


@pytest.mark.parametrize("candidate, incumbent, bound, promote, phrase", [
    ([1] * 30, None, "lower", True, ">= bar"),  # clears the bar, nothing serving yet
    ([1] * 20, None, "lower", False, "< bar"),  # perfect but too few to prove 90%
    ([1] * 20, None, "point", True, ">= bar"),  # the point estimate is enough when asked
    ([1] * 40, [1] * 40, "lower", False, "does not beat"),  # as good is not better
    ([1] * 40, [1] * 30 + [0] * 10, "lower", True, "beats the incumbent"),
    ([1] * 30 + [0] * 10, [1] * 40, "point", False, "< bar"),  # worse on both counts
])
def test_the_gate_needs_the_bar_and_a_confident_win(candidate, incumbent, bound, promote,
                                                    phrase) -> None:
    verdict = judge(_report(candidate), None if incumbent is None else _report(incumbent),
                    quality_bar=0.9, confidence=0.95, bar_bound=bound)
    assert verdict.promote is promote and phrase in verdict.reason
    assert (verdict.comparison is None) is (incumbent is None)
