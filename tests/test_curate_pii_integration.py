"""Curator with the real PIIScrubber (spaCy model loaded once for the module)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import slm_agents as sa
from slm_agents.curate.curator import Curator

pytest.importorskip("presidio_analyzer")
scrubber_module = pytest.importorskip("slm_agents.curate.scrubber")

TOOLS = [{"type": "function", "function": {"name": "send_email", "parameters": {
    "type": "object", "properties": {"to": {"type": "string"}, "body": {"type": "string"}}}}}]
PEOPLE = [("Maria Gonzalez", "maria.gonzalez@example.com", "415-555-0132"),
          ("Tom Becker", "tom.becker@example.org", "212-555-0187")]


@pytest.fixture(scope="module")
def scrubber() -> Iterator[object]:
    yield scrubber_module.PIIScrubber(key="test-key")


def calls() -> list[sa.CallRecord]:
    out = []
    for i in range(8):
        name, email, phone = PEOPLE[i % 2]
        out.append(sa.CallRecord(
            id=f"r{i}", trace_id=f"t{i}",
            messages=[sa.Message(role="system", content="You are the support agent."),
                      sa.Message(role="user", content=f"Hi, I am {name}. Please e-mail me at "
                                 f"{email} or call {phone} about ticket {1000 + i}.")],
            tools=TOOLS,
            tool_calls=[sa.ToolCall(name="send_email", id=f"c{i}", arguments={
                "to": email, "body": f"Dear {name}, ticket {1000 + i} is resolved."})],
            metadata={"task": "support"},
        ))
    return out


def test_curated_dataset_holds_no_planted_value_and_stays_valid(scrubber: object,
                                                               tmp_path: Path) -> None:
    curator = Curator(scrubber=scrubber, dedupe="exact")
    dataset = curator.run(calls())
    text = dataset.to_jsonl(tmp_path / "d.jsonl").read_text(encoding="utf-8")
    for name, email, phone in PEOPLE:
        for value in (name, email, phone):
            assert value not in text
    assert len(dataset) == 8
    report = curator.report_
    assert report.scrubber == "PIIScrubber"
    assert report.entities_scrubbed.get("EMAIL_ADDRESS", 0) >= 16
    # tool arguments are still a JSON object with the same keys, e-mails still e-mails
    surrogates = set()
    for example in dataset:
        arguments = json.loads(example["messages"][-1]["tool_calls"][0]["function"]["arguments"])
        assert set(arguments) == {"to", "body"} and "@" in arguments["to"]
        surrogates.add(arguments["to"])
        assert example["tools"] == TOOLS  # schemas are never scrubbed
    # the same person gets the same pseudonym in every record
    assert len(surrogates) == 2
