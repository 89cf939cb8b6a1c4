"""What the catalog knows about one small model: size, shape, licence, context, tools, scores.

A :class:`ModelCard` holds what step S4 needs to choose a base model: the parameter count and
the architecture figures that drive the memory estimate (layers, heads, KV heads, head size,
sliding windows), the licence and whether it allows commercial use, the context length, whether
the chat template supports tools natively, and agent-relevant benchmark scores, each with its
source (:class:`Score`). ``installed`` is computed on access, without network: the model's
weights are on this machine (an offline package holding a GGUF file, or a Hugging Face cache
snapshot).

Licences are Hugging Face / SPDX ids (``"apache-2.0"``, ``"mit"``, ``"llama3.2"``, ``"gemma"``,
``"cc-by-nc-4.0"``) or ``"other:<name>"`` for custom terms. :data:`LICENSES` says which known
licences allow commercial use; a card that contradicts it does not validate.

Examples:
    >>> card = ModelCard(id="tiny", name="Tiny", family="demo", hub_id="org/tiny", params=0.01,
    ...                  layers=2, hidden_size=64, attention_heads=4, kv_heads=2, head_dim=16,
    ...                  license="apache-2.0", commercial_use=True, context_length=2048)
    >>> card.attention_layers_or_all, card.installed
    (2, False)
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

__all__ = ["LICENSES", "ModelCard", "Score", "commercial_use_of", "estimate_params",
           "hf_cache_dir", "hf_snapshot", "package_dir"]

#: Known licence ids -> whether they allow commercial use. The Llama community licences and
#: Gemma terms allow it with conditions (acceptable-use policies; Llama: a licence from Meta above
#: 700M monthly users); the NVIDIA Open Model License allows it; CC BY-NC, the Qwen research
#: licence and NVIDIA's internal research licence do not.
LICENSES: dict[str, bool] = {
    "apache-2.0": True,
    "mit": True,
    "bsd-2-clause": True,
    "bsd-3-clause": True,
    "cc-by-4.0": True,
    "cc-by-sa-4.0": True,
    "openrail": True,
    "llama2": True,
    "llama3": True,
    "llama3.1": True,
    "llama3.2": True,
    "llama3.3": True,
    "gemma": True,
    "other:nvidia-open-model-license": True,
    "cc-by-nc-4.0": False,
    "cc-by-nc-sa-4.0": False,
    "cc-by-nc-nd-4.0": False,
    "other:qwen-research": False,
    "other:nvidia-internal-research": False,
}

_LICENSE_ID = re.compile(r"^(other:)?[a-z0-9][a-z0-9.+-]*$")
_CARD_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def commercial_use_of(license: str) -> bool | None:
    """Whether a known licence allows commercial use (``None`` for a licence not in the table).

    Examples:
        >>> commercial_use_of("apache-2.0"), commercial_use_of("cc-by-nc-4.0")
        (True, False)
        >>> commercial_use_of("other:my-terms") is None
        True
    """
    return LICENSES.get(license.strip().lower())


class Score(BaseModel):
    """One published benchmark figure, with where it comes from.

    Attributes:
        value: The score in percent (0-100).
        source: Where it was published (model card, paper, leaderboard), as a citation or URL.
        metric: Which variant of the benchmark (``"strict prompt-level accuracy"``, ``"v3
            overall"``...): variants of one benchmark are not directly comparable.

    Examples:
        >>> Score(value=59.5, source="Llama 3.2 model card").value
        59.5
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float = Field(ge=0, le=100, allow_inf_nan=False)
    source: str = Field(min_length=1)
    metric: str = ""


class ModelCard(BaseModel):
    """One small language model the catalog can recommend.

    Attributes:
        id: Short alias, lower case (``"qwen2.5-1.5b"``).
        name: Display name.
        family: Model family (``"qwen2.5"``), for grouping and filters.
        hub_id: The Hugging Face hub id of the instruct/chat checkpoint.
        params: Parameter count in billions (all weights, embeddings included).
        architecture: ``"transformer"`` or ``"hybrid-mamba"`` (Mamba/attention hybrids).
        layers: Blocks in the network (for hybrids: every block, whatever its kind).
        hidden_size: Width of the residual stream.
        intermediate_size: Width of the MLP (``None`` when unknown).
        attention_heads: Query heads per attention layer.
        kv_heads: Key/value heads (fewer than ``attention_heads`` under grouped-query attention).
        head_dim: Size of one attention head.
        attention_layers: Layers that keep a KV cache (``None``: every layer). For hybrid Mamba
            models, only their attention layers.
        mlp_layers: Layers with an MLP (``None``: every layer); hybrids interleave MLP layers.
        sliding_window: Span of local attention layers, in tokens (``None``: no local layers).
        sliding_layers: How many of the attention layers use ``sliding_window``.
        vocab_size: Vocabulary size (``None`` when unknown).
        tied_embeddings: The output head shares the input embedding matrix.
        license: Licence id (see the module docstring).
        commercial_use: Whether the licence allows commercial use.
        context_length: Longest supported context in tokens (native, without extra scaling
            unless ``notes`` say otherwise).
        tool_calling: The chat template supports tools natively (a ``tools`` argument).
        scores: Benchmark name -> :class:`Score`, only where a published figure is known.
        offline_package: A Python package that ships the weights (checked without importing).
        gguf_file: The GGUF file inside ``offline_package``.
        notes: Caveats: figures we are unsure of, modelling assumptions.
        installed: (computed) the weights are on this machine; no network is used.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    family: str
    hub_id: str
    params: float = Field(gt=0, allow_inf_nan=False)
    architecture: Literal["transformer", "hybrid-mamba"] = "transformer"
    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    intermediate_size: int | None = Field(default=None, gt=0)
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    attention_layers: int | None = Field(default=None, ge=0)
    mlp_layers: int | None = Field(default=None, ge=0)
    sliding_window: int | None = Field(default=None, gt=0)
    sliding_layers: int = Field(default=0, ge=0)
    vocab_size: int | None = Field(default=None, gt=0)
    tied_embeddings: bool = False
    license: str
    commercial_use: bool
    context_length: int = Field(gt=0)
    tool_calling: bool = False
    scores: dict[str, Score] = Field(default_factory=dict)
    offline_package: str | None = None
    gguf_file: str | None = None
    notes: str = ""

    @model_validator(mode="after")
    def _check(self) -> ModelCard:
        if not _CARD_ID.match(self.id):
            raise ValueError(f"id {self.id!r} must be lower case letters, digits, '.', '_', '-'")
        if not _LICENSE_ID.match(self.license):
            raise ValueError(f"license {self.license!r} must be a lower-case SPDX / Hugging Face "
                             f"licence id or 'other:<name>'")
        known = commercial_use_of(self.license)
        if known is not None and known != self.commercial_use:
            raise ValueError(f"license {self.license!r} {'allows' if known else 'forbids'} "
                             f"commercial use, but commercial_use={self.commercial_use}")
        if self.kv_heads > self.attention_heads or self.attention_heads % self.kv_heads:
            raise ValueError(f"kv_heads ({self.kv_heads}) must divide attention_heads "
                             f"({self.attention_heads})")
        if self.attention_layers is not None and self.attention_layers > self.layers:
            raise ValueError("attention_layers cannot exceed layers")
        if self.mlp_layers is not None and self.mlp_layers > self.layers:
            raise ValueError("mlp_layers cannot exceed layers")
        if self.sliding_layers > self.attention_layers_or_all:
            raise ValueError("sliding_layers cannot exceed the attention layers")
        if self.sliding_layers and self.sliding_window is None:
            raise ValueError("sliding_layers is set but sliding_window is not")
        if (self.gguf_file is None) != (self.offline_package is None):
            raise ValueError("offline_package and gguf_file go together")
        return self

    @property
    def attention_layers_or_all(self) -> int:
        """Layers that keep a KV cache (``attention_layers``, else every layer)."""
        return self.layers if self.attention_layers is None else self.attention_layers

    @property
    def mlp_layers_or_all(self) -> int:
        """Layers with an MLP (``mlp_layers``, else every layer)."""
        return self.layers if self.mlp_layers is None else self.mlp_layers

    @property
    def embedding_params(self) -> int | None:
        """Parameters in the input embedding and (when untied) the output head, or ``None``."""
        if self.vocab_size is None:
            return None
        return self.vocab_size * self.hidden_size * (1 if self.tied_embeddings else 2)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def installed(self) -> bool:
        """Whether the weights are on this machine (no network, no import of the package)."""
        if self.offline_package is not None and self.gguf_file is not None:
            directory = package_dir(self.offline_package)
            return directory is not None and (directory / self.gguf_file).is_file()
        return hf_snapshot(self.hub_id) is not None

    def local_path(self) -> Path | None:
        """Where the installed weights are: the GGUF file, or the hub cache snapshot folder."""
        if self.offline_package is not None and self.gguf_file is not None:
            directory = package_dir(self.offline_package)
            path = None if directory is None else directory / self.gguf_file
            return path if path is not None and path.is_file() else None
        return hf_snapshot(self.hub_id)

    def score(self, benchmark: str) -> float | None:
        """The value of ``benchmark`` (case-insensitive), or ``None`` when no figure is known."""
        wanted = benchmark.lower()
        for name, score in self.scores.items():
            if name.lower() == wanted:
                return score.value
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``installed`` included; :meth:`from_dict` ignores it)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """Rebuild a card from :meth:`to_dict` output (validated)."""
        return cls.model_validate({k: v for k, v in data.items() if k != "installed"})

    @classmethod
    def from_config(cls, config: Any, *, id: str = "custom", name: str | None = None,
                    hub_id: str = "", license: str = "other:unknown",
                    commercial_use: bool = False, **overrides: Any) -> ModelCard:
        """A card for a transformers config (a ``PretrainedConfig`` or its dict).

        The parameter count is computed from the shapes (see :func:`estimate_params`), so the
        memory estimate works for any Llama-style model, including tiny random test models.

        Examples:
            >>> card = ModelCard.from_config({"hidden_size": 32, "intermediate_size": 64,
            ...     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            ...     "vocab_size": 100, "tie_word_embeddings": True})
            >>> round(card.params * 1e9)
            21792
        """
        cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        hidden = int(cfg["hidden_size"])
        heads = int(cfg["num_attention_heads"])
        head_dim = int(cfg.get("head_dim") or hidden // heads)
        fields: dict[str, Any] = {
            "id": id, "name": name or id, "family": str(cfg.get("model_type") or "custom"),
            "hub_id": hub_id or str(cfg.get("_name_or_path") or id),
            "layers": int(cfg["num_hidden_layers"]), "hidden_size": hidden,
            "intermediate_size": cfg.get("intermediate_size"),
            "attention_heads": heads,
            "kv_heads": int(cfg.get("num_key_value_heads") or heads),
            "head_dim": head_dim, "vocab_size": cfg.get("vocab_size"),
            "tied_embeddings": bool(cfg.get("tie_word_embeddings", False)),
            "license": license, "commercial_use": commercial_use,
            "context_length": int(cfg.get("max_position_embeddings") or 2048),
        }
        fields.update(overrides)
        if "params" not in fields:
            fields["params"] = estimate_params(**{k: fields[k] for k in (
                "layers", "hidden_size", "intermediate_size", "attention_heads", "kv_heads",
                "head_dim", "vocab_size", "tied_embeddings")}) / 1e9
        return cls(**fields)


def estimate_params(*, layers: int, hidden_size: int, intermediate_size: int | None,
                    attention_heads: int, kv_heads: int, head_dim: int, vocab_size: int | None,
                    tied_embeddings: bool, attention_layers: int | None = None,
                    mlp_layers: int | None = None) -> int:
    """Parameters of a Llama-style decoder from its shapes (biases ignored).

    Per attention layer: the q and o projections (``hidden × heads·head_dim`` each) and the k and
    v projections (``hidden × kv_heads·head_dim`` each); per MLP layer: gate, up and down
    (``3 × hidden × intermediate``); two norm vectors per layer and a final norm; the embedding
    (and an untied output head). Mamba blocks are not counted: use the published figure for
    hybrids.

    Raises:
        ValueError: ``intermediate_size`` or ``vocab_size`` is unknown.
    """
    if intermediate_size is None or vocab_size is None:
        raise ValueError("intermediate_size and vocab_size are needed to count parameters")
    attention = hidden_size * head_dim * (2 * attention_heads + 2 * kv_heads)
    mlp = 3 * hidden_size * intermediate_size
    n_attention = layers if attention_layers is None else attention_layers
    n_mlp = layers if mlp_layers is None else mlp_layers
    embeddings = vocab_size * hidden_size * (1 if tied_embeddings else 2)
    return n_attention * attention + n_mlp * mlp + 2 * layers * hidden_size + hidden_size \
        + embeddings


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (its deps may be absent)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder (``HF_HUB_CACHE``, ``HF_HOME``/hub, or the default)."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "huggingface")
    return Path(home).expanduser() / "hub"


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")


def hf_snapshot(hub_id: str) -> Path | None:
    """A cached snapshot of ``hub_id`` that has a config and weights, or ``None``.

    Reads the cache layout (``models--org--name/snapshots/<rev>/``) directly: no network and no
    ``huggingface_hub`` import, so the catalog stays pure Python.
    """
    if not hub_id or "/" not in hub_id:
        return None
    snapshots = hf_cache_dir() / f"models--{hub_id.replace('/', '--')}" / "snapshots"
    try:
        candidates = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return None
    for snapshot in candidates:
        try:
            names = [p.name for p in snapshot.iterdir()]
        except OSError:
            continue
        if "config.json" in names and any(n.endswith(_WEIGHT_SUFFIXES) for n in names):
            return snapshot
    return None

