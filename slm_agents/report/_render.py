"""One line, Markdown, HTML, pandas and plots of a
:class:`~slm_agents.report.ReplacementReport`.

Task names come from records (keywords, tool names) and quality sources from user objects: all
of it is untrusted text. Markdown escapes it so it renders as plain text; HTML escapes it, under
a Content-Security-Policy that allows no script, so a planted ``<script>`` stays text.

Plots are drawn on :class:`matplotlib.figure.Figure` objects rendered by Agg, never through
``pyplot``, so the caller's backend and open figures are left alone.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..cluster._report_render import require
from .replacement import DAYS_PER_MONTH

if TYPE_CHECKING:  # pragma: no cover
    from .replacement import ReplacementReport, TaskReplacement

__all__ = ["render_html", "render_markdown", "render_pandas", "summary"]

_MAX_BARS = 15  # tasks in the cost plot; the rest are summed into one "other tasks" row
_COLOURS = {"replaceable now": "#2a9d4b", "likely replaceable": "#9fd38a",
            "keep on LLM": "#e07b39", "unassigned": "#b0b0b0"}
_LLM_COLOUR, _SLM_COLOUR = "#4c72b0", "#2a9d4b"
_MD_SPECIAL = re.compile(r"([\\`\[\]|])")
_SPACE = re.compile(r"\s+")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _money(value: float | None) -> str:
    if value is None:
        return "n/a"
    sign, value = ("-" if value < 0 else ""), abs(value)
    return f"{sign}${value:,.2f}" if value >= 1 else f"{sign}${value:.3g}"


def _md(text: Any) -> str:
    """Untrusted text as one line of Markdown that renders literally."""
    one_line = _SPACE.sub(" ", str(text)).strip()
    return html.escape(_MD_SPECIAL.sub(r"\\\1", one_line), quote=False)


def _scaled(report: ReplacementReport, value: float) -> float:
    factor = report.monthly_factor
    return value if factor is None else value * factor


def _per(report: ReplacementReport) -> str:
    return "per month" if report.monthly_factor is not None else "over the observed calls"


def _period_text(report: ReplacementReport) -> str:
    span = f"{report.first_call[:19]} to {report.last_call[:19]} UTC"
    if report.period_source == "given":
        return f"{report.period_days:g} days (given); calls from {span}"
    if report.period_source == "timestamps":
        return f"{report.period_days:.2f} days, from {span}"
    return (f"{span}: too short to scale to a month (pass period_days=), so costs are over the "
            "observed calls")


def _quality(task: TaskReplacement) -> str:
    if task.task_id < 0:
        return "—"
    if task.agreement is not None:
        text = f"measured {task.agreement:.1%}"
        if task.agreement_low is not None and task.agreement_high is not None:
            text += f" [{task.agreement_low:.1%}–{task.agreement_high:.1%}]"
        return text + (f", n={task.eval_n}" if task.eval_n is not None else "")
    return "n/a" if task.predicted is None else f"predicted {task.predicted:.2f}"


def summary(report: ReplacementReport) -> str:
    """One line: calls, tasks, the replaceable shares and the monthly savings."""
    head = (f"{report.n_calls:,} calls in {len(report.tasks)} tasks: "
            f"{report.replaceable_now_share:.1%} replaceable now, {report.likely_share:.1%} "
            f"likely replaceable ({report.replaceable_share:.1%} in all)")
    if report.monthly_factor is None:
        return (f"{head}; saves {_money(report.savings_now)} now, up to "
                f"{_money(report.savings_potential)}, over the observed calls")
    return (f"{head}; saves {_money(report.monthly_savings_now)}/month now, up to "
            f"{_money(report.monthly_savings_potential)}/month of "
            f"{_money(report.monthly_llm_cost)}/month on the LLM")


_HEADER = ["Task", "Name", "Share of calls", "Share of tokens", "LLM cost", "Specialist cost",
           "Savings", "Quality", "Verdict", "Reason"]


def _cells(report: ReplacementReport, task: TaskReplacement) -> list[str]:
    return ["—" if task.task_id < 0 else str(task.task_id), task.name, _pct(task.call_share),
            _pct(task.token_share), _money(_scaled(report, task.llm_cost)),
            _money(_scaled(report, task.specialist_cost)),
            _money(_scaled(report, task.savings)), _quality(task), task.verdict, task.reason]


def _facts(report: ReplacementReport) -> list[tuple[str, str]]:
    """(label, value) lines of the summary, as plain text."""
    per = _per(report)
    prices = report.llm_prices
    facts = [
        ("Calls", f"{report.n_calls:,} in {len(report.tasks)} tasks, "
                  f"{report.unassigned.calls:,} unassigned ({_pct(report.unassigned.call_share)})"),
        ("Period", _period_text(report)),
        ("Replaceable now (measured)", f"{_pct(report.replaceable_now_share)} of calls"),
        ("Likely replaceable (predicted)", f"{_pct(report.likely_share)} of calls"),
        ("Replaceable in all", f"{_pct(report.replaceable_share)} of calls, "
                               f"{_pct(report.replaceable_token_share)} of tokens"),
        (f"LLM cost {per}", _money(_scaled(report, report.llm_cost))),
        (f"Saved {per} now", _money(_scaled(report, report.savings_now))),
        (f"Saved {per}, likely tasks too", _money(_scaled(report, report.savings_potential))),
    ]
    if report.monthly_calls is not None:
        facts.insert(2, ("Volume", f"{report.monthly_calls:,.0f} calls per month"))
    facts.append(("LLM prices", f"${prices.input_per_1k:g} / ${prices.output_per_1k:g} per 1K "
                                "input / output tokens"))
    facts.append(("Specialist", f"{report.slm} ({report.hardware}): "
                                f"${report.slm_input_per_1k:.3g} / ${report.slm_output_per_1k:.3g}"
                                " per 1K input / output tokens"))
    return facts


def _method(report: ReplacementReport) -> list[str]:
    """How to read the verdicts, as plain-text paragraphs."""
    bound = "its measured agreement" if report.bar_bound == "point" \
        else "the lower end of its measured agreement's 95% interval"
    return [
        f"Replaceable now: a specialist was evaluated on the task and {bound} with the LLM's "
        f"logged answers reaches the quality bar ({report.quality_bar:.0%}). A measurement "
        "below the bar keeps the task on the LLM, whatever the prediction.",
        "Likely replaceable: no specialist measured yet, and the predicted replaceability "
        f"reaches {report.rule.threshold:.2f}. This is a prediction from the task's shape, not "
        f"a measurement: {report.rule.formula}.",
        "Keep on LLM: everything else, and the calls no task took.",
        "Costs: the LLM's are the calls' tokens at its prices; the specialist's are the same "
        "tokens at its per-token rate (a roofline estimate of the model on the machine, fully "
        "utilised, unless priced per token). Training, evaluation and the router's fallbacks "
        f"are not counted. A month is {DAYS_PER_MONTH:g} days at the observed volume.",
    ]


def render_markdown(report: ReplacementReport) -> str:
    """The report as a Markdown document."""
    lines = ["# Replacement-potential report", "", summary(report), ""]
    lines += [f"- {label}: **{_md(value)}**" for label, value in _facts(report)]
    lines += ["", f"## Tasks (costs {_per(report)})", "", f"| {' | '.join(_HEADER)} |",
              f"|{'|'.join('---' for _ in _HEADER)}|"]
    lines += [f"| {' | '.join(_md(c) for c in _cells(report, t))} |" for t in report.rows()]
    lines += ["", "## How to read this", ""]
    lines += [f"- {_md(paragraph)}" for paragraph in _method(report)]
    return "\n".join(lines) + "\n"


def render_pandas(report: ReplacementReport) -> Any:
    """The task rows as a DataFrame, with ``tokens``, ``savings`` and the monthly costs."""
    pd = require("pandas", "ReplacementReport.to_pandas")
    factor = report.monthly_factor
    rows = []
    for task in report.rows():
        row = {**asdict(task), "tokens": task.tokens, "savings": task.savings}
        for name in ("llm_cost", "specialist_cost", "savings"):
            row[f"monthly_{name}"] = None if factor is None else row[name] * factor
        rows.append(row)
    return pd.DataFrame.from_records(rows, columns=list(rows[0]))


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2} tr.unassigned{color:#666;font-style:italic}
td.num{text-align:right} img{max-width:100%;margin:1em 1em 0 0}
.summary{font-size:1.15em} .verdict{font-weight:600;white-space:nowrap}
"""
_NUMERIC = {2, 3, 4, 5, 6}


