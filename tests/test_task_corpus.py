"""The labelled task corpus (bench/_task_corpus.py) is deterministic, valid and varied enough to be
a fair clustering benchmark: several agents and tasks, imbalanced sizes, hard pairs that share an
agent and its tools, tool calls that fit the offered schemas, and paraphrased user turns."""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("faker")

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))  # _task_corpus imports its data module by name

import _task_corpus as corpus  # noqa: E402

from slm_agents.records import CallRecord  # noqa: E402


@pytest.fixture(scope="module")
def calls() -> list:
    return corpus.generate_tasks(2000, seed=3)


def _schema_errors(args: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Required keys, known keys, enums and JSON types of a tool call's arguments."""
    kinds = {"string": str, "integer": int, "number": (int, float), "array": list}
    props = schema.get("properties", {})
    errors = [f"missing {k}" for k in schema.get("required", []) if k not in args]
    for key, value in args.items():
        spec = props.get(key)
        if spec is None:
            errors.append(f"unknown {key}")
            continue
        if not isinstance(value, kinds[spec["type"]]) or isinstance(value, bool):
            errors.append(f"{key} is not {spec['type']}")
        if "enum" in spec and value not in spec["enum"]:
            errors.append(f"{key}={value!r} not in {spec['enum']}")
    return errors


def test_same_seed_gives_the_same_calls_and_another_seed_does_not() -> None:
    a = corpus.generate_tasks(300, seed=5)
    b = corpus.generate_tasks(300, seed=5)
    c = corpus.generate_tasks(300, seed=6)
    assert [(x.record.to_json(), x.task, x.step) for x in a] == [
        (x.record.to_json(), x.task, x.step) for x in b]
    assert [x.record.to_json() for x in a] != [x.record.to_json() for x in c]


def test_exactly_n_calls_with_many_tasks_and_agents_in_imbalanced_sizes(calls: list) -> None:
    assert len(calls) == 2000
    sizes = Counter(c.task for c in calls)
    assert len(sizes) >= 8 and set(sizes) <= set(corpus.TASKS)
    assert len({c.record.agent for c in calls}) >= 4
    assert max(sizes.values()) >= 2.5 * min(sizes.values())  # realistic imbalance
    assert all(c.task for c in calls)


def test_every_record_round_trips_through_json(calls: list) -> None:
    for c in calls:
        assert CallRecord.from_json(c.record.to_json()) == c.record


def test_tool_calls_name_offered_tools_and_fit_their_schemas(calls: list) -> None:
    n = 0
    for c in calls:
        offered = {t["function"]["name"]: t["function"]["parameters"] for t in c.record.tools}
        history = [tc for m in c.record.messages for tc in m.tool_calls]
        for tc in [*c.record.tool_calls, *history]:
            assert tc.name in offered, (c.task, tc.name)
            assert _schema_errors(tc.arguments, offered[tc.name]) == [], (c.task, tc)
            n += 1
        assert (c.record.output is None) == bool(c.record.tool_calls)
    assert n > 1000


def test_user_turns_are_paraphrased(calls: list) -> None:
    firsts: dict[str, list[str]] = defaultdict(list)
    for c in calls:
        if c.step == 0:  # later calls of a run repeat its user turn
            firsts[c.task].append(corpus.user_text(c.record))
    for task, texts in firsts.items():
        assert len(set(texts)) >= 0.8 * len(texts), task  # a few short questions recur
        assert len({t.split()[0].lower() for t in texts}) >= 5, task  # openings vary
    lengths = [len(t) for texts in firsts.values() for t in texts]
    assert min(lengths) < 40 and max(lengths) > 250


def test_hard_pairs_share_agent_and_tools_and_one_task_spans_two_agents(calls: list) -> None:
    agents: dict[str, set] = defaultdict(set)
    tools: dict[str, set] = defaultdict(set)
    for c in calls:
        agents[c.task].add(c.record.agent)
        tools[c.task].add(tuple(c.record.tool_names))
    for a, b in [("search_flights", "change_booking"), ("order_status", "refund_request"),
                 ("ticket_summary", "ticket_classify"), ("leave_request", "policy_question")]:
        assert agents[a] == agents[b] and len(agents[a]) == 1, (a, b)
        assert tools[a] == tools[b], (a, b)
    assert len(agents["weather_lookup"]) >= 2
    offered_by: dict[str, set] = defaultdict(set)
    for c in calls:
        for name in c.record.tool_names:
            offered_by[name].add(c.record.agent)
    assert sum(len(v) >= 2 for v in offered_by.values()) >= 3  # shared tools


def test_prompts_vary_and_some_calls_carry_earlier_turns(calls: list) -> None:
    prompts: dict[str, set] = defaultdict(set)
    for c in calls:
        assert c.record.messages[0].role == "system"
        prompts[c.record.agent].add(c.record.messages[0].content)
        assert c.record.usage.input_tokens and c.record.usage.output_tokens
        assert c.record.latency_ms and c.record.latency_ms > 0 and c.record.trace_id
    assert all(len(p) > 20 for p in prompts.values())  # dates, names and ids differ
    with_tool_results = sum(any(m.role == "tool" for m in c.record.messages) for c in calls)
    with_earlier_turns = sum(sum(m.role == "user" for m in c.record.messages) > 1 for c in calls)
    assert 0.1 * len(calls) < with_tool_results < 0.6 * len(calls)
    assert with_earlier_turns > 0.03 * len(calls)
