"""How much memory a model needs: weights, KV cache, and the extra that training adds.

:func:`estimate_memory` adds up, in bytes:

* **weights**: parameters × bytes per parameter of ``dtype`` (fp32 4, bf16/fp16 2, int8 1, nf4
  0.5). Quantised formats also store their constants: bitsandbytes' nf4 keeps one fp32 absmax per
  block of 64 weights (+0.0625 byte/param), or, with double quantisation (the QLoRA default), an
  8-bit absmax plus one fp32 constant per 256 blocks (≈ +0.0159 byte/param); int8 keeps one fp32
  scale per row (negligible). bitsandbytes quantises only the linear layers of the blocks: the
  embedding and the output head stay at 16 bits (``NF4_KEEPS_EMBEDDINGS``), so they are counted
  at 2 bytes when the card knows its vocabulary.
* **kv_cache** (inference only): ``2 (K and V) × kv_layers × kv_heads × head_dim × context ×
  batch × bytes``, at 16 bits unless the weights are fp32. Sliding-window layers hold at most
  their window; hybrid Mamba models count only their attention layers (the Mamba state is a
  small constant per sequence and is left out).
* **training** (``"lora"``, ``"qlora"``, ``"full"``): for full fine-tuning, gradients at the
  weights' precision, AdamW's two fp32 moments (8 bytes/param) and, for 16-bit training, an fp32
  master copy (4 bytes/param). For LoRA/QLoRA, the frozen base plus adapters of ``r × (d_in +
  d_out)`` parameters per targeted projection, trained in fp32: weights, gradients and the two
  moments make 16 bytes per adapter parameter. **Activations** follow Korthikanti et al. (2022)
  with memory-efficient attention (no ``seq²`` score matrices): about ``34 × seq × batch ×
  hidden`` bytes per layer at 16 bits; with gradient checkpointing only each layer's input (``2
  × seq × batch × hidden``) plus one layer being recomputed. The logits and their gradient add
  ``8 × seq × batch × vocab`` bytes (fp32). This is a rough, upper-side figure.

Nothing is added for the framework itself (CUDA context, allocator fragmentation, ~0.5-1 GiB):
leave that headroom in a memory budget.

Examples:
    >>> est = estimate_memory(0.135, dtype="bf16", context=0)
    >>> round(est.weights_gib, 3), est.kv_cache
    (0.251, 0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from ..errors import ConfigError
from .cards import ModelCard

__all__ = ["DTYPE_BYTES", "GIB", "LORA_TARGETS", "NF4_KEEPS_EMBEDDINGS", "MemoryEstimate",
           "estimate_memory", "kv_cache_bytes", "lora_params"]

GIB = 1024**3
#: Bytes per weight, before quantisation constants.
DTYPE_BYTES: dict[str, float] = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "nf4": 0.5}
_QUANTISED = {"int8", "nf4"}
#: nf4 constants per weight: fp32 absmax per 64-weight block, or double-quantised.
_NF4_CONSTANTS = 4 / 64
_NF4_DOUBLE_CONSTANTS = 1 / 64 + 4 / (64 * 256)
#: bitsandbytes leaves the embedding and output head unquantised (16-bit).
NF4_KEEPS_EMBEDDINGS = True
#: Projections LoRA can target, by name: "attention" = q, k, v, o; "all-linear" adds the MLP.
LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "attention": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "all-linear": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
}
_ACTIVATION_BYTES_PER_LAYER = 34  # × seq × batch × hidden, at 16 bits (Korthikanti et al.)

Training = Literal["lora", "qlora", "full"]


class MemoryEstimate(BaseModel):
    """The parts of a memory estimate, in bytes, with their assumptions.

    Attributes:
        model: The card id (or ``"custom"``).
        params: Parameters counted.
        trainable_params: Parameters trained (adapters for LoRA, all for full; 0 for inference).
        dtype: Precision of the weights.
        training: ``None`` (inference), ``"lora"``, ``"qlora"`` or ``"full"``.
        context: Tokens per sequence (KV cache length, or training sequence length).
        batch: Sequences at once.
        weights: Bytes of the (frozen or trained) weights.
        kv_cache: Bytes of the KV cache (inference only).
        adapters: Bytes of the LoRA adapter weights.
        gradients: Bytes of gradients.
        optimizer: Bytes of optimizer state (AdamW moments, fp32 master weights).
        activations: Bytes of activations kept for the backward pass.
        assumptions: What the figures rest on, in words.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = "custom"
    params: int
    trainable_params: int = 0
    dtype: str
    training: str | None = None
    context: int
    batch: int
    weights: int
    kv_cache: int = 0
    adapters: int = 0
    gradients: int = 0
    optimizer: int = 0
    activations: int = 0
    assumptions: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        """All parts together, in bytes."""
        return sum(self.components.values())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_gib(self) -> float:
        """All parts together, in GiB."""
        return self.total / GIB

    @property
    def weights_gib(self) -> float:
        """The weights, in GiB."""
        return self.weights / GIB

    @property
    def training_overhead(self) -> int:
        """Bytes training adds to the weights (adapters, gradients, optimizer, activations)."""
        return self.adapters + self.gradients + self.optimizer + self.activations

    @property
    def components(self) -> dict[str, int]:
        """Part name -> bytes."""
        return {"weights": self.weights, "kv_cache": self.kv_cache, "adapters": self.adapters,
                "gradients": self.gradients, "optimizer": self.optimizer,
                "activations": self.activations}

    @property
    def components_gib(self) -> dict[str, float]:
        """Part name -> GiB."""
        return {name: value / GIB for name, value in self.components.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (totals included)."""
        return self.model_dump(mode="json")

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {gib:.2f}" for name, gib in self.components_gib.items() if gib)
        return f"{self.model}: {self.total_gib:.2f} GiB ({parts or 'nothing'})"


def _card(card_or_params: Any) -> ModelCard:
    """A card for a card, a catalog id, or a parameter count in billions."""
    if isinstance(card_or_params, ModelCard):
        return card_or_params
    if isinstance(card_or_params, str):
        from .catalog import ModelCatalog

        return ModelCatalog.default()[card_or_params]
    if isinstance(card_or_params, bool) or not isinstance(card_or_params, (int, float)):
        raise ConfigError(f"expected a ModelCard, a catalog id or a parameter count in billions, "
                          f"got {type(card_or_params).__name__}")
    value = float(card_or_params)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"the parameter count must be a positive number of billions, got "
                          f"{card_or_params!r}")
    if value > 10_000:
        raise ConfigError(f"params are in billions (0.135 for 135M); {card_or_params!r} would be "
                          f"{value:,.0f} billion: did you mean {value / 1e9:g}?")
    return ModelCard(id="custom", name="custom", family="custom", hub_id="", params=value,
                     layers=1, hidden_size=1, attention_heads=1, kv_heads=1, head_dim=1,
                     attention_layers=0, license="other:unknown", commercial_use=False,
                     context_length=1)


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def lora_params(card: ModelCard, r: int = 16,
                target_modules: str | Sequence[str] = "all-linear") -> int:
    """Adapter parameters of rank ``r`` on ``target_modules`` (names as in Llama-style models).

    Args:
        card: The model.
        r: The LoRA rank.
        target_modules: ``"attention"``, ``"all-linear"`` or projection names among
            ``q_proj k_proj v_proj o_proj gate_proj up_proj down_proj``. Attention projections are
            counted on the attention layers, MLP ones on the MLP layers (Mamba projections are
            not counted).

    Raises:
        ConfigError: an unknown target name, ``r`` < 1, or MLP targets on a card without an
            ``intermediate_size``.

    Examples:
        >>> from slm_agents.select import ModelCatalog
        >>> lora_params(ModelCatalog.default()["smollm2-135m"], r=8, target_modules="attention")
        921600
    """
    _positive_int("r", r)
    names = LORA_TARGETS.get(target_modules) if isinstance(target_modules, str) else None
    if names is None:
        names = (target_modules,) if isinstance(target_modules, str) else tuple(target_modules)
    hidden, q_width, kv_width = (card.hidden_size, card.attention_heads * card.head_dim,
                                 card.kv_heads * card.head_dim)
    shapes = {"q_proj": (hidden, q_width), "k_proj": (hidden, kv_width),
              "v_proj": (hidden, kv_width), "o_proj": (q_width, hidden)}
    inter = card.intermediate_size
    mlp = {"gate_proj", "up_proj", "down_proj"}
    total = 0
    for name in names:
        if name in shapes:
            d_in, d_out = shapes[name]
            total += card.attention_layers_or_all * r * (d_in + d_out)
        elif name in mlp:
            if inter is None:
                raise ConfigError(f"{card.id}: intermediate_size is unknown, so {name!r} "
                                  f"adapters cannot be counted; target 'attention' instead")
            total += card.mlp_layers_or_all * r * (hidden + inter)
        else:
            valid = sorted({*shapes, *mlp, *LORA_TARGETS})
            raise ConfigError(f"unknown LoRA target {name!r}; valid targets are: "
                              f"{', '.join(valid)}")
    return total


def estimate_memory(card_or_params: ModelCard | str | float, dtype: str | None = None, *,
                    context: int = 4096, batch: int = 1, training: str | None = None,
                    lora_r: int = 16, lora_targets: str | Sequence[str] = "all-linear",
                    double_quant: bool = True, gradient_checkpointing: bool = True,
                    kv_dtype: str | None = None) -> MemoryEstimate:
    """Estimate the memory to serve or fine-tune a model (see the module docstring).

    Args:
        card_or_params: A :class:`ModelCard`, a catalog id, or a parameter count in billions
            (then only the weights can be estimated: no KV cache or activations).
        dtype: Weight precision: ``"fp32"``, ``"bf16"``, ``"fp16"``, ``"int8"`` or ``"nf4"``.
            Defaults to ``"nf4"`` for QLoRA and ``"bf16"`` otherwise.
        context: Tokens per sequence (0 for the weights alone).
        batch: Sequences processed at once.
        training: ``None`` for inference, or ``"lora"``, ``"qlora"``, ``"full"``.
        lora_r: LoRA rank (LoRA and QLoRA).
        lora_targets: LoRA target projections (see :func:`lora_params`).
        double_quant: nf4 with double-quantised constants (the QLoRA default).
        gradient_checkpointing: Recompute activations in the backward pass.
        kv_dtype: Precision of the KV cache (default: fp32 with fp32 weights, else 16-bit).

    Returns:
        A :class:`MemoryEstimate` with every part in bytes and ``total_gib``.

    Raises:
        ConfigError: an unknown dtype or training method, a negative or non-integer context or
            batch, full training of quantised weights, or QLoRA with weights that are not nf4.

    Examples:
        >>> est = estimate_memory("smollm2-135m", "fp32", context=2048, batch=1)
        >>> est.kv_cache == 2 * 30 * 3 * 64 * 2048 * 1 * 4
        True
    """
    card = _card(card_or_params)
    if training not in (None, "lora", "qlora", "full"):
        raise ConfigError(f"unknown training method {training!r}; valid methods are: "
                          f"None (inference), 'lora', 'qlora', 'full'")
    dtype = dtype or ("nf4" if training == "qlora" else "bf16")
    if dtype not in DTYPE_BYTES:
        raise ConfigError(f"unknown dtype {dtype!r}; valid dtypes are: {', '.join(DTYPE_BYTES)}")
    if training == "qlora" and dtype != "nf4":
        raise ConfigError(f"QLoRA trains adapters on a 4-bit nf4 base, so dtype must be 'nf4' "
                          f"(got {dtype!r}); use training='lora' for a {dtype} base")
    if training == "full" and dtype in _QUANTISED:
        raise ConfigError(f"full fine-tuning cannot train {dtype} weights; use 'bf16' or "
                          f"'fp32', or training='qlora'")
    context = _positive_int("context", context, minimum=0)
    batch = _positive_int("batch", batch)
    kv_dtype = kv_dtype or ("fp32" if dtype == "fp32" else "bf16")
    if kv_dtype not in DTYPE_BYTES:
        raise ConfigError(f"unknown kv_dtype {kv_dtype!r}; valid dtypes are: "
                          f"{', '.join(DTYPE_BYTES)}")

    assumptions: list[str] = []
    params = round(card.params * 1e9)
    weights = _weights(card, params, dtype, double_quant, assumptions)
    kv_cache = 0
    if training is None and context:
        kv_cache = kv_cache_bytes(card, context, batch, DTYPE_BYTES[kv_dtype])
        if card.architecture == "hybrid-mamba":
            assumptions.append("hybrid Mamba: KV cache of the attention layers only; the "
                               "constant Mamba state per sequence is not counted")
        if card.sliding_layers:
            assumptions.append(f"{card.sliding_layers} sliding-window layers hold at most "
                               f"{card.sliding_window} tokens each")
    elif training is None and card.id == "custom":
        assumptions.append("no architecture given: KV cache not estimated")

    trainable = adapters = gradients = optimizer = activations = 0
    if training is not None:
        if training == "full":
            trainable = params
            gradients = math.ceil(params * DTYPE_BYTES[dtype])
            optimizer = params * 8 + (params * 4 if dtype != "fp32" else 0)
            assumptions.append("full fine-tuning with AdamW: fp32 moments (8 bytes/param)"
                               + ("" if dtype == "fp32" else " and fp32 master weights"))
        else:
            targets = lora_targets
            if targets == "all-linear" and card.intermediate_size is None:
                # Some hybrids publish no single MLP width: count the attention adapters only.
                targets = "attention"
                assumptions.append("MLP width unknown: adapters counted on attention only")
            trainable = lora_params(card, lora_r, targets) if card.id != "custom" else 0
            adapters = trainable * 4
            gradients = trainable * 4
            optimizer = trainable * 8
            assumptions.append(f"{training}: rank-{lora_r} adapters on {targets}, trained "
                               f"in fp32 with AdamW (16 bytes per adapter parameter)")
        activations = _activations(card, context, batch, dtype, gradient_checkpointing)
        assumptions.append("activations: ~34·seq·batch·hidden bytes per layer at 16 bits "
                           "(memory-efficient attention), "
                           + ("only layer inputs kept (gradient checkpointing)"
                              if gradient_checkpointing else "no checkpointing")
                           + ", plus fp32 logits and their gradient")
    return MemoryEstimate(model=card.id, params=params, trainable_params=trainable, dtype=dtype,
                          training=training, context=context, batch=batch, weights=weights,
                          kv_cache=kv_cache, adapters=adapters, gradients=gradients,
                          optimizer=optimizer, activations=activations, assumptions=assumptions)


def _weights(card: ModelCard, params: int, dtype: str, double_quant: bool,
             assumptions: list[str]) -> int:
    per_param = DTYPE_BYTES[dtype]
    if dtype not in _QUANTISED:
        return math.ceil(params * per_param)
    if dtype == "nf4":
        per_param += _NF4_DOUBLE_CONSTANTS if double_quant else _NF4_CONSTANTS
        assumptions.append("nf4: 0.5 byte/param plus absmax constants per 64-weight block"
                           + (" (double-quantised)" if double_quant else " (fp32)"))
    embeddings = card.embedding_params
    if NF4_KEEPS_EMBEDDINGS and embeddings is not None and embeddings < params:
        assumptions.append(f"{dtype}: embedding and output head kept at 16 bits, as "
                           f"bitsandbytes does")
        return math.ceil((params - embeddings) * per_param + embeddings * 2)
    return math.ceil(params * per_param)


def kv_cache_bytes(card: ModelCard, context: int, batch: int = 1,
                   bytes_per_value: float = 2.0) -> int:
    """Bytes of the KV cache: ``2 × kv_heads × head_dim × batch × bytes × Σ_layers tokens``.

    Every attention layer caches ``context`` tokens, except sliding-window layers, which cache
    ``min(context, sliding_window)``.

    Examples:
        >>> from slm_agents.select import ModelCatalog
        >>> kv_cache_bytes(ModelCatalog.default()["smollm2-135m"], 1000, 2)
        46080000
    """
    full_layers = card.attention_layers_or_all - card.sliding_layers
    tokens = full_layers * context
    if card.sliding_layers and card.sliding_window:
        tokens += card.sliding_layers * min(context, card.sliding_window)
    return math.ceil(2 * card.kv_heads * card.head_dim * batch * bytes_per_value * tokens)


def _activations(card: ModelCard, context: int, batch: int, dtype: str,
                 checkpointing: bool) -> int:
    if card.id == "custom" or not context:
        return 0
    scale = 2.0 if dtype == "fp32" else 1.0  # the 34-byte figure assumes 16-bit activations
    tokens = context * batch
    per_layer = _ACTIVATION_BYTES_PER_LAYER * tokens * card.hidden_size * scale
    if checkpointing:
        kept = card.layers * 2 * tokens * card.hidden_size * scale + per_layer
    else:
        kept = card.layers * per_layer
    logits = 8 * tokens * (card.vocab_size or 0)
    return math.ceil(kept + logits)