def render_html(report: ReplacementReport) -> str:
    """The report as a self-contained HTML page with its two plots inlined."""
    images = [_share_png(report), _cost_png(report)]
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Defence in depth on top of escaping: the page may load or run nothing but its images.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        f"<title>Replacement-potential report</title><style>{_CSS}</style></head><body>",
        "<h1>Replacement-potential report</h1>",
        f'<p class="summary">{esc(summary(report))}</p><ul>',
    ]
    parts += [f"<li>{esc(label)}: <b>{esc(value)}</b></li>" for label, value in _facts(report)]
    parts.append("</ul>")
    parts += [f'<img alt="{esc(alt)}" src="data:image/png;base64,{png}">' for alt, png in images]
    parts.append(f"<h2>Tasks (costs {esc(_per(report))})</h2><table><thead><tr>"
                 + "".join(f"<th>{esc(h)}</th>" for h in _HEADER) + "</tr></thead><tbody>")
    for task in report.rows():
        row_class = ' class="unassigned"' if task.task_id < 0 else ""
        cells = []
        for i, cell in enumerate(_cells(report, task)):
            style = ' class="num"' if i in _NUMERIC else ' class="verdict"' if i == 8 else ""
            if i == 8:
                colour = _COLOURS["unassigned" if task.task_id < 0 else task.verdict]
                style += f' style="background:{colour}40"'
            cells.append(f"<td{style}>{esc(cell)}</td>")
        parts.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    parts.append("</tbody></table><h2>How to read this</h2>")
    parts += [f"<p>{esc(paragraph)}</p>" for paragraph in _method(report)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _short(text: str, limit: int) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _label(text: str, limit: int = 36) -> str:
    # "$" would start matplotlib mathtext (and can fail to parse); escape it.
    return _short(text, limit).replace("$", r"\$")


def _figure(width: float, height: float) -> Any:
    require("matplotlib", "ReplacementReport.to_html")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _share_png(report: ReplacementReport) -> tuple[str, str]:
    """Two stacked bars, calls and LLM cost, split by verdict."""
    groups = [("replaceable now", [t for t in report.tasks if t.verdict == "replaceable now"]),
              ("likely replaceable",
               [t for t in report.tasks if t.verdict == "likely replaceable"]),
              ("keep on LLM", [t for t in report.tasks if t.verdict == "keep on LLM"]),
              ("unassigned", [report.unassigned])]
    total_cost = report.llm_cost or 1.0
    fig = _figure(9, 2.4)
    ax = fig.add_subplot()
    for y, measure in enumerate(("calls", "cost")):
        left = 0.0
        for name, tasks in groups:
            share = sum(t.call_share if measure == "calls" else t.llm_cost / total_cost
                        for t in tasks)
            ax.barh(y, share, left=left, color=_COLOURS[name],
                    label=name if y == 0 else None)
            if share >= 0.04:
                ax.text(left + share / 2, y, f"{share:.0%}", ha="center", va="center",
                        fontsize=9)
            left += share
    ax.set_yticks([0, 1], ["share of calls", "share of LLM cost"])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda value, _pos: f"{value:.0%}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=4, frameon=False,
              fontsize=8)
    ax.set_title(f"Replaceable: {report.replaceable_share:.0%} of calls "
                 f"({report.replaceable_now_share:.0%} now, {report.likely_share:.0%} likely)")
    return "Replaceable share of calls and of LLM cost", _png(fig)


