"""Metric functions on hand-made pairs: values, arguments, tool calls, schemas, text."""

from __future__ import annotations

from typing import Any

import pytest

from slm_agents.evaluate.metrics import (
    argument_match,
    as_tool_call,
    exact_match,
    schema_errors,
    score_tool_calls,
    standardize_string,
    token_f1,
    values_match,
)
from slm_agents.records import ToolCall

# ------------------------------------------------------------------ values (BFCL normalisation)

VALUE_CASES = [
    # (predicted, reference, schema, expected)
    ("3", 3, None, True),  # a numeric string matches the number
    (3, "3", None, True),  # ... either way round
    (1.0, 1, None, True),  # BFCL converts int to float: 1 and 1.0 are one value
    ("1.50", 1.5, None, True),  # numeric strings are read as numbers, not text
    ("1.5", "15", None, False),  # two numeric strings compare as numbers ("." is not noise)
    (2, 3, None, False),  # different numbers never match
    (True, 1, None, False),  # a boolean is not the number 1
    ("true", True, None, True),  # "true" is read as the boolean
    ("yes", True, None, False),  # other words are not booleans
    ("Oslo", "oslo", None, True),  # strings are case-insensitive, as in BFCL
    ("April 1, 2024", "april 1 2024", None, True),  # BFCL drops spaces and ,./-_*^
    ("new_york", "New York", None, True),  # underscores and spaces are both dropped
    ("it's", 'it"s', None, True),  # BFCL reads ' as "
    ("Oslo", "Bergen", None, False),  # different words do not match
    ("3", "three", None, False),  # a digit is not a spelled number
    (None, None, None, True),  # null matches null
    (None, "x", None, False),  # null does not match a value
    ({"b": 1, "a": "X"}, {"a": "x", "b": "1"}, None, True),  # object key order is irrelevant
    ({"a": 1}, {"a": 1, "b": 2}, None, False),  # a nested key missing without a default
    ([1, 2], [1, 2], None, True),  # same list
    ([2, 1], [1, 2], None, False),  # list order counts by default, as in BFCL's list_checker
    ([2, 1], [1, 2], {"type": "array", "uniqueItems": True}, True),  # a set: any order
    (["B", "a"], ["a", "b"], {"uniqueItems": True}, True),  # set members normalised too
    ([1, 1, 2], [1, 2, 2], {"uniqueItems": True}, False),  # multisets must agree in counts
    ([1, 2], [1, 2, 3], None, False),  # lengths differ
    ([{"k": "V"}], [{"k": "v"}], None, True),  # lists of objects compare recursively
]


@pytest.mark.parametrize(("predicted", "reference", "schema", "expected"), VALUE_CASES)
def test_values_match_as_bfcl_normalises_types_and_strings(
        predicted: Any, reference: Any, schema: Any, expected: bool) -> None:
    assert values_match(predicted, reference, schema) is expected


def test_unordered_lists_option_makes_every_list_a_multiset() -> None:
    assert not values_match(["b", "a"], ["a", "b"])
    assert values_match(["b", "a"], ["a", "b"], unordered_lists=True)


def test_standardize_string_matches_bfcl() -> None:
    assert standardize_string("Hello, World-1_2 *^/.") == "helloworld12"


# ------------------------------------------------------------------ arguments

UNIT_DEFAULT = {"type": "object", "properties": {
    "city": {"type": "string"}, "unit": {"type": "string", "default": "celsius"}}}

ARGUMENT_CASES = [
    # (predicted, reference, schema, expected score)
    ({"city": "Oslo"}, {"city": "Oslo"}, None, 1.0),  # identical
    ({}, {}, None, 1.0),  # no arguments on either side is a full match
    ({"city": "oslo", "days": "3"}, {"days": 3, "city": "Oslo"}, None, 1.0),  # normalised
    ({"city": "Oslo", "days": 2}, {"city": "Oslo", "days": 3}, None, 0.5),  # one of two wrong
    ({"city": "Oslo"}, {"city": "Oslo", "days": 3}, None, 0.5),  # a missing argument costs
    ({"city": "Oslo", "extra": 1}, {"city": "Oslo"}, None, 0.5),  # so does an extra one
    ({"city": "Oslo", "unit": "celsius"}, {"city": "Oslo"}, UNIT_DEFAULT, 1.0),  # = default
    ({"city": "Oslo"}, {"city": "Oslo", "unit": "Celsius"}, UNIT_DEFAULT, 1.0),  # absent = dflt
    ({"city": "Oslo", "unit": "kelvin"}, {"city": "Oslo"}, UNIT_DEFAULT, 0.5),  # not default
    ({"city": "Oslo", "note": None}, {"city": "Oslo"}, None, 1.0),  # explicit null = absent
]


