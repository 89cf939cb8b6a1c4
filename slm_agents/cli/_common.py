"""What the ``slm-agents`` commands share: the group, errors, store options, progress bars.

Every error a user can cause (a missing store, a wrong key, empty data, a bad option value) ends
the command with exit code 2 and one line on stderr, ``error: <what went wrong and the fix>``,
never a traceback: the library's typed errors (:class:`~slm_agents.errors.SLMAgentsError`) are
turned into :class:`CLIError` by :class:`SLMGroup`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from ..errors import SLMAgentsError

__all__ = ["KEY_ENV", "CLIError", "SLMGroup", "check_file", "open_store", "progress",
           "read_records", "store_options"]

KEY_ENV = "SLM_AGENTS_KEY"
F = TypeVar("F", bound=Callable[..., Any])


class CLIError(click.ClickException):
    """A user error: exit code 2 and one line, ``error: ...``, on stderr."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))  # one line, whatever the source

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class SLMGroup(click.Group):
    """A click group that reports the library's typed errors as :class:`CLIError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SLMAgentsError as exc:
            raise CLIError(str(exc)) from exc


def store_options(command: F) -> F:
    """``--store PATH --key KEY`` (the key also from ``$SLM_AGENTS_KEY``)."""
    command = click.option(
        "--key", envvar=KEY_ENV, show_envvar=True, metavar="KEY",
        help="A curator or admin key of the store.")(command)
    return click.option(
        "--store", "store_path", required=True, metavar="PATH",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The encrypted store file (calls.db).")(command)


def check_file(path: Path, what: str) -> Path:
    """``path`` if it is a file, else a :class:`CLIError` naming ``what``."""
    if not path.is_file():
        raise CLIError(f"no {what} at {path}" if not path.exists()
                       else f"{path} is not a file ({what} expected)")
    return path


def open_store(path: Path, key: str | None) -> Any:
    """Open an existing store (never creates one) with ``key``."""
    from ..store import Store

    if not key:
        raise CLIError(f"no key for the store: pass --key or set ${KEY_ENV}")
    check_file(path, "store")
    return Store(path, key=key.strip())


def read_records(store: Any, *, label: str = "reading calls",
                 include_human_facing: bool = True) -> list[Any]:
    """Every record of ``store`` (with a progress bar); a :class:`CLIError` when there are none."""
    total = len(store)
    if total == 0:
        raise CLIError(f"the store {store.path} holds no calls yet: capture some first "
                       "(slm_agents.Recorder, or slm-agents demo)")
    records = []
    with progress(total, label) as bar:
        for record in store.records():
            bar(1)
            if include_human_facing or not record.human_facing:
                records.append(record)
    if not records:
        raise CLIError(f"every call in {store.path} is human-facing: nothing to learn from")
    return records


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A click progress bar on stderr; yields ``update(n)``."""
    with click.progressbar(length=max(total, 1), label=label, file=sys.stderr,
                           show_pos=True) as bar:
        yield bar.update
