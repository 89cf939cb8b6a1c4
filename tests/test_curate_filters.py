"""Curation filters: one reason per dropped record, and token counting by the target tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

import slm_agents as sa
from slm_agents.capture.sanitize import truncation_marker
from slm_agents.curate.chat_format import record_to_example
from slm_agents.curate.filters import DROP_REASONS, FilterOptions, TokenCounter, drop_reason
from slm_agents.errors import ConfigError

TOOLS = [{"type": "function", "function": {"name": "search", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}}}}]


def call(**fields: Any) -> sa.CallRecord:
    base: dict[str, Any] = {
        "messages": [sa.Message(role="system", content="You search."),
                     sa.Message(role="user", content="Find flights to Oslo")],
        "tools": TOOLS,
        "output": "Here are three flights.",
    }
    base.update(fields)
    return sa.CallRecord(**base)


CASES = [
    # a clean text answer is kept
    (call(), None),
    # a clean tool call naming an offered tool is kept
    (call(output=None, tool_calls=[sa.ToolCall(name="search", arguments={"q": "Oslo"})]), None),
    # a failed call
    (call(error="RateLimitError: 429", output=None), "error"),
    # an output shown to a person
    (call(human_facing=True), "human_facing"),
    # no text and no tool calls
    (call(output=None), "empty_output"),
    # whitespace is not an answer
    (call(output="  \n "), "empty_output"),
    # the provider stopped at the token limit (OpenAI wording)
    (call(finish_reason="length"), "truncated_output"),
    # ... and Anthropic's wording
    (call(finish_reason="max_tokens"), "truncated_output"),
    # capture cut the output at its size limit
    (call(output="x" * 50 + truncation_marker(12_345)), "truncated_output"),
    # capture cut a string inside the tool arguments
    (call(output=None, tool_calls=[sa.ToolCall(
        name="search", arguments={"q": "a" * 10 + truncation_marker(7)})]), "truncated_output"),
    # arguments that did not parse as JSON
    (call(output=None, tool_calls=[sa.ToolCall(
        name="search", raw_arguments='{"q": "Os', error="bad JSON")]), "invalid_tool_json"),
    # bad JSON in an earlier assistant turn is trained on too
    (call(messages=[sa.Message(role="user", content="go"), sa.Message(
        role="assistant", tool_calls=[sa.ToolCall(name="search", raw_arguments="{",
                                                  error="bad JSON")])]), "invalid_tool_json"),
    # a tool that was not offered
    (call(output=None, tool_calls=[sa.ToolCall(name="delete_all", arguments={})]),
     "unknown_tool"),
    # no tools offered at all: the name cannot be checked, so it is kept
    (call(tools=[], output=None, tool_calls=[sa.ToolCall(name="anything", arguments={})]), None),
    # an error wins over every later reason
    (call(error="boom", output=None, human_facing=True), "error"),
]


@pytest.mark.parametrize(("record", "reason"), CASES)
def test_each_record_gets_the_first_reason_that_applies(record: sa.CallRecord,
                                                        reason: str | None) -> None:
    assert drop_reason(record, FilterOptions()) == reason


@pytest.mark.parametrize(("record", "options"), [
    (call(error="boom"), FilterOptions(drop_errors=False)),
    (call(human_facing=True), FilterOptions(include_human_facing=True)),
    (call(output=None), FilterOptions(drop_empty=False)),
    (call(finish_reason="length"), FilterOptions(drop_truncated=False)),
    (call(output=None, tool_calls=[sa.ToolCall(name="nope", raw_arguments="{", error="x")]),
     FilterOptions(validate_tool_calls=False)),
])
def test_when_a_filter_is_turned_off_then_its_records_are_kept(record: sa.CallRecord,
                                                               options: FilterOptions) -> None:
    assert drop_reason(record, options) is None


def test_drop_reasons_are_the_contract_strings() -> None:
    assert set(DROP_REASONS) == {
        "error", "empty_output", "truncated_output", "invalid_tool_json", "unknown_tool",
        "human_facing", "too_long", "scrub_failed", "duplicate_exact", "duplicate_near",
        "sampled_out"}


class FakeHFTokenizer:
    """Stands in for a transformers tokenizer (an edge we do not own): one token per word."""

    chat_template = "{{ messages }}"

    def __init__(self) -> None:
        self.seen: list[tuple[list[dict[str, Any]], Any]] = []

    def apply_chat_template(self, messages: list[dict[str, Any]], tools: Any = None,
                            tokenize: bool = False) -> list[int]:
        self.seen.append((messages, tools))
        words = sum(len(str(m.get("content") or "").split()) for m in messages)
        return list(range(words + 100 * len(tools or [])))

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": list(range(len(text.split())))}


def test_hf_tokenizer_counts_with_its_chat_template_including_tools() -> None:
    tokenizer = FakeHFTokenizer()
    example = record_to_example(call(output=None, tool_calls=[
        sa.ToolCall(name="search", arguments={"q": "Oslo"}, id="c1")]))
    assert TokenCounter(tokenizer)(example) == 2 + 4 + 100
    messages, tools = tokenizer.seen[0]
    assert tools == example["tools"]
    # chat templates get arguments as objects, not JSON strings
    assert messages[-1]["tool_calls"][0]["function"]["arguments"] == {"q": "Oslo"}


def test_hf_tokenizer_without_chat_template_counts_the_plain_rendering() -> None:
    tokenizer = FakeHFTokenizer()
    tokenizer.chat_template = None  # type: ignore[assignment]
    count = TokenCounter(tokenizer)(record_to_example(call(tools=[])))
    assert count == len("system: You search.\nuser: Find flights to Oslo\n"
                        "assistant: Here are three flights.".split())
    assert tokenizer.seen == []


def test_callable_and_encode_tokenizers_and_the_default_estimate() -> None:
    example = record_to_example(call(tools=[]))

    class Encoding:  # tiktoken-like: not callable, has encode
        def encode(self, text: str) -> list[int]:
            return [0] * len(text)

    text_length = len("system: You search.\nuser: Find flights to Oslo\n"
                      "assistant: Here are three flights.")
    assert TokenCounter(lambda text: 7)(example) == 7
    assert TokenCounter(Encoding())(example) == text_length
    assert TokenCounter(None)(example) == -(-text_length // 4)


def test_when_tokenizer_is_not_usable_then_config_error_names_the_accepted_forms() -> None:
    with pytest.raises(ConfigError, match="callable str -> int"):
        TokenCounter(42)
