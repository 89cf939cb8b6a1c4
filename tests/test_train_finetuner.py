"""FineTuner on tiny random Llamas with the real SmolLM2 tokenizer: every method trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from slm_agents.errors import ConfigError, TrainingError  # noqa: E402
from slm_agents.train import FineTuner, LoraSettings, Specialist, TrainingSettings  # noqa: E402
from slm_agents.train.testing import tiny_model_dir  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

# Short examples: on a 49k-token vocabulary the logits dominate a tiny model's step time.
ARITHMETIC = [{"messages": [{"role": "user", "content": f"{a}+{b}"},
                            {"role": "assistant", "content": str(a + b)}]}
              for a, b in [(1, 2), (2, 3), (3, 4), (4, 5)]] * 2
PROMPT = [{"role": "user", "content": "1+2"}]


def quick(**overrides) -> TrainingSettings:
    settings = {"max_steps": 6, "per_device_train_batch_size": 4, "learning_rate": 3e-2,
                "logging_steps": 1, "progress": False, "save_total_limit": 1, **overrides}
    return TrainingSettings(**settings)


def losses(tuner: FineTuner) -> list[float]:
    return [entry["loss"] for entry in tuner.history_ if "loss" in entry]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # A tiny model's ops are too small to share among threads; on a busy 2-core machine the
    # threads' contention makes steps ~5x slower.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def base() -> str:
    return str(tiny_model_dir())


@pytest.mark.parametrize(("method", "options", "adapter"), [
    ("lora", {}, {"layers_to_transform": [1]}),                        # upper layer only
    ("qlora", {}, {}),                                                 # 4-bit nf4 on the CPU
    ("dora", {"packing": True, "gradient_checkpointing": True}, {}),  # the other options
    ("full", {"learning_rate": 3e-3}, {}),
])
def test_each_method_trains_and_save_load_reproduces_greedy_output(
        base, tmp_path, method, options, adapter) -> None:
    if method == "qlora":
        # bitsandbytes' CPU inference kernel needs layers at least one 64-value block wide.
        base = str(tiny_model_dir(hidden_size=64))
    tuner = FineTuner(base, method=method, lora=LoraSettings(r=4, **adapter),
                      training=quick(**options), device="cpu")
    specialist = tuner.fit(ARITHMETIC)
    assert losses(tuner)[-1] < losses(tuner)[0]
    assert tuner.stats_["global_step"] == 6 and tuner.stats_["tokens_per_s"] > 0
    assert specialist.method == method
    before = specialist.generate(PROMPT, max_new_tokens=8)
    assert before.output_tokens > 0 and before.input_tokens > 0 and before.latency_ms > 0

    specialist.save(tmp_path / "s")
    manifest = json.loads((tmp_path / "s" / "specialist.json").read_text())
    assert manifest["method"] == method and manifest["metadata"]["train_examples"] == 8
    assert (manifest["quantization"] is not None) is (method == "qlora")
    assert (tmp_path / "s" / ("model" if method == "full" else "adapter")).is_dir()
    after = Specialist.load(tmp_path / "s", device="cpu").generate(PROMPT, max_new_tokens=8)
    assert after.raw == before.raw and after.output_tokens == before.output_tokens


def test_merged_export_loads_in_plain_transformers_with_the_same_logits(base, tmp_path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    specialist = FineTuner(base, lora=LoraSettings(r=4), training=quick(max_steps=2),
                           device="cpu").fit(ARITHMETIC)
    specialist.merge_and_export(tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    ids = torch.tensor([specialist.renderer.encode_prompt(PROMPT)])
    with torch.no_grad():
        expected = specialist.model(input_ids=ids).logits
        got = merged(input_ids=ids).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert not hasattr(merged, "peft_config")


def test_an_interrupted_run_resumes_from_its_last_checkpoint(base, tmp_path) -> None:
    first = FineTuner(base, training=quick(max_steps=2, save_steps=2), output_dir=tmp_path,
                      device="cpu")
    first.fit(ARITHMETIC)  # "interrupted" after 2 of 4 steps
    assert (tmp_path / "checkpoint-2").is_dir() and (tmp_path / "specialist").is_dir()
    second = FineTuner(base, training=quick(max_steps=4, save_steps=2), output_dir=tmp_path,
                       device="cpu")
    second.fit(ARITHMETIC)
    assert second.stats_["resumed_from"] == "checkpoint-2"
    assert second.stats_["global_step"] == 4
    assert [e["step"] for e in second.history_ if "loss" in e] == [1, 2, 3, 4]
    # Checkpoints of another run are not silently resumed.
    changed = FineTuner(base, training=quick(max_steps=4), output_dir=tmp_path, device="cpu")
    with pytest.raises(ConfigError, match="different run .*data"):
        changed.fit(ARITHMETIC[:4])


def test_validation_loss_is_tracked_and_early_stopping_stops(base) -> None:
    # The validation answers contradict the training ones: the better the model fits the
    # training set, the worse its validation loss, so patience 1 stops the run early.
    wrong = [{"messages": [m[0], {"role": "assistant", "content": "zebra"}]}
             for m in (e["messages"] for e in ARITHMETIC[:4])]
    tuner = FineTuner(base, training=quick(max_steps=30, save_steps=1, learning_rate=5e-2,
                                           early_stopping_patience=1), device="cpu")
    tuner.fit(ARITHMETIC, eval_dataset=wrong)
    evals = [e["eval_loss"] for e in tuner.history_ if "eval_loss" in e]
    assert len(evals) >= 2 and tuner.stats_["best_eval_loss"] == min(evals)
    assert tuner.stats_["global_step"] < 30


def test_token_level_distillation_from_a_local_teacher_lowers_the_loss(base) -> None:
    teacher = str(tiny_model_dir(seed=1))  # same tokenizer, other weights
    tuner = FineTuner(base, teacher=teacher, training=quick(distill_alpha=0.3), device="cpu")
    specialist = tuner.fit(ARITHMETIC)
    assert losses(tuner)[-1] < losses(tuner)[0]
    assert specialist.manifest["distillation"] == "token"


def test_distillation_options_are_checked(base) -> None:
    import transformers

    with pytest.raises(ConfigError, match="needs a local teacher"):
        FineTuner(base, distillation="token").fit(ARITHMETIC)
    small = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, vocab_size=100))
    with pytest.raises(ConfigError, match="vocabulary"):
        FineTuner(base, teacher=small, training=quick(), device="cpu").fit(ARITHMETIC)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "prefix"}, "method 'prefix' is not one of"),
    ({"distillation": "logits"}, "distillation 'logits'"),
    ({"method": "lora", "quantization": {"bnb_4bit_quant_type": "nf4"}},
     "applies to method='qlora' only"),
    ({"training": 3}, "training must be a TrainingSettings"),
])
def test_invalid_options_fail_in_fit(base, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        FineTuner(base, **kwargs).fit(ARITHMETIC)


def test_bad_data_fails_before_any_model_is_loaded(base) -> None:
    with pytest.raises(TrainingError, match="empty"):
        FineTuner(base).fit([])
    with pytest.raises(TrainingError, match="at least 2"):
        FineTuner(base).fit(ARITHMETIC[:1])
    with pytest.raises(TrainingError, match="longer than max_length"):
        FineTuner(base, training=TrainingSettings(max_length=10), device="cpu").fit(ARITHMETIC)


def test_packed_examples_see_only_themselves(base) -> None:
    # Packing must not let one example attend to, or be scored against, another: the logits of
    # each example inside a packed row equal those of the example alone (as the trainer calls
    # the model: position ids restarting per example, no cache).
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from slm_agents.train.data import ChatRenderer, encode_examples
    from slm_agents.train.models import load_tokenizer

    renderer = ChatRenderer(load_tokenizer(base))
    rows = encode_examples(renderer, ARITHMETIC[:4], max_length=512).rows
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    packed = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(rows)
    with torch.no_grad():
        logits = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"],
                       use_cache=False).logits[0]
        start = 0
        for row in rows:
            alone = model(input_ids=torch.tensor([row["input_ids"]]), use_cache=False).logits[0]
            end = start + len(row["input_ids"])
            torch.testing.assert_close(logits[start:end], alone, atol=1e-5, rtol=1e-5)
            start = end
    # The first token of each example is never a target of the one before it.
    labels = packed["labels"][0]
    starts = (packed["position_ids"][0] == 0).nonzero().flatten().tolist()
    assert all(int(labels[i]) == -100 for i in starts)
    expected = [label for row in rows for label in [-100, *row["labels"][1:]]]
    assert labels.tolist() == expected


def test_the_answer_only_loss_equals_the_models_own_loss(base) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from slm_agents.train.data import ChatRenderer, encode_examples
    from slm_agents.train.models import load_tokenizer
    from slm_agents.train.trainers import answer_positions

    rows = encode_examples(ChatRenderer(load_tokenizer(base)), ARITHMETIC[:3], 512).rows
    width = max(len(r["input_ids"]) for r in rows)

    def padded(key: str, value: int, ones: bool = False) -> torch.Tensor:
        return torch.tensor([([1] * len(r[key]) if ones else r[key])
                             + [value] * (width - len(r[key])) for r in rows])

    batch = {"input_ids": padded("input_ids", 0), "labels": padded("labels", -100),
             "attention_mask": padded("input_ids", 0, ones=True)}
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    with torch.no_grad():
        hidden, targets = answer_positions(model, batch)
        ours = torch.nn.functional.cross_entropy(model.lm_head(hidden), targets)
        theirs = model(**batch, use_cache=False).loss
    assert targets.numel() == sum(1 for r in rows for label in r["labels"][1:] if label != -100)
    torch.testing.assert_close(ours, theirs)


def test_fine_tuner_follows_the_estimator_contract(base) -> None:
    tuner = FineTuner(base, method="dora", lora=LoraSettings(r=8))
    assert tuner.get_params(deep=False)["method"] == "dora"
    tuner.set_params(method="lora")
    assert tuner.method == "lora" and "FineTuner(" in repr(tuner)
    assert not hasattr(tuner, "specialist_")  # nothing learned before fit


@pytest.mark.slow
def test_real_smollm2_lora_learns_a_tool_call(tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    cities = ["Oslo", "Rome", "Lima", "Kyiv", "Doha", "Baku", "Riga", "Bern"]
    data = [{"messages": [{"role": "user", "content": f"How warm is it in {c} today?"},
                          {"role": "assistant", "tool_calls": [{
                              "id": "c0", "type": "function", "function": {
                                  "name": "get_weather", "arguments": json.dumps({"city": c})}}]}],
             "tools": tools} for c in cities]
    tuner = FineTuner("smollm2-135m", training=TrainingSettings(
        num_train_epochs=3, per_device_train_batch_size=4, learning_rate=1e-3, logging_steps=1,
        progress=False), output_dir=tmp_path, device="cpu")
    specialist = tuner.fit(data)
    assert losses(tuner)[-1] < losses(tuner)[0]
    g = specialist.generate([{"role": "user", "content": "How warm is it in Paris today?"}],
                            tools=tools, max_new_tokens=40)
    assert g.tool_calls and g.tool_calls[0].name == "get_weather", g.raw
    loaded = Specialist.load(tmp_path / "specialist", device="cpu")
    assert loaded.generate([{"role": "user", "content": "How warm is it in Paris today?"}],
                           tools=tools, max_new_tokens=40).raw == g.raw


def test_with_the_progress_bar_the_loss_shows_in_the_bar_not_as_printed_dicts(
        base, capsys) -> None:
    tuner = FineTuner(base, method="lora", lora=LoraSettings(r=4),
                      training=quick(max_steps=3, progress=True), device="cpu")
    tuner.fit(ARITHMETIC)
    out = capsys.readouterr()
    assert "{'loss'" not in out.out + out.err
    assert "loss=" in out.err  # the bar's postfix
    assert len(losses(tuner)) == 3  # every log line is still in history_
