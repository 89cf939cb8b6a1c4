"""Deciding a route: policy forms, thresholds, canary fractions, stickiness, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from test_route_support import ASK, Scripted, always, fake_llm, llm_text

from slm_agents.errors import ConfigError
from slm_agents.route import (
    CallablePolicy,
    ClustererPolicy,
    MappingPolicy,
    RouteDecision,
    Router,
    RoutingCall,
    RoutingPolicy,
)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


class KeywordClusterer:
    """A minimal stand-in with the TaskClusterer's ``assign`` contract: label by keyword."""

    task_names_ = {0: "weather", 1: "refunds"}

    def __init__(self) -> None:
        self.assigned = 0

    def assign(self, item: Any) -> tuple[int, float]:
        self.assigned += 1
        text = item.messages[-1].content
        if "weather" in text:
            return 0, 0.9
        if "refund" in text:
            return 1, 0.6
        return -1, 0.1


def make_router(**options: Any) -> Router:
    specialists = {"weather": Scripted("Sunny."), "refunds": Scripted("Refunded.")}
    options.setdefault("clusterer", KeywordClusterer())
    return Router(fake_llm(llm_text("LLM.")), specialists, **options)


@pytest.mark.parametrize(("text", "route", "task", "reason"), [
    # a confident call of a task with a specialist
    ("what is the weather", "specialist", "weather", "confident"),
    # a task whose confidence (0.6) is under the threshold (0.7)
    ("a refund please", "llm", "refunds", "below_threshold"),
    # noise: no task
    ("tell me a joke", "llm", None, "unassigned"),
])
def test_a_clusterer_identifies_the_task_and_the_threshold_gates_it(
        text: str, route: str, task: Any, reason: str) -> None:
    router = make_router(thresholds=0.7)
    decision = router.decide(user(text))
    assert (decision.route, decision.task, decision.reason) == (route, task, reason)


def test_clusterer_labels_resolve_to_specialists_named_by_task_name() -> None:
    # the clusterer says label 0; the specialist is keyed by the task's name
    answer = make_router().invoke(user("weather tomorrow?"))
    assert (answer.route, answer.task, answer.text) == ("specialist", "weather", "Sunny.")


def test_per_task_thresholds_apply_to_their_task_only() -> None:
    router = make_router(thresholds={"refunds": 0.5, "weather": 0.95})
    assert router.decide(user("refund")).route == "specialist"
    assert router.decide(user("weather")).reason == "below_threshold"
    assert router.threshold_for(1) == 0.5  # a label resolves to its task's threshold


def test_a_repeated_call_is_classified_once() -> None:
    clusterer = KeywordClusterer()
    router = make_router(clusterer=clusterer)
    for _ in range(5):
        router.decide(user("weather in Oslo"))
    assert clusterer.assigned == 1


def test_a_mapping_policy_opts_tasks_in_and_out() -> None:
    router = make_router(policy={"weather": "llm", "refunds": "specialist"}, thresholds=0.5)
    assert router.decide(user("weather")).route == "llm"
    assert router.decide(user("refund")).route == "specialist"


def test_a_callable_policy_may_return_a_task_a_pair_a_decision_or_none() -> None:
    call = RoutingCall(ASK)
    assert CallablePolicy(lambda c: "faq").decide(call).confidence == 1.0
    assert CallablePolicy(lambda c: ("faq", 0.3)).decide(call).confidence == 0.3
    assert CallablePolicy(lambda c: None).decide(call).route == "llm"
    decision = RouteDecision("llm", "faq", 0.99, "policy")
    assert CallablePolicy(lambda c: decision).decide(call) is decision


def test_a_routing_policy_subclass_implements_only_decide() -> None:
    class ByAgent(RoutingPolicy):
        def decide(self, call: RoutingCall) -> RouteDecision:
            return RouteDecision("specialist", call.agent, 0.8)

    router = Router(fake_llm(llm_text()), {"faq": Scripted("Hi.")}, policy=ByAgent(),
                    agent="faq")
    assert router.invoke(ASK).route == "specialist"


def test_a_task_without_a_specialist_goes_to_the_llm() -> None:
    router = Router(fake_llm(llm_text()), {"faq": Scripted("Hi.")}, policy=always("other"))
    assert router.decide(ASK).reason == "no_specialist"


def test_the_canary_fraction_is_roughly_respected_and_fixed_per_call_id() -> None:
    router = Router(fake_llm(llm_text()), {"faq": Scripted("Hi.")}, policy=always("faq"),
                    canary=0.3, seed=7)
    ids = [f"call-{i}" for i in range(2000)]
    first = [router.decide(ASK, call_id=i).route for i in ids]
    again = [router.decide(ASK, call_id=i).route for i in ids]
    share = first.count("specialist") / len(ids)
    assert 0.26 <= share <= 0.34
    assert first == again
    reseeded = Router(fake_llm(llm_text()), {"faq": Scripted("Hi.")}, policy=always("faq"),
                      canary=0.3, seed=8)
    assert [reseeded.decide(ASK, call_id=i).route for i in ids] != first


def test_a_per_task_canary_holds_back_only_that_task() -> None:
    router = make_router(canary={"weather": 0.0})
    assert router.decide(user("weather"), call_id="x").reason == "canary_holdout"
    assert router.decide(user("refund"), call_id="x", ).route == "specialist"