def _cost_png(report: ReplacementReport) -> tuple[str, str]:
    """LLM vs specialist cost per task, most expensive on the LLM first."""
    ranked = sorted(report.tasks, key=lambda t: (-t.llm_cost, t.task_id))
    rows = [(f"{_short(f'{t.task_id}: {t.name}', 34)} ({t.verdict})", t.llm_cost,
             t.specialist_cost) for t in ranked[:_MAX_BARS]]
    rest = ranked[_MAX_BARS:]
    if rest:
        rows.append((f"{len(rest)} other tasks", sum(t.llm_cost for t in rest),
                     sum(t.specialist_cost for t in rest)))
    factor = report.monthly_factor or 1.0
    fig = _figure(9, 1.4 + 0.45 * max(len(rows), 1))
    ax = fig.add_subplot()
    positions = list(range(len(rows)))
    height = 0.4
    llm = [r[1] * factor for r in rows]
    slm = [r[2] * factor for r in rows]
    ax.barh([p - height / 2 for p in positions], llm, height, color=_LLM_COLOUR, label="LLM")
    ax.barh([p + height / 2 for p in positions], slm, height, color=_SLM_COLOUR,
            label=f"specialist ({_label(report.slm, 24)})")
    ax.set_yticks(positions, [_label(r[0], 60) for r in rows], fontsize=8)
    ax.invert_yaxis()
    for p, value in zip(positions, llm, strict=True):
        ax.annotate(_label(_money(value)), (value, p - height / 2), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=7)
    for p, value in zip(positions, slm, strict=True):
        ax.annotate(_label(_money(value)), (value, p + height / 2), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=7)
    top = max(llm + slm, default=0.0)
    ax.set_xlim(0, top * 1.2 if top > 0 else 1.0)
    ax.xaxis.set_major_formatter(lambda value, _pos: _label(_money(value)))
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title(_label(f"Cost per task {_per(report)}: LLM vs specialist", 80))
    return "LLM vs specialist cost per task", _png(fig)
