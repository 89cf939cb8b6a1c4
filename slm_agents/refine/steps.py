"""The per-task steps of a flywheel round: live rollbacks, and retraining behind the gate.

Split from :mod:`slm_agents.refine.flywheel` to keep files small; these functions are the round's
steps 5-7 and read the flywheel's resolved settings (``fw.registry_``, ``fw.factory_``...).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..curate.dataset import Dataset
from ..records import CallRecord
from .data import RoundData
from .gate import judge
from .registry import DataWindow
from .report import Rollback, RoundReport, TaskDecision
from .state import FlywheelState, Pending
from .tasks import stable_split

if TYPE_CHECKING:  # pragma: no cover
    from .flywheel import Flywheel

__all__ = ["check_rollbacks", "default_fine_tuner_factory", "retrain", "train_tasks"]

logger = logging.getLogger("slm_agents.refine")


def default_fine_tuner_factory(seed: int = 0) -> Callable[[Any], Any]:
    """``task -> FineTuner``: LoRA on SmolLM2-135M, settings that finish on a laptop CPU."""

    def factory(task: Any) -> Any:
        from ..train import FineTuner, TrainingSettings

        training = TrainingSettings.model_validate({
            "num_train_epochs": 2, "per_device_train_batch_size": 8, "max_length": 1024,
            "progress": False})
        return FineTuner("smollm2-135m", method="lora", training=training, device="auto",
                         seed=seed)

    return factory


def check_rollbacks(fw: Flywheel, records: list[CallRecord], report: RoundReport) -> None:
    """Roll back promoted versions that escalate too often in live traffic."""
    if fw.max_escalation_rate is None:
        return
    routed: dict[str, list[CallRecord]] = {}
    for record in records:
        meta = record.metadata
        if meta.get("task") is None or meta.get("route") not in ("specialist", "llm"):
            continue
        if meta.get("route") == "llm" and not meta.get("fallback_reason"):
            continue  # the router never tried the specialist
        routed.setdefault(str(meta["task"]), []).append(record)
    for task in fw.registry_.tasks():
        current = fw.registry_.current(task)
        if current is None or current.promoted_at is None:
            continue
        calls = [r for r in routed.get(str(task), ()) if r.started_at >= current.promoted_at]
        if len(calls) < fw.min_routed_calls:
            continue
        escalations = sum(1 for r in calls if r.metadata.get("fallback_reason"))
        rate = escalations / len(calls)
        earlier = [v for v in fw.registry_.history(task)
                   if v.status == "retired" and v.path is not None]
        if rate <= fw.max_escalation_rate or not earlier:
            continue
        reason = (f"escalation rate {rate:.0%} over {len(calls)} routed calls > "
                  f"{fw.max_escalation_rate:.0%}")
        restored = fw.registry_.rollback(task, reason=reason)
        rollback = Rollback(task=task, from_version=current.version,
                            to_version=None if restored is None else restored.version,
                            reason=reason)
        report.rollbacks.append(rollback)
        logger.warning("flywheel: rolled back task %r v%d (%s)", task, current.version,
                       reason)
        fw._emit("rolled_back", {"rollback": rollback})


def train_tasks(fw: Flywheel, new: FlywheelState, data: RoundData, counts: Counter[int],
                esc: Counter[int], report: RoundReport) -> None:
    """Decide, for every task with new data or pending counters, whether it retrains."""
    moved = set(report.drift.moved_tasks) if report.drift is not None else set()
    for task in sorted(set(counts) | set(new.pending)):
        pending = new.pending_for(task)
        decision = TaskDecision(
            task=task, name=new.task_names.get(task), new_examples=counts[task],
            new_escalations=esc[task], pending_examples=pending.examples,
            pending_escalations=pending.escalations)
        report.tasks.append(decision)
        history = fw.registry_.history(task)
        if pending.examples >= fw.min_new_examples:
            decision.triggers.append("new_examples" if history else "first_version")
        if pending.escalations >= fw.min_escalations:
            decision.triggers.append("escalations")
        if task in moved and counts[task]:
            decision.triggers.append("drift")
        if not decision.triggers:
            decision.reason = (f"not retrained: {pending.examples}/{fw.min_new_examples} "
                               f"new examples, {pending.escalations}/"
                               f"{fw.min_escalations} escalations")
            continue
        retrain(fw, task, decision, new, data, report)


def retrain(fw: Flywheel, task: int, decision: TaskDecision, new: FlywheelState, data: RoundData,
            report: RoundReport) -> None:
    """Train a candidate for ``task``, evaluate it with the incumbent, register the verdict.

    Training, evaluation and judging errors make the task ``failed`` (its counters stay, so it is
    retried); registry errors propagate and fail the round.
    """
    timings = decision.timings
    started = time.perf_counter()
    history = data.labelled_history()
    chosen = ([] if history.dataset is None else
              [i for i, m in enumerate(history.dataset.meta) if m["task"] == task])
    subset = (history.dataset.subset(chosen) if history.dataset is not None
              else Dataset([]))
    splits = stable_split(subset, fw.validation_fraction, fw.test_fraction, fw.seed)
    test = splits.test
    if fw.max_eval_examples is not None:
        test = test[:fw.max_eval_examples]
    decision.train_examples, decision.test_examples = len(splits.train), len(test)
    timings["data"] = round(time.perf_counter() - started, 3)
    if len(test) < fw.min_test_examples or len(splits.train) < 2:
        decision.reason = (f"waiting for data: {len(splits.train)} training and {len(test)} "
                           f"held-out examples (need 2 and {fw.min_test_examples})")
        return
    current = fw.registry_.current(task)
    decision.incumbent_version = None if current is None else current.version
    try:
        with _timed(timings, "train"):
            tuner = fw.factory_(task)
            candidate = tuner.fit(splits.train, eval_dataset=splits.validation
                                  if len(splits.validation) else None)
        with _timed(timings, "evaluate"):
            result = fw.evaluator_(candidate, test)
            incumbent = None
            if current is not None:
                incumbent = fw.evaluator_(
                    fw.registry_.load(task, current.version, fw.loader), test)
        verdict = judge(result, incumbent, quality_bar=fw.quality_bar,
                        confidence=fw.confidence, bar_bound=fw.bar_bound)
    except Exception as exc:  # one task's failure must not stop the others
        decision.decision, decision.error = "failed", f"{type(exc).__name__}: {exc}"
        logger.exception("flywheel: retraining task %r failed", task)
        return
    decision.candidate_agreement = verdict.agreement
    decision.candidate_lower_bound = verdict.lower_bound
    decision.incumbent_agreement = verdict.incumbent_agreement
    decision.comparison = verdict.comparison
    decision.reason = verdict.reason
    with _timed(timings, "register"):
        window = DataWindow(since=data.since, until=data.until,
                            n_records=len(subset), n_examples=len(splits.train))
        info = fw.registry_.register(
            task, candidate, metrics=result, window=window,
            parent=None if current is None else current.version,
            metadata={"round": report.round, "triggers": decision.triggers,
                      "test_examples": len(test)})
        decision.candidate_version = info.version
        if verdict.promote:
            fw.registry_.promote(task, info.version, reason=verdict.reason)
        else:
            fw.registry_.reject(task, info.version, reason=verdict.reason)
    decision.decision = "promoted" if verdict.promote else "rejected"
    logger.info("flywheel: task %r v%d %s: %s", task, info.version, decision.decision,
                verdict.reason)
    fw._emit(decision.decision, {"task": task, "version": info.version, "decision": decision})
    new.pending[task] = Pending()
    data.update_baseline(task, [history.records[i] for i in chosen])


@contextlib.contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - started, 3)
