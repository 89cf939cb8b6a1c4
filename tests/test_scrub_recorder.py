"""The scrubber in the Recorder's hook: the store keeps only the scrubbed form (raw for admins)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("presidio_analyzer")

import slm_agents as sa  # noqa: E402
from slm_agents.curate.scrubber import PIIScrubber  # noqa: E402

PLANTED = ["Maria Garcia", "maria.garcia@acme.com", "(415) 555-2671", "536-22-8741",
           "sk-proj-4f9Qa7LmZ2xT8vR1cW6yB3nKpQ9dE"]


@pytest.fixture(scope="module")
def scrubber() -> Iterator[PIIScrubber]:
    scrubber = PIIScrubber(key="recorder-test")
    scrubber.detect("warm up")
    yield scrubber


def planted_record(i: int) -> sa.CallRecord:
    return sa.CallRecord(
        id=f"call-{i}",
        messages=[
            sa.Message(role="system", content="You are a helpful HR assistant."),
            sa.Message(role="user", content=f"I'm Maria Garcia (SSN 536-22-8741), reach me at "
                                            f"maria.garcia@acme.com or (415) 555-2671. #{i}"),
            sa.Message(role="assistant", tool_calls=[sa.ToolCall(
                name="set_secret", id=f"t{i}",
                arguments={"name": "OPENAI_API_KEY",
                           "value": "sk-proj-4f9Qa7LmZ2xT8vR1cW6yB3nKpQ9dE"})]),
        ],
        output="Done, Maria Garcia.")


def test_store_keeps_only_the_scrubbed_form(store: sa.Store, scrubber: PIIScrubber) -> None:
    with sa.Recorder(store, scrubber=scrubber) as recorder:
        for i in range(3):
            recorder.record(planted_record(i))
    stored = list(store.records())
    assert len(stored) == 3
    for record in stored:
        text = record.to_json()
        assert not [value for value in PLANTED if value in text]
        call = record.messages[2].tool_calls[0]
        assert call.name == "set_secret" and call.arguments["name"] == "OPENAI_API_KEY"
        assert call.arguments["value"].startswith("sk-proj-")
    # one person, one pseudonym, in every stored record
    names = {r.output for r in stored}
    assert len(names) == 1


def test_with_keep_raw_the_admin_reads_the_original(store: sa.Store,
                                                    scrubber: PIIScrubber) -> None:
    with sa.Recorder(store, scrubber=scrubber, keep_raw=True) as recorder:
        recorder.record(planted_record(0))
    scrubbed = store.get("call-0")
    raw = store.get("call-0", raw=True)
    assert "maria.garcia@acme.com" not in scrubbed.to_json()
    assert "maria.garcia@acme.com" in raw.to_json()
    assert json.loads(raw.to_json())["output"] == "Done, Maria Garcia."


def test_a_record_that_cannot_be_scrubbed_is_dropped_not_stored_raw(
        store: sa.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    scrubber = PIIScrubber(key="recorder-test")
    engine = scrubber._get_engine()

    def broken(items: Any, **kwargs: Any) -> Any:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(engine, "analyze", broken)
    with sa.Recorder(store, scrubber=scrubber) as recorder:
        recorder.record(planted_record(0))
    assert recorder.stats().dropped_scrub_failed == 1
    assert len(store) == 0
