"""Constrained tool-call decoding: valid calls to offered tools, even from a random model."""

from __future__ import annotations

import json
import random

import pytest

pytest.importorskip("torch")

from slm_agents.errors import ConfigError  # noqa: E402
from slm_agents.train.constrained import _TAIL, JsonArguments  # noqa: E402
from slm_agents.train.generation import tool_names  # noqa: E402

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string"}},
                   "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time",
                                         "parameters": {"type": "object", "properties": {}}}}
FREE = {"name": "search"}  # flat spec, no schema: any keys
ALPHABET = '{}[]",:0123456789-.eE+ tfnrualsu\\"abcxity_\n'


@pytest.mark.parametrize(("allowed", "required"), [
    (None, []),                         # no schema: any JSON object
    (["city", "unit", "c"], ["city"]),  # declared keys, one required (note "c" prefixes "city")
    ([], []),                           # declared empty: only {}
])
def test_any_accepted_prefix_plus_its_closing_is_a_valid_call(allowed, required) -> None:
    rnd = random.Random(0)
    for _ in range(2000):
        machine, text = JsonArguments(allowed, required), ""
        for _ in range(rnd.randint(0, 60)):
            ch = rnd.choice(ALPHABET)
            trial = machine.copy()
            if trial.step(ch):
                machine, text = trial, text + ch
        full = text + machine.closing()
        assert full.endswith(_TAIL)
        arguments = json.loads(full[: -len(_TAIL)])
        assert isinstance(arguments, dict)
        if allowed is not None:
            assert set(arguments) <= set(allowed), full
        assert set(required) <= set(arguments), full


@pytest.mark.parametrize(("text", "ok"), [
    ('{"city": "Oslo", "unit": "C"}', True),
    ('{"unit": "C"}', False),             # required key missing: the object cannot close
    ('{"town": "Oslo"}', False),          # undeclared key
    ('{"city": "a", "city": "b"}', False),  # duplicate key
    ('{"city": 01}', False),              # leading zero
    ('{"city": "a\\u00e9"}', True),       # unicode escape
    ('["city"]', False),                  # arguments must be an object
])
def test_recogniser_accepts_exactly_the_valid_arguments(text, ok) -> None:
    machine = JsonArguments(["city", "unit"], ["city"])
    assert all(machine.step(ch) for ch in text + _TAIL) is ok


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: threads only contend
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def specialist():
    from slm_agents.train import Specialist
    from slm_agents.train.testing import tiny_model_dir

    return Specialist.from_base(str(tiny_model_dir()), device="cpu")


@pytest.mark.parametrize(("tools", "max_new_tokens", "sample"), [
    ([WEATHER, TIME], 60, False),   # greedy, two tools with schemas
    ([WEATHER], 30, False),          # a tight budget forces the closing
    ([FREE, TIME, WEATHER], 80, True),  # sampling, a schemaless tool
])
def test_random_model_output_is_always_an_offered_tool_with_json_arguments(
        specialist, tools, max_new_tokens, sample) -> None:
    import torch

    torch.manual_seed(0)
    messages = [{"role": "user", "content": "What is the weather in Oslo?"}]
    for _ in range(3 if sample else 1):
        kwargs = {"do_sample": True, "temperature": 1.5} if sample else {}
        g = specialist.generate(messages, tools=tools, max_new_tokens=max_new_tokens,
                                constrain="tools", **kwargs)
        assert g.parse_error is None, g.raw
        assert g.tool_calls and all(c.name in tool_names(tools) for c in g.tool_calls)
        assert g.output_tokens <= max_new_tokens
        for call in g.tool_calls:
            assert isinstance(call.arguments, dict)
            if call.name == "get_weather":
                assert "city" in call.arguments and set(call.arguments) <= {"city", "unit"}
            if call.name == "get_time":
                assert call.arguments == {}


def test_constrain_needs_tools_and_a_sufficient_budget(specialist) -> None:
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(ConfigError, match="needs the tools"):
        specialist.generate(messages, constrain="tools")
    with pytest.raises(ConfigError, match="too small"):
        specialist.generate(messages, tools=[WEATHER], max_new_tokens=3, constrain="tools")
    with pytest.raises(ConfigError, match="constrain"):
        specialist.generate(messages, constrain="json")
