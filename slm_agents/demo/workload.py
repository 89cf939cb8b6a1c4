"""User requests for the demo's travel-assistant agents, and the answers an LLM would give.

The LLM side is replayed, not generated: for each request we know the task, the right tool call
and the final answer, so LangChain's fake chat model can play the part of a capable LLM while
every call goes through the real framework and the real capture path.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TOOLS", "DemoRequest", "make_requests", "run_tool"]

CITIES = ["Oslo", "Lisbon", "Nairobi", "Kyoto", "Lima", "Toronto", "Hanoi", "Tbilisi", "Perth",
          "Reykjavik", "Cairo", "Bogota", "Vilnius", "Osaka", "Dakar", "Quito"]
CURRENCIES = ["EUR", "USD", "JPY", "GBP", "NOK", "KES", "PEN", "CAD"]
PEOPLE = ["Amara Okafor", "Lars Nilsen", "Mei Tanaka", "Diego Rojas", "Priya Raman",
          "Tom Becker", "Sofia Costa", "Kwame Mensah"]
# Contact details planted in requests: capture must never write these to disk in clear.
EMAILS = ["amara.okafor@example.com", "lars@nilsen.example.org", "mei.t@example.jp"]

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather and 3-day forecast for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "convert_currency", "description": "Convert an amount between currencies.",
        "parameters": {"type": "object", "properties": {
            "amount": {"type": "number"}, "from_currency": {"type": "string"},
            "to_currency": {"type": "string"}},
            "required": ["amount", "from_currency", "to_currency"]}}},
    {"type": "function", "function": {
        "name": "book_meeting", "description": "Put a meeting in the user's calendar.",
        "parameters": {"type": "object", "properties": {
            "attendee": {"type": "string"}, "email": {"type": "string"},
            "date": {"type": "string", "format": "date"}, "city": {"type": "string"}},
            "required": ["attendee", "date"]}}},
]


@dataclass
class DemoRequest:
    """One user request, with what a capable LLM would answer at each step."""

    text: str
    task: str  # "weather" | "currency" | "meeting" | "summary"
    tool_call: dict[str, Any] | None = None
    document: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def _weather(rng: random.Random) -> DemoRequest:
    city = rng.choice(CITIES)
    text = rng.choice([
        "What's the weather like in {c} this week?", "Do I need an umbrella in {c} tomorrow?",
        "Forecast for {c} please, in Fahrenheit.", "How cold is it in {c} right now?",
        "I'm flying to {c} on Friday - what weather should I pack for?"]).format(c=city)
    args: dict[str, Any] = {"city": city}
    if "Fahrenheit" in text:
        args["unit"] = "F"
    return DemoRequest(text, "weather", {"name": "get_weather", "args": args})


def _currency(rng: random.Random) -> DemoRequest:
    amount = rng.choice([20, 75, 150, 300, 1200, 49.5])
    src, dst = rng.sample(CURRENCIES, 2)
    text = rng.choice([
        "Convert {a} {s} to {d}.", "How much is {a} {s} in {d}?",
        "I have {a} {s}; what's that in {d}?", "{a} {s} -> {d} at today's rate?"]).format(
        a=amount, s=src, d=dst)
    return DemoRequest(text, "currency", {"name": "convert_currency", "args": {
        "amount": amount, "from_currency": src, "to_currency": dst}})


def _meeting(rng: random.Random) -> DemoRequest:
    person, city = rng.choice(PEOPLE), rng.choice(CITIES)
    date = f"2026-12-{rng.randint(1, 28):02d}"
    email = rng.choice(EMAILS)
    text = rng.choice([
        "Book a meeting with {p} ({e}) in {c} on {d}.",
        "Schedule time with {p} on {d} in {c}; their email is {e}.",
        "Set up a catch-up with {p} <{e}> for {d}, {c} office."]).format(
        p=person, e=email, c=city, d=date)
    return DemoRequest(text, "meeting", {"name": "book_meeting", "args": {
        "attendee": person, "email": email, "date": date, "city": city}})


def _summary(rng: random.Random) -> DemoRequest:
    city = rng.choice(CITIES)
    facts = {"city": city, "sights": rng.sample(["the old town", "the harbour", "a food market",
                                                  "the national museum", "hot springs",
                                                  "a mountain trail"], 2)}
    doc = (f"{city} travel notes. Visitors usually start with {facts['sights'][0]}, then "
           f"{facts['sights'][1]}. Public transport is reliable and card payments are common. "
           f"Most museums close on Mondays. " * 3)
    text = rng.choice(["Summarise this travel page for me:", "TL;DR of this page please:",
                       "Give me the key points of this guide:"])
    return DemoRequest(f"{text}\n\n{doc}", "summary", None, doc, facts)


_MAKERS = [(_weather, 0.35), (_currency, 0.25), (_meeting, 0.2), (_summary, 0.2)]


def make_requests(n: int, seed: int = 0) -> list[DemoRequest]:
    """``n`` user requests in a fixed mix of four tasks (deterministic for a seed)."""
    rng = random.Random(seed)
    makers, weights = zip(*_MAKERS, strict=True)
    return [rng.choices(makers, weights)[0](rng) for _ in range(n)]


def run_tool(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """The tools themselves (deterministic stand-ins for real APIs)."""
    if name == "get_weather":
        seed = sum(map(ord, args["city"]))
        return {"city": args["city"], "temp": seed % 30 - 5, "unit": args.get("unit", "C"),
                "sky": ["sunny", "cloudy", "rain", "snow"][seed % 4]}
    if name == "convert_currency":
        rate = 1 + (sum(map(ord, args["from_currency"] + args["to_currency"])) % 90) / 37
        return {"amount": round(args["amount"] * rate, 2), "currency": args["to_currency"]}
    if name == "book_meeting":
        return {"status": "booked", "date": args["date"], "attendee": args["attendee"]}
    raise ValueError(f"unknown tool {name!r}")
