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
    # 42 short texts: a few may stay unassigned (-1, left to the LLM) or stray.
    assert adjusted_rand_score(truth, clf.labels_) > 0.8
    assert np.array_equal(clf.predict(texts), clf.labels_)
    weather = int(np.bincount(clf.labels_[truth == 0][clf.labels_[truth == 0] >= 0]).argmax())
    label, confidence = clf.assign("Is it going to be sunny in Vienna on Friday?")
    assert label == weather and confidence >= 0.5
    assert clf.assign("Explain the proof of Fermat's last theorem")[0] == -1


def test_int8_and_shorter_inputs_stay_close_to_the_float32_vectors_and_cache_apart(
        texts_and_truth: tuple[list[str], np.ndarray]) -> None:
    from slm_agents.cluster import MiniLMEmbedder
    from slm_agents.cluster.embedders import embedder_from_spec

    texts = texts_and_truth[0][:12] + ["a long message " * 80]
    full = MiniLMEmbedder().embed(texts)
    fast = MiniLMEmbedder(quantize=True, max_tokens=64)
    quick = fast.embed(texts)
    one = fast.embed(texts[:1])  # the single-text (router) path
    assert quick.shape == full.shape
    assert np.allclose(np.linalg.norm(quick, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(full[:12] * quick[:12], axis=1))) > 0.9
    # One text per forward pass: a text's vector does not depend on the texts embedded with it.
    assert np.allclose(one[0], quick[0], atol=1e-6)
    assert np.allclose(fast.embed(texts[3:5])[1], quick[4], atol=1e-6)
    assert fast.cache_key != MiniLMEmbedder().cache_key
    assert fast.cache_key.endswith(":int8-per-channel:max64")
    rebuilt = embedder_from_spec(fast.to_spec())
    assert (rebuilt.quantize, rebuilt.max_tokens) == (True, 64)


@pytest.mark.parametrize("bad", [0, 4, True, "64"])
def test_max_tokens_must_be_a_sensible_int(bad: object) -> None:
    from slm_agents.cluster import MiniLMEmbedder
    from slm_agents.errors import ConfigError

    with pytest.raises(ConfigError, match="max_tokens"):
        MiniLMEmbedder(max_tokens=bad).embed(["hello"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("quantize", "max_tokens"), [(True, None), (False, None), (True, 16)])
def test_the_lean_single_text_pass_gives_sentence_transformers_vector_exactly(
        quantize: bool, max_tokens: int | None) -> None:
    from slm_agents.cluster import MiniLMEmbedder
    from slm_agents.cluster.embedders import _BertMeanEncoder, _forward_one, _prepare

    model = MiniLMEmbedder(quantize=quantize, max_tokens=max_tokens)._model()
    encoder = _BertMeanEncoder.for_model(model)
    assert encoder is not None
    texts = ["  Book a flight to Oslo on 12 May  ", "x", "word " * 400,
             "Ünïcödé naïve café — 東京", "line one\nline\ttwo", "<NUM> orders for <ID>"]
    for text in texts:
        expected = _forward_one(model, _prepare(model, text))
        assert np.array_equal(encoder(text), expected), text[:20]


def test_models_the_lean_pass_does_not_reproduce_use_sentence_transformers() -> None:
    from slm_agents.cluster import MiniLMEmbedder
    from slm_agents.cluster.embedders import _FAST, _BertMeanEncoder, _forward_one, _prepare

    embedder = MiniLMEmbedder()
    model = embedder._model()
    pooling = model[1]
    before = pooling.pooling_mode
    try:
        pooling.pooling_mode = "cls"  # another pooling: not what the lean pass computes
        assert _BertMeanEncoder.for_model(model) is None
    finally:
        pooling.pooling_mode = before
    cached = _FAST.get(id(model), False)
    try:
        _FAST[id(model)] = None  # as for an unsupported model: the frameworks' pass
        text = "Weather in Lima tomorrow?"
        assert np.array_equal(embedder.embed([text]), _forward_one(model, _prepare(model, text)))
    finally:
        if cached is False:
            _FAST.pop(id(model), None)
        else:
            _FAST[id(model)] = cached
