"""Stages 2-6 of the demo: curate, cluster, select, train and evaluate, one function each.

Each function does its step with the library's public pieces and returns what the next steps and
the summary line need; :mod:`slm_agents.demo.pipeline` times them and prints the lines.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..records import CallRecord
from .settings import DemoSettings

__all__ = ["Curated", "TaskPlan", "choose_tasks", "cluster", "curate", "evaluate_task",
           "select_base_model", "train_task"]

_SCRUB_BATCH = 256


@dataclass
class Curated:
    """Stage 2's output: every record, the scrubbed training candidates, the dataset."""

    records: list[CallRecord]
    candidates: list[CallRecord]
    dataset: Any
    entities: dict[str, int] = field(default_factory=dict)
    emails_in_dataset: int = 0


def curate(records: list[CallRecord], scrub: bool, seed: int, planted: Sequence[str],
           progress: Callable[[int], None] | None = None) -> Curated:
    """Scrub (PIIScrubber) the calls that may become training data, then curate (Curator).

    Human-facing and failed calls never become training examples, so they are not scrubbed;
    the Curator drops them and de-duplicates the rest.
    """
    from ..curate import Curator

    candidates = [r for r in records if not r.human_facing and r.error is None]
    entities: dict[str, int] = {}
    if scrub:
        from ..curate import PIIScrubber
        from ..curate.scrubber import RecordScrubError

        scrubber = PIIScrubber(**scrubber_options(seed))
        scrubbed: list[CallRecord] = []
        try:
            for start in range(0, len(candidates), _SCRUB_BATCH):
                batch = candidates[start:start + _SCRUB_BATCH]
                try:
                    scrubbed += scrubber.scrub_records(batch)
                except RecordScrubError as exc:  # never keep a record raw: drop the failures
                    scrubbed += exc.scrubbed
                if progress is not None:
                    progress(len(batch))
        finally:
            scrubber.close()
        candidates = scrubbed
        entities = dict(scrubber.entity_counts.most_common())
    elif progress is not None:
        progress(len(candidates))
    dataset = Curator(seed=seed).run(candidates)
    text = [str(example) for example in dataset.examples]
    leaks = sum(any(email in t for email in planted) for t in text)
    return Curated(records, candidates, dataset, entities, leaks)


#: Entities the demo leaves in place: the travel agent's own subject matter. The small NER model
#: takes short tool arguments for names and places ("JPY" for a person, "Fahrenheit" for a
#: place) and misses some in the sentence, so text and tool calls would get different
#: pseudonyms and the examples would teach the specialist to invent arguments.
KEPT_ENTITIES = ("PERSON", "LOCATION")


def scrubber_options(seed: int) -> dict[str, Any]:
    """PIIScrubber options: consistent pseudonyms keyed by the seed (reruns give the same
    data) for contact details, secrets and identifiers; names and places are kept."""
    from ..curate.scrubber import DEFAULT_ENTITIES

    return {"mode": "pseudonym", "key": f"slm-agents-demo-{seed}",
            "entities": [e for e in DEFAULT_ENTITIES if e not in KEPT_ENTITIES]}


def cluster(curated: Curated, settings: DemoSettings, seed: int, show_progress: bool) -> Any:
    """Fit a TaskClusterer on the curated calls and label the dataset's examples with it."""
    from ..cluster import HashingEmbedder, MiniLMEmbedder, TaskClusterer

    kept = {m["record_id"] for m in curated.dataset.meta}
    items = [r for r in curated.candidates if r.id in kept]
    embedder = HashingEmbedder() if settings.embedder == "hashing" else MiniLMEmbedder()
    clusterer = TaskClusterer(embedder=embedder, random_state=seed,
                              show_progress=show_progress).fit(items)
    labels = {record.id: int(label) for record, label in zip(items, clusterer.labels_,
                                                              strict=True)}
    for meta in curated.dataset.meta:
        meta["task"] = str(labels.get(meta["record_id"], -1))
    return clusterer


