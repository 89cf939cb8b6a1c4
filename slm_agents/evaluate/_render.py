"""Text renderings of an :class:`~slm_agents.evaluate.EvalReport`: one line, and Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..train.generation import Generation, format_tool_calls

if TYPE_CHECKING:  # pragma: no cover
    from .report import EvalReport

# (metric, label) in the order the tables show them
_ROWS = [
    ("agreement", "Agreement with the LLM"),
    ("tool_call_exact", "Tool calls: exact match"),
    ("tool_name_accuracy", "Tool calls: name accuracy"),
    ("argument_match", "Tool calls: argument match"),
    ("schema_valid_rate", "Tool calls: schema-valid"),
    ("call_when_needed", "Tool called when needed"),
    ("no_call_when_none_needed", "No call when none needed"),
    ("exact_match", "Text: exact match"),
    ("token_f1", "Text: token F1"),
    ("parse_error_rate", "Unparseable output"),
    ("failure_rate", "Failed calls"),
]
_TASK_COLUMNS = ["agreement", "tool_call_exact", "argument_match", "exact_match", "token_f1"]


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def summary(report: EvalReport) -> str:
    parts = [f"{report.model or 'model'}: n={report.n}"]
    if report.n_failed:
        parts[0] += f" ({report.n_failed} failed)"
    short = {"agreement": "agreement", "tool_call_exact": "tool exact",
             "argument_match": "args", "schema_valid_rate": "schema-valid",
             "exact_match": "EM", "token_f1": "F1"}
    for metric, label in short.items():
        value = report.value(metric)
        if value is None:
            continue
        text = f"{label} {value:.3f}"
        interval = report.interval(metric)
        if metric == "agreement" and interval is not None:
            text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
        parts.append(text)
    if report.latency_ms_median is not None:
        parts.append(f"p50 {report.latency_ms_median:.0f} ms, p95 "
                     f"{_num(report.latency_ms_p95, 0)} ms")
    if report.tokens_per_second is not None:
        parts.append(f"{report.tokens_per_second:.1f} tok/s")
    if report.cost_per_1k_calls is not None:
        parts.append(f"${report.cost_per_1k_calls:.4f}/1K calls")
    return " · ".join(parts)


def _cell(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return text.replace("|", "\\|") or "(empty)"


def _answer(generation: Generation) -> str:
    if generation.raw:
        return generation.raw
    parts = [generation.text] if generation.text else []
    if generation.tool_calls:
        parts.append(format_tool_calls(generation.tool_calls))
    return "\n".join(parts)


def markdown(report: EvalReport, disagreements: int) -> str:
    level = f"{report.confidence:.0%}"
    lines = [f"# Evaluation: {report.model or 'model'}", "",
             f"{report.n} examples, {report.n_failed} failed. Intervals: {level} percentile "
             f"bootstrap ({report.bootstrap} resamples, seed {report.seed}). A text answer "
             f"agrees at token F1 ≥ {report.agreement_f1:g}.", "",
             f"| Metric | Value | {level} CI | n |", "|---|---:|---:|---:|"]
    for metric, label in _ROWS:
        estimate = report.metrics.get(metric)
        if estimate is None:
            continue
        interval = "-" if estimate.low is None else \
            f"[{estimate.low:.3f}, {_num(estimate.high)}]"
        lines.append(f"| {label} | {_num(estimate.value)} | {interval} | {estimate.n} |")
    lines += ["", "## Speed and cost", "", "| Measure | Value |", "|---|---:|",
              f"| Latency, median (ms) | {_num(report.latency_ms_median, 1)} |",
              f"| Latency, p95 (ms) | {_num(report.latency_ms_p95, 1)} |",
              f"| Output tokens/s | {_num(report.tokens_per_second, 1)} |",
              f"| Mean input tokens | {_num(report.mean_input_tokens, 1)} |",
              f"| Mean output tokens | {_num(report.mean_output_tokens, 1)} |",
              f"| Cost per 1K calls (USD) | {_num(report.cost_per_1k_calls, 4)} |"]
    if report.per_task:
        lines += ["", "## Per task", "",
                  "| Task | n | " + " | ".join(_TASK_COLUMNS) + " |",
                  "|---|---:|" + "---:|" * len(_TASK_COLUMNS)]
        for task, row in report.per_task.items():
            cells = " | ".join(_num(row.get(c)) for c in _TASK_COLUMNS)
            lines.append(f"| {_cell(task, 60)} | {row.get('n', 0)} | {cells} |")
    wrong = [r for r in report.examples if not r.agreement][:max(disagreements, 0)]
    if wrong:
        lines += ["", f"## First {len(wrong)} disagreements", "",
                  "| # | Task | Expected (LLM) | Got | Note |", "|---:|---|---|---|---|"]
        for r in wrong:
            note = r.error or r.prediction.parse_error or "; ".join(
                r.call_mismatches + r.schema_errors)
            lines.append(f"| {r.index} | {_cell(r.task, 40)} | {_cell(_answer(r.reference))} | "
                         f"{_cell(_answer(r.prediction))} | "
                         f"{_cell(note, 120) if note else ''} |")
    return "\n".join(lines) + "\n"
