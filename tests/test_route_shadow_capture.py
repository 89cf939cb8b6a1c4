"""Shadow mode, and every decision captured through a real Recorder into a real Store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_route_support import (
    ASK,
    TOOLS,
    Scripted,
    always,
    fake_llm,
    llm_text,
    llm_tool_call,
    weather_call,
)

import slm_agents as sa
from slm_agents.errors import RoutingError
from slm_agents.route import Router


@pytest.mark.parametrize("mode", ["sync", "async", "stream"])
def test_shadow_mode_serves_the_llm_and_logs_agreement(mode: str) -> None:
    specialist = Scripted(weather_call("Oslo"), weather_call("Rome"))
    router = Router(fake_llm(llm_tool_call("Oslo")), {"weather": specialist},
                    policy=always("weather"), shadow=True)

    def ask() -> object:
        if mode == "sync":
            return router.invoke(ASK, TOOLS)
        if mode == "async":
            return asyncio.run(router.ainvoke(ASK, TOOLS))
        return list(router.stream(ASK, TOOLS))

    first, second = ask(), ask()
    if mode != "stream":
        assert [a.route for a in (first, second)] == ["llm", "llm"]  # type: ignore[attr-defined]
        assert [a.agreement for a in (first, second)] == [True, False]  # type: ignore[attr-defined]
        assert first.tool_calls[0].arguments == {"city": "Oslo"}  # type: ignore[attr-defined]
        assert first.fallback_reason is None  # type: ignore[attr-defined]
    stats = router.stats()
    assert (stats.shadow_calls, stats.shadow_agreement_rate) == (2, 0.5)
    assert stats.by_route == {"specialist": 0, "llm": 2}
    assert stats.fallbacks == 0 and stats.specialist_generations == 2


def test_shadow_mode_can_watch_some_tasks_only() -> None:
    router = Router(fake_llm(llm_text()), {"a": Scripted("A."), "b": Scripted("B.")},
                    policy=lambda call: call.messages[-1]["content"], shadow={"a"})
    assert router.invoke("a").route == "llm"
    assert router.invoke("b").route == "specialist"


def test_every_decision_is_captured_with_its_route_task_and_reason(
        tmp_path: Path, admin_key: str) -> None:
    with sa.Store(tmp_path / "calls.db", key=admin_key) as store:
        recorder = sa.Recorder(store, agent="travel")
        specialist = Scripted(weather_call("Bergen"), '{"name": "nope", "arguments": {}}')
        router = Router(fake_llm(llm_tool_call("Oslo")), {"weather": specialist},
                        policy=always("weather", 0.8), recorder=recorder)
        served = router.invoke(ASK, TOOLS, trace_id="trace-1")
        escalated = router.invoke(ASK, TOOLS, trace_id="trace-2")
        shadow = Router(fake_llm(llm_tool_call("Oslo")), {"weather": Scripted(weather_call())},
                        policy=always("weather", 0.8), recorder=recorder, shadow=True)
        watched = shadow.invoke(ASK, TOOLS, trace_id="trace-3")
        assert recorder.flush(timeout=30)
        recorder.close()
        records = {r.trace_id: r for r in store.records()}
    assert set(records) == {"trace-1", "trace-2", "trace-3"}
    first, second, third = records["trace-1"], records["trace-2"], records["trace-3"]
    assert first.id == served.call_id and first.source == "router"
    assert first.metadata["route"] == "specialist" and first.metadata["task"] == "weather"
    assert first.metadata["confidence"] == 0.8 and first.metadata["fallback_reason"] is None
    assert first.tool_calls[0].arguments == {"city": "Bergen"}
    assert first.messages[0].content == "Weather in Oslo?" and first.tools == TOOLS
    assert first.agent == "travel"
    # the escalation keeps the LLM's answer as the output and the rejected one in metadata
    assert second.id == escalated.call_id
    assert second.metadata["route"] == "llm"
    assert second.metadata["fallback_reason"] == "unknown_tool"
    assert "nope" in second.metadata["rejected_output"]
    assert second.tool_calls[0].arguments == {"city": "Oslo"}
    assert second.usage.input_tokens == 40
    # shadow mode keeps both answers and their agreement
    assert third.id == watched.call_id and third.metadata["route"] == "llm"
    assert third.metadata["shadow"]["agreement"] is True
    assert third.metadata["shadow"]["specialist"]["tool_calls"] == [
        {"name": "get_weather", "arguments": {"city": "Oslo"}}]


def test_a_failed_llm_call_is_captured_with_its_error(tmp_path: Path, admin_key: str) -> None:
    def down(messages, tools):  # noqa: ANN001, ANN202
        raise TimeoutError("provider timeout")

    with sa.Store(tmp_path / "calls.db", key=admin_key) as store:
        with sa.Recorder(store, durability="sync") as recorder:
            router = Router(down, {}, policy=always("weather"), recorder=recorder)
            with pytest.raises(RoutingError):
                router.invoke(ASK, trace_id="t")
        (record,) = list(store.records())
    assert record.error is not None and "provider timeout" in record.error
    assert record.metadata["decision_reason"] == "no_specialist"


class ExplodingRecorder:
    """A recorder whose every hand-over fails."""

    def record(self, record: object) -> None:
        raise OSError("disk full")


def test_a_failing_recorder_never_reaches_the_caller() -> None:
    router = Router(fake_llm(llm_text("fine")), {}, policy=always("x"),
                    recorder=ExplodingRecorder())
    assert router.invoke(ASK).text == "fine"
