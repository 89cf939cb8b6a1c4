"""The demo: its LangChain agents' capture, its workload, and the whole pipeline.

The pipeline's default test run uses the hidden ``tiny`` setting (a tiny random model, the
hashing embedder, 180 calls); the real ``--fast`` run (SmolLM2-135M, 2,100 calls, about two
minutes on two cores) runs in CI too, as the issue asks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import slm_agents as sa
from slm_agents.demo import MODES, capture_calls, run_demo, settings_for
from slm_agents.demo.replay import CappedModel, ReplayLLM, held_out_calls
from slm_agents.demo.workload import make_requests, planted_emails
from slm_agents.errors import ConfigError
from slm_agents.train.generation import Generation

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning",
                                        "ignore::DeprecationWarning")


@pytest.fixture
def one_thread():
    import torch  # a tiny model's ops are too small to share among threads

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_capture_writes_every_agent_call_into_an_encrypted_store(tmp_path: Path) -> None:
    result = capture_calls(40, tmp_path, seed=1)
    assert result.calls == 120  # three LLM calls per request
    assert result.capture_stats["written"] == 120
    assert result.capture_stats["hook_errors"] == 0
    assert set(result.calls_per_agent) == {"triage", "tool_agent", "summariser", "responder"}
    assert result.calls_per_agent["triage"] == 40
    assert result.human_facing == 40  # the responder's answers
    assert result.plaintext_hits == 0
    assert result.writer_can_read is False
    assert result.emails_in_view > 0  # not scrubbed: the decrypted view holds them
    with sa.Store(result.store_path, key=result.admin_key) as store:
        records = list(store.records())
    by_trace: dict[str, list[sa.CallRecord]] = {}
    for record in records:
        assert record.trace_id is not None
        by_trace.setdefault(record.trace_id, []).append(record)
    assert len(by_trace) == 40 and all(len(calls) == 3 for calls in by_trace.values())
    tool_calls = [r for r in records if r.agent == "tool_agent"]
    assert all(r.tool_calls and r.tool_names == ["get_weather", "convert_currency",
                                                 "book_meeting"] for r in tool_calls)


def test_capture_with_a_scrubber_stores_no_planted_email_even_decrypted(tmp_path: Path) -> None:
    pytest.importorskip("presidio_analyzer")
    result = capture_calls(30, tmp_path, seed=2, scrubber=sa.PIIScrubber(mode="placeholder"))
    assert result.emails_in_view == 0 and result.calls == 90
    assert result.capture_stats["dropped_scrub_failed"] == 0


def test_demo_scrubbing_hides_emails_and_keeps_tool_arguments_consistent(tmp_path) -> None:
    """Pseudonyms must be the same in the request and in the tool call the specialist learns."""
    pytest.importorskip("presidio_analyzer")
    from slm_agents.demo import stages

    capture = capture_calls(40, tmp_path, seed=5)
    with sa.Store(capture.store_path, key=capture.curator_key) as store:
        records = list(store.records())
    curated = stages.curate(records, scrub=True, seed=0, planted=capture.planted)
    assert curated.emails_in_dataset == 0 and curated.entities["EMAIL_ADDRESS"] > 0
    calls = [ex for ex in curated.dataset.examples if ex["messages"][-1].get("tool_calls")]
    assert calls
    for example in calls:
        request = example["messages"][-2]["content"]
        call = example["messages"][-1]["tool_calls"][0]["function"]
        arguments = call["arguments"]
        arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
        for name, value in arguments.items():
            if name != "unit":
                assert str(value) in request, (name, value, request)


def test_the_workload_is_varied_enough_that_few_requests_repeat() -> None:
    requests = make_requests(700, seed=0)
    texts = [r.text for r in requests]
    assert len(set(texts)) >= 0.97 * len(texts)
    assert {r.task for r in requests} == {"weather", "currency", "meeting", "summary"}
    emails = planted_emails(requests)
    assert all("example." not in e for e in emails)  # the scrubber's pseudonyms never match
    meetings = [r for r in requests if r.task == "meeting"]
    assert all(r.tool_call["args"]["email"] in r.text for r in meetings)


def test_every_setting_captures_at_least_2000_calls_but_tiny() -> None:
    assert MODES["default"].calls >= 2000 and MODES["fast"].calls >= 2000
    assert settings_for(fast=True).max_steps < settings_for().max_steps
    assert settings_for(fast=True).tasks < settings_for().tasks == 3
    with pytest.raises(ConfigError, match="unknown demo setting"):
        settings_for(stepz=3)
    with pytest.raises(ConfigError, match="requests"):
        settings_for(requests=0)


def test_the_replayed_llm_answers_each_call_with_its_logged_answer() -> None:
    llm = ReplayLLM()
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    llm.remember(messages, None, Generation(text="logged"))
    assert llm.generate([dict(m, extra=1) for m in messages]).text == "logged"
    with pytest.raises(LookupError):
        llm.generate([{"role": "user", "content": "never logged"}])


def test_a_capped_model_passes_its_generation_budget() -> None:
    seen = {}

    class Model:
        def generate(self, messages, tools=None, **kwargs):
            seen.update(kwargs, tools=tools)
            return Generation(text="x")

    capped = CappedModel(Model(), 7, "m")
    assert capped.generate([], [{"x": 1}]).text == "x"
    assert seen == {"max_new_tokens": 7, "tools": [{"x": 1}]}


def test_held_out_calls_keep_whole_traces_in_time_order(tmp_path: Path) -> None:
    result = capture_calls(10, tmp_path, seed=0)
    with sa.Store(result.store_path, key=result.admin_key) as store:
        records = list(store.records())
    traces = sorted({r.trace_id for r in records})[:4]
    calls = held_out_calls(records, set(traces), limit=5)
    assert len(calls) == 6  # two whole traces of three calls: the limit never cuts a trace
    assert len({c.trace_id for c in calls}) == 2
    assert [c.started_at for c in calls] == sorted(c.started_at for c in calls)


def test_the_tiny_demo_runs_every_stage_and_writes_the_report(tmp_path: Path,
                                                               one_thread) -> None:
    pytest.importorskip("trl")
    lines: list[str] = []
    result = run_demo(workdir=tmp_path, tiny=True, scrub=False, echo=lines.append)
    assert [s["stage"] for s in result.stages] == [
        "capture", "curate", "cluster", "select", "train", "evaluate", "route", "report"]
    assert len(lines) == 8 and all(line.startswith(f"[{i}/8]") for i, line in
                                   enumerate(lines, start=1))
    assert result.calls == 180 and result.capture.plaintext_hits == 0
    assert result.examples["examples"] > 100 and len(result.tasks) >= 2
    assert len(result.selection) == 3  # the catalog's best-ranked cards
    assert len(result.specialists) == 1
    info = result.specialists[0]
    assert (info["path"] / "specialist.json").is_file() and info["steps"] == 2
    assert info["eval"] is not None and info["eval"].n >= 1
    replay = result.replay
    assert replay.calls >= 24 and replay.traces >= 8
    assert replay.specialist + sum(c.get("llm", 0) for c in replay.by_task.values()) == \
        replay.calls
    page = (tmp_path / "report.html").read_text()
    assert "Router replay on held-out traffic" in page and "Demo pipeline" in page
    assert (tmp_path / "report.md").is_file()
    assert {p.name for p in (tmp_path / "data").iterdir()} == {
        "train.jsonl", "validation.jsonl", "test.jsonl"}


def test_the_fast_demo_trains_smollm2_specialists_that_agree_with_the_llm(
        tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(workdir=tmp_path, fast=True, echo=lines.append)
    assert result.calls >= 2000 and len(lines) == 8
    assert result.emails_in_dataset == 0 and result.entities_scrubbed["EMAIL_ADDRESS"] > 0
    assert len(result.specialists) == 2
    for info in result.specialists:
        assert info["eval"].agreement >= 0.9
        assert info["baseline"].agreement < info["eval"].agreement
    assert result.replay.specialist > 0 and result.replay.specialist_agreement >= 0.9
    assert (tmp_path / "report.html").is_file()
    if os.environ.get("SLM_AGENTS_TIMING"):
        print("\n".join(lines), f"\ntotal {result.seconds:.0f} s")


def test_a_specialists_answer_budget_is_its_longest_answer_plus_a_margin_within_bounds() -> None:
    from slm_agents.demo.replay import answer_budget

    def words(text: str, add_special_tokens: bool = True) -> dict[str, list[str]]:
        return {"input_ids": text.split()}

    assert answer_budget(words, ["a b c", "a " * 20]) == 28
    assert answer_budget(words, ["yes"]) == 9
    assert answer_budget(words, []) == 8
    assert answer_budget(words, ["w " * 1000]) == 256
