"""What one flywheel round did: :class:`RoundReport`, with one :class:`TaskDecision` per task.

Examples:
    >>> report = RoundReport(round=1, status="skipped", reason="no new records")
    >>> RoundReport.from_dict(report.to_dict()) == report
    True
    >>> print(report.to_markdown().splitlines()[0])
    # Flywheel round 1: skipped
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .drift import DriftReport

__all__ = ["Rollback", "RoundReport", "TaskDecision"]

Decision = Literal["promoted", "rejected", "skipped", "failed"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskDecision(_Model):
    """What the round did for one task, and why.

    Attributes:
        task: The task id.
        name: Its name from the clusterer.
        new_examples: Curated examples of the task among this round's new records.
        new_escalations: Router escalations of the task among them (``fallback_reason`` set).
        pending_examples: New examples since the task was last trained (this round included).
        pending_escalations: Escalations since the task was last trained.
        triggers: Why it was retrained: ``first_version``, ``new_examples``, ``escalations``,
            ``drift``; empty when it was not.
        decision: ``promoted``, ``rejected`` (trained, evaluated, not good enough), ``skipped``
            (not retrained) or ``failed`` (an error; nothing changed for the task).
        reason: The decision in words (the numbers behind it).
        train_examples: Examples trained on.
        test_examples: Held-out examples evaluated on.
        candidate_version: The version registered for the candidate.
        incumbent_version: The version serving when the round started.
        candidate_agreement: The candidate's agreement with the LLM on the held-out examples.
        candidate_lower_bound: Its one-sided lower confidence bound (compared with the bar).
        incumbent_agreement: The incumbent's agreement on the same examples.
        comparison: Candidate minus incumbent (difference, interval, ``p_better``, ``beats``).
        timings: Seconds per step (``data``, ``train``, ``evaluate``, ``register``).
        error: The error, for ``failed``.
    """

    task: int | str
    name: str | None = None
    new_examples: int = 0
    new_escalations: int = 0
    pending_examples: int = 0
    pending_escalations: int = 0
    triggers: list[str] = Field(default_factory=list)
    decision: Decision = "skipped"
    reason: str = ""
    train_examples: int = 0
    test_examples: int = 0
    candidate_version: int | None = None
    incumbent_version: int | None = None
    candidate_agreement: float | None = None
    candidate_lower_bound: float | None = None
    incumbent_agreement: float | None = None
    comparison: dict[str, Any] | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = None


class Rollback(_Model):
    """A version taken out of service during the round."""

    task: int | str
    from_version: int
    to_version: int | None
    reason: str


class RoundReport(_Model):
    """The record of one :meth:`Flywheel.run_once <slm_agents.refine.Flywheel.run_once>`.

    Attributes:
        round: The round number (1 for the first round of a workdir).
        status: ``ok``, ``skipped`` (nothing new to do) or ``failed`` (nothing was committed:
            the watermark did not move).
        reason: Why it was skipped or failed.
        started_at: When it started.
        finished_at: When it ended.
        watermark_before: The newest record time processed before the round.
        watermark_after: After it (unchanged unless the round succeeded).
        new_records: Records read.
        new_examples: Examples left after curation.
        new_escalations: Router escalations among the records.
        curation: Curation counts (``n_in``, ``n_out``, ``dropped``).
        clusterer: What happened to the clusterer (``fitted``, ``refitted``, ``n_tasks``,
            ``task_map``).
        drift: The drift figures (``None`` on the first fit).
        tasks: One :class:`TaskDecision` per task seen.
        rollbacks: Versions rolled back.
        timings: Seconds per step of the round.
        error: The error, for ``failed``.
    """

    round: int
    status: Literal["ok", "skipped", "failed"] = "ok"
    reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    new_records: int = 0
    new_examples: int = 0
    new_escalations: int = 0
    curation: dict[str, Any] = Field(default_factory=dict)
    clusterer: dict[str, Any] = Field(default_factory=dict)
    drift: DriftReport | None = None
    tasks: list[TaskDecision] = Field(default_factory=list)
    rollbacks: list[Rollback] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = None

    def _with(self, decision: str) -> list[int | str]:
        return [t.task for t in self.tasks if t.decision == decision]

    @property
    def retrained(self) -> list[int | str]:
        """Tasks trained this round (promoted, rejected, or failed after training started)."""
        return [t.task for t in self.tasks if t.triggers and t.decision != "skipped"]

    @property
    def evaluated(self) -> list[int | str]:
        """Tasks whose candidate was evaluated."""
        return [t.task for t in self.tasks if t.candidate_agreement is not None]

    @property
    def promoted(self) -> list[int | str]:
        """Tasks whose candidate was promoted."""
        return self._with("promoted")

    @property
    def rejected(self) -> list[int | str]:
        """Tasks whose candidate was rejected (the current version keeps serving)."""
        return self._with("rejected")

    @property
    def failed(self) -> list[int | str]:
        """Tasks whose retraining failed."""
        return self._with("failed")

    @property
    def rolled_back(self) -> list[int | str]:
        """Tasks rolled back this round."""
        return [r.task for r in self.rollbacks]

    def task(self, task: int | str) -> TaskDecision:
        """The decision about ``task``.

        Raises:
            KeyError: the round did not see it.
        """
        for decision in self.tasks:
            if decision.task == task or str(decision.task) == str(task):
                return decision
        raise KeyError(task)

    def summary(self) -> str:
        """One line."""
        if self.status != "ok":
            return f"round {self.round} {self.status}: {self.error or self.reason}"
        return (f"round {self.round}: {self.new_records} new records, {self.new_examples} "
                f"examples; retrained {self.retrained or 'none'}, promoted "
                f"{self.promoted or 'none'}, rejected {self.rejected or 'none'}, rolled back "
                f"{self.rolled_back or 'none'}"
                + (f"; drift: {'; '.join(self.drift.reasons)}"
                   if self.drift is not None and self.drift.reasons else ""))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (:meth:`from_dict` reads it back)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoundReport:
        """The report from :meth:`to_dict`'s output."""
        return cls.model_validate(data)

    def to_markdown(self) -> str:
        """The round as Markdown: summary, per-task table, rollbacks, drift, timings."""
        lines = [f"# Flywheel round {self.round}: {self.status}", ""]
        if self.reason or self.error:
            lines += [f"**{self.error or self.reason}**", ""]
        lines += [f"- records: {self.new_records} new ({self.new_escalations} escalations), "
                  f"{self.new_examples} examples after curation",
                  f"- watermark: {_time(self.watermark_before)} -> {_time(self.watermark_after)}"]
        if self.clusterer:
            lines.append("- clusterer: " + ", ".join(
                f"{k} {v}" for k, v in self.clusterer.items() if k != "task_map"))
        if self.tasks:
            lines += ["", "## Tasks", "",
                      "| task | new ex. | new esc. | triggers | decision | candidate | "
                      "incumbent | reason |", "|---|---:|---:|---|---|---|---|---|"]
            for t in self.tasks:
                candidate = ("" if t.candidate_version is None else
                             f"v{t.candidate_version} {_pct(t.candidate_agreement)} "
                             f"(lb {_pct(t.candidate_lower_bound)})")
                incumbent = ("" if t.incumbent_version is None else
                             f"v{t.incumbent_version} {_pct(t.incumbent_agreement)}")
                lines.append(f"| {t.task} | {t.new_examples} | {t.new_escalations} | "
                             f"{', '.join(t.triggers)} | {t.decision} | {candidate} | "
                             f"{incumbent} | {_cell(t.error or t.reason)} |")
        if self.rollbacks:
            lines += ["", "## Rollbacks", ""]
            lines += [f"- task {r.task}: v{r.from_version} -> "
                      f"{'v' + str(r.to_version) if r.to_version is not None else 'the LLM'}"
                      f" ({r.reason})" for r in self.rollbacks]
        if self.drift is not None:
            lines += ["", "## Drift", "", self.drift.to_markdown()]
        if self.timings:
            lines += ["", "## Timings", "", ", ".join(
                f"{k} {v:.1f} s" for k, v in self.timings.items())]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.summary()


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _time(value: datetime | None) -> str:
    return "start" if value is None else value.isoformat(timespec="seconds")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
