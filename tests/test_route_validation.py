"""The contract checker: compiled JSON schemas, tool names, answers that agree."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from slm_agents.evaluate._schema import validate as evaluate_validate
from slm_agents.records import ToolCall
from slm_agents.route import answers_agree, canonical_answer, check_generation, compile_schema
from slm_agents.route.validation import contract_for
from slm_agents.train.generation import Generation

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5},
        "age": {"type": "integer", "minimum": 0, "exclusiveMaximum": 150},
        "email": {"type": ["string", "null"], "pattern": "@"},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
        "kind": {"const": "person"},
        "ratio": {"type": "number", "multipleOf": 0.5},
        "home": {"$ref": "#/$defs/place"},
        "either": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 2}]},
        "exactly": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 10}]},
        "not_null": {"not": {"type": "null"}},
    },
    "required": ["name"],
    "additionalProperties": False,
    "$defs": {"place": {"type": "object", "properties": {"city": {"type": "string"}},
                        "required": ["city"]}},
}

CASES = [
    ({"name": "Ann"}, True),  # the required field only
    ({}, False),  # the required field missing
    ({"name": ""}, False),  # minLength
    ({"name": "Annabelle"}, False),  # maxLength
    ({"name": "A", "age": 3.0}, True),  # an integral float is an integer
    ({"name": "A", "age": True}, False),  # a boolean is not an integer
    ({"name": "A", "age": 150}, False),  # exclusiveMaximum
    ({"name": "A", "age": -1}, False),  # minimum
    ({"name": "A", "email": None}, True),  # a type list with null
    ({"name": "A", "email": "nope"}, False),  # pattern
    ({"name": "A", "tags": ["a", "b"]}, True),  # enum items
    ({"name": "A", "tags": ["c"]}, False),  # an item outside the enum
    ({"name": "A", "tags": ["a", "a", "a"]}, False),  # maxItems
    ({"name": "A", "kind": "robot"}, False),  # const
    ({"name": "A", "ratio": 1.5}, True),  # multipleOf
    ({"name": "A", "ratio": 1.2}, False),  # not a multiple
    ({"name": "A", "home": {"city": "Oslo"}}, True),  # a $ref
    ({"name": "A", "home": {}}, False),  # a $ref's required field
    ({"name": "A", "either": "ab"}, True),  # anyOf, second option
    ({"name": "A", "either": "abc"}, False),  # anyOf, no option
    ({"name": "A", "exactly": 12}, False),  # oneOf: both options match
    ({"name": "A", "exactly": 3}, True),  # oneOf: one option matches
    ({"name": "A", "not_null": None}, False),  # not
    ({"name": "A", "extra": 1}, False),  # additionalProperties: false
]


@pytest.mark.parametrize(("value", "valid"), CASES)
def test_the_compiled_schema_agrees_with_jsonschema_and_the_evaluation(
        value: dict[str, Any], valid: bool) -> None:
    assert (compile_schema(PERSON)(value) is None) is valid
    assert jsonschema.Draft202012Validator(PERSON).is_valid(value) is valid
    assert (not evaluate_validate(value, PERSON)) is valid


@pytest.mark.parametrize(("schema", "value", "valid"), [
    ({"type": "float"}, 1.5, True),  # Python-ish type names, as the evaluation reads them
    ({"type": "string", "nullable": True}, None, True),  # OpenAPI's nullable
    ({"type": "string", "format": "email"}, "not an email", True),  # annotations are ignored
    ({"type": "object", "properties": {"n": {"$ref": "#/definitions/missing"}}}, {"n": 1}, True),
    ({"items": [{"type": "string"}], "additionalItems": False}, ["a", "b"], False),
    ({"patternProperties": {"^x_": {"type": "integer"}}}, {"x_a": "1"}, False),
    (True, {"anything": 1}, True),
    (False, 1, False),
])
def test_leniencies_and_edge_forms_of_schemas(schema: Any, value: Any, valid: bool) -> None:
    assert (compile_schema(schema)(value) is None) is valid


def test_a_recursive_schema_compiles_once_and_checks_deeply() -> None:
    tree = {"$ref": "#/$defs/node", "$defs": {"node": {
        "type": "object", "properties": {"children": {"type": "array",
                                                      "items": {"$ref": "#/$defs/node"}}}}}}
    check = compile_schema(tree)
    assert check({"children": [{"children": []}]}) is None
    assert check({"children": [{"children": [3]}]}) is not None


def test_contracts_are_cached_per_tool_list_content() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    same = [{"function": {"parameters": {"type": "object"}, "name": "f"}, "type": "function"}]
    assert contract_for(tools) is contract_for(same)
    assert contract_for(None) is None and contract_for([]) is None


@pytest.mark.parametrize(("generation", "reason"), [
    (Generation(tool_calls=[ToolCall(name="f", arguments={"x": 1})]), None),
    (Generation(tool_calls=[ToolCall(name="g")]), "unknown_tool"),
    (Generation(tool_calls=[ToolCall(name="f", arguments={"x": "1"})]), "schema_violation"),
    (Generation(tool_calls=[ToolCall(name="f", raw_arguments="{", error="bad")]), "parse_error"),
    (Generation(text="fine"), None),
    (Generation(text="  "), "empty"),
    (Generation(text="x", parse_error="trailing garbage"), "parse_error"),
])
def test_check_generation_names_the_first_broken_rule(
        generation: Generation, reason: str | None) -> None:
    contract = contract_for([{"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"type": "integer"}}}}])
    verdict = check_generation(generation, contract)
    assert (verdict[0] if verdict else None) == reason


def test_a_tool_call_when_no_tool_was_offered_is_an_unknown_tool() -> None:
    verdict = check_generation(Generation(tool_calls=[ToolCall(name="f")]), None)
    assert verdict is not None and verdict[0] == "unknown_tool"


@pytest.mark.parametrize(("answer", "reference", "agree"), [
    (Generation(text="The answer is 4."), Generation(text="the answer is 4"), True),
    (Generation(text="5"), Generation(text="4"), False),
    (Generation(tool_calls=[ToolCall(name="f", arguments={"n": 1.0})]),
     Generation(tool_calls=[ToolCall(name="f", arguments={"n": 1})]), True),
    (Generation(tool_calls=[ToolCall(name="f", arguments={"n": 2})]),
     Generation(tool_calls=[ToolCall(name="f", arguments={"n": 1})]), False),
    (Generation(tool_calls=[ToolCall(name="f")]), Generation(text="f"), False),
])
def test_answers_agree_as_the_evaluation_scores_agreement(
        answer: Generation, reference: Generation, agree: bool) -> None:
    assert answers_agree(answer, reference) is agree


def test_canonical_answers_ignore_argument_order_and_call_order() -> None:
    one = Generation(tool_calls=[ToolCall(name="a", arguments={"x": 1, "y": " z"}),
                                 ToolCall(name="b")])
    two = Generation(tool_calls=[ToolCall(name="b"),
                                 ToolCall(name="a", arguments={"y": "z", "x": 1.0})])
    assert canonical_answer(one) == canonical_answer(two)
