"""Markdown, HTML and plots of a :class:`~slm_agents.cluster.report.ClusterReport`.

Everything that came from records (task names, keywords, tool names, examples, the selection
record) is untrusted text: Markdown escapes it so it renders as plain text, and HTML escapes it,
with a Content-Security-Policy that allows no script, so a planted ``<script>`` stays text.

Plots are drawn on :class:`matplotlib.figure.Figure` objects rendered by Agg, never through
``pyplot``, so the caller's backend and open figures are left alone.
"""

from __future__ import annotations

import base64
import html
import importlib
import io
import json
import re
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    from .report import ClusterReport, TaskStats

__all__ = ["render_html", "render_markdown", "render_pandas", "require"]

_UNASSIGNED_COLOUR = "#b0b0b0"
_MAX_BARS = 20  # more tasks than this are summed into one "other tasks" bar
_MAX_LEGEND = 12
_SELECTION_CHARS = 2000
# Escaped so record text cannot make links, images, code spans or table cells; emphasis is left
# alone (cosmetic at worst, and escaping every "_" would make tool names unreadable).
_MD_SPECIAL = re.compile(r"([\\`\[\]|])")
_SPACE = re.compile(r"\s+")


def require(package: str, feature: str) -> Any:
    """Import an optional package, or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise MissingDependencyError(package, "cluster", feature) from exc


def render_pandas(report: ClusterReport) -> Any:
    """The report as a DataFrame: :class:`TaskStats`' fields and ``tokens``, one row per task."""
    from dataclasses import asdict, fields

    from .report import TaskStats

    pd = require("pandas", "ClusterReport.to_pandas")
    records = [{**asdict(task), "tokens": task.tokens} for task in report.rows()]
    columns = [f.name for f in fields(TaskStats)]
    columns.insert(columns.index("token_share"), "tokens")
    return pd.DataFrame.from_records(records, columns=columns)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.3g}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"


def _price_line(report: ClusterReport) -> str:
    p = report.prices
    return f"${p.input_per_1k:g} / ${p.output_per_1k:g} per 1K input / output tokens"


def _selection_text(report: ClusterReport) -> str:
    text = json.dumps(report.selection, sort_keys=True, default=str)
    return text if len(text) <= _SELECTION_CHARS else text[:_SELECTION_CHARS - 1] + "…"


def _tools_text(task: TaskStats) -> str:
    return ", ".join(f"{name} ({count})" for name, count in task.tools_used.items())


def _cells(task: TaskStats) -> list[str]:
    """The table cells of one task, as plain (unescaped) text."""
    return [
        "—" if task.task_id < 0 else str(task.task_id), task.name, str(task.size),
        _pct(task.call_share), _pct(task.token_share), _money(task.cost), _pct(task.cost_share),
        _ms(task.median_latency_ms), task.output_kind, _pct(task.template_share),
        _pct(task.input_similarity), _pct(task.constrained_share), _pct(task.output_diversity),
    ]


_HEADER = ["Task", "Name", "Calls", "Share of calls", "Share of tokens", "Est. cost",
           "Share of cost", "Median latency", "Output", "Templated inputs", "Input similarity",
           "Constrained outputs", "Output diversity"]


def _md(text: str) -> str:
    """Untrusted text as one line of Markdown that renders literally (no HTML, links, tables)."""
    one_line = _SPACE.sub(" ", str(text)).strip()
    return html.escape(_MD_SPECIAL.sub(r"\\\1", one_line), quote=False)


