"""Embedders and the content-hash embedding cache (memory LRU and SQLite file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from slm_agents.cluster.embedders import (
    EmbeddingCache,
    HashingEmbedder,
    MiniLMEmbedder,
    embedder_from_spec,
    embedder_spec,
)
from slm_agents.errors import ClusteringError, ConfigError


class CountingEmbedder:
    """A user-supplied embedder that counts the texts it is asked to embed."""

    cache_key = "counting:v1"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_hashing_embedder_gives_unit_rows_and_zero_rows_for_empty_text() -> None:
    vectors = HashingEmbedder(n_features=64).embed(["book a flight", "the of", ""])
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1).round(5).tolist() == [1.0, 0.0, 0.0]


def test_hashing_embedder_is_deterministic_and_sees_shared_words() -> None:
    emb = HashingEmbedder()
    a, b, c = emb.embed(["cheap flight to rome", "cheap flight to oslo", "refund my order"])
    assert np.array_equal(a, emb.embed(["cheap flight to rome"])[0])
    assert a @ b > 0.3 > a @ c


def test_the_cache_embeds_each_distinct_text_once() -> None:
    embedder = CountingEmbedder()
    cache = EmbeddingCache(embedder)
    first = cache.embed(["aa", "b", "aa", ""])
    second = cache.embed(["b", "aa"])
    assert embedder.calls == [["aa", "b"]]
    assert np.array_equal(first[[1, 0]], second)
    assert first[3].tolist() == [0.0, 0.0]  # blank text: no signal, no embedder call


def test_the_disk_cache_serves_a_new_process_without_calling_the_embedder(tmp_path: Path
                                                                          ) -> None:
    EmbeddingCache(CountingEmbedder(), tmp_path).embed(["hello", "world"])
    fresh = CountingEmbedder()
    vectors = EmbeddingCache(fresh, tmp_path).embed(["world", "hello"])
    assert fresh.calls == []
    assert vectors.tolist() == [[5.0, 1.0], [5.0, 1.0]]
    with sqlite3.connect(tmp_path / "embeddings.sqlite") as db:  # plain SQLite: float32 bytes
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone() == (2,)


def test_the_memory_cache_forgets_the_least_recently_used_vectors() -> None:
    embedder = CountingEmbedder()
    cache = EmbeddingCache(embedder, max_items=2)
    cache.embed(["a", "b", "c"])
    cache.embed(["c"])
    cache.embed(["a"])
    assert embedder.calls == [["a", "b", "c"], ["a"]]


def test_an_embedder_without_cache_key_is_cached_in_memory_only(tmp_path: Path) -> None:
    class Plain:
        def embed(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 2), np.float32)

    EmbeddingCache(Plain(), tmp_path).embed(["x"])
    assert not (tmp_path / "embeddings.sqlite").exists()


def test_an_embedder_returning_the_wrong_shape_raises_a_clustering_error() -> None:
    class Broken:
        def embed(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts) + 1, 2), np.float32)

    with pytest.raises(ClusteringError, match="shape"):
        EmbeddingCache(Broken()).embed(["x"])


@pytest.mark.parametrize("embedder", [
    # the default, with its options
    MiniLMEmbedder(batch_size=8),
    # the light one
    HashingEmbedder(n_features=128, ngram_range=(1, 1)),
])
def test_our_embedders_round_trip_through_their_spec(embedder: object) -> None:
    again = embedder_from_spec(embedder_spec(embedder))
    assert type(again) is type(embedder)
    assert again.get_params() == embedder.get_params()


def test_a_custom_embedder_spec_asks_for_the_embedder_again() -> None:
    spec = embedder_spec(CountingEmbedder())
    assert spec["kind"] == "custom"
    with pytest.raises(ConfigError, match="pass it again"):
        embedder_from_spec(spec)


def test_minilm_loads_offline_and_embeds_to_unit_vectors_of_384() -> None:
    emb = MiniLMEmbedder()
    batch = emb.embed(["book a flight to Rome", "reserve a plane ticket", "refund my order"])
    assert batch.shape == (3, 384) and batch.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert batch[0] @ batch[1] > batch[0] @ batch[2]
    single = emb.embed(["book a flight to Rome"])  # the one-text fast path agrees with batches
    assert np.allclose(single[0], batch[0], atol=1e-5)


def test_minilm_with_a_missing_model_directory_raises_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no sentence-transformers model"):
        MiniLMEmbedder(path=str(tmp_path / "nowhere")).embed(["x"])


def test_a_cache_dir_that_cannot_be_created_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    embedder = CountingEmbedder()
    cache = EmbeddingCache(embedder, blocker / "cache")
    cache.embed(["x"])
    cache.embed(["x"])
    assert embedder.calls == [["x"]]
