"""User requests for the demo's travel-assistant agents, and the answers an LLM would give.

The LLM side is replayed, not generated: for each request we know the task, the right tool call
and the final answer, so LangChain's fake chat model can play the part of a capable LLM while
every call goes through the real framework and the real capture path.

Requests are paraphrased from many templates, with greetings, sign-offs, cities, amounts, people
and dates drawn at random, so that a few thousand calls are nearly all distinct (as a real
agent's traffic is) and de-duplication keeps most of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EMAILS", "TOOLS", "DemoRequest", "make_requests", "planted_emails", "run_tool"]

CITIES = ["Oslo", "Lisbon", "Nairobi", "Kyoto", "Lima", "Toronto", "Hanoi", "Tbilisi", "Perth",
          "Reykjavik", "Cairo", "Bogota", "Vilnius", "Osaka", "Dakar", "Quito", "Porto", "Seville",
          "Krakow", "Tallinn", "Helsinki", "Bergen", "Cusco", "Mendoza", "Accra", "Kigali",
          "Hobart", "Auckland", "Busan", "Taipei", "Chiang Mai", "Valletta", "Ljubljana", "Zagreb",
          "Edinburgh", "Galway", "Montreal", "Halifax", "Oaxaca", "Cartagena"]
CURRENCIES = ["EUR", "USD", "JPY", "GBP", "NOK", "KES", "PEN", "CAD", "AUD", "CHF", "SEK", "NZD",
              "MXN", "ZAR", "THB", "KRW"]
PEOPLE = ["Amara Okafor", "Lars Nilsen", "Mei Tanaka", "Diego Rojas", "Priya Raman", "Tom Becker",
          "Sofia Costa", "Kwame Mensah", "Ingrid Dahl", "Ravi Menon", "Lucia Ferrari",
          "Yusuf Demir", "Hana Kobayashi", "Oscar Lindqvist", "Chloe Martin", "Mateo Alvarez",
          "Aisha Bello", "Jonas Weber", "Elena Petrova", "Samuel Osei"]
# Made-up mail domains: the scrubber's pseudonyms use example.com/.org/.net, so a planted address
# found in the data is a leak, never a pseudonym that happens to look like one.
DOMAINS = ["globetrek-mail.com", "nordkontor.no", "sakura-travel.jp", "andes-tours.pe"]
#: A few fixed contact details planted in requests (every generated address is planted too,
#: see :func:`planted_emails`): capture must never write them to disk in clear.
EMAILS = ["amara.okafor@globetrek-mail.com", "lars@nordkontor.no", "mei.t@sakura-travel.jp"]
SIGHTS = ["the old town", "the harbour", "a food market", "the national museum", "hot springs",
          "a mountain trail", "the cathedral", "the botanical garden", "a river cruise",
          "the castle", "the street-art district", "a jazz bar"]
DAYS = ["Mondays", "Tuesdays", "Sundays"]
WHEN = ["this week", "tomorrow", "on Friday", "this weekend", "next Monday", "tonight", "today",
        "next week", "on Saturday morning"]
GREETINGS = ["", "", "", "Hi! ", "Hey, ", "Quick question: ", "Hello there. ", "Morning! ",
             "Sorry to bother you - ", "Please help: ", "Hi assistant, "]
SIGN_OFFS = ["", "", "", " Thanks!", " Cheers.", " Thank you.", " ASAP please.", " :)",
             " Much appreciated."]

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

_WEATHER = [
    "What's the weather like in {c} {w}?", "Do I need an umbrella in {c} {w}?",
    "Forecast for {c} {w}, please.", "How cold is it in {c} right now?",
    "I'm flying to {c} {w} - what weather should I pack for?",
    "Is it going to be sunny in {c} {w}?", "Will it rain in {c} {w}?",
    "What temperature should I expect in {c} {w}?", "Check the weather in {c} for me.",
    "Any storms forecast for {c} {w}?", "Give me the {c} forecast {w}.",
    "Should I bring a jacket to {c} {w}?", "How warm will {c} be {w}?",
    "Weather check: {c}, {w}.",
]
_UNITS = [("", None), ("", None), (" In Fahrenheit please.", "F"), (" Use Celsius.", "C"),
          (" (degrees F)", "F")]
_CURRENCY = [
    "Convert {a} {s} to {d}.", "How much is {a} {s} in {d}?", "I have {a} {s}; what's that in {d}?",
    "{a} {s} -> {d} at today's rate?", "What do {a} {s} come to in {d}?",
    "Exchange {a} {s} into {d} for me.", "If I change {a} {s}, how many {d} do I get?",
    "Need {d} for {a} {s} - what's the conversion?", "Quote me {a} {s} in {d}.",
    "What's {a} {s} worth in {d} right now?", "Turn {a} {s} into {d}, please.",
]
_MEETING = [
    "Book a meeting with {p} ({e}) in {c} on {d}.",
    "Schedule time with {p} on {d} in {c}; their email is {e}.",
    "Set up a catch-up with {p} <{e}> for {d}, {c} office.",
    "Put a meeting with {p} in my calendar for {d} in {c}. Contact: {e}.",
    "Can you arrange a meeting in {c} with {p} on {d}? Reach them at {e}.",
    "I'd like to meet {p} ({e}) on {d} while I'm in {c}.",
    "Add {d}: meeting with {p}, {c}. Email {e}.",
    "Please book {p} for {d} in {c} - {e}.",
]
_SUMMARY = ["Summarise this travel page for me:", "TL;DR of this page please:",
            "Give me the key points of this guide:", "Can you condense this for me?",
            "What matters in this article?", "Short version of this, please:",
            "Boil this down for a traveller:", "Summary please:"]
_DOCS = [
    "{city} travel notes. Visitors usually start with {s0}, then {s1}. Public transport is "
    "reliable and card payments are common. Most museums close on {day}.",
    "A weekend in {city}: begin at {s0} and save {s1} for the afternoon. Buses run late, cash is "
    "rarely needed, and museums are shut on {day}.",
    "Guide to {city}. First stop: {s0}. Second: {s1}. Taxis are cheap. Note that most museums "
    "close on {day}, so plan around it.",
]


@dataclass
class DemoRequest:
    """One user request, with what a capable LLM would answer at each step."""

    text: str
    task: str  # "weather" | "currency" | "meeting" | "summary"
    tool_call: dict[str, Any] | None = None
    document: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def _wrap(rng: random.Random, text: str) -> str:
    return f"{rng.choice(GREETINGS)}{text}{rng.choice(SIGN_OFFS)}"


def _weather(rng: random.Random) -> DemoRequest:
    city = rng.choice(CITIES)
    suffix, unit = rng.choice(_UNITS)
    text = rng.choice(_WEATHER).format(c=city, w=rng.choice(WHEN)) + suffix
    args: dict[str, Any] = {"city": city}
    if unit is not None:
        args["unit"] = unit
    return DemoRequest(_wrap(rng, text), "weather", {"name": "get_weather", "args": args})


def _amount(rng: random.Random) -> int | float:
    kind = rng.random()
    if kind < 0.5:
        return rng.choice([20, 50, 75, 100, 150, 200, 250, 300, 500, 1000, 1200, 2500])
    if kind < 0.85:
        return rng.randint(5, 4000)
    return round(rng.uniform(5, 900), 2)


def _currency(rng: random.Random) -> DemoRequest:
    amount = _amount(rng)
    src, dst = rng.sample(CURRENCIES, 2)
    text = rng.choice(_CURRENCY).format(a=amount, s=src, d=dst)
    return DemoRequest(_wrap(rng, text), "currency", {"name": "convert_currency", "args": {
        "amount": amount, "from_currency": src, "to_currency": dst}})


def _email(rng: random.Random, person: str) -> str:
    first, last = person.lower().split()
    return rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}"]) + "@" + rng.choice(
        DOMAINS)


def _meeting(rng: random.Random) -> DemoRequest:
    person, city = rng.choice(PEOPLE), rng.choice(CITIES)
    date = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    email = rng.choice(EMAILS) if rng.random() < 0.1 else _email(rng, person)
    text = rng.choice(_MEETING).format(p=person, e=email, c=city, d=date)
    return DemoRequest(_wrap(rng, text), "meeting", {"name": "book_meeting", "args": {
        "attendee": person, "email": email, "date": date, "city": city}})


def _summary(rng: random.Random) -> DemoRequest:
    city = rng.choice(CITIES)
    s0, s1 = rng.sample(SIGHTS, 2)
    facts = {"city": city, "sights": [s0, s1], "day": rng.choice(DAYS)}
    doc = rng.choice(_DOCS).format(city=city, s0=s0, s1=s1, day=facts["day"])
    text = f"{rng.choice(GREETINGS)}{rng.choice(_SUMMARY)}\n\n{doc}"
    return DemoRequest(text, "summary", None, doc, facts)


_MAKERS = [(_weather, 0.35), (_currency, 0.25), (_meeting, 0.2), (_summary, 0.2)]


def make_requests(n: int, seed: int = 0) -> list[DemoRequest]:
    """``n`` user requests in a fixed mix of four tasks (deterministic for a seed)."""
    rng = random.Random(seed)
    makers, weights = zip(*_MAKERS, strict=True)
    return [rng.choices(makers, weights)[0](rng) for _ in range(n)]


def planted_emails(requests: list[DemoRequest]) -> list[str]:
    """Every e-mail address the requests carry (what a privacy check looks for)."""
    found = {str(r.tool_call["args"]["email"]) for r in requests
             if r.tool_call is not None and "email" in r.tool_call["args"]}
    return sorted(found | set(EMAILS))


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
