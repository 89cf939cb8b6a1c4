"""The router with a real fitted TaskClusterer identifying the tasks (hashing embedder)."""

from __future__ import annotations

import pytest
from test_route_support import Scripted, fake_llm, llm_text

from slm_agents.records import CallRecord, Message
from slm_agents.route import Router

clusterer_module = pytest.importorskip("slm_agents.cluster.clusterer")
sklearn_cluster = pytest.importorskip("sklearn.cluster")

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
REFUND = {"type": "function", "function": {"name": "refund_order", "parameters": {
    "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}
CITIES = ["Oslo", "Rome", "Paris", "Lima", "Cairo", "Tokyo", "Quito", "Dakar", "Perth", "Bern"]


def weather(city: str) -> CallRecord:
    return CallRecord(agent="travel", tools=[WEATHER], messages=[
        Message(role="system", content="You are a travel assistant."),
        Message(role="user", content=f"What's the weather in {city} this week?")])


def refund(order: str) -> CallRecord:
    return CallRecord(agent="shop", tools=[REFUND], messages=[
        Message(role="system", content="You are a shop assistant."),
        Message(role="user", content=f"I want a refund for order {order}")])


def as_openai(record: CallRecord) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content or ""} for m in record.messages]


@pytest.fixture(scope="module")
def clusterer():  # noqa: ANN201 - a fitted TaskClusterer
    from slm_agents.cluster.embedders import HashingEmbedder
    from slm_agents.cluster.stages import NoReduction

    records = [weather(c) for c in CITIES * 2] + [refund(f"A{i}") for i in range(20)]
    return clusterer_module.TaskClusterer(
        embedder=HashingEmbedder(), reducer=NoReduction(),
        clusterer=sklearn_cluster.KMeans(2, n_init=2, random_state=0)).fit(records)


def test_a_fitted_clusterer_sends_each_call_to_its_tasks_specialist(clusterer) -> None:  # noqa: ANN001
    weather_label, _ = clusterer.assign(weather("Oslo"))
    refund_label, _ = clusterer.assign(refund("A1"))
    assert weather_label != refund_label
    router = Router(fake_llm(llm_text("LLM.")),
                    {weather_label: Scripted("Sunny."), refund_label: Scripted("Refunded.")},
                    clusterer=clusterer)
    assert router.invoke(as_openai(weather("Lima")), [WEATHER], agent="travel").text == "Sunny."
    new_refund = as_openai(refund("A7"))
    assert router.invoke(new_refund, [REFUND], agent="shop").text == "Refunded."
    decision = router.decide(new_refund, [REFUND], agent="shop")
    assert (decision.task, decision.route) == (refund_label, "specialist")
    assert 0.0 <= decision.confidence <= 1.0


def test_specialists_may_be_keyed_by_the_clusterers_task_names(clusterer) -> None:  # noqa: ANN001
    label, _ = clusterer.assign(refund("A1"))
    name = clusterer.task_names_[label]
    router = Router(fake_llm(llm_text("LLM.")), {name: Scripted("Refunded.")},
                    clusterer=clusterer, policy={name: "specialist"}, agent="shop")
    answer = router.invoke(as_openai(refund("A3")), [REFUND])
    assert (answer.route, answer.task) == ("specialist", name)


@pytest.mark.parametrize("messages", [
    [{"role": "system", "content": "You are a travel assistant. Today is 2024-05-01."},
     {"role": "user", "content": "Weather in Oslo?"},
     {"role": "assistant", "content": None, "tool_calls": [
         {"id": "c1", "type": "function",
          "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
     {"role": "tool", "name": "get_weather", "tool_call_id": "c1", "content": "{\"t\": 12}"}],
    [{"role": "user", "content": [{"type": "text", "text": "refund order 42"},
                                  {"type": "image_url", "image_url": {"url": "x"}}]}],
    [{"role": "system", "content": "Summarise."}, {"role": "assistant", "content": "Earlier."}],
])
def test_the_router_s_light_view_of_a_call_equals_the_clusterer_s_view_of_its_record(
        messages: list) -> None:
    from slm_agents.cluster.features import view_of, view_of_turns
    from slm_agents.route.policy import RoutingCall, _tool_name

    call = RoutingCall(messages, [WEATHER, REFUND], agent="travel")
    light = view_of_turns(call.turns(), call.agent, [_tool_name(t) for t in call.tools])
    assert light == view_of(call.record)


def test_a_call_whose_messages_are_not_plain_mappings_is_read_through_its_record() -> None:
    from slm_agents.route.policy import RoutingCall

    assert RoutingCall([Message(role="user", content="hi")]).turns() is None
