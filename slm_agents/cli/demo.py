"""``slm-agents demo``: every step, end to end, on a simulated multi-agent LangChain app."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ._group import cli

__all__ = ["demo"]


@cli.command(short_help="Run every step on a simulated LangChain app, offline.")
@click.option("--fast", is_flag=True,
              help="Minutes on two CPU cores: two specialists of short-prompt tasks, few "
                   "steps, short sequences, small evaluation sets (still 2,100 calls).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the store, data, clusterer, specialists and report.html go "
                   "(default: a new temporary folder).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the requests, splits, pseudonyms and training.")
@click.option("--scrub/--no-scrub", default=True, show_default=True,
              help="Pseudonymise contact details and secrets (offline PIIScrubber) before "
                   "curation.")
@click.option("--requests", "n_requests", default=None, type=click.IntRange(1),
              help="User requests to simulate, three LLM calls each [default: 1000; 700 with "
                   "--fast].")
@click.option("--tiny", is_flag=True, hidden=True,
              help="Tests only: a tiny random model, 180 calls, the hashing embedder.")
def demo(fast: bool, workdir: Path | None, seed: int, scrub: bool, n_requests: int | None,
         tiny: bool) -> None:
    """Run a multi-agent LangChain app offline through every step, and write report.html.

    A travel assistant with four agents (triage, tool agent, summariser, responder) answers
    user requests on LangChain's fake chat model, replaying a capable LLM's answers. Its calls
    are captured into an encrypted store, scrubbed and curated, clustered into tasks; SmolLM2-135M
    specialists are LoRA-trained for the largest tasks and evaluated against the LLM's held-out
    answers; the router replays held-out traffic with the LLM as fallback; and the replacement
    report is written. Each stage prints one line with its timing and key figures.

    The default setting shows real quality (three specialists, a tool-calling one included;
    about 40 minutes on 2 CPU cores, minutes on a GPU); --fast finishes in about 2 minutes.
    """
    from ..demo import run_demo

    mode = "tiny" if tiny else "fast" if fast else "default"
    click.echo(f"slm-agents demo ({mode} setting, seed {seed}): a four-agent LangChain travel "
               "assistant on a fake chat model replaying an LLM's answers, offline.")
    bars = _Bars()
    try:
        result = run_demo(n_requests, workdir=workdir, seed=seed, progress=bars.update,
                          scrub=scrub, fast=fast, tiny=tiny, echo=bars.echo,
                          show_progress=True)
    finally:
        bars.close()
    cap = result.capture
    click.echo(f"\nDone in {result.seconds / 60:.1f} min ({result.cpu_seconds / 60:.1f} min of "
               f"CPU time; load average {_load()}). Everything is in {result.workdir}:")
    click.echo(f"  report      {result.report_path}")
    click.echo(f"  store       {cap.store_path} ({cap.store_path.stat().st_size / 2**20:.1f} MiB, "
               f"AES-256-GCM; the writer key {'CAN' if cap.writer_can_read else 'cannot'} "
               "read it back)")
    click.echo(f"  data        {result.workdir / 'data'} (train/validation/test JSONL)")
    click.echo(f"  clusterer   {result.workdir / 'clusterer'}")
    for info in result.specialists:
        click.echo(f"  specialist  {info['path']}")
    click.echo(f"Admin key (keep it secret; needed to read the store): {cap.admin_key}")
    click.echo("Next: slm-agents report --store "
               f"{cap.store_path} --key <admin key> --clusterer {result.workdir / 'clusterer'}")


class _Bars:
    """Progress bars for the capture, scrubbing and routing stages, and stage lines between."""

    def __init__(self) -> None:
        self._bar: Any = None

    def update(self, stage: str, n: int) -> None:
        if stage.startswith("start:"):
            self.close()
            label = {"start:capture": "capture (requests)", "start:curate": "scrub + curate",
                     "start:route": "route (held-out calls)"}.get(stage, stage[6:])
            self._bar = click.progressbar(length=max(n, 1), label=label, file=sys.stderr,
                                          show_pos=True)
            self._bar.__enter__()
        elif self._bar is not None:
            self._bar.update(n)

    def echo(self, line: str) -> None:
        self.close()
        click.echo(line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _load() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # not POSIX
        return "unknown"
