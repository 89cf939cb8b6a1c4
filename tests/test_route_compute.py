"""Test-time compute before escalation: one retry with feedback, self-consistency votes."""

from __future__ import annotations

import asyncio

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

from slm_agents.route import Router
from slm_agents.route.stage import FEEDBACK_TEMPLATE

OUT_OF_BOUNDS = '{"name": "get_weather", "arguments": {"city": "Oslo", "days": 30}}'


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_retry_with_the_checkers_message_succeeds_on_the_second_try(mode: str) -> None:
    specialist = Scripted(OUT_OF_BOUNDS, weather_call("Oslo", days=3))
    router = Router(fake_llm(llm_tool_call()), {"weather": specialist}, policy=always("weather"),
                    retry_with_feedback=True)
    answer = (router.invoke(ASK, TOOLS) if mode == "sync"
              else asyncio.run(router.ainvoke(ASK, TOOLS)))
    assert (answer.route, answer.attempts, answer.fallback_reason) == ("specialist", 2, None)
    assert answer.tool_calls[0].arguments == {"city": "Oslo", "days": 3}
    retry = specialist.seen[1]
    assert retry[:-2] == ASK
    assert retry[-2] == {"role": "assistant", "content": OUT_OF_BOUNDS}
    assert retry[-1]["role"] == "user"
    assert "violates maximum 7" in retry[-1]["content"]
    assert retry[-1]["content"].startswith(FEEDBACK_TEMPLATE.split("{")[0])
    stats = router.stats()
    assert (stats.retries, stats.retry_successes, stats.specialist_generations) == (1, 1, 2)
    assert stats.fallbacks == 0


def test_when_the_retry_fails_too_then_the_llm_answers_and_both_tries_are_paid() -> None:
    specialist = Scripted(OUT_OF_BOUNDS, '{"name": "nope", "arguments": {}}')
    router = Router(fake_llm(llm_tool_call()), {"weather": specialist}, policy=always("weather"),
                    retry_with_feedback=True)
    answer = router.invoke(ASK, TOOLS)
    assert (answer.route, answer.attempts, answer.fallback_reason) == ("llm", 2, "unknown_tool")
    stats = router.stats()
    assert stats.specialist_generations == 2 and stats.tokens["specialist"]["input"] > 0


def test_an_exception_is_not_retried() -> None:
    specialist = Scripted(RuntimeError("down"), weather_call())
    router = Router(fake_llm(llm_tool_call()), {"weather": specialist}, policy=always("weather"),
                    retry_with_feedback=True)
    assert router.invoke(ASK, TOOLS).fallback_reason == "exception"
    assert specialist.calls == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("script", "served", "share"), [
    # two of three agree: the majority answer is served
    (["Paris.", "Lyon.", "paris. "], "Paris.", 2 / 3),
    # an invalid sample does not vote
    (["", "Lyon.", "Lyon."], "Lyon.", 2 / 3),
    # all different: the first valid one wins the tie
    (["Paris.", "Lyon.", "Nice."], "Paris.", 1 / 3),
])
def test_self_consistency_serves_the_most_common_parsed_answer(
        mode: str, script: list[str], served: str, share: float) -> None:
    answers = iter(script)
    specialist = Scripted(lambda messages: next(answers))
    router = Router(fake_llm(llm_text()), {"geo": specialist}, policy=always("geo"), samples=3)
    answer = (router.invoke(ASK) if mode == "sync" else asyncio.run(router.ainvoke(ASK)))
    assert (answer.route, answer.text, answer.attempts) == ("specialist", served, 3)
    assert router.stats().specialist_generations == 3


def test_samples_vote_on_tool_calls_whatever_their_argument_order() -> None:
    script = iter(['{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}',
                   '{"name": "get_weather", "arguments": {"days": 2.0, "city": "Oslo"}}',
                   '{"name": "get_weather", "arguments": {"city": "Rome"}}'])
    router = Router(fake_llm(llm_tool_call()), {"weather": Scripted(lambda m: next(script))},
                    policy=always("weather"), samples=3)
    answer = router.invoke(ASK, TOOLS)
    assert answer.tool_calls[0].arguments["city"] == "Oslo"


def test_when_no_sample_is_valid_then_the_llm_answers() -> None:
    broken = Scripted("<tool_call>{broken</tool_call>")
    router = Router(fake_llm(llm_tool_call()), {"weather": broken}, policy=always("weather"),
                    samples=3)
    answer = router.invoke(ASK, TOOLS)
    assert (answer.route, answer.attempts) == ("llm", 3)
