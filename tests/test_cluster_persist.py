"""Saving and loading a fitted TaskClusterer: a directory of JSON and .npz, no pickle."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from slm_agents.cluster import HashingEmbedder, TaskClusterer
from slm_agents.errors import ConfigError, ModelLoadError
from slm_agents.records import CallRecord, Message, ToolCall

TOPICS = {
    "flight": ("book a flight from {} to Rome", "search_flights"),
    "weather": ("what is the weather like in {} today", "get_weather"),
    "refund": ("I want a refund for my order from {}", None),
}
CITIES = ["Oslo", "Lima", "Paris", "Cairo", "Tokyo", "Quito", "Dakar", "Perth", "Bern", "Riga",
          "Kyiv", "Baku"]


def _records() -> list[CallRecord]:
    out = []
    for agent, (text, tool) in TOPICS.items():
        for city in CITIES:
            out.append(CallRecord(
                agent=agent, messages=[Message(role="system", content=f"You handle {agent}."),
                                       Message(role="user", content=text.format(city))],
                tool_calls=[ToolCall(name=tool)] if tool else [],
                output=None if tool else "ok"))
    return out


@pytest.fixture(scope="module")
def fitted() -> TaskClusterer:
    return TaskClusterer(embedder=HashingEmbedder(n_features=256), agent_weight=0.3,
                         namer=lambda summary: f"task-{summary.task_id}").fit(_records())


NEW_ITEMS = ["book a flight from Lisbon to Rome", "weather in Oslo", "something else entirely"]


def test_a_loaded_clusterer_predicts_exactly_as_the_saved_one(fitted: TaskClusterer,
                                                              tmp_path: Path) -> None:
    fitted.save(tmp_path / "clf")
    loaded = TaskClusterer.load(tmp_path / "clf")
    for items in (_records(), NEW_ITEMS):
        before = fitted.predict_with_confidence(items)
        after = loaded.predict_with_confidence(items)
        assert np.array_equal(before[0], after[0])
        assert np.array_equal(before[1], after[1])
    assert loaded.assign(NEW_ITEMS[0]) == fitted.assign(NEW_ITEMS[0])


def test_a_loaded_clusterer_keeps_its_fitted_attributes_and_params(fitted: TaskClusterer,
                                                                   tmp_path: Path) -> None:
    fitted.save(tmp_path / "clf")
    loaded = TaskClusterer.load(tmp_path / "clf")
    assert np.array_equal(loaded.labels_, fitted.labels_)
    assert loaded.task_names_ == fitted.task_names_
    assert loaded.keywords_ == fitted.keywords_
    assert loaded.representatives_ == fitted.representatives_
    assert loaded.n_tasks_ == fitted.n_tasks_
    assert loaded.agent_weight == 0.3
    assert loaded.embedder.get_params() == fitted.embedder.get_params()
    assert loaded.embedding_2d_.shape == (len(fitted.labels_), 2)


def test_the_saved_files_are_json_and_npz_without_pickled_objects(fitted: TaskClusterer,
                                                                  tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "clf")
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "config.json"]
    config = json.loads((path / "config.json").read_text())
    assert config["embedder"] == {"kind": "hashing", "n_features": 256, "ngram_range": [1, 2]}
    assert config["unsaved_params"] == ["namer"]  # a callable cannot be JSON
    with np.load(path / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)
    assert zipfile.is_zipfile(path / "arrays.npz")


class Doubler:
    """A user-supplied embedder: saved as "custom", to be passed again to load."""

    def embed(self, texts: list[str]) -> np.ndarray:
        return HashingEmbedder(n_features=64).embed([t + " " + t for t in texts])


def test_a_custom_embedder_must_be_passed_again_to_load(tmp_path: Path) -> None:
    clf = TaskClusterer(embedder=Doubler()).fit(_records())
    clf.save(tmp_path / "clf")
    with pytest.raises(ConfigError, match="pass it again"):
        TaskClusterer.load(tmp_path / "clf")
    loaded = TaskClusterer.load(tmp_path / "clf", embedder=Doubler())
    assert np.array_equal(loaded.predict(NEW_ITEMS), clf.predict(NEW_ITEMS))


def test_loading_from_a_directory_without_a_clusterer_raises_model_load_error(tmp_path: Path
                                                                              ) -> None:
    with pytest.raises(ModelLoadError, match="no saved TaskClusterer"):
        TaskClusterer.load(tmp_path)


def test_a_loaded_clusterer_reports_on_records_passed_again(fitted: TaskClusterer,
                                                            tmp_path: Path) -> None:
    pytest.importorskip("slm_agents.cluster.report")
    fitted.save(tmp_path / "clf")
    loaded = TaskClusterer.load(tmp_path / "clf")
    with pytest.raises(ConfigError, match="records="):
        loaded.report()
    assert loaded.report(records=_records()).n_calls == len(_records())


def test_a_clusterer_saved_before_content_masking_and_int8_loads_with_its_old_behaviour(
        tmp_path: Path) -> None:
    import json

    from slm_agents.cluster import MiniLMEmbedder

    clf = TaskClusterer(embedder=MiniLMEmbedder()).fit(
        [f"what is {i} plus {i + 1}" for i in range(6)] + ["translate the word cat"] * 6)
    path = clf.save(tmp_path / "clf")
    config = json.loads((path / "config.json").read_text())
    for name in ("mask_content", "split_by_context"):
        del config["params"][name]  # as a clusterer saved by an earlier version has none
    del config["embedder"]["quantize"]
    (path / "config.json").write_text(json.dumps(config))
    old = TaskClusterer.load(path)
    assert old.mask_content is False and old.split_by_context is False
    assert old.embedder_.quantize is False
    assert TaskClusterer.load(tmp_path / "clf").embedder_.cache_key != clf.embedder_.cache_key
