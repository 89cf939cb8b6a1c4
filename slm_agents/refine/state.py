"""The flywheel's memory between rounds: ``workdir/state.json``, replaced atomically.

Everything a round decides is committed in one ``os.replace`` of this file at the end of the
round: the watermark, the counters of data gathered since each task was last trained, which
clusterer and drift baseline are in use (folders written beforehand, never modified after), and
the stable task ids. A round that fails before the commit leaves the previous state in force.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigError
from ._fs import atomic_write_json, read_json

__all__ = ["STATE_FILE", "FlywheelState", "Pending"]

STATE_FILE = "state.json"
FORMAT = "slm_agents.flywheel"
FORMAT_VERSION = 1


class Pending(BaseModel):
    """Data a task gathered since it was last trained."""

    model_config = ConfigDict(extra="forbid")

    examples: int = 0
    escalations: int = 0


class FlywheelState(BaseModel):
    """What the flywheel remembers between rounds.

    Attributes:
        round: Rounds committed so far.
        watermark: ``started_at`` of the newest record processed.
        recent: Id -> ``started_at`` (epoch seconds) of the records processed within the
            lookback before the watermark: records that arrive late, with an older start time,
            are read again and recognised by id.
        clusterer: Folder (relative to the workdir) of the clusterer in use.
        baseline: Folder of the drift baseline in use.
        task_map: Clusterer label -> stable task id.
        task_names: Task id -> name.
        next_task: The next unused task id.
        pending: Task id -> data gathered since the task was last trained.
        updated_at: When the state was last committed.
    """

    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    round: int = 0
    watermark: datetime | None = None
    recent: dict[str, float] = Field(default_factory=dict)
    clusterer: str | None = None
    baseline: str | None = None
    task_map: dict[int, int] = Field(default_factory=dict)
    task_names: dict[int, str] = Field(default_factory=dict)
    next_task: int = 0
    pending: dict[int, Pending] = Field(default_factory=dict)
    updated_at: datetime | None = None

    @classmethod
    def load(cls, workdir: Path) -> FlywheelState:
        """The committed state of ``workdir`` (a fresh one when there is none).

        Raises:
            ConfigError: the file is not a flywheel state (or from a newer version).
        """
        try:
            data = read_json(workdir / STATE_FILE)
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{workdir / STATE_FILE} cannot be read: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"{workdir / STATE_FILE} is not a flywheel state file")
        if int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise ConfigError(f"{workdir} was written by a newer slm_agents; upgrade to use it")
        return cls.model_validate(data)

    def save(self, workdir: Path) -> None:
        """Commit this state atomically (write, fsync, rename)."""
        self.updated_at = datetime.now(timezone.utc)
        atomic_write_json(workdir / STATE_FILE, self.model_dump(mode="json"))

    def pending_for(self, task: int) -> Pending:
        """The task's counters (created at zero)."""
        return self.pending.setdefault(task, Pending())
