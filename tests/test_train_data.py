"""Rendering with the real SmolLM2 chat template, loss masks, and bad datasets."""

from __future__ import annotations

import json
import logging

import pytest

pytest.importorskip("transformers")

from slm_agents.curate import Dataset  # noqa: E402
from slm_agents.errors import TrainingError  # noqa: E402
from slm_agents.train.data import (  # noqa: E402
    ChatRenderer,
    encode_example,
    encode_examples,
    validate_examples,
)
from slm_agents.train.generation import parse_tool_output  # noqa: E402
from slm_agents.train.testing import smollm2_tokenizer  # noqa: E402

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def call(name: str, arguments: dict, id_: str = "call_0") -> dict:
    return {"id": id_, "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}


AGENT_TURN = {
    "messages": [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Oslo, then Rome?"},
        {"role": "assistant", "tool_calls": [call("get_weather", {"city": "Oslo"})]},
        {"role": "tool", "tool_call_id": "call_0", "content": '{"temp": 3}'},
        {"role": "assistant", "content": "3 degrees in Oslo.",
         "tool_calls": [call("get_weather", {"city": "Rome"}, "call_1")]},
    ],
    "tools": [WEATHER],
}


@pytest.fixture(scope="module")
def renderer() -> ChatRenderer:
    return ChatRenderer(smollm2_tokenizer())


def test_smollm2_template_gets_tools_in_the_system_prompt_and_hermes_tool_calls(renderer):
    assert not renderer.native_tools  # SmolLM2's template knows neither tools nor tool calls
    prompt, completion = renderer.split(AGENT_TURN)
    assert prompt.startswith("<|im_start|>system\nYou are a weather bot.\n\nYou can call these")
    assert '<tools>\n{"type":"function","function":{"name":"get_weather"' in prompt
    assert "<|im_start|>user\n<tool_response>\n{\"temp\": 3}\n</tool_response><|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert completion == ('3 degrees in Oslo.\n<tool_call>\n{"name": "get_weather", '
                          '"arguments": {"city": "Rome"}}\n</tool_call><|im_end|>\n')
    parsed = parse_tool_output(completion.replace("<|im_end|>", ""), [WEATHER])
    assert parsed.parse_error is None and parsed.tool_calls[0].arguments == {"city": "Rome"}


def test_only_the_final_assistant_turn_carries_loss(renderer):
    tokenizer = renderer.tokenizer
    row = encode_example(renderer, AGENT_TURN)
    assert len(row["input_ids"]) == len(row["labels"])
    trained = [t for t, label in zip(row["input_ids"], row["labels"], strict=True)
               if label != -100]
    assert all(label in (-100, t) for t, label in zip(row["input_ids"], row["labels"],
                                                       strict=True))
    # The loss covers exactly the last turn (and its end-of-turn token), one contiguous tail.
    first = row["labels"].index(next(label for label in row["labels"] if label != -100))
    assert all(label != -100 for label in row["labels"][first:])
    text = tokenizer.decode(trained)
    assert text.startswith("3 degrees in Oslo.") and text.endswith("</tool_call><|im_end|>\n")
    # The earlier assistant turn (the Oslo call) is context: masked.
    assert '"Oslo"' not in text and tokenizer.eos_token_id in trained
    prompt_ids = renderer.encode_prompt(AGENT_TURN["messages"][:-1], AGENT_TURN["tools"])
    assert row["input_ids"][:len(prompt_ids)] == prompt_ids  # training sees what inference sees


def test_examples_without_tools_or_system_prompt_render_plainly(renderer):
    example = {"messages": [{"role": "user", "content": "2+2"},
                            {"role": "assistant", "content": "4"}]}
    prompt, completion = renderer.split(example)
    assert "tools" not in prompt and completion == "4<|im_end|>\n"
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")


def ok(n: int = 2) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"{i}"},
                          {"role": "assistant", "content": f"{i + 1}"}]} for i in range(n)]


@pytest.mark.parametrize(("examples", "message"), [
    ([], "empty"),                                        # nothing to learn from
    (ok(1), "needs at least 2"),                          # one example is refused
    ([*ok(2), {"messages": []}], "example 2: no messages"),
    ([*ok(2), {"msgs": []}], "example 2: expected a dict with a 'messages' list"),
    ([*ok(1), {"messages": [{"role": "user", "content": "x"}]}],
     "example 1: the last message must be an assistant turn"),
    ([*ok(1), {"messages": [{"role": "robot", "content": "x"}]}], "unknown role 'robot'"),
    ([*ok(1), {"messages": [{"role": "user", "content": "x"},
                            {"role": "assistant", "content": " "}]}],
     "final assistant turn is empty"),
    # a call to a tool that the example does not offer
    ([*ok(2), {"messages": [{"role": "user", "content": "x"},
                            {"role": "assistant", "tool_calls": [call("launch", {})]}],
               "tools": [WEATHER]}],
     "example 2, message 1: calls tool 'launch', which the example does not offer"),
    # arguments that are not a JSON object
    ([*ok(2), {"messages": [{"role": "user", "content": "x"},
                            {"role": "assistant", "tool_calls": [
                                {"function": {"name": "get_weather", "arguments": "[1]"}}]}],
               "tools": [WEATHER]}], "not a JSON object"),
])
def test_bad_datasets_are_refused_with_the_example_named(examples, message) -> None:
    with pytest.raises(TrainingError, match=message.replace("(", r"\(")):
        validate_examples(examples)


def test_over_long_examples_are_dropped_with_a_warning_and_all_too_long_is_an_error(
        renderer, caplog) -> None:
    long = {"messages": [{"role": "user", "content": "word " * 300},
                         {"role": "assistant", "content": "ok"}]}
    with caplog.at_level(logging.WARNING, logger="slm_agents"):
        encoded = encode_examples(renderer, [*ok(2), long], max_length=100)
    assert encoded.dropped_too_long == [2] and encoded.kept == [0, 1]
    assert "dropped 1 of 3 training examples" in caplog.text
    with pytest.raises(TrainingError, match="all 1 training examples are longer than max_len"):
        encode_examples(renderer, [long], max_length=100)


def test_a_curated_dataset_is_accepted_like_a_list() -> None:
    from slm_agents.train.data import as_examples

    assert as_examples(Dataset(ok(3))) == ok(3)
    with pytest.raises(TrainingError, match="must be a slm_agents Dataset"):
        as_examples("train.jsonl")