@pytest.mark.parametrize(("predicted", "reference", "schema", "expected"), ARGUMENT_CASES)
def test_argument_match_scores_the_share_of_matching_keys(
        predicted: dict[str, Any], reference: dict[str, Any], schema: Any,
        expected: float) -> None:
    assert argument_match(predicted, reference, schema) == pytest.approx(expected)


# ------------------------------------------------------------------ tool calls

def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(name=name, arguments=arguments)


TOOL_CASES = [
    # (predicted, reference, name accuracy, argument match, exact)
    ([], [], 1.0, 1.0, True),  # nothing to call, nothing called
    ([call("f", x=1)], [call("f", x=1)], 1.0, 1.0, True),  # the same call
    ([call("f", x="1")], [call("f", x=1)], 1.0, 1.0, True),  # "1" vs 1 is still exact
    ([call("g", x=1)], [call("f", x=1)], 0.0, 0.0, False),  # wrong tool: arguments count 0
    ([call("f", x=2)], [call("f", x=1)], 1.0, 0.0, False),  # right tool, wrong argument
    ([], [call("f", x=1)], 0.0, 0.0, False),  # no call when one was needed
    ([call("f", x=1)], [], 0.0, 0.0, False),  # a call when none was needed
    ([call("b"), call("a", x=1)], [call("a", x=1), call("b")], 1.0, 1.0, True),  # any order
    ([call("a", x=1)], [call("a", x=1), call("b")], 0.5, 0.5, False),  # one of two calls
    ([call("a", x=1), call("a", x=1)], [call("a", x=1)], 0.5, 0.5, False),  # a duplicate
    ([call("a", x=2), call("a", x=1)], [call("a", x=1), call("a", x=2)], 1.0, 1.0, True),
    # ^ same tool twice with different arguments: paired by value, not by position
]


@pytest.mark.parametrize(("predicted", "reference", "names", "arguments", "exact"), TOOL_CASES)
def test_score_tool_calls_pairs_calls_in_any_order(
        predicted: list[ToolCall], reference: list[ToolCall], names: float,
        arguments: float, exact: bool) -> None:
    score = score_tool_calls(predicted, reference)
    assert (score.name_accuracy, score.argument_match, score.exact) == pytest.approx(
        (names, arguments, exact))


def test_score_tool_calls_accepts_openai_wire_dicts_and_reports_wrong_arguments() -> None:
    wire = {"id": "c1", "type": "function",
            "function": {"name": "f", "arguments": '{"x": 1, "y": "a"}'}}
    score = score_tool_calls([call("f", x=1, y="b")], [wire])
    assert score.argument_match == 0.5
    assert score.pairs[0].wrong_arguments == ("y",)


def test_unparsed_arguments_never_match() -> None:
    broken = as_tool_call({"name": "f", "arguments": "{not json"})
    assert broken.error is not None
    assert score_tool_calls([broken], [call("f")]).argument_match == 0.0


def test_score_tool_calls_uses_the_tool_schema_for_defaults() -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": UNIT_DEFAULT}}]
    score = score_tool_calls([call("weather", city="Oslo")],
                             [call("weather", city="Oslo", unit="celsius")], tools)
    assert score.exact


# ------------------------------------------------------------------ schema validity

WEATHER = {"type": "function", "function": {"name": "weather", "parameters": {
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 1},
                   "days": {"type": "integer", "minimum": 1, "maximum": 14},
                   "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                   "tags": {"type": "array", "items": {"type": "string"}},
                   "when": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    "required": ["city"],
    "additionalProperties": False}}}
LOOSE = {"name": "note", "parameters": {"type": "object",
                                        "properties": {"text": {"type": "string"}}}}
REFS = {"type": "function", "function": {"name": "book", "parameters": {
    "type": "object", "$defs": {"Guest": {"type": "object", "properties": {
        "name": {"type": "string"}}, "required": ["name"]}},
    "properties": {"guest": {"$ref": "#/$defs/Guest"}}, "required": ["guest"]}}}
TOOLS = [WEATHER, LOOSE, REFS]

