"""The default pipeline end to end with the real, offline MiniLM embedder on short texts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from slm_agents.cluster import TaskClusterer

CITIES = ["Oslo", "Lima", "Paris", "Cairo", "Tokyo", "Quito", "Dakar", "Perth", "Bern", "Riga",
          "Kyiv", "Baku", "Rome", "Madrid"]
TOPICS = [
    ["What's the weather in {} tomorrow?", "What will the weather be like in {} this weekend?",
     "Weather forecast for {}, please"],
    ["Book me a flight to {} next Monday", "Find me a cheap flight to {}",
     "I need a flight to {} in May"],
    ["Give me a recipe for a traditional dish from {}", "What's a classic recipe from {}?",
     "How do I cook a typical dish from {}?"],
]


@pytest.fixture(scope="module")
def texts_and_truth() -> tuple[list[str], np.ndarray]:
    texts, truth = [], []
    for topic, templates in enumerate(TOPICS):
        for i, city in enumerate(CITIES):
            texts.append(templates[i % len(templates)].format(city))
            truth.append(topic)
    return texts, np.array(truth)


def test_minilm_pipeline_finds_three_topics_and_assigns_paraphrases(
        texts_and_truth: tuple[list[str], np.ndarray]) -> None:
    texts, truth = texts_and_truth
    clf = TaskClusterer().fit(texts)  # MiniLM, PCA, HDBSCAN: every default
    assert clf.n_tasks_ == 3
    assert adjusted_rand_score(truth, clf.labels_) > 0.85
    assert np.array_equal(clf.predict(texts), clf.labels_)
    weather = int(np.bincount(clf.labels_[truth == 0][clf.labels_[truth == 0] >= 0]).argmax())
    label, confidence = clf.assign("Is it going to be sunny in Vienna on Friday?")
    assert label == weather and confidence >= 0.5
    assert clf.assign("Explain the proof of Fermat's last theorem")[0] == -1
