"""Calibration: per-task thresholds from logged calls, and the share-vs-agreement curve."""

from __future__ import annotations

import math
from typing import Any

import pytest
from test_route_support import Scripted, fake_llm, llm_text

from slm_agents.curate import Dataset
from slm_agents.errors import ConfigError
from slm_agents.records import CallRecord, Message
from slm_agents.route import CalibrationRow, Router, choose_thresholds, replay


def confidence_policy(call: Any) -> tuple[str, float]:
    """The user's text ends with the confidence the policy reports."""
    return "qa", float(call.messages[-1]["content"].split()[-1])


def answer_when_sure(messages: Any) -> str:
    """The specialist is right exactly when the policy is at least 0.6 sure."""
    words = messages[-1]["content"].split()
    return f"Answer {words[1]}." if float(words[-1]) >= 0.6 else "I do not know."


def example(i: int, confidence: float) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"question {i} {confidence:.2f}"},
                         {"role": "assistant", "content": f"Answer {i}."}]}


EXAMPLES = [example(i, i / 100) for i in range(100)]


def make_router() -> Router:
    return Router(fake_llm(llm_text("LLM.")), {"qa": Scripted(answer_when_sure)},
                  policy=confidence_policy)


@pytest.mark.parametrize(("target", "threshold", "share"), [
    # perfect agreement: only the calls the specialist gets right
    (1.0, 0.60, 0.40),
    # 95%: five wrong answers may be served too
    (0.95, 0.55, 0.45),
    # 80%: twenty
    (0.80, 0.40, 0.60),
])
def test_calibration_picks_the_threshold_that_holds_the_target_agreement(
        target: float, threshold: float, share: float) -> None:
    router = make_router()
    result = router.calibrate(EXAMPLES, target_agreement=target)
    assert result.thresholds == {"qa": pytest.approx(threshold)}
    assert result.share == pytest.approx(share)
    assert result.agreement >= target - 1e-9
    assert router.thresholds == {"qa": pytest.approx(threshold)}


@pytest.mark.parametrize("target", [1.0, 0.9])
def test_thresholds_move_the_served_share_as_calibrated(target: float) -> None:
    router = make_router()
    result = router.calibrate(EXAMPLES, target_agreement=target)
    for item in EXAMPLES:
        router.invoke(item["messages"][:-1])
    stats = router.stats()
    assert stats.by_route["specialist"] / stats.calls == pytest.approx(result.share)


def test_the_curve_runs_from_no_specialist_traffic_to_the_most() -> None:
    result = make_router().calibrate(EXAMPLES, apply=False)
    shares = [p.share for p in result.curve]
    agreements = [p.agreement for p in result.curve]
    assert (shares[0], agreements[0]) == (0.0, 1.0)
    assert shares == sorted(shares) and agreements == sorted(agreements, reverse=True)
    assert shares[-1] == pytest.approx(1.0) and agreements[-1] == pytest.approx(0.4)
    assert result.thresholds_at(agreement=1.0) == {"qa": pytest.approx(0.6)}
    assert "| qa | 100 |" in result.to_markdown()
    assert result.to_dict()["thresholds"] == {"qa": pytest.approx(0.55)}


def test_calibration_can_target_an_llm_share_or_a_budget() -> None:
    router = make_router()
    by_share = router.calibrate(EXAMPLES, target_llm_share=0.3, apply=False)
    assert by_share.llm_share <= 0.3 and by_share.met
    budget = by_share.cost_per_1k
    by_budget = router.calibrate(EXAMPLES, budget=budget, apply=False)
    assert by_budget.cost_per_1k <= budget + 1e-12 and by_budget.met
    impossible = router.calibrate(EXAMPLES, budget=0.0, apply=False)
    assert not impossible.met


def test_calibration_reads_records_and_datasets_too() -> None:
    records = [CallRecord(messages=[Message(role="user", content=f"question {i} 0.9")],
                          output=f"Answer {i}.", agent="support") for i in range(10)]
    failed = CallRecord(messages=[Message(role="user", content="q 0.9")], error="timeout")
    seen_agents: list[Any] = []

    def policy(call: Any) -> tuple[str, float]:
        seen_agents.append(call.agent)
        return confidence_policy(call)

    router = Router(fake_llm(), {"qa": Scripted(answer_when_sure)}, policy=policy)
    result = router.calibrate([*records, failed], min_examples=1)
    assert result.n == 10 and result.share == 1.0
    dataset = Dataset([example(i, 0.9) for i in range(6)],
                      meta=[{"agent": "helpdesk"} for _ in range(6)])
    assert router.calibrate(dataset).n == 6
    assert seen_agents[-1] == "helpdesk" and seen_agents[0] == "support"


