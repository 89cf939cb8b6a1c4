"""Escalation on the agent's contract: a bad specialist answer never reaches the caller."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

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

from slm_agents.errors import RoutingError
from slm_agents.route import Router


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Holds a slow specialist until the test ends (so no thread outlives it)."""
    event = threading.Event()
    yield event
    event.set()


CASES = [
    # the tool-call block is not JSON
    ("invalid_json", '<tool_call>\n{"name": "get_weather", "arguments": {"city": }\n</tool_call>',
     "parse_error"),
    # arguments that are a JSON string holding garbage
    ("bad_arguments", '{"name": "get_weather", "arguments": "{city"}', "parse_error"),
    # a tool the agent did not offer
    ("unknown_tool", '<tool_call>\n{"name": "book_flight", "arguments": {}}\n</tool_call>',
     "unknown_tool"),
    # a value out of the schema's bounds
    ("out_of_bounds", '{"name": "get_weather", "arguments": {"city": "Oslo", "days": 30}}',
     "schema_violation"),
    # a required argument missing
    ("missing_required", '{"name": "get_weather", "arguments": {"days": 2}}', "schema_violation"),
    # an argument the schema forbids (additionalProperties: false)
    ("extra_argument", '{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "C"}}',
     "schema_violation"),
    # nothing at all
    ("empty", "", "empty"),
    # the specialist crashed
    ("exception", RuntimeError("CUDA out of memory"), "exception"),
]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("case", "answer", "reason"), CASES, ids=[c[0] for c in CASES])
def test_when_the_specialist_breaks_the_contract_then_the_llm_answers_once(
        mode: str, case: str, answer: object, reason: str) -> None:
    specialist = Scripted(answer)
    router = Router(fake_llm(llm_tool_call("Oslo")), {"weather": specialist},
                    policy=always("weather"))
    if mode == "sync":
        result = router.invoke(ASK, TOOLS)
    else:
        result = asyncio.run(router.ainvoke(ASK, TOOLS))
    assert result.route == "llm"
    assert result.fallback_reason == reason
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_weather",
                                                                   {"city": "Oslo"})]
    assert specialist.calls == 1
    stats = router.stats()
    assert stats.fallback_reasons == {reason: 1}
    assert stats.fallbacks == 1 and stats.fallback_rate == 1.0


class SlowAsync:
    """An async specialist that never answers in time (its wait is cancelled)."""

    def generate(self, messages, tools=None):  # noqa: ANN001, ANN201
        raise AssertionError("the async path must not call generate")

    async def agenerate(self, messages, tools=None):  # noqa: ANN001, ANN201
        await asyncio.sleep(30)


def test_when_the_specialist_is_too_slow_then_the_llm_answers(gate: threading.Event) -> None:
    router = Router(fake_llm(llm_tool_call()), {"weather": Scripted(weather_call(), gate=gate)},
                    policy=always("weather"), timeout_s=0.05)
    result = router.invoke(ASK, TOOLS)
    assert (result.route, result.fallback_reason) == ("llm", "timeout")
    router.close()


def test_when_an_async_specialist_is_too_slow_then_its_wait_is_cancelled() -> None:
    router = Router(fake_llm(llm_tool_call()), {"weather": SlowAsync()},
                    policy=always("weather"), timeout_s=0.05)
    result = asyncio.run(router.ainvoke(ASK, TOOLS))
    assert (result.route, result.fallback_reason) == ("llm", "timeout")


def test_a_valid_specialist_answer_is_served_without_calling_the_llm() -> None:
    llm = fake_llm(llm_text("never"))
    router = Router(llm, {"weather": Scripted(weather_call("Bergen", days=3))},
                    policy=always("weather"), timeout_s=5)
    result = router.invoke(ASK, TOOLS)
    assert (result.route, result.fallback_reason, result.task) == ("specialist", None, "weather")
    assert result.tool_calls[0].arguments == {"city": "Bergen", "days": 3}
    assert llm.i == 0  # the fake LLM's cursor never moved
    router.close()


def test_a_user_validator_can_reject_an_answer_with_its_own_message() -> None:
    def no_oslo(generation, call):  # noqa: ANN001, ANN202 - the validator signature
        if generation.tool_calls and generation.tool_calls[0].arguments.get("city") == "Oslo":
            return "Oslo is served by the LLM"
        return None

    router = Router(fake_llm(llm_tool_call()), {"weather": Scripted(weather_call("Oslo"))},
                    policy=always("weather"), validators=[no_oslo])
    result = router.invoke(ASK, TOOLS)
    assert (result.route, result.fallback_reason) == ("llm", "validator")


def test_a_validator_that_raises_rejects_instead_of_breaking_the_call() -> None:
    def broken(generation, call):  # noqa: ANN001, ANN202
        raise KeyError("oops")

    router = Router(fake_llm(llm_tool_call()), {"weather": Scripted(weather_call())},
                    policy=always("weather"), validators=broken)
    assert router.invoke(ASK, TOOLS).fallback_reason == "validator"


def test_when_the_llm_fails_too_then_a_routing_error_chains_its_error() -> None:
    def failing_llm(messages, tools):  # noqa: ANN001, ANN202
        raise ConnectionError("provider down")

    router = Router(failing_llm, {"weather": Scripted(RuntimeError("boom"))},
                    policy=always("weather"))
    with pytest.raises(RoutingError, match="rejected \\(exception\\).*provider down") as info:
        router.invoke(ASK, TOOLS)
    assert isinstance(info.value.__cause__, ConnectionError)
    assert router.stats().errors == 1


def test_a_policy_that_raises_sends_the_call_to_the_llm() -> None:
    def broken_policy(call):  # noqa: ANN001, ANN202
        raise ValueError("bad policy")

    router = Router(fake_llm(llm_tool_call()), {"weather": Scripted(weather_call())},
                    policy=broken_policy)
    result = router.invoke(ASK, TOOLS)
    assert (result.route, result.reason) == ("llm", "policy_error")


def test_streaming_emits_only_the_llm_answer_when_the_specialist_is_rejected() -> None:
    router = Router(fake_llm(llm_text("Sunny in Oslo.")),
                    {"weather": Scripted("Rainy, I think")}, policy=always("weather"),
                    validators=[lambda g, c: "no guessing" if "think" in (g.text or "") else None])
    assert "".join(router.stream(ASK)) == "Sunny in Oslo."
    assert router.stats().fallback_reasons == {"validator": 1}


def test_streaming_emits_a_checked_specialist_answer() -> None:
    router = Router(fake_llm(llm_text("never")), {"faq": Scripted("We open at 9.")},
                    policy=always("faq"))
    assert list(router.stream(ASK)) == ["We open at 9."]

    async def collect() -> list[str]:
        return [chunk async for chunk in router.astream(ASK)]

    assert asyncio.run(collect()) == ["We open at 9."]
    assert router.stats().by_route == {"specialist": 2, "llm": 0}
