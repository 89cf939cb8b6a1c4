"""``slm-agents flywheel``: one round of continuous refinement (cron), or rounds forever."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click

from ._common import CLIError, open_store, store_options
from ._group import cli
from .data import EMBEDDERS, make_embedder, make_scrubber
from .models import METHODS, base_model_option

__all__ = ["flywheel"]


def fine_tuner_factory(base_model: str, method: str, max_steps: int, epochs: float,
                       batch_size: int, max_length: int, device: str, seed: int) -> Any:
    """``task -> FineTuner`` with the command's settings."""

    def factory(task: Any) -> Any:
        from ..train import FineTuner, TrainingSettings

        training = TrainingSettings.model_validate({
            "num_train_epochs": epochs, "max_steps": max_steps,
            "per_device_train_batch_size": batch_size, "max_length": max_length,
            "progress": False, "resume": False, "save_total_limit": 1})
        return FineTuner(base_model, method=method, training=training, device=device, seed=seed)

    return factory


@cli.command(short_help="Run a flywheel round (retrain, evaluate, promote), or rounds forever.")
@store_options
@click.option("--workdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The flywheel's folder: state, clusterer, round reports, model registry.")
@click.option("--once", is_flag=True,
              help="Run one round and exit (for cron, Airflow...): the default without "
                   "--interval.")
@click.option("--interval", default=None, type=click.FloatRange(min=0, min_open=True),
              metavar="SECONDS", help="Run a round every SECONDS until interrupted.")
@click.option("--max-rounds", default=None, type=click.IntRange(1),
              help="With --interval: stop after this many rounds.")
@base_model_option
@click.option("--method", type=click.Choice(METHODS), default="lora", show_default=True)
@click.option("--max-steps", default=-1, show_default=True, type=int,
              help="Optimiser steps per retraining (-1: run --epochs).")
@click.option("--epochs", default=2.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True))
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(1))
@click.option("--max-length", default=1024, show_default=True, type=click.IntRange(16))
@click.option("--embedder", type=click.Choice(EMBEDDERS), default="minilm", show_default=True,
              help="Embedder of the clusterer fitted on the first round.")
@click.option("--min-new-examples", default=50, show_default=True, type=click.IntRange(1),
              help="New curated examples that make a task retrain.")
@click.option("--min-test-examples", default=10, show_default=True, type=click.IntRange(1),
              help="Held-out examples a task needs before a candidate can be judged.")
@click.option("--quality-bar", default=0.9, show_default=True, type=click.FloatRange(0, 1),
              help="Agreement with the LLM a candidate must reach to be promoted.")
@click.option("--max-eval-examples", default=200, show_default=True, type=click.IntRange(1),
              help="Held-out examples each candidate is evaluated on.")
@click.option("--max-new-tokens", default=256, show_default=True, type=click.IntRange(1),
              help="Generation budget per answer in evaluations.")
@click.option("--scrub/--no-scrub", default=True, show_default=True,
              help="Scrub personal data before curation.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--seed", default=0, show_default=True, type=int)
def flywheel(store_path: Path, key: str | None, workdir: Path, once: bool,
             interval: float | None, max_rounds: int | None, base_model: str, method: str,
             max_steps: int, epochs: float, batch_size: int, max_length: int, embedder: str,
             min_new_examples: int, min_test_examples: int, quality_bar: float,
             max_eval_examples: int, max_new_tokens: int, scrub: bool, device: str,
             seed: int) -> None:
    """Retrain, evaluate and promote specialists on the calls that arrived since the last round.

    Promotion needs the candidate to beat both the quality bar against the LLM and the current
    specialist with statistical confidence; every round's report is kept in WORKDIR/rounds/.
    """
    from ..cluster import TaskClusterer
    from ..curate import Curator
    from ..evaluate import evaluate
    from ..refine import Flywheel

    if max_steps == 0 or max_steps < -1:
        raise CLIError("--max-steps must be a positive number of steps, or -1")
    if once and interval is not None:
        raise CLIError("--once and --interval exclude each other")
    if max_rounds is not None and interval is None:
        raise CLIError("--max-rounds goes with --interval")
    store = open_store(store_path, key)
    if len(store) == 0:
        store.close()
        raise CLIError(f"the store {store_path} holds no calls yet: nothing to refine")
    evaluator = functools.partial(evaluate, progress=False, seed=seed,
                                  generate_kwargs={"max_new_tokens": max_new_tokens})
    wheel = Flywheel(
        store, workdir, clusterer=TaskClusterer(embedder=make_embedder(embedder),
                                                random_state=seed),
        curator=Curator(scrubber=make_scrubber(scrub), seed=seed),
        fine_tuner_factory=fine_tuner_factory(base_model, method, max_steps, epochs,
                                              batch_size, max_length, device, seed),
        evaluator=evaluator, min_new_examples=min_new_examples,
        min_test_examples=min_test_examples, quality_bar=quality_bar,
        max_eval_examples=max_eval_examples, seed=seed,
        event_hooks={"round": [lambda event: click.echo(event["report"].summary())]}
        if interval is not None else None)
    try:
        if interval is None:
            click.echo(f"Flywheel round on {store_path} (workdir {workdir})...")
            report = wheel.run_once()
            click.echo(report.to_markdown())
        else:
            click.echo(f"Flywheel: a round every {interval:g} s"
                       f"{f', {max_rounds} rounds' if max_rounds else ''} (Ctrl-C stops).")
            try:
                wheel.run_forever(interval, max_rounds=max_rounds)
            except KeyboardInterrupt:
                click.echo("Stopped.")
    finally:
        store.close()