def test_a_sticky_trace_keeps_the_route_of_its_first_call() -> None:
    confidences = iter([0.9, 0.1, 0.1])
    router = Router(fake_llm(llm_text()), {"faq": Scripted("Hi.")},
                    policy=lambda call: ("faq", next(confidences)), sticky=True)
    routes = [router.invoke(ASK, trace_id="t1") for _ in range(3)]
    assert [r.route for r in routes] == ["specialist"] * 3
    assert [r.reason for r in routes] == ["confident", "sticky", "sticky"]


def test_without_stickiness_the_route_follows_each_call() -> None:
    confidences = iter([0.9, 0.1])
    router = Router(fake_llm(llm_text()), {"faq": Scripted("Hi.")},
                    policy=lambda call: ("faq", next(confidences)))
    assert [router.invoke(ASK, trace_id="t1").route for _ in range(2)] == ["specialist", "llm"]


def test_a_sticky_trace_that_escalated_stays_on_the_llm() -> None:
    specialist = Scripted(RuntimeError("down"), "Hi.")
    router = Router(fake_llm(llm_text()), {"faq": specialist}, policy=always("faq"),
                    sticky=True)
    first, second = router.invoke(ASK, trace_id="t"), router.invoke(ASK, trace_id="t")
    assert (first.route, first.fallback_reason) == ("llm", "exception")
    assert (second.route, second.reason) == ("llm", "sticky")
    assert specialist.calls == 1
    assert router.invoke(ASK, trace_id="other").route == "specialist"


def test_stickiness_remembers_a_bounded_number_of_traces() -> None:
    router = Router(fake_llm(llm_text()), {"faq": Scripted("Hi.")}, policy=always("faq"),
                    sticky=True, max_traces=2)
    for trace in ("a", "b", "c"):
        router.invoke(ASK, trace_id=trace)
    assert router.decide(ASK, trace_id="a").reason == "confident"  # forgotten
    assert router.decide(ASK, trace_id="c").reason == "sticky"


def test_decide_neither_calls_models_nor_counts() -> None:
    specialist = Scripted("Hi.")
    router = Router(fake_llm(llm_text()), {"faq": specialist}, policy=always("faq"))
    assert router.decide("hello").route == "specialist"
    assert specialist.calls == 0 and router.stats().calls == 0


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    # no way to identify tasks
    ({}, ConfigError, "clusterer"),
    # a policy of no accepted form
    ({"policy": 42}, TypeError, "RoutingPolicy"),
    # a mapping needs a clusterer
    ({"policy": {"faq": "specialist"}}, ConfigError, "clusterer"),
    # a mapping with a route that does not exist
    ({"policy": {"faq": "slm"}, "clusterer": KeywordClusterer()}, ConfigError, "'llm'"),
    # a clusterer without assign
    ({"clusterer": object()}, TypeError, "assign"),
    # thresholds outside [0, 1]
    ({"policy": always("faq"), "thresholds": 1.5}, ConfigError, r"\[0, 1\]"),
    ({"policy": always("faq"), "thresholds": {"faq": "high"}}, ConfigError, "number"),
    # canary outside [0, 1]
    ({"policy": always("faq"), "canary": -0.1}, ConfigError, "canary"),
    # samples must be a positive integer
    ({"policy": always("faq"), "samples": 0}, ConfigError, "samples"),
    # timeouts are positive
    ({"policy": always("faq"), "timeout_s": 0}, ConfigError, "timeout_s"),
    # validators are callables
    ({"policy": always("faq"), "validators": ["strict"]}, TypeError, "validators"),
    # a recorder records
    ({"policy": always("faq"), "recorder": object()}, TypeError, "recorder"),
    # prices name the two routes
    ({"policy": always("faq"), "prices": {"gpt": (1, 2)}}, ConfigError, "llm, specialist"),
])
def test_bad_router_options_fail_when_the_router_is_built(
        kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Router(fake_llm(llm_text()), {"faq": Scripted("Hi.")}, **kwargs)


@pytest.mark.parametrize("llm", [None, "gpt-4o", 42, {"model": "x"}])
def test_an_llm_of_no_accepted_form_is_refused_with_the_forms_listed(llm: Any) -> None:
    with pytest.raises((TypeError, ConfigError), match="callable"):
        Router(llm, {}, policy=always("faq"))


def test_specialists_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="mapping"):
        Router(fake_llm(llm_text()), [Scripted("x")], policy=always("faq"))  # type: ignore[arg-type]


@pytest.mark.parametrize(("messages", "tools", "error"), [
    (None, None, TypeError),  # no messages
    (42, None, TypeError),  # not messages
    ([], None, ConfigError),  # an empty conversation
    (ASK, ["get_weather"], TypeError),  # tools must be specs, not names
])
def test_bad_call_input_is_refused_before_any_model_runs(
        messages: Any, tools: Any, error: type[Exception]) -> None:
    specialist = Scripted("Hi.")
    router = Router(fake_llm(llm_text()), {"faq": specialist}, policy=always("faq"))
    with pytest.raises(error):
        router.invoke(messages, tools)
    assert specialist.calls == 0


def test_policy_classes_are_built_from_the_accepted_forms() -> None:
    clusterer = KeywordClusterer()
    assert isinstance(Router(fake_llm(), {}, clusterer=clusterer)._policy, ClustererPolicy)
    assert isinstance(Router(fake_llm(), {}, policy={"weather": "llm"},
                             clusterer=clusterer)._policy, MappingPolicy)
    assert isinstance(Router(fake_llm(), {}, policy=lambda c: None)._policy, CallablePolicy)
