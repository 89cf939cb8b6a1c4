"""The predicted replaceability of a task no specialist has been measured on yet.

A prediction, not a measurement: a transparent score in ``[0, 1]`` from the signals a
:class:`~slm_agents.cluster.report.ClusterReport` computes for each task, plus the task's size and
its share of human-facing calls. The paper ("Small Language Models are the Future of Agentic AI",
NVIDIA 2025) names what makes an agent's call a good fit for a small model: a narrow, repetitive
task with a fixed prompt template and formatted, schema-bound output, seen often enough to learn
from, and not an open-ended conversation with a person. The score says exactly that::

    inputs   = max(template_share, input_similarity)            templated inputs
    outputs  = max(constrained_share, 1 - output_diversity)     schema-bound, or few distinct
    shape    = input_weight * inputs + output_weight * outputs  (weights sum to 1)
    evidence = min(1, size / min_examples)                      enough examples to learn from
    human    = 1 - human_facing_penalty * human_facing_share    not shown to a person
    score    = shape * evidence * human

A signal the report could not compute (``None``: a task of one call, outputs that are all errors)
counts as ``unknown`` (0.5: no evidence either way). With the defaults (``input_weight`` 0.4,
``output_weight`` 0.6, ``min_examples`` 100, ``human_facing_penalty`` 1, ``threshold`` 0.6) a task
of 100+ templated tool calls scores 1.0, a classifier answering one of a few labels to templated
inputs ~1.0, free prose to templated inputs ~0.4, and a chat with people 0.

Examples:
    >>> from slm_agents.cluster.report import TaskStats
    >>> task = TaskStats(task_id=0, name="extract", size=200, template_share=0.9,
    ...                  input_similarity=0.7, constrained_share=1.0, output_diversity=0.95)
    >>> p = ReplaceabilityRule().predict(task, human_facing_share=0.0)
    >>> round(p.score, 2), p.likely
    (0.96, True)
    >>> p.reason
    'predicted 0.96 >= 0.60: templated inputs 90%; schema-bound outputs 100%; 200 calls'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..cluster.report import TaskStats

__all__ = ["Prediction", "ReplaceabilityRule"]


@dataclass(frozen=True)
class Prediction:
    """A task's predicted replaceability and the parts of the formula.

    Attributes:
        score: The predicted replaceability in ``[0, 1]``.
        inputs: How templated the inputs are (``max(template_share, input_similarity)``).
        outputs: How narrow the outputs are (``max(constrained_share, 1 - output_diversity)``).
        shape: The weighted mean of ``inputs`` and ``outputs``.
        evidence: ``min(1, size / min_examples)``.
        human: ``1 - human_facing_penalty * human_facing_share``.
        likely: ``score >= threshold``.
        reason: The score and the factors behind it, in words.
    """

    score: float
    inputs: float
    outputs: float
    shape: float
    evidence: float
    human: float
    likely: bool
    reason: str


class ReplaceabilityRule(BaseModel):
    """The documented formula that predicts a task's replaceability (see the module docstring).

    Attributes:
        input_weight: Weight of templated inputs in ``shape``.
        output_weight: Weight of narrow outputs in ``shape`` (the weights are normalised).
        min_examples: Calls a task needs for full ``evidence``.
        human_facing_penalty: How much a fully human-facing task loses (1: all of its score).
        threshold: The score from which a task is "likely replaceable".
        unknown: The value of a signal the report could not compute.

    Examples:
        >>> ReplaceabilityRule(min_examples=50).threshold
        0.6
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_weight: float = Field(default=0.4, ge=0, allow_inf_nan=False)
    output_weight: float = Field(default=0.6, ge=0, allow_inf_nan=False)
    min_examples: int = Field(default=100, ge=1)
    human_facing_penalty: float = Field(default=1.0, ge=0, le=1)
    threshold: float = Field(default=0.6, ge=0, le=1)
    unknown: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _some_weight(self) -> ReplaceabilityRule:
        if self.input_weight + self.output_weight <= 0:
            raise ValueError("input_weight + output_weight must be above 0")
        return self

    @property
    def formula(self) -> str:
        """The formula with this rule's numbers, as one line of text."""
        total = self.input_weight + self.output_weight
        wi, wo = self.input_weight / total, self.output_weight / total
        return (f"score = ({wi:.2g} × max(templated inputs, input similarity) + {wo:.2g} × "
                f"max(schema-bound outputs, 1 − output diversity)) × min(1, calls / "
                f"{self.min_examples}) × (1 − {self.human_facing_penalty:g} × human-facing "
                f"share); unknown signals count {self.unknown:g}; likely replaceable from "
                f"{self.threshold:.2f}")

    def predict(self, task: TaskStats, human_facing_share: float = 0.0) -> Prediction:
        """Score one task from its :class:`TaskStats` and its share of human-facing calls."""
        known_inputs = [v for v in (task.template_share, task.input_similarity) if v is not None]
        inputs = max(known_inputs) if known_inputs else self.unknown
        narrow = [v for v in (task.constrained_share,
                              None if task.output_diversity is None
                              else 1.0 - task.output_diversity) if v is not None]
        outputs = max(narrow) if narrow else self.unknown
        total = self.input_weight + self.output_weight
        shape = (self.input_weight * inputs + self.output_weight * outputs) / total
        evidence = min(1.0, task.size / self.min_examples)
        human = 1.0 - self.human_facing_penalty * min(max(human_facing_share, 0.0), 1.0)
        score = _clip(shape * evidence * human)
        likely = score >= self.threshold
        factors = [_inputs_text(task), _outputs_text(task),
                   f"{task.size} calls" if evidence >= 1 else
                   f"only {task.size} calls (full evidence from {self.min_examples})"]
        if human_facing_share > 0:
            factors.append(f"{human_facing_share:.0%} human-facing")
        reason = (f"predicted {score:.2f} {'>=' if likely else '<'} {self.threshold:.2f}: "
                  + "; ".join(factors))
        return Prediction(score=score, inputs=inputs, outputs=outputs, shape=shape,
                          evidence=evidence, human=human, likely=likely, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        """The rule's fields (:meth:`ReplaceabilityRule.model_validate` reads them back)."""
        return self.model_dump()


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _inputs_text(task: TaskStats) -> str:
    similarity = task.input_similarity
    if similarity is not None and similarity > task.template_share:
        return f"similar inputs {similarity:.0%}"
    return f"templated inputs {task.template_share:.0%}"


def _outputs_text(task: TaskStats) -> str:
    constrained, diversity = task.constrained_share, task.output_diversity
    if constrained is None and diversity is None:
        return "outputs unknown"
    few = None if diversity is None else 1.0 - diversity
    if constrained is not None and (few is None or constrained >= few):
        if constrained >= 0.5:
            return f"schema-bound outputs {constrained:.0%}"
        return (f"free-form outputs ({constrained:.0%} schema-bound"
                + ("" if diversity is None else f", {diversity:.0%} distinct") + ")")
    if few is not None and few >= 0.5:
        return f"few distinct outputs ({diversity:.0%} distinct)"
    return (f"free-form outputs ({diversity:.0%} distinct"
            + ("" if constrained is None else f", {constrained:.0%} schema-bound") + ")")
