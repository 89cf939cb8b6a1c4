"""Realistic agent-call records for the benchmarks: a ~2 KB conversation plus tool schemas."""

from __future__ import annotations

import random

import slm_agents as sa

SYSTEM = ("You are the booking agent of a travel company. Follow the policy: confirm dates in ISO "
          "8601, never invent prices, call exactly one tool per turn, and ask for missing fields. "
          * 5)
TOOLS = [
    {"type": "function", "function": {
        "name": name, "description": f"{name.replace('_', ' ')} for the user's trip.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "date": {"type": "string", "format": "date"},
            "passengers": {"type": "integer", "minimum": 1},
            "email": {"type": "string", "format": "email"}},
            "required": ["city", "date"]}}}
    for name in ("search_flights", "book_hotel", "get_weather")
]


def realistic_record(i: int, rng: random.Random | None = None) -> sa.CallRecord:
    """One ~4 KB record (2 KB conversation, three tool schemas, a tool call and usage)."""
    rng = rng or random.Random(i)
    city = rng.choice(["Oslo", "Lisbon", "Kyoto", "Lima", "Nairobi"])
    user = (f"Hi, I need a flight to {city} on 2026-12-{i % 28 + 1:02d} for {i % 4 + 1} people, "
            f"my email is traveller{i}@example.com. " * 3)
    tool_result = ('{"flights": [' + ", ".join(
        f'{{"id": "F{i}{k}", "price": {100 + k * 7}, "dep": "08:{k:02d}"}}' for k in range(8))
        + "]}")
    return sa.CallRecord(
        trace_id=f"trace-{i // 3}", agent=rng.choice(["planner", "booker", "summariser"]),
        model="gpt-4o", provider="openai",
        messages=[sa.Message(role="system", content=SYSTEM),
                  sa.Message(role="user", content=user),
                  sa.Message(role="assistant", tool_calls=[sa.ToolCall(
                      name="search_flights", arguments={"city": city, "date": "2026-12-01"},
                      id=f"c{i}")]),
                  sa.Message(role="tool", content=tool_result, tool_call_id=f"c{i}")],
        tools=TOOLS,
        tool_calls=[sa.ToolCall(name="book_hotel", id=f"h{i}", arguments={
            "city": city, "date": "2026-12-01", "passengers": i % 4 + 1})],
        usage=sa.Usage(input_tokens=900, output_tokens=40), latency_ms=640.0,
        tags=["bench"], metadata={"request": i},
    )
