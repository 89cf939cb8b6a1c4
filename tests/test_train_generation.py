"""The shared Generation type and tool-call parser (pure Python, no model)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slm_agents.records import ToolCall
from slm_agents.train.generation import (
    Generation,
    GenerativeModel,
    example_reference,
    format_tool_calls,
    parse_tool_output,
    tool_names,
)

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {}}}},
]


@pytest.mark.parametrize(("raw", "names", "arguments", "text", "error"), [
    # one closed block
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
     ["get_weather"], [{"city": "Oslo"}], None, None),
    # two blocks, text before them is kept
    ('Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "A"}}\n'
     '</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>',
     ["get_weather", "get_time"], [{"city": "A"}, {}], "Let me check.", None),
    # unclosed block at the end (token limit / EOS)
    ('<tool_call>\n{"name": "get_time", "arguments": {}}', ["get_time"], [{}], None, None),
    # arguments as a JSON string (OpenAI wire style)
    ('<tool_call>{"name": "get_weather", "arguments": "{\\"city\\": \\"B\\"}"}</tool_call>',
     ["get_weather"], [{"city": "B"}], None, None),
    # "parameters" instead of "arguments", bare JSON without tags
    ('{"name": "get_weather", "parameters": {"city": "C"}}',
     ["get_weather"], [{"city": "C"}], None, None),
    # plain text answer
    ("It is sunny.", [], [], "It is sunny.", None),
])
def test_parse_tool_output_reads_valid_outputs(raw, names, arguments, text, error) -> None:
    g = parse_tool_output(raw, TOOLS)
    assert [c.name for c in g.tool_calls] == names
    assert [c.arguments for c in g.tool_calls] == arguments
    assert g.text == text
    assert g.parse_error == error
    assert g.raw == raw


@pytest.mark.parametrize(("raw", "fragment"), [
    # block body is not JSON
    ("<tool_call>\n{name: get_time}\n</tool_call>", "not valid JSON"),
    # arguments is a list
    ('<tool_call>{"name": "get_time", "arguments": [1]}</tool_call>', "not a JSON object"),
    # the tool was not offered
    ('<tool_call>{"name": "launch", "arguments": {}}</tool_call>', "'launch' was not offered"),
    # arguments string that does not parse
    ('<tool_call>{"name": "get_time", "arguments": "{oops"}</tool_call>', "are not JSON"),
    # nothing at all
    ("   ", "empty output"),
])
def test_parse_tool_output_reports_why_output_is_invalid(raw, fragment) -> None:
    assert fragment in (parse_tool_output(raw, TOOLS).parse_error or "")


def test_unknown_tool_names_are_accepted_when_no_tools_are_given() -> None:
    g = parse_tool_output('<tool_call>{"name": "x", "arguments": {}}</tool_call>', None)
    assert g.parse_error is None and g.tool_calls[0].name == "x"


def test_format_then_parse_round_trips() -> None:
    calls = [ToolCall(name="get_weather", arguments={"city": "Zürich"}),
             ToolCall(name="get_time", arguments={})]
    g = parse_tool_output(format_tool_calls(calls), TOOLS)
    assert [(c.name, c.arguments) for c in g.tool_calls] == [(c.name, c.arguments) for c in calls]
    assert "Zürich" in format_tool_calls(calls)  # not escaped: fewer tokens to learn


def test_example_reference_splits_input_tools_and_expected_turn() -> None:
    example = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "tool_calls": [{"id": "call_0", "type": "function",
                                                  "function": {"name": "get_weather",
                                                               "arguments": '{"city": "Oslo"}'}}]},
        ],
        "tools": TOOLS,
    }
    messages, tools, ref = example_reference(example)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert tools == TOOLS
    assert ref.text is None and ref.parse_error is None
    assert ref.tool_calls[0].name == "get_weather" and ref.tool_calls[0].id == "call_0"
    assert ref.tool_calls[0].arguments == {"city": "Oslo"}
    assert parse_tool_output(ref.raw, tools).tool_calls[0].arguments == {"city": "Oslo"}


def test_example_reference_rejects_examples_not_ending_with_the_assistant() -> None:
    with pytest.raises(ValueError, match="not an assistant"):
        example_reference({"messages": [{"role": "user", "content": "hi"}]})
    with pytest.raises(ValueError, match="no messages"):
        example_reference({"messages": []})


def test_generation_round_trips_through_json_and_protocol_is_duck_typed() -> None:
    g = Generation(text=None, tool_calls=[ToolCall(name="f", arguments={"a": [1]})], raw="r",
                   input_tokens=3, output_tokens=2, latency_ms=1.5)
    assert Generation.model_validate(json.loads(g.model_dump_json())) == g

    class Echo:
        def generate(self, messages, tools=None, **kwargs):
            return Generation(text=messages[-1]["content"])

    assert isinstance(Echo(), GenerativeModel)
    assert tool_names(TOOLS) == ["get_weather", "get_time"]


def test_importing_generation_does_not_import_torch() -> None:
    code = ("import sys, slm_agents.train.generation, slm_agents.train; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
