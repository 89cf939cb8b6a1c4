"""What curation did: records in and out, why each dropped record was dropped, what was scrubbed.

Examples:
    >>> report = CurationReport(n_in=10, n_out=7, dropped={"error": 2, "duplicate_exact": 1},
    ...                         duplicates_exact=1, per_task={"search": 7})
    >>> report.to_dict()["dropped"]
    {'error': 2, 'duplicate_exact': 1}
    >>> print(report.to_markdown().splitlines()[0])
    # Curation report
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["CurationReport"]


@dataclass
class CurationReport:
    """Counts of one curation run (the curator's ``report_``, also ``Dataset.report``).

    Attributes:
        n_in: Records read.
        n_out: Examples in the dataset.
        dropped: Records dropped, per reason (reasons with a count only, in pipeline order; see
            :data:`slm_agents.curate.filters.DROP_REASONS`).
        duplicates_exact: Records dropped as exact copies of a kept one.
        duplicates_near: Records dropped as near-duplicates of a kept one.
        entities_scrubbed: Values replaced by the scrubber during this run, per entity type.
        scrubber: Class name of the scrubber used, or ``None`` when nothing was scrubbed.
        per_task: Examples in the dataset, per task.
        per_task_in: Records read, per task.
        splits: Examples per split, once :meth:`Dataset.split` has run.
        split_tasks: Examples per split and task, once :meth:`Dataset.split` has run.
        elapsed_s: Wall-clock seconds the run took.
    """

    n_in: int = 0
    n_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    duplicates_exact: int = 0
    duplicates_near: int = 0
    entities_scrubbed: dict[str, int] = field(default_factory=dict)
    scrubber: str | None = None
    per_task: dict[str, int] = field(default_factory=dict)
    per_task_in: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] | None = None
    split_tasks: dict[str, dict[str, int]] | None = None
    elapsed_s: float = 0.0

    @property
    def n_dropped(self) -> int:
        """Records dropped, all reasons together."""
        return sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-safe values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CurationReport:
        """Rebuild a report from :meth:`to_dict` output (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_markdown(self) -> str:
        """The report as a Markdown document (tables of drops, tasks, entities and splits)."""
        kept = f"{self.n_out / self.n_in:.1%}" if self.n_in else "n/a"
        lines = [
            "# Curation report",
            "",
            f"- Records in: **{self.n_in}**",
            f"- Examples out: **{self.n_out}** ({kept} kept)",
            f"- Dropped: **{self.n_dropped}** (exact duplicates {self.duplicates_exact}, "
            f"near duplicates {self.duplicates_near})",
            f"- Scrubbed by: {self.scrubber or 'no scrubber'}",
            f"- Time: {self.elapsed_s:.1f} s",
        ]
        lines += _table("Dropped records", ("Reason", "Records"), self.dropped.items())
        tasks = sorted(set(self.per_task_in) | set(self.per_task))
        lines += _table("Tasks", ("Task", "Records in", "Examples out"),
                        ((t, self.per_task_in.get(t, 0), self.per_task.get(t, 0)) for t in tasks))
        lines += _table("Entities scrubbed", ("Entity type", "Values replaced"),
                        sorted(self.entities_scrubbed.items()))
        if self.splits is not None:
            names = list(self.splits)
            split_tasks = self.split_tasks or {}
            task_names = sorted({t for counts in split_tasks.values() for t in counts})
            rows: list[tuple[Any, ...]] = [
                (t, *(split_tasks.get(n, {}).get(t, 0) for n in names)) for t in task_names]
            rows.append(("**all**", *(self.splits[n] for n in names)))
            lines += _table("Splits", ("Task", *names), rows)
        return "\n".join(lines) + "\n"


def _table(title: str, header: tuple[str, ...], rows: Any) -> list[str]:
    body = [f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]
    if not body:
        return []
    return ["", f"## {title}", "", f"| {' | '.join(header)} |",
            f"|{'|'.join('---' for _ in header)}|", *body]
