"""The ``slm-agents`` command line.

``slm-agents demo`` runs the pipeline end to end on embedded defaults (today: the capture step on
a simulated multi-agent LangChain application). More subcommands arrive with the later steps.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .errors import SLMAgentsError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="slm-agents")
def cli() -> None:
    """Turn an agent's repetitive LLM calls into cheap, specialised small-model calls."""


@cli.command()
@click.option("--requests", "n_requests", default=200, show_default=True, type=click.IntRange(1),
              help="User requests to simulate (each makes three LLM calls).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the encrypted store (default: a new temporary directory).")
@click.option("--seed", default=0, show_default=True, help="Seed of the request mix.")
@click.option("--scrub", is_flag=True,
              help="Scrub personal data before storage (offline Presidio; needs the pii extra).")
def demo(n_requests: int, workdir: Path | None, seed: int, scrub: bool) -> None:
    """Run a multi-agent LangChain app offline and capture its LLM calls into an encrypted store."""
    from .demo import run_demo

    click.echo(f"Running the travel-assistant agents on {n_requests} requests "
               "(LangChain, fake chat model replaying an LLM's answers)...")
    with click.progressbar(length=n_requests, label="requests", file=sys.stderr) as bar:
        result = run_demo(n_requests, workdir=workdir, seed=seed, progress=bar.update,
                          scrub=scrub)
    stats = result.capture_stats
    click.echo("")
    click.echo(f"Captured {result.calls} LLM calls in {result.seconds:.1f} s "
               f"({stats['written']} written, {stats['dropped_overflow']} dropped on overflow, "
               f"{stats['hook_errors']} hook errors).")
    click.echo("Calls per agent:")
    for agent, count in result.calls_per_agent.items():
        click.echo(f"  {agent:<12} {count:>6}")
    click.echo(f"Human-facing (kept out of training): {result.human_facing}")
    click.echo(f"Tool calls captured: {result.tool_calls}")
    click.echo(f"Tokens: {result.input_tokens} in, {result.output_tokens} out")
    click.echo(f"Store: {result.store_path} ({result.store_path.stat().st_size / 1024:.0f} KiB, "
               "AES-256-GCM; written with a writer key that "
               f"{'CAN' if result.writer_can_read else 'cannot'} read it back)")
    click.echo(f"Planted e-mail addresses found in clear in the store's files: "
               f"{result.plaintext_hits}")
    how = "scrubbed before storage" if result.scrubbed else "not scrubbed: try --scrub"
    click.echo(f"Records whose decrypted view holds a planted e-mail address: "
               f"{result.emails_in_view} ({how})")
    click.echo(f"Admin key (keep it secret; needed to read the store): {result.admin_key}")
    if result.sample:
        click.echo("\nOne captured tool-calling record, as the curator role reads it:")
        click.echo(result.sample)


def main() -> None:
    """Entry point: typed errors become one clear line and exit code 2, never a traceback."""
    try:
        cli(standalone_mode=True)
    except SLMAgentsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