def rows(task: str, outcomes: str, start: float = 0.99) -> list[CalibrationRow]:
    """Rows by falling confidence: 'a' agree, 'd' disagree, 'i' invalid, 'n' no specialist."""
    kinds = {"a": "agree", "d": "disagree", "i": "invalid", "n": "none"}
    return [CalibrationRow(task, round(start - k / 100, 2), kinds[c],  # type: ignore[arg-type]
                           specialist_cost=0.0001, llm_cost=0.01)
            for k, c in enumerate(outcomes)]


def test_a_good_task_opens_and_a_bad_one_stays_on_the_llm() -> None:
    table = rows("good", "aaaaaaaaaa") + rows("bad", "dadddddddd")
    result = choose_thresholds(table, 0.96)  # not one disagreement in twenty calls
    assert result.thresholds["good"] == pytest.approx(0.90)
    assert result.thresholds["bad"] == math.inf
    assert result.share == 0.5 and result.agreement == 1.0


def test_rejected_answers_cost_a_call_but_never_agreement() -> None:
    result = choose_thresholds(rows("t", "aiaiaiaiai"), 1.0)
    assert result.share == 0.5 and result.agreement == 1.0
    assert result.thresholds["t"] == pytest.approx(0.91)


def test_task_scope_holds_the_target_within_every_task() -> None:
    table = rows("a", "aaaaaaaaaa") + rows("b", "aaaaaaaadd")
    overall = choose_thresholds(table, 0.9)
    per_task = choose_thresholds(table, 0.9, scope="task")
    assert overall.thresholds["b"] == pytest.approx(0.90)  # both mistakes fit the overall target
    assert per_task.thresholds["b"] == pytest.approx(0.91)  # one mistake per ten calls at most
    assert per_task.target["scope"] == "task"


def test_a_confidence_level_keeps_a_margin_for_the_noise_of_a_small_set() -> None:
    table = rows("t", "a" * 30 + "ad" * 10)
    plain = choose_thresholds(table, 0.9)
    careful = choose_thresholds(table, 0.9, confidence_level=0.9)
    assert plain.agreement >= 0.9 and careful.share < plain.share
    assert careful.target == {"agreement": 0.9, "scope": "overall", "confidence_level": 0.9}
    assert not choose_thresholds(rows("t", "aaaaa"), 0.99, confidence_level=0.95).met


def test_tasks_with_too_few_examples_stay_on_the_llm() -> None:
    result = choose_thresholds(rows("tiny", "aaa") + rows("x", "nnnnn"), 0.9)
    assert result.thresholds == {"tiny": math.inf}
    assert result.tasks[0].note.startswith("fewer than 5")


def test_replay_scores_thresholds_on_held_out_rows() -> None:
    held_out = rows("t", "aaaadddd")
    point = replay(held_out, {"t": 0.955})
    assert (point.share, point.agreement) == (0.5, 1.0)
    assert replay(held_out, {}).share == 0.0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"rows": []}, "no calibration rows"),
    ({"target_llm_share": 0.5, "budget": 1.0}, "at most one"),
    ({"scope": "everything"}, "scope"),
    ({"scope": "task", "target_llm_share": 0.2}, "target_agreement only"),
    ({"target_agreement": 1.5}, r"\[0, 1\]"),
    ({"confidence_level": 1.0}, "confidence_level"),
])
def test_bad_calibration_targets_are_refused(kwargs: dict[str, Any], match: str) -> None:
    arguments: dict[str, Any] = {"rows": rows("t", "aaaaa"), **kwargs}
    with pytest.raises(ConfigError, match=match):
        choose_thresholds(**arguments)


@pytest.mark.parametrize(("examples", "error"), [
    ("a string", TypeError),  # one item, not a sequence
    ([42], TypeError),  # items of no accepted form
    ([{"messages": [{"role": "user", "content": "q 0.5"}]}], ConfigError),  # no LLM answer
    ([], ConfigError),  # nothing to calibrate on
])
def test_bad_calibration_examples_are_refused(examples: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        make_router().calibrate(examples)
