"""The ``slm-agents`` command line.

``slm-agents demo`` runs the whole pipeline end to end on embedded defaults; the other commands
run one step each: ``curate``, ``cluster``, ``train``, ``evaluate``, ``report`` and ``flywheel``.
Typed errors become one line and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import click

from ..errors import SLMAgentsError
from . import data, demo, models, wheel  # noqa: F401 - each module registers its commands
from ._group import cli

__all__ = ["cli", "main"]


def main() -> None:
    """Entry point: typed errors become one clear line and exit code 2, never a traceback."""
    try:
        cli(standalone_mode=True)
    except SLMAgentsError as exc:  # raised outside a command (the group converts the others)
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
