"""Stage 8 of the demo: the replacement report, with the demo's own measurements added.

:func:`~slm_agents.report.replacement_report` computes the replaceable share and the savings from
the captured calls, the clusterer and the specialists' held-out evaluations. The page it renders
gets three more sections: the router's replay of held-out traffic, the specialists (training and
quality against the base model zero-shot), and the pipeline's stage timings.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["demo_sections", "write_report"]

_END = "</body></html>"


def write_report(records: Sequence[Any], labels: Sequence[int], names: Mapping[int, str],
                 evaluations: Mapping[int, Any], workdir: Path, sections: str
                 ) -> tuple[Any, Path, Path]:
    """Build the replacement report, write ``report.html`` (with ``sections``) and ``report.md``.

    The demo's calls were made within seconds; they are read as one day of traffic so that the
    monthly figures mean something.
    """
    from ..report import replacement_report

    report = replacement_report(list(records), labels=list(labels), task_names=names,
                                evaluations={k: v for k, v in evaluations.items() if v},
                                period_days=1.0, slm="smollm2-135m")
    page = report.to_html()
    if _END in page:
        page = page.replace(_END, sections + "\n" + _END)
    else:  # pragma: no cover - a renderer that ends its page differently
        page += sections
    html_path = workdir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    md_path = workdir / "report.md"
    md_path.write_text(report.to_markdown(), encoding="utf-8")
    return report, html_path, md_path


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def demo_sections(replay: Any, specialists: Sequence[Mapping[str, Any]],
                  stages: Sequence[Mapping[str, Any]], names: Mapping[int, str],
                  mode: str) -> str:
    """HTML for the router replay, the specialists and the stage timings."""
    esc = html.escape
    parts = ["<h2>Router replay on held-out traffic</h2>"]
    if replay is None or not replay.calls:
        parts.append("<p>No held-out call was replayed.</p>")
    else:
        parts.append(
            f"<p>{replay.calls} calls of {replay.traces} held-out traces (never trained on, "
            f"human-facing answers included) went through the router: "
            f"<b>{_pct(replay.specialist_share)}</b> were served by a specialist, with "
            f"<b>{_pct(replay.specialist_agreement)}</b> agreement with the LLM's logged "
            f"answers; {replay.escalations} specialist answers were rejected by the contract "
            f"checks and escalated. Agreement of every served answer: "
            f"<b>{_pct(replay.agreement)}</b>. Estimated saving: "
            f"<b>{_pct(replay.cost_saved_share)}</b> of the LLM-only cost.</p>")
        rows = []
        for task, counts in replay.by_task.items():
            name = names.get(int(task), "") if task.lstrip("-").isdigit() else task
            rows.append([task, name, counts.get("specialist", 0), counts.get("llm", 0)])
        parts.append(_table(["task", "name", "served by specialist", "served by LLM"], rows))
        if replay.fallback_reasons:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(replay.fallback_reasons.items()))
            parts.append(f"<p>Escalations by reason: {esc(reasons)}.</p>")
    parts.append("<h2>Specialists</h2>")
    rows = [[s["task"], s["name"], s["train_examples"], s["steps"], f"{s['train_s']:.0f} s",
             _interval(s.get("eval")), _pct(_agreement(s.get("baseline")))]
            for s in specialists]
    parts.append(_table(["task", "name", "training examples", "steps", "training time",
                         "agreement on held-out calls (95% interval)",
                         "base model zero-shot"], rows) if rows
                 else "<p>No specialist was trained.</p>")
    parts.append(f"<h2>Demo pipeline ({esc(mode)} setting)</h2>")
    parts.append(_table(["stage", "seconds", "figures"],
                        [[s["stage"], f"{s['seconds']:.1f}", s["line"]] for s in stages]))
    return "\n".join(parts)


def _agreement(report: Any) -> float | None:
    return None if report is None else report.agreement


def _interval(report: Any) -> str:
    if report is None:
        return "no held-out calls"
    low_high = report.interval("agreement")
    text = f"{_pct(report.agreement)} on {report.n}"
    if low_high is not None:
        text += f" ({low_high[0]:.0%}-{low_high[1]:.0%})"
    return text
