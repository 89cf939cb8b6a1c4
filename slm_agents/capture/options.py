"""Typed options of the capture pipeline (validated when created; a misspelt option is an error)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CaptureOptions"]


class CaptureOptions(BaseModel):
    """Options of a :class:`~slm_agents.Recorder`.

    Attributes:
        durability: ``"async"`` (default) hands records to a background writer and returns at
            once; ``"sync"`` builds and writes each record before the hook returns (slower, for
            short scripts that cannot call ``flush()``).
        queue_size: Most calls waiting for the writer. Bounds memory when the disk is slower than
            the agent.
        overflow: What to do when the queue is full: ``"drop_new"`` (default) drops the new call,
            ``"drop_old"`` drops the oldest waiting call, ``"block"`` waits up to
            ``block_timeout_s`` and then drops. Every drop is counted in ``Recorder.stats()``.
        block_timeout_s: How long ``overflow="block"`` may block the host.
        batch_size: Records written per transaction.
        flush_interval_s: Longest time a record waits in the queue before the writer wakes.
        human_facing: ``"flag"`` stores human-facing calls with ``human_facing=True`` (curation
            skips them by default); ``"skip"`` does not store them at all.
        human_facing_tags: Tags that mark a call as human-facing.
        keep_raw: With a scrubber, also keep the unscrubbed record, sealed so that only the admin
            key opens it. Without a scrubber there is only one form and this has no effect.
        tags: Tags added to every record.
        metadata: Metadata merged into every record (the call's own keys win).
        max_field_chars: Longest text kept per field; longer text is cut with a marker.
        close_timeout_s: Longest time ``close()`` and interpreter exit wait for the writer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    durability: Literal["async", "sync"] = "async"
    queue_size: int = Field(10_000, ge=1)
    overflow: Literal["drop_new", "drop_old", "block"] = "drop_new"
    block_timeout_s: float = Field(1.0, ge=0)
    batch_size: int = Field(256, ge=1)
    flush_interval_s: float = Field(0.2, gt=0)
    human_facing: Literal["flag", "skip"] = "flag"
    human_facing_tags: frozenset[str] = frozenset({"human_facing", "human-facing"})
    keep_raw: bool = False
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)
    max_field_chars: int = Field(1_000_000, ge=1_000)
    close_timeout_s: float = Field(10.0, ge=0)

    @model_validator(mode="after")
    def _batch_fits_queue(self) -> CaptureOptions:
        if self.batch_size > self.queue_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) cannot exceed queue_size ({self.queue_size})"
            )
        return self
