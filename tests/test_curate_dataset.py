"""The dataset: OpenAI chat format with tools, grouped stratified splits, JSONL and HF export."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import slm_agents as sa
from slm_agents.curate.chat_format import record_to_example
from slm_agents.curate.dataset import Dataset
from slm_agents.curate.report import CurationReport
from slm_agents.errors import ConfigError, InvalidRecordError, MissingDependencyError

TOOL = {"type": "function", "function": {"name": "search", "description": "Search flights",
                                         "parameters": {"type": "object", "properties": {
                                             "q": {"type": "string"}}}}}


def tool_record() -> sa.CallRecord:
    return sa.CallRecord(
        messages=[
            sa.Message(role="system", content="You book trips."),
            sa.Message(role="user", content="Flights to Oslo?", name="ana"),
            sa.Message(role="assistant", tool_calls=[
                sa.ToolCall(name="search", arguments={"q": "Oslo"}, id="c1")]),
            sa.Message(role="tool", content='{"hits": 3}', tool_call_id="c1", name="search"),
        ],
        tools=[TOOL, {"name": "book", "input_schema": {"type": "object"}}],
        output="I found 3 flights.",
        tool_calls=[sa.ToolCall(name="search", arguments={"q": "Oslo", "n": 3})],
    )


def test_record_becomes_an_openai_fine_tuning_example_with_tools() -> None:
    example = record_to_example(tool_record())
    assert example["messages"] == [
        {"role": "system", "content": "You book trips."},
        {"role": "user", "content": "Flights to Oslo?", "name": "ana"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "search", "arguments": '{"q":"Oslo"}'}}]},
        {"role": "tool", "content": '{"hits": 3}', "tool_call_id": "c1"},
        {"role": "assistant", "content": "I found 3 flights.", "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "search", "arguments": '{"q":"Oslo","n":3}'}}]},
    ]
    # flat (Anthropic-style) specs are nested the OpenAI way
    assert example["tools"] == [TOOL, {"type": "function", "function": {
        "name": "book", "parameters": {"type": "object"}}}]
    arguments = example["messages"][-1]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"q": "Oslo", "n": 3}


def test_missing_tool_call_ids_are_filled_and_tool_turns_linked_to_them() -> None:
    record = sa.CallRecord(messages=[
        sa.Message(role="user", content="go"),
        sa.Message(role="assistant", tool_calls=[sa.ToolCall(name="a"), sa.ToolCall(name="b")]),
        sa.Message(role="tool", content="A"),
        sa.Message(role="tool", content="B"),
    ], output="ok")
    messages = record_to_example(record)["messages"]
    ids = [c["id"] for c in messages[1]["tool_calls"]]
    assert ids == ["call_0", "call_1"]
    assert [messages[2]["tool_call_id"], messages[3]["tool_call_id"]] == ids
    assert "tools" not in record_to_example(record)  # OpenAI rejects an empty tools list


def make_dataset(n_traces: int = 300, seed: int = 0) -> Dataset:
    """Examples in traces of 1-4 calls, three tasks of different sizes, some without a trace."""
    import random

    rng = random.Random(seed)
    examples: list[dict[str, Any]] = []
    meta: list[dict[str, Any]] = []
    for trace in range(n_traces):
        task = rng.choices(["search", "book", "summarise"], weights=[6, 3, 1])[0]
        trace_id = None if trace % 10 == 0 else f"t{trace}"
        for call in range(rng.randint(1, 4)):
            examples.append({"messages": [{"role": "user", "content": f"{trace}-{call}"},
                                          {"role": "assistant", "content": "ok"}]})
            meta.append({"record_id": f"r{trace}-{call}", "trace_id": trace_id, "task": task})
    return Dataset(examples, meta, CurationReport(n_out=len(examples)))


def test_split_never_puts_a_trace_in_two_splits() -> None:
    splits = make_dataset().split(validation=0.1, test=0.1, seed=3)
    owner: dict[str, str] = {}
    for name, ds in splits.items():
        for meta in ds.meta:
            if meta["trace_id"] is not None:
                assert owner.setdefault(meta["trace_id"], name) == name


def test_split_hits_the_fractions_within_each_task() -> None:
    dataset = make_dataset(n_traces=600)
    splits = dataset.split(validation=0.15, test=0.1, seed=0)
    per_task = dataset.tasks()
    assert sum(splits.sizes().values()) == len(dataset)
    for name, fraction in [("validation", 0.15), ("test", 0.1)]:
        got = getattr(splits, name).tasks()
        for task, total in per_task.items():
            # within one trace (at most 4 examples) of the target, per task
            assert abs(got[task] - fraction * total) <= 4, (name, task, got[task], total)


def test_split_is_deterministic_for_a_seed_and_records_sizes_in_the_report() -> None:
    dataset = make_dataset()
    first = dataset.split(seed=7)
    second = dataset.split(seed=7)
    other = dataset.split(seed=8)

    def ids(splits: Any) -> list[list[str]]:
        return [[m["record_id"] for m in ds.meta] for _, ds in splits.items()]

    assert ids(first) == ids(second)
    assert ids(first) != ids(other)
    assert dataset.report is not None and dataset.report.splits == other.sizes()
    assert dataset.report.split_tasks is not None
    assert sum(dataset.report.split_tasks["test"].values()) == len(other.test)


@pytest.mark.parametrize(("validation", "test"), [(-0.1, 0.1), (0.5, 0.5), (0.1, 1.2)])
def test_invalid_fractions_are_refused(validation: float, test: float) -> None:
    with pytest.raises(ConfigError):
        make_dataset(10).split(validation=validation, test=test)


def test_jsonl_round_trips_with_and_without_meta(tmp_path: Path) -> None:
    dataset = Dataset([record_to_example(tool_record())] * 3,
                      [{"record_id": f"r{i}", "trace_id": "t", "task": "search"}
                       for i in range(3)])
    back = Dataset.from_jsonl(dataset.to_jsonl(tmp_path / "out" / "d.jsonl", include_meta=True))
    assert back.examples == dataset.examples and back.meta == dataset.meta
    plain = dataset.to_jsonl(tmp_path / "plain.jsonl")
    lines = plain.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and set(json.loads(lines[0])) == {"messages", "tools"}
    assert Dataset.from_jsonl(plain).examples == dataset.examples


def test_from_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": []}\n{"prompt": "x"}\n', encoding="utf-8")
    with pytest.raises(InvalidRecordError, match=r"bad.jsonl:2"):
        Dataset.from_jsonl(path)


def test_to_hf_keeps_one_schema_with_tools_as_json_text() -> None:
    pytest.importorskip("datasets")
    plain = record_to_example(sa.CallRecord(messages=[sa.Message(role="user", content="hi")],
                                            output="hello"))
    dataset = Dataset([record_to_example(tool_record()), plain],
                      [{"task": "search", "trace_id": "t1"}, {"task": "chat"}])
    hf = dataset.to_hf()
    assert hf.column_names == ["messages", "tools"]
    assert json.loads(hf[0]["tools"]) == dataset[0]["tools"]
    assert json.loads(hf[1]["tools"]) == []
    last = hf[0]["messages"][-1]
    assert last["tool_calls"][0]["function"]["arguments"] == '{"q":"Oslo","n":3}'
    assert hf[1]["messages"][0] == {"role": "user", "content": "hi", "tool_calls": None,
                                    "tool_call_id": None, "name": None}
    with_meta = dataset.to_hf(include_meta=True)
    assert with_meta["task"] == ["search", "chat"]


def test_splits_export_to_a_dataset_dict_and_three_jsonl_files(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    splits = make_dataset(50).split(validation=0.2, test=0.2, seed=0)
    hf = splits.to_hf()
    assert {name: len(ds) for name, ds in hf.items()} == splits.sizes()
    paths = splits.to_jsonl(tmp_path)
    assert sorted(p.name for p in paths.values()) == ["test.jsonl", "train.jsonl",
                                                      "validation.jsonl"]
    assert len(Dataset.from_jsonl(paths["test"])) == len(splits.test)


def test_dataset_sequence_protocol_and_tasks() -> None:
    dataset = make_dataset(20)
    assert len(dataset[2:5]) == 3 and dataset[0] is dataset.examples[0]
    assert list(dataset) == dataset.examples
    assert dataset.tasks() == Counter(m["task"] for m in dataset.meta)
    with pytest.raises(ValueError):
        Dataset([{"messages": []}], meta=[])


def test_without_datasets_to_hf_names_the_curate_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(MissingDependencyError, match=r"slm-agents\[curate\]"):
        make_dataset(3).to_hf()
