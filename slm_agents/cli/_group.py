"""The ``slm-agents`` click group (the commands register themselves on it)."""

from __future__ import annotations

import click

from .. import __version__
from ._common import SLMGroup

__all__ = ["cli"]


@click.group(cls=SLMGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="slm-agents")
def cli() -> None:
    """Turn an agent's repetitive LLM calls into cheap, specialised small-model calls.

    Start with `slm-agents demo --fast`: it runs every step on a simulated multi-agent
    LangChain application, offline. The other commands run one step each on your own store
    (`--store PATH --key KEY`, the key also from $SLM_AGENTS_KEY).
    """
