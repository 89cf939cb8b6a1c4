"""The benchmark corpus generator (bench/_pii_corpus.py) is deterministic and honest about what
it planted: every planted value and control word is really in the field it names."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("faker")

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_pii_corpus", BENCH / "_pii_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_pii_corpus"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


corpus = _load()


@pytest.fixture(scope="module")
def items() -> list:
    return corpus.generate(600, seed=11)


def _dump(items: list) -> list[tuple[str, list, list]]:
    return [(it.record.to_json(), it.planted, it.controls) for it in items]


def test_when_seed_is_the_same_then_records_and_plants_are_identical() -> None:
    assert _dump(corpus.generate(40, seed=3)) == _dump(corpus.generate(40, seed=3))


def test_when_seed_differs_then_records_differ() -> None:
    first = [it.record.to_json() for it in corpus.generate(10, seed=3)]
    second = [it.record.to_json() for it in corpus.generate(10, seed=4)]
    assert first != second


def test_when_pooled_then_generation_is_deterministic_too() -> None:
    assert (_dump(corpus.generate(30, seed=5, pool_size=8))
            == _dump(corpus.generate(30, seed=5, pool_size=8)))


def test_every_planted_value_occurs_in_the_field_it_names(items: list) -> None:
    missing = [(it.record.id, p) for it in items for p in it.planted
               if not corpus.occurs(p.value, corpus.resolve(it.record, p.where))]
    assert missing == []


def test_every_control_word_occurs_in_the_field_it_names(items: list) -> None:
    missing = [(it.record.id, c) for it in items for c in it.controls
               if not corpus.occurs(c.value, corpus.resolve(it.record, c.where))]
    assert missing == []


def test_fragments_are_parts_of_their_value(items: list) -> None:
    assert all(f in p.value for it in items for p in it.planted for f in p.fragments)


def test_every_entity_type_and_control_kind_is_planted(items: list) -> None:
    types = Counter(p.entity_type for it in items for p in it.planted)
    kinds = Counter(c.kind for it in items for c in it.controls)
    assert set(types) == set(corpus.ENTITY_TYPES)
    assert set(kinds) == set(corpus.CONTROL_KINDS)
    assert min(types.values()) >= 10


def test_values_are_planted_in_json_tool_arguments_and_results(items: list) -> None:
    wheres = [p.where for it in items for p in it.planted]
    assert any(".arguments." in w for w in wheres)
    tool_fields = {f"messages[{i}].content" for it in items
                   for i, m in enumerate(it.record.messages) if m.role == "tool"}
    assert any(w in tool_fields for w in wheres)


def test_tool_results_are_valid_json_and_arguments_match_the_offered_tools(items: list) -> None:
    for it in items:
        rec = it.record
        for m in rec.messages:
            if m.role == "tool":
                json.loads(m.content or "")
        calls = [c for m in rec.messages for c in m.tool_calls] + list(rec.tool_calls)
        assert all(c.name in rec.tool_names for c in calls)


def test_system_prompts_are_long_and_repeated(items: list) -> None:
    prompts = Counter(it.record.messages[0].content for it in items)
    assert 5 <= len(prompts) <= 20
    assert all(1000 <= len(p) <= 2500 for p in prompts)


def test_occurs_finds_values_escaped_inside_json() -> None:
    value = "Jürgen\nMüller"
    assert corpus.occurs(value, json.dumps({"name": value}))
    assert corpus.occurs(value, json.dumps({"name": value}, ensure_ascii=False))
    assert not corpus.occurs(value, "Jürgen Müller")