def render_markdown(report: ClusterReport) -> str:
    """The report as a Markdown document."""
    un = report.unassigned
    lines = [
        "# Task report",
        "",
        f"- Calls: **{report.n_calls}** in **{report.n_tasks}** tasks",
        f"- Unassigned: **{un.size}** calls ({_pct(un.call_share)} of calls, "
        f"{_pct(un.cost_share)} of cost)",
        f"- Tokens: **{report.total_tokens:,}**",
        f"- Estimated cost: **{_money(report.total_cost)}** at {_price_line(report)}",
    ]
    if report.selection is not None:
        lines.append(f"- Granularity chosen by: {_md(_selection_text(report))}")
    lines += ["", "## Tasks", "", f"| {' | '.join(_HEADER)} |",
              f"|{'|'.join('---' for _ in _HEADER)}|"]
    lines += [f"| {' | '.join(_md(cell) for cell in _cells(task))} |" for task in report.rows()]
    for task in report.rows():
        if not task.size:
            continue
        title = "Unassigned calls" if task.task_id < 0 else f"Task {task.task_id}: {task.name}"
        lines += ["", f"## {_md(title)}", ""]
        if task.keywords:
            lines.append(f"- Keywords: {_md(', '.join(task.keywords))}")
        if task.tools_used:
            lines.append(f"- Tools called: {_md(_tools_text(task))}")
        if task.examples:
            lines.append("- Examples:")
            lines += [f"  - {_md(example)}" for example in task.examples]
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2} tr.unassigned{color:#666;font-style:italic}
td.num{text-align:right} img{max-width:100%;margin:1em 1em 0 0}
.examples li{font-family:ui-monospace,monospace;font-size:.85em;white-space:pre-wrap}
details{margin:.5em 0} code{white-space:pre-wrap;word-break:break-all}
"""


def render_html(report: ClusterReport) -> str:
    """The report as a self-contained HTML page with its two plots inlined."""
    colours = _colours(report)
    images = [png for png in (_map_png(report, colours), _cost_png(report, colours)) if png]
    esc = html.escape
    un = report.unassigned
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Defence in depth on top of escaping: the page may load or run nothing but its images.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        f"<title>Task report</title><style>{_CSS}</style></head><body>",
        "<h1>Task report</h1><ul>",
        f"<li>Calls: <b>{report.n_calls}</b> in <b>{report.n_tasks}</b> tasks</li>",
        f"<li>Unassigned: <b>{un.size}</b> calls ({_pct(un.call_share)} of calls, "
        f"{_pct(un.cost_share)} of cost)</li>",
        f"<li>Tokens: <b>{report.total_tokens:,}</b></li>",
        f"<li>Estimated cost: <b>{esc(_money(report.total_cost))}</b> at "
        f"{esc(_price_line(report))}</li></ul>",
    ]
    if report.selection is not None:
        parts.append("<details><summary>How the number of tasks was chosen</summary>"
                     f"<code>{esc(_selection_text(report))}</code></details>")
    if report.coords_2d is None:
        parts.append("<p>No 2-D coordinates were given, so there is no map of calls.</p>")
    parts += [f'<img alt="plot" src="data:image/png;base64,{png}">' for png in images]
    parts.append("<h2>Tasks</h2><table><thead><tr>"
                 + "".join(f"<th>{esc(h)}</th>" for h in _HEADER) + "</tr></thead><tbody>")
    for task in report.rows():
        row_class = ' class="unassigned"' if task.task_id < 0 else ""
        cells = "".join(f'<td{"" if i in (1, 8) else " class=num"}>{esc(cell)}</td>'
                        for i, cell in enumerate(_cells(task)))
        parts.append(f"<tr{row_class}>{cells}</tr>")
    parts.append("</tbody></table>")
    for task in report.rows():
        if not task.size:
            continue
        title = "Unassigned calls" if task.task_id < 0 else f"Task {task.task_id}: {task.name}"
        parts.append(f"<h3>{esc(title)}</h3><ul>")
        if task.keywords:
            parts.append(f"<li>Keywords: {esc(', '.join(task.keywords))}</li>")
        if task.tools_used:
            parts.append(f"<li>Tools called: {esc(_tools_text(task))}</li>")
        parts.append("</ul>")
        if task.examples:
            parts.append('<ul class="examples">'
                         + "".join(f"<li>{esc(e)}</li>" for e in task.examples) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _colours(report: ClusterReport) -> dict[int, Any]:
    matplotlib = require("matplotlib", "ClusterReport.to_html")
    # tab10's strong colours first, then tab20's light ones: neighbours in size stay distinct.
    palette = [*matplotlib.colormaps["tab10"].colors, *matplotlib.colormaps["tab20"].colors[1::2]]
    # Tasks are largest first, so the biggest tasks get the most distinct colours.
    colours: dict[int, Any] = {t.task_id: palette[i % len(palette)]
                               for i, t in enumerate(report.tasks)}
    colours[-1] = _UNASSIGNED_COLOUR
    return colours


def _label(text: str, limit: int = 32) -> str:
    # "$" would start matplotlib mathtext (and can fail to parse); escape it.
    text = _SPACE.sub(" ", text).strip()
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("$", r"\$")


def _figure(width: float, height: float) -> Any:
    require("matplotlib", "ClusterReport.to_html")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _map_png(report: ClusterReport, colours: dict[int, Any]) -> str | None:
    if report.coords_2d is None:
        return None
    np = require("numpy", "ClusterReport.to_html")
    coords = np.asarray(report.coords_2d, dtype=float).reshape(-1, 2)
    labels = np.asarray(report.labels, dtype=int)
    fig = _figure(9, 6)
    ax = fig.add_subplot()
    size = 4 if len(coords) > 5000 else 12
    # Unassigned calls first, so the tasks are drawn on top of them.
    for rank, task in enumerate([report.unassigned, *report.tasks]):
        points = coords[labels == task.task_id]
        if not len(points):
            continue
        name = "unassigned" if task.task_id < 0 else f"{task.task_id}: {task.name}"
        ax.scatter(points[:, 0], points[:, 1], s=size, color=colours[task.task_id],
                   alpha=0.7, linewidths=0, rasterized=True,
                   label=_label(name) if rank <= _MAX_LEGEND else None)
    ax.set_title("Calls by task (2-D map)")
    ax.set_xticks([])
    ax.set_yticks([])
    if len(coords):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, markerscale=2,
                  frameon=False)
    return _png(fig)


def _cost_png(report: ClusterReport, colours: dict[int, Any]) -> str:
    ranked = sorted(report.tasks, key=lambda t: (-t.cost_share, t.task_id))
    bars = [(f"{t.task_id}: {t.name}", t.cost_share, colours[t.task_id])
            for t in ranked[:_MAX_BARS]]
    rest = ranked[_MAX_BARS:]
    if rest:
        bars.append((f"{len(rest)} other tasks", sum(t.cost_share for t in rest), "#707070"))
    bars.append(("unassigned", report.unassigned.cost_share, _UNASSIGNED_COLOUR))
    fig = _figure(9, 1.2 + 0.32 * len(bars))
    ax = fig.add_subplot()
    positions = list(range(len(bars)))
    ax.barh(positions, [b[1] for b in bars], color=[b[2] for b in bars])
    ax.set_yticks(positions, [_label(b[0], 40) for b in bars], fontsize=8)
    ax.invert_yaxis()
    for y, (_, share, _) in enumerate(bars):
        ax.annotate(f"{share:.1%}", (share, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8)
    top = max((b[1] for b in bars), default=0.0)
    ax.set_xlim(0, max(top * 1.15, 0.05))
    ax.xaxis.set_major_formatter(lambda value, _pos: f"{value:.0%}")
    ax.set_title(f"Share of estimated cost ({_money(report.total_cost)} in all)".replace(
        "$", r"\$"))
    return _png(fig)
