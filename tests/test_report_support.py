"""Shared data for the replacement-report tests: an agent's calls with known tokens and times.

Three recurring tasks and a few stray calls, every call one hour after the previous one:

- ``weather`` (120 calls, label 0): templated questions answered with a ``get_weather`` tool call,
  100 input and 20 output tokens each;
- ``chat`` (60 calls, label 1): free prose shown to a person, 1,000 / 200 tokens;
- ``sentiment`` (40 calls, label 2): a classifier answering one of two labels, 50 / 1 tokens;
- 10 stray calls (label -1), 10 / 10 tokens.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from slm_agents.cluster.report import Prices
from slm_agents.records import CallRecord, Message, ToolCall, Usage
from slm_agents.select import Hardware
from slm_agents.train.generation import Generation

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)
CITIES = ["Oslo", "Paris", "Rome", "Lima", "Cairo", "Delhi"]
WORDS = ("river mountain ledger violin harbour copper meadow lantern orbit saddle thunder "
         "velvet quarry maple signal cobalt tundra falcon prism").split()
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
NAMES = {0: "weather", 1: "chat", 2: "sentiment"}
#: $1 / $2 per 1K input / output tokens: costs are easy to compute by hand.
PRICES = Prices(input_per_1k=1.0, output_per_1k=2.0)
#: A 0.5B model on this machine: prefill 2·0.5e9 FLOPs / 1e12 FLOP/s = 1 ms per input token,
#: decode 1 GB of bf16 weights / 10 GB/s = 0.1 s per output token, at $3.60/h = $0.001/s:
#: $0.001 per 1K input tokens and $0.1 per 1K output tokens.
HARDWARE = Hardware(name="test-box", flops=1e12, bandwidth=1e10, price_per_hour=3.6)
SLM_IN, SLM_OUT = 0.001, 0.1


def weather(i: int) -> CallRecord:
    city = CITIES[i % len(CITIES)]
    return CallRecord(
        agent="travel", tools=[WEATHER_TOOL],
        messages=[Message(role="system", content="You answer weather questions."),
                  Message(role="user", content=f"What is the weather in {city} on day {i}?")],
        tool_calls=[ToolCall(name="get_weather", arguments={"city": city})],
        usage=Usage(input_tokens=100, output_tokens=20))


def chat(i: int) -> CallRecord:
    prompt = " ".join(WORDS[(i * k + i) % len(WORDS)] for k in range(1, 12))
    answer = " ".join(WORDS[(i * k + 7) % len(WORDS)] for k in range(1, 40))
    return CallRecord(agent="concierge", human_facing=True,
                      messages=[Message(role="user", content=f"Tell me about {prompt} {i}")],
                      output=f"Sure! {answer} ({i})", usage=Usage(input_tokens=1000,
                                                                    output_tokens=200))


def sentiment(i: int) -> CallRecord:
    return CallRecord(agent="triage",
                      messages=[Message(role="user",
                                        content=f"Classify the sentiment of review {i}.")],
                      output="positive" if i % 3 else "negative",
                      usage=Usage(input_tokens=50, output_tokens=1))


def stray(i: int) -> CallRecord:
    return CallRecord(agent="misc", messages=[Message(role="user", content=f"odd request {i}")],
                      output=f"odd answer {i}", usage=Usage(input_tokens=10, output_tokens=10))


def calls() -> tuple[list[CallRecord], list[int]]:
    """The records, one hour apart, and their labels."""
    records = ([weather(i) for i in range(120)] + [chat(i) for i in range(60)]
               + [sentiment(i) for i in range(40)] + [stray(i) for i in range(10)])
    labels = [0] * 120 + [1] * 60 + [2] * 40 + [-1] * 10
    for n, record in enumerate(records):
        record.started_at = T0 + timedelta(hours=n)
    return records, labels


class WeatherModel:
    """A stand-in specialist: calls get_weather for the city in the question, or a wrong one."""

    name = "weather-specialist"

    def __init__(self, right: bool = True) -> None:
        self.right = right

    def generate(self, messages: Any, tools: Any = None, **kwargs: Any) -> Generation:
        question = messages[-1]["content"]
        city = next((c for c in CITIES if c in question), "Nowhere") if self.right else "Nowhere"
        return Generation(tool_calls=[ToolCall(name="get_weather", arguments={"city": city})],
                          latency_ms=5.0)
