"""ReplaceabilityRule: the documented prediction formula, case by case."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slm_agents.cluster.report import TaskStats
from slm_agents.report import ReplaceabilityRule


def _task(size: int = 200, template: float = 0.0, similarity: float | None = None,
          constrained: float | None = None, diversity: float | None = None) -> TaskStats:
    return TaskStats(task_id=0, name="t", size=size, template_share=template,
                     input_similarity=similarity, constrained_share=constrained,
                     output_diversity=diversity)


@pytest.mark.parametrize(("task", "human", "score", "likely"), [
    # templated inputs, every output a tool call: the ideal specialist task
    (_task(template=1.0, constrained=1.0, diversity=0.9), 0.0, 1.0, True),
    # a classifier: free inputs sharing a template slot, two labels among 100 outputs
    (_task(template=0.2, similarity=0.8, constrained=0.0, diversity=0.02), 0.0,
     0.4 * 0.8 + 0.6 * 0.98, True),
    # templated inputs, free prose out
    (_task(template=1.0, constrained=0.0, diversity=1.0), 0.0, 0.4, False),
    # the same ideal task, but half of it is shown to people
    (_task(template=1.0, constrained=1.0, diversity=0.9), 0.5, 0.5, False),
    # the ideal task seen 30 times: 30% of the evidence
    (_task(size=30, template=1.0, constrained=1.0), 0.0, 0.3, False),
    # outputs unknown (plain strings): they count 0.5
    (_task(template=1.0), 0.0, 0.4 + 0.6 * 0.5, True),
    # exactly at the threshold counts as likely
    (_task(template=0.0, constrained=1.0), 0.0, 0.6, True),
])
def test_score_follows_the_documented_formula(task: TaskStats, human: float, score: float,
                                              likely: bool) -> None:
    prediction = ReplaceabilityRule().predict(task, human_facing_share=human)
    assert prediction.score == pytest.approx(score)
    assert prediction.likely is likely
    assert prediction.reason.startswith(f"predicted {prediction.score:.2f} "
                                        f"{'>=' if likely else '<'} 0.60: ")


def test_the_parts_multiply_to_the_score() -> None:
    p = ReplaceabilityRule().predict(_task(size=50, template=0.5, constrained=0.8,
                                           diversity=0.5), human_facing_share=0.25)
    assert (p.inputs, p.outputs, p.evidence, p.human) == (0.5, 0.8, 0.5, 0.75)
    assert p.shape == pytest.approx(0.4 * 0.5 + 0.6 * 0.8)
    assert p.score == pytest.approx(p.shape * 0.5 * 0.75)
    assert "only 50 calls (full evidence from 100)" in p.reason and "25% human-facing" in p.reason


def test_weights_thresholds_and_penalty_are_configurable() -> None:
    rule = ReplaceabilityRule(input_weight=1, output_weight=1, min_examples=10,
                              human_facing_penalty=0.0, threshold=0.5)
    p = rule.predict(_task(size=10, template=1.0, constrained=0.0, diversity=1.0), 1.0)
    assert p.score == pytest.approx(0.5) and p.likely
    assert "0.5 × max(templated inputs" in rule.formula


@pytest.mark.parametrize("fields", [
    {"input_weight": 0, "output_weight": 0},  # nothing to weigh
    {"threshold": 1.5},
    {"min_examples": 0},
    {"human_facing_penalty": -0.1},
    {"threshold_": 0.5},  # a typo is an error, not a silently ignored option
])
def test_an_invalid_rule_is_refused_when_created(fields: dict) -> None:
    with pytest.raises(ValidationError):
        ReplaceabilityRule(**fields)
