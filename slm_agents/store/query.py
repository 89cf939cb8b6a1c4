"""Turning the filters of ``Store.records`` into SQL over the plaintext index columns."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import ConfigError

__all__ = ["Filters", "to_epoch"]


def to_epoch(value: datetime | float | int, name: str) -> float:
    """Seconds since the epoch from an aware datetime (naive means UTC) or a number.

    Raises:
        TypeError: the value is neither a datetime nor a number.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isnan(value):
            raise ConfigError(f"{name} is NaN; pass a datetime or epoch seconds")
        return float(value)
    raise TypeError(
        f"{name} must be a datetime (naive means UTC) or epoch seconds, got {type(value).__name__}"
    )


def _tag_list(tags: str | Iterable[str] | None) -> list[str]:
    if tags is None:
        return []
    # A bare string is one tag, not its characters.
    items = [tags] if isinstance(tags, str) else list(tags)
    for tag in items:
        if not isinstance(tag, str):
            raise TypeError(f"tags must be strings, got {type(tag).__name__}")
    return list(dict.fromkeys(items))


@dataclass
class Filters:
    """Normalised filters, their SQL, and their audit-log form."""

    agent: str | None = None
    since: float | None = None
    until: float | None = None
    tags: list[str] = field(default_factory=list)
    human_facing: bool | None = None
    trace_id: str | None = None
    limit: int | None = None

    @classmethod
    def build(
        cls,
        *,
        agent: str | None,
        since: datetime | float | None,
        until: datetime | float | None,
        tags: str | Iterable[str] | None,
        human_facing: bool | None,
        trace_id: str | None,
        limit: int | None,
    ) -> Filters:
        """Validate and normalise the arguments of ``Store.records``.

        Raises:
            ConfigError: ``limit`` is negative.
            TypeError: an argument has the wrong type.
        """
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise TypeError(f"limit must be an int or None, got {type(limit).__name__}")
            if limit < 0:
                raise ConfigError(f"limit must be >= 0 or None, got {limit}")
        for name, value in (("agent", agent), ("trace_id", trace_id)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a string or None, got {type(value).__name__}")
        return cls(
            agent=agent,
            since=None if since is None else to_epoch(since, "since"),
            until=None if until is None else to_epoch(until, "until"),
            tags=_tag_list(tags),
            human_facing=None if human_facing is None else bool(human_facing),
            trace_id=trace_id,
            limit=limit,
        )

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions on ``records r`` (joined with AND) and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.agent is not None:
            clauses.append("r.agent = ?")
            params.append(self.agent)
        if self.since is not None:
            clauses.append("r.started_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("r.started_at < ?")
            params.append(self.until)
        if self.human_facing is not None:
            clauses.append("r.human_facing = ?")
            params.append(int(self.human_facing))
        if self.trace_id is not None:
            clauses.append("r.trace_id = ?")
            params.append(self.trace_id)
        for tag in self.tags:
            clauses.append(
                "EXISTS (SELECT 1 FROM record_tags t WHERE t.seq = r.seq AND t.tag = ?)"
            )
            params.append(tag)
        return (" AND ".join(clauses) or "1"), params

    def audit_query(self, raw: bool) -> dict[str, Any]:
        """The filters as they are written to the audit log (only those given)."""
        query: dict[str, Any] = {
            "agent": self.agent,
            "since": self.since,
            "until": self.until,
            "tags": self.tags or None,
            "human_facing": self.human_facing,
            "trace_id": self.trace_id,
            "limit": self.limit,
        }
        query = {k: v for k, v in query.items() if v is not None}
        query["raw"] = raw
        return query
