"""TaskClusterer: recovering known tasks, structure signals, predict/assign, contract, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from slm_agents.cluster import HashingEmbedder, NoReduction, TaskClusterer
from slm_agents.errors import ClusteringError, ConfigError, NotFittedError
from slm_agents.records import CallRecord, Message, ToolCall

N_BLOBS = 4


def code(i: int) -> str:
    """``i`` in letters (``"ba"`` is 26): digits would be masked before embedding."""
    out = ""
    while True:
        i, digit = divmod(i, 26)
        out = chr(ord("a") + digit) + out
        if not i:
            return "p" + out


class BlobEmbedder:
    """A user-supplied embedder: text ``code(i)`` is point ``i`` of known, well separated blobs."""

    cache_key = "blobs:v2"

    def __init__(self, points: np.ndarray) -> None:
        self.points = points

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            i = 0
            for letter in text[1:]:
                i = i * 26 + ord(letter) - ord("a")
            rows.append(self.points[i])
        return np.stack(rows).astype(np.float32)


@pytest.fixture(scope="module")
def blobs() -> tuple[BlobEmbedder, list[str], np.ndarray]:
    centers = 6.0 * np.eye(N_BLOBS, 8)  # one direction per blob: apart after L2 normalisation
    points, truth = make_blobs(n_samples=400, centers=centers, cluster_std=0.5, random_state=0)
    return BlobEmbedder(points), [code(i) for i in range(len(points))], truth


@pytest.fixture(scope="module")
def fitted(blobs: tuple) -> TaskClusterer:
    embedder, texts, _ = blobs
    return TaskClusterer(embedder=embedder).fit(texts)


def test_known_clusters_of_embeddings_are_recovered(fitted: TaskClusterer, blobs: tuple) -> None:
    _, _, truth = blobs
    assert fitted.n_tasks_ == N_BLOBS
    assigned = fitted.labels_ >= 0
    assert assigned.mean() > 0.95
    assert adjusted_rand_score(truth[assigned], fitted.labels_[assigned]) > 0.95
    assert fitted.selection_["chosen"] in fitted.selection_["candidates"]
    assert 0.0 <= fitted.selection_["unassigned_share"] < 0.05


def test_tasks_are_numbered_by_size_largest_first(fitted: TaskClusterer) -> None:
    sizes = [int((fitted.labels_ == t).sum()) for t in range(fitted.n_tasks_)]
    assert sizes == sorted(sizes, reverse=True)


def test_predict_agrees_with_the_fitted_labels_on_the_training_items(
        fitted: TaskClusterer, blobs: tuple) -> None:
    _, texts, _ = blobs
    labels, confidence = fitted.predict_with_confidence(texts)
    assert np.array_equal(labels, fitted.labels_)
    assert ((confidence >= 0) & (confidence <= 1)).all()
    assert np.array_equal(fitted.fit_predict(texts), fitted.labels_)


def test_a_new_point_near_a_blob_gets_its_task_and_a_far_one_gets_none(
        fitted: TaskClusterer, blobs: tuple) -> None:
    embedder, _, truth = blobs
    member = int(np.flatnonzero(truth == 2)[0])
    near = embedder.points[member] + 0.05
    far = -6.0 * np.ones(8)  # a direction no blob points to
    embedder.points = np.vstack([embedder.points, near, far])
    n = len(embedder.points)
    labels, confidence = fitted.predict_with_confidence([code(n - 2), code(n - 1)])
    assert labels[0] == fitted.labels_[member] and confidence[0] > 0.8
    assert labels[1] == -1 and confidence[1] < 0.5
    assert fitted.assign(code(n - 2)) == (int(labels[0]), pytest.approx(float(confidence[0])))


def _call(agent: str, text: str, tool: str | None) -> CallRecord:
    prompt = f"You are the {agent} agent. Today is 2024-05-0{len(text) % 9 + 1}."
    return CallRecord(agent=agent, messages=[Message(role="system", content=prompt),
                                             Message(role="user", content=text)],
                      tool_calls=[ToolCall(name=tool)] if tool else [],
                      output=None if tool else "done")


NAMES = "ann bob chen dana eli fatima goran hiro ines jamal kofi lena maria nils omar".split()
USER_TEXTS = [f"where is my parcel, asks {name}" for name in NAMES]


@pytest.mark.parametrize("text_weight", [
    # structure alone: text off
    0.0,
    # text on, but identical for both agents: structure must still split them
    1.0,
])
def test_structure_separates_two_agents_receiving_identical_user_text(text_weight: float
                                                                       ) -> None:
    records = [_call("triage", t, None) for t in USER_TEXTS]
    records += [_call("lookup", t, "find_order") for t in USER_TEXTS]
    clf = TaskClusterer(embedder=HashingEmbedder(), text_weight=text_weight).fit(records)
    half = len(USER_TEXTS)
    assert clf.n_tasks_ == 2
    assert len(set(clf.labels_[:half])) == 1 and len(set(clf.labels_[half:])) == 1
    assert clf.labels_[0] != clf.labels_[-1]
    names = sorted(clf.task_names_.values())
    assert names[0].startswith("find_order") and names[1].startswith("triage")


def test_a_call_being_routed_without_output_is_assigned_on_its_other_signals() -> None:
    records = [_call("triage", t, None) for t in USER_TEXTS]
    records += [_call("lookup", t, "find_order") for t in USER_TEXTS]
    clf = TaskClusterer(embedder=HashingEmbedder()).fit(records)
    pending = records[-1].model_copy(update={"tool_calls": [], "output": None})
    label, confidence = clf.assign(pending)
    assert label == clf.labels_[-1] and confidence > 0.5


def test_assign_one_call_matches_predicting_it_in_a_batch() -> None:
    # assign() takes the single-query path (numpy loops instead of BLAS products): same answer.
    records = [_call("triage", t, None) for t in USER_TEXTS]
    records += [_call("lookup", t, "find_order") for t in USER_TEXTS]
    clf = TaskClusterer(embedder=HashingEmbedder()).fit(records)
    pending = [r.model_copy(update={"tool_calls": [], "output": None}) for r in records]
    labels, confidence = clf.predict_with_confidence(pending)
    for record, label, conf in zip(pending, labels, confidence, strict=True):
        one_label, one_conf = clf.assign(record)
        assert one_label == label
        assert one_conf == pytest.approx(conf, abs=1e-5)


def test_with_no_text_signal_any_item_still_gets_a_label() -> None:
    records = [_call("a", "", None)] * 3 + [_call("b", "", "t")] * 3
    clf = TaskClusterer(embedder=HashingEmbedder()).fit(records)
    assert clf.n_tasks_ >= 1 and len(clf.labels_) == 6


@pytest.mark.parametrize(("items", "n_tasks"), [
    # one item
    (["just one call"], 1),
    # all identical
    (["same text"] * 25, 1),
    # two distinct texts, nothing to separate on: one task
    (["alpha beta", "gamma delta"], 1),
])
def test_tiny_or_identical_inputs_make_a_single_task(items: list, n_tasks: int) -> None:
    clf = TaskClusterer(embedder=HashingEmbedder()).fit(items)
    assert clf.n_tasks_ == n_tasks
    assert set(clf.labels_.tolist()) == {0}
    assert clf.predict(items).tolist() == [0] * len(items)


@pytest.mark.parametrize(("items", "error", "message"), [
    # nothing at all
    ([], ClusteringError, "no items"),
    # only blank strings
    (["", "  ", "\n"], ClusteringError, "empty string"),
    # wrong item type, listing accepted forms
    ([1.5, 2.5], ClusteringError, "accepted forms"),
    # a single string instead of a list
    ("a single string", ClusteringError, "sequence"),
])
def test_bad_input_raises_a_clear_error(items: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        TaskClusterer(embedder=HashingEmbedder()).fit(items)


@pytest.mark.parametrize("params", [
    # every weight zero
    {"text_weight": 0, "agent_weight": 0, "template_weight": 0, "tools_weight": 0,
     "output_weight": 0},
    # confidence outside [0, 1]
    {"min_confidence": 2.0},
    # a min_cluster_size of one
    {"min_cluster_size": 1},
    # a context similarity outside [0, 1]
    {"context_similarity": 1.5},
    # a reducer without fit_transform
    {"reducer": object()},
    # an embedder without embed
    {"embedder": "minilm"},
])
def test_invalid_options_raise_a_config_error_in_fit(params: dict) -> None:
    with pytest.raises(ConfigError):
        TaskClusterer(**{"embedder": HashingEmbedder(), **params}).fit(["a", "b"])


def test_predict_before_fit_raises_not_fitted() -> None:
    clf = TaskClusterer(embedder=HashingEmbedder())
    for use in (lambda: clf.predict(["x"]), lambda: clf.assign("x"), lambda: clf.report()):
        with pytest.raises(NotFittedError):
            use()


def test_init_only_stores_and_params_survive_clone_and_set_params() -> None:
    clf = TaskClusterer(embedder=HashingEmbedder(n_features=64), agent_weight=0.2)
    assert not [name for name in vars(clf) if name.endswith("_")]
    copy = clone(clf)
    assert copy.get_params()["embedder__n_features"] == 64
    assert copy.agent_weight == 0.2 and copy.embedder is not clf.embedder
    copy.set_params(embedder__n_features=32, tools_weight=0.0)
    assert (copy.embedder.n_features, copy.tools_weight) == (32, 0.0)
    with pytest.raises(ConfigError, match="valid parameters"):
        copy.set_params(no_such_option=1)


def test_any_reducer_and_clusterer_can_be_swapped_in(blobs: tuple) -> None:
    embedder, texts, truth = blobs
    clf = TaskClusterer(embedder=embedder, reducer=NoReduction(),
                        clusterer=KMeans(N_BLOBS, n_init=3, random_state=0)).fit(texts)
    assert clf.n_tasks_ == N_BLOBS
    assert adjusted_rand_score(truth, clf.labels_) > 0.95
    assert "KMeans" in clf.selection_["method"]


def test_a_clusterer_returning_bad_labels_raises_a_clustering_error() -> None:
    class Broken:
        def fit(self, X: np.ndarray) -> Broken:
            self.labels_ = np.zeros(len(X) + 1, dtype=int)
            return self

    with pytest.raises(ClusteringError, match="labels_"):
        TaskClusterer(embedder=HashingEmbedder(), clusterer=Broken()).fit(
            ["alpha beta", "gamma delta", "epsilon zeta"])


def test_names_keywords_and_representatives_describe_each_task(fitted: TaskClusterer) -> None:
    assert set(fitted.task_names_) == set(range(fitted.n_tasks_)) == set(fitted.keywords_)
    for task, indices in fitted.representatives_.items():
        assert 1 <= len(indices) <= 5
        assert all(fitted.labels_[i] == task for i in indices)
    assert fitted.embedding_2d_.shape == (len(fitted.labels_), 2)


def test_the_namer_hook_names_the_tasks(blobs: tuple) -> None:
    embedder, texts, _ = blobs
    clf = TaskClusterer(embedder=embedder, namer=lambda s: f"T{s.task_id} ({s.size})").fit(texts)
    assert clf.task_names_[0] == f"T0 ({int((clf.labels_ == 0).sum())})"


def test_report_covers_the_fitted_items(fitted: TaskClusterer, blobs: tuple) -> None:
    pytest.importorskip("slm_agents.cluster.report")
    report = fitted.report()
    assert report.n_calls == len(blobs[1])
    assert len(report.tasks) == fitted.n_tasks_


INTENTS = {
    "shop": ["where is my parcel number {n}, asks {name}", "refund my order {n} please, {name}"],
    "hr": ["how many leave days does {name} have left this year",
           "what is the company policy on remote work, asked {name} on day {n}"],
}


def test_each_context_is_clustered_on_its_own_so_intents_within_one_agent_separate() -> None:
    """Two agents, two intents each: the agents split by structure, the intents by content."""
    records, truth = [], []
    for agent, intents in INTENTS.items():
        for intent, template in enumerate(intents):
            for i, name in enumerate(NAMES * 2):
                records.append(_call(agent, template.format(n=100 + i, name=name), None))
                truth.append(f"{agent}{intent}")
    clf = TaskClusterer(embedder=HashingEmbedder()).fit(records)
    assert adjusted_rand_score(truth, clf.labels_) == 1.0
    contexts = clf.selection_["contexts"]
    assert [c["tasks"] for c in contexts] == [2, 2]
    assert all("silhouettes" in c["selection"] for c in contexts)
    assert np.array_equal(clf.predict(records), clf.labels_)
    # Without the split, one space over every call: still a valid clustering (no crash).
    flat = TaskClusterer(embedder=HashingEmbedder(), split_by_context=False).fit(records)
    assert "contexts" not in flat.selection_ and flat.n_tasks_ >= 1


def test_a_context_holding_one_intent_stays_one_task() -> None:
    # (A known limit: one intent asked in several distinct phrasings can split by phrasing.)
    records = [_call("shop", f"where is my parcel number {100 + i}", None) for i in range(30)]
    records += [_call("hr", "how many leave days do I have left", None)] * 15
    clf = TaskClusterer(embedder=HashingEmbedder()).fit(records)
    assert clf.n_tasks_ == 2
    assert len(set(clf.labels_[:30])) == 1