SCHEMA_CASES = [
    # (call, valid)
    ({"name": "weather", "arguments": {"city": "Oslo"}}, True),  # required key only
    ({"name": "weather", "arguments": {"city": "Oslo", "days": 3, "unit": "celsius",
                                       "tags": ["a"], "when": None}}, True),  # every key
    ({"name": "weather", "arguments": {"city": "Oslo", "days": 3.0}}, True),  # 3.0 is integer
    ({"name": "weather", "arguments": {}}, False),  # required key missing
    ({"name": "weather", "arguments": {"city": "Oslo", "days": "3"}}, False),  # wrong type
    ({"name": "weather", "arguments": {"city": "Oslo", "days": 3.5}}, False),  # not integer
    ({"name": "weather", "arguments": {"city": "Oslo", "days": True}}, False),  # bool ≠ int
    ({"name": "weather", "arguments": {"city": "Oslo", "days": 30}}, False),  # over maximum
    ({"name": "weather", "arguments": {"city": ""}}, False),  # under minLength
    ({"name": "weather", "arguments": {"city": "Oslo", "unit": "kelvin"}}, False),  # enum
    ({"name": "weather", "arguments": {"city": "Oslo", "tags": [1]}}, False),  # item type
    ({"name": "weather", "arguments": {"city": "Oslo", "when": 5}}, False),  # no anyOf branch
    ({"name": "weather", "arguments": {"city": "Oslo", "x": 1}}, False),  # unknown key
    ({"name": "note", "arguments": {"text": "hi", "x": 1}}, True),  # extra keys allowed here
    ({"name": "book", "arguments": {"guest": {"name": "Ann"}}}, True),  # $ref resolved
    ({"name": "book", "arguments": {"guest": {}}}, False),  # $ref target's required key
    ({"name": "nope", "arguments": {}}, False),  # a tool that was not offered
    ({"name": "note", "arguments": "{oops"}, False),  # arguments that are not JSON
]


@pytest.mark.parametrize(("tool_call", "valid"), SCHEMA_CASES)
def test_schema_errors_flag_calls_that_break_the_tool_schema(
        tool_call: dict[str, Any], valid: bool) -> None:
    errors = schema_errors(tool_call, TOOLS)
    assert (errors == []) is valid, errors


@pytest.mark.parametrize(("tool_call", "valid"), SCHEMA_CASES[:16])
def test_schema_validator_agrees_with_the_jsonschema_package(
        tool_call: dict[str, Any], valid: bool) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    spec = next(t for t in TOOLS if (t.get("function") or t)["name"] == tool_call["name"])
    schema = (spec.get("function") or spec)["parameters"]
    reference_valid = jsonschema.Draft202012Validator(schema).is_valid(tool_call["arguments"])
    assert reference_valid is valid


def test_schema_errors_say_what_is_wrong() -> None:
    errors = schema_errors({"name": "weather", "arguments": {"city": 1, "x": 0}}, TOOLS)
    assert errors == ["weather: $.city: expected string, got integer",
                      "weather: $: unexpected key 'x'"]


def test_no_tools_offered_means_no_call_is_valid() -> None:
    assert schema_errors(call("f"), None) == ["f: not an offered tool"]


def test_bfcl_type_names_are_understood() -> None:
    tools = [{"name": "f", "parameters": {"type": "dict", "properties": {
        "x": {"type": "float"}, "xs": {"type": "tuple"}}}}]
    assert schema_errors(call("f", x=1, xs=[1]), tools) == []
    assert schema_errors(call("f", x="1"), tools) != []


# ------------------------------------------------------------------ text

TEXT_CASES = [
    # (predicted, reference, exact match, token F1)
    ("Paris", "Paris", True, 1.0),  # identical
    ("  Paris \n", "Paris", True, 1.0),  # surrounding whitespace is ignored
    ("New   York", "New York", True, 1.0),  # inner whitespace runs collapse
    ("paris", "Paris", False, 1.0),  # case counts for exact match, not for F1
    ("The Eiffel Tower.", "eiffel tower", False, 1.0),  # F1 drops articles and punctuation
    ("the cat sat", "a cat sat down", False, 0.8),  # P=1, R=2/3
    ("dog", "cat", False, 0.0),  # nothing shared
    ("", "", True, 1.0),  # both empty
    (None, "x", False, 0.0),  # no text against text
    ("the", "", False, 1.0),  # only an article left: both sides have no tokens
]


@pytest.mark.parametrize(("predicted", "reference", "em", "f1"), TEXT_CASES)
def test_text_metrics_follow_whitespace_exact_match_and_squad_f1(
        predicted: str | None, reference: str, em: bool, f1: float) -> None:
    assert exact_match(predicted, reference) is em
    assert token_f1(predicted, reference) == pytest.approx(f1)
