"""The ``slm-agents`` command line.

``slm-agents demo`` runs the whole pipeline end to end on embedded defaults; the other commands
run one step each: ``curate``, ``cluster``, ``train``, ``evaluate``, ``report`` and ``flywheel``.
Typed errors become one line and exit code 2, never a traceback.
"""

from __future__ import annotations

import logging
import sys
import warnings

import click

from ..errors import SLMAgentsError
from . import data, demo, models, wheel  # noqa: F401 - each module registers its commands
from ._group import cli

__all__ = ["cli", "main"]


def quiet_dependencies() -> None:
    """Keep dependencies' notices about themselves out of the command's output (the command
    prints what it did; a library user keeps their own logging and warning settings).

    bitsandbytes logs a missing optional CPU kernel at import, and transformers' deprecation
    notices (``FutureWarning``) are about its API, not the user's data.
    """
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"peft\.")


def main() -> None:
    """Entry point: typed errors become one clear line and exit code 2, never a traceback."""
    quiet_dependencies()
    try:
        cli(standalone_mode=True)
    except SLMAgentsError as exc:  # raised outside a command (the group converts the others)
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
