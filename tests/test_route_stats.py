"""Counting and pricing what the router did, and keeping concurrent calls apart."""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from test_route_support import TOOLS, Scripted, fake_llm, llm_tool_call, weather_call

import slm_agents as sa
from slm_agents.route import Router
from slm_agents.train.generation import Generation

PRICES = {"llm": (1.0, 2.0), "specialist": (0.1, 0.2)}


def by_content(call: Any) -> tuple[str, float]:
    """The policy: the user's text says the confidence."""
    return "weather", float(call.messages[-1]["content"].split()[-1])


def ask(confidence: float) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Weather in Oslo? {confidence}"}]


def test_stats_count_calls_routes_fallbacks_and_price_the_savings() -> None:
    invalid = Generation(raw="<tool_call>{", parse_error="not JSON", input_tokens=30,
                         output_tokens=5)
    router = Router(fake_llm(llm_tool_call(input_tokens=40, output_tokens=8)),
                    {"weather": Scripted(weather_call(), invalid)}, policy=by_content,
                    prices=PRICES)
    assert router.invoke(ask(0.9), TOOLS).route == "specialist"  # 30 in / 6 out
    assert router.invoke(ask(0.9), TOOLS).fallback_reason == "parse_error"  # + LLM 40 / 8
    assert router.invoke(ask(0.2), TOOLS).reason == "below_threshold"  # LLM 40 / 8
    stats = router.stats()
    assert stats.calls == 3
    assert stats.by_route == {"specialist": 1, "llm": 2}
    assert stats.by_task == {"weather": {"specialist": 1, "llm": 2}}
    assert stats.decision_reasons == {"confident": 2, "below_threshold": 1}
    assert (stats.specialist_attempts, stats.fallbacks, stats.fallback_rate) == (2, 1, 0.5)
    assert stats.fallback_reasons == {"parse_error": 1}
    assert stats.tokens == {"specialist": {"input": 60, "output": 11},
                            "llm": {"input": 80, "output": 16}}
    assert stats.llm_cost == pytest.approx(0.112)
    assert stats.specialist_cost == pytest.approx(0.0082)
    assert stats.baseline_cost == pytest.approx(0.154)  # + the served call at LLM prices
    assert stats.cost_saved == pytest.approx(0.0338)
    assert stats.saved_share == pytest.approx(0.0338 / 0.154)
    # the same counters priced otherwise
    assert router.stats(prices={"llm": (2.0, 4.0)}).baseline_cost == pytest.approx(0.308)
    assert "3 calls" in stats.summary()
    assert stats.to_dict()["by_task"] == {"weather": {"specialist": 1, "llm": 2}}
    router.reset_stats()
    assert router.stats().calls == 0


def test_stats_stay_exact_under_threads() -> None:
    router = Router(fake_llm(llm_tool_call()), {"weather": Scripted(weather_call())},
                    policy=by_content)

    def work() -> None:
        for _ in range(50):
            router.invoke(ask(0.9), TOOLS)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert router.stats().by_route["specialist"] == 400


class EchoSpecialist:
    """An async specialist that answers with the call's own text, after a random pause."""

    def generate(self, messages: Any, tools: Any = None) -> Generation:
        return Generation(text="S:" + messages[-1]["content"])

    async def agenerate(self, messages: Any, tools: Any = None) -> Generation:
        await asyncio.sleep(random.random() / 100)
        return Generation(text="S:" + messages[-1]["content"])


async def echo_llm(messages: Any, tools: Any) -> str:
    """An async LLM callable that answers with the call's own text, after a random pause."""
    await asyncio.sleep(random.random() / 100)
    return "L:" + messages[-1]["content"]


def test_concurrent_async_calls_keep_their_decisions_and_traces_apart(
        tmp_path: Path, admin_key: str) -> None:
    random.seed(0)

    def policy(call: Any) -> tuple[str, float]:
        index = int(call.messages[-1]["content"].split("#")[1])
        return "echo", 0.9 if index % 2 else 0.1

    with sa.Store(tmp_path / "calls.db", key=admin_key) as store:
        recorder = sa.Recorder(store)
        router = Router(echo_llm, {"echo": EchoSpecialist()}, policy=policy, sticky=True,
                        recorder=recorder, timeout_s=5)

        async def conversation(i: int) -> list[Any]:
            messages = [{"role": "user", "content": f"call #{i}"}]
            first = await router.ainvoke(messages, trace_id=f"trace-{i}")
            second = await router.ainvoke(messages, trace_id=f"trace-{i}")
            return [first, second]

        async def everything() -> list[list[Any]]:
            return await asyncio.gather(*(conversation(i) for i in range(50)))

        results = asyncio.run(everything())
        assert recorder.flush(timeout=30)
        recorder.close()
        records = list(store.records())
    for i, (first, second) in enumerate(results):
        route = "specialist" if i % 2 else "llm"
        prefix = "S:" if i % 2 else "L:"
        assert (first.route, first.trace_id, first.text) == (route, f"trace-{i}",
                                                            f"{prefix}call #{i}")
        assert (second.route, second.reason, second.text) == (route, "sticky",
                                                              f"{prefix}call #{i}")
    assert len(records) == 100
    for record in records:
        i = int(record.trace_id.split("-")[1])
        assert record.messages[-1].content == f"call #{i}"
        assert record.output.endswith(f"call #{i}")
        assert record.metadata["route"] == ("specialist" if i % 2 else "llm")
    assert router.stats().by_route == {"specialist": 50, "llm": 50}
