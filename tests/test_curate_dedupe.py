"""Exact and near-duplicate removal, and which copy the curator keeps."""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta, timezone

import pytest

import slm_agents as sa
from slm_agents.curate.chat_format import record_to_example
from slm_agents.curate.curator import Curator
from slm_agents.curate.dedupe import Deduplicator, exact_key
from slm_agents.errors import MissingDependencyError

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray").split()


def text(seed: int, n: int = 80) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def record(user: str, output: str | None = "done", **fields: object) -> sa.CallRecord:
    return sa.CallRecord(messages=[sa.Message(role="system", content="You help."),
                                   sa.Message(role="user", content=user)],
                         output=output, **fields)  # type: ignore[arg-type]


def test_exact_key_ignores_whitespace_and_tool_call_ids_but_not_content() -> None:
    a = record_to_example(record("book  a\nflight", output=None, tool_calls=[
        sa.ToolCall(name="book", arguments={"b": 1, "a": 2}, id="call_x")]))
    b = record_to_example(record("book a flight", output=None, tool_calls=[
        sa.ToolCall(name="book", arguments={"a": 2, "b": 1}, id="call_y")]))
    c = record_to_example(record("book a train", output=None, tool_calls=[
        sa.ToolCall(name="book", arguments={"a": 2, "b": 1})]))
    assert exact_key(a) == exact_key(b)
    assert exact_key(a) != exact_key(c)


def test_near_duplicates_are_found_and_distinct_texts_are_not() -> None:
    dedupe = Deduplicator("near", threshold=0.8)
    base = text(1)
    edited = base.split()
    edited[40] = "zulu"  # one word changed in 80
    assert dedupe.check(record_to_example(record(base))) is None
    assert dedupe.check(record_to_example(record(" ".join(edited)))) == "duplicate_near"
    assert dedupe.check(record_to_example(record(base))) == "duplicate_exact"
    for seed in range(2, 30):
        assert dedupe.check(record_to_example(record(text(seed)))) is None


def test_near_duplicate_ignores_the_system_prompt_that_every_call_repeats() -> None:
    dedupe = Deduplicator("near", threshold=0.85)
    prompt = text(99, 400)
    first = sa.CallRecord(messages=[sa.Message(role="system", content=prompt),
                                    sa.Message(role="user", content=text(1, 20))], output="ok")
    second = sa.CallRecord(messages=[sa.Message(role="system", content=prompt),
                                     sa.Message(role="user", content=text(2, 20))], output="ok")
    assert dedupe.check(record_to_example(first)) is None
    assert dedupe.check(record_to_example(second)) is None


@pytest.mark.parametrize("mode", ["none", "exact"])
def test_weaker_modes_keep_near_duplicates(mode: str) -> None:
    dedupe = Deduplicator(mode)
    edited = text(1).split()
    edited[3] = "zulu"
    assert dedupe.check(record_to_example(record(text(1)))) is None
    assert dedupe.check(record_to_example(record(" ".join(edited)))) is None


def test_keep_latest_keeps_the_most_recent_copy() -> None:
    copies = [record(text(1), id=f"r{i}", started_at=T0 + timedelta(hours=h))
              for i, h in enumerate([5, 9, 1])]
    curator = Curator(keep="latest")
    dataset = curator.run(copies + [record(text(2), id="other")])
    assert [m["record_id"] for m in dataset.meta] == ["r1", "other"]
    assert curator.report_.duplicates_exact == 2


def test_keep_quality_prefers_success_then_valid_tools_then_lower_latency() -> None:
    tools = [{"type": "function", "function": {"name": "book", "parameters": {}}}]
    variants = [
        # failed (kept only because errors are not dropped here)
        record(text(1), id="failed", error="boom", latency_ms=10, started_at=T0),
        # fast and fine
        record(text(1), id="fast", latency_ms=200, started_at=T0),
        # fine but slow, and the most recent
        record(text(1), id="slow", latency_ms=900, started_at=T0 + timedelta(days=1)),
        # latency unknown counts as slowest
        record(text(1), id="unknown", started_at=T0 + timedelta(days=2)),
    ]
    for variant in variants:
        variant.tools = tools
    dataset = Curator(keep="quality", drop_errors=False).run(variants)
    assert [m["record_id"] for m in dataset.meta] == ["fast"]
    dataset = Curator(keep="latest", drop_errors=False).run(variants)
    assert [m["record_id"] for m in dataset.meta] == ["unknown"]


def test_without_datasketch_near_dedupe_names_the_extra_and_exact_still_works(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasketch", None)  # makes `import datasketch` fail
    with pytest.raises(MissingDependencyError, match=r"slm-agents\[curate\]"):
        Curator(dedupe="near").run([record(text(1))])
    assert len(Curator(dedupe="exact").run([record(text(1)), record(text(1))])) == 1


def test_a_shared_long_tool_result_does_not_make_different_answers_duplicates() -> None:
    catalogue = text(7, 400)  # the same tool result under every question

    def call(question: str, answer: str) -> dict[str, object]:
        return record_to_example(sa.CallRecord(messages=[
            sa.Message(role="user", content=question),
            sa.Message(role="tool", content=catalogue, tool_call_id="c1")], output=answer))

    dedupe = Deduplicator("near", threshold=0.85)
    assert dedupe.check(call("which item is cheapest", "the bravo kit at 12 euros")) is None
    assert dedupe.check(call("what ships to lima", "only the golf and hotel sets ship")) is None
    # the same answer under a reworded question is a near duplicate
    assert dedupe.check(call("which item is the cheapest", "the bravo kit at 12 euros")) == (
        "duplicate_near")