def select_base_model(task: Any, base_model: str) -> tuple[Any, str]:
    """Rank the catalog for the largest task; the base model is the installed SmolLM2.

    Returns:
        The :class:`~slm_agents.select.Selection` and a sentence about the choice.
    """
    from ..select import ModelCatalog

    catalog = ModelCatalog.default()
    budget = _memory_gib()
    ranked = catalog.select(memory_gb=budget, training="lora", commercial=True, task=task,
                            top_k=3)
    installed = catalog.select(memory_gb=budget, training="lora", commercial=True, task=task,
                               installed_only=True)
    here = ", ".join(installed.ids) or "none"
    best = ", ".join(ranked.ids) or "none"
    sentence = (f"best for LoRA in {budget:g} GiB with a commercial licence: {best}; "
                f"installed here: {here} -> base model {base_model}")
    return ranked, sentence


def _memory_gib() -> float:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, OSError, ValueError):  # not POSIX
        return 8.0
    return float(max(1, min(16, math.floor(total))))


@dataclass
class TaskPlan:
    """One task chosen for a specialist: its examples and its generation budget."""

    task: int
    name: str
    calls: int
    train: Any
    test: Any
    max_new_tokens: int
    fit_share: float


def choose_tasks(report: Any, splits: Any, settings: DemoSettings, tokenizer: Any
                 ) -> tuple[list[TaskPlan], list[str]]:
    """The largest tasks with enough training examples that fit ``max_length`` tokens.

    Returns:
        The plans, and why each larger task was passed over.
    """
    from ..train.data import ChatRenderer, encode_example
    from ..train.generation import example_reference
    from .replay import answer_budget

    renderer = ChatRenderer(tokenizer)
    plans: list[TaskPlan] = []
    skipped: list[str] = []
    for task in report.tasks:
        if len(plans) >= settings.tasks:
            break
        train = _task_subset(splits.train, task.task_id)
        if len(train) < settings.min_task_examples:
            skipped.append(f"task {task.task_id} ({len(train)} training examples)")
            continue
        lengths = [len(encode_example(renderer, ex)["input_ids"]) for ex in train.examples]
        fits = [i for i, n in enumerate(lengths) if n <= settings.max_length]
        share = len(fits) / len(lengths)
        if share < 0.9:
            skipped.append(f"task {task.task_id} (prompts of ~{sorted(lengths)[len(lengths) // 2]}"
                           f" tokens > max_length {settings.max_length})")
            continue
        cap = answer_budget(tokenizer, [example_reference(train.examples[i])[2].raw
                                        for i in fits])
        plans.append(TaskPlan(task.task_id, task.name, task.size, train.subset(fits),
                              _task_subset(splits.test, task.task_id), cap, share))
    return plans, skipped


def _task_subset(dataset: Any, task: int) -> Any:
    return dataset.subset([i for i, m in enumerate(dataset.meta) if m["task"] == str(task)])


def train_task(plan: TaskPlan, settings: DemoSettings, seed: int, out: Path,
               show_progress: bool) -> tuple[Any, dict[str, Any]]:
    """LoRA-fine-tune the base model on one task's examples; save the specialist in ``out``."""
    from ..train import FineTuner, LoraSettings, TrainingSettings

    training = TrainingSettings.model_validate({
        "max_steps": settings.max_steps, "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "learning_rate": settings.learning_rate, "max_length": settings.max_length,
        "warmup_ratio": 0.1, "logging_steps": max(1, settings.max_steps // 4),
        "save_total_limit": 1, "resume": False, "progress": show_progress})
    tuner = FineTuner(settings.base_model, method="lora",
                      lora=LoraSettings.model_validate({"r": settings.lora_r}),
                      training=training, seed=seed)
    # The trainer writes its loss logs to stdout beside its bar: keep them with the bar on
    # stderr, so stdout holds one line per stage.
    with contextlib.redirect_stdout(sys.stderr) if show_progress else contextlib.nullcontext():
        specialist = tuner.fit(plan.train)
    specialist.save(out)
    return specialist, dict(tuner.stats_)


def evaluate_task(model: Any, plan: TaskPlan, n: int, seed: int, show_progress: bool,
                  name: str) -> Any:
    """Evaluate ``model`` on up to ``n`` of the task's held-out calls (None if it has none)."""
    from ..evaluate import evaluate

    if n < 1 or not len(plan.test):
        return None
    return evaluate(model, plan.test, max_examples=n, seed=seed, progress=show_progress,
                    generate_kwargs={"max_new_tokens": plan.max_new_tokens}, name=name)
