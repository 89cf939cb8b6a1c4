"""ReplacementReport's views: Markdown, HTML with figures, pandas, JSON round trip, one line."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_report_support import HARDWARE, NAMES, PRICES, calls

from slm_agents.report import ReplacementReport, replacement_report

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def report() -> ReplacementReport:
    records, labels = calls()
    # A planted script in a task name (names come from records: keywords, tool names).
    names = {**NAMES, 2: f"sentiment {SCRIPT} | col"}
    return replacement_report(records, labels=labels, task_names=names, llm_prices=PRICES,
                              slm=0.5, hardware=HARDWARE,
                              evaluations={"chat": {"agreement": 0.95, "n": 200}})


def test_markdown_lists_every_task_with_its_verdict_and_reason(report: ReplacementReport) -> None:
    text = report.to_markdown()
    assert text.startswith("# Replacement-potential report\n")
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(report.tasks) + 1  # header, tasks, unassigned
    for task in report.rows():
        first_cell = "—" if task.task_id < 0 else str(task.task_id)
        row = next(line for line in table if line.startswith(f"| {first_cell} | "))
        assert task.verdict in row and f"{task.call_share:.1%}" in row
    assert "replaceable now" in text and "likely replaceable" in text and "keep on LLM" in text
    assert "prediction" in text and "score = (0.4 × max(templated inputs" in text


def test_markdown_escapes_record_text(report: ReplacementReport) -> None:
    text = report.to_markdown()
    assert SCRIPT not in text and "&lt;script&gt;" in text
    # A "|" from a record cannot open a table cell.
    assert r"\| col" in text


def test_html_is_self_contained_with_two_figures_and_escaped_text(
        report: ReplacementReport, tmp_path: Path) -> None:
    page = report.to_html(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2
    assert all(base64.b64decode(png).startswith(b"\x89PNG") for png in images)
    assert 'alt="LLM vs specialist cost per task"' in page
    assert 'alt="Replaceable share of calls and of LLM cost"' in page
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "Content-Security-Policy" in page and "http" not in page.replace(
        "http-equiv", "")
    for task in report.rows():
        assert task.verdict in page


def test_html_leaves_pyplot_state_alone(report: ReplacementReport) -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    report.to_html()
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures


def test_dict_round_trip_through_json(report: ReplacementReport) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    again = ReplacementReport.from_dict(data)
    assert again == report
    assert again.to_markdown() == report.to_markdown()
    assert data["format_version"] == 1


def test_summary_is_one_line_with_shares_and_monthly_savings(report: ReplacementReport) -> None:
    line = report.summary()
    assert "\n" not in line
    assert line.startswith("230 calls in 3 tasks: 26.1% replaceable now, 52.2% likely "
                           "replaceable (78.3% in all)")
    assert "/month now" in line and repr(report).startswith("ReplacementReport(n_calls=230")


def test_pandas_has_a_row_per_task_and_the_monthly_costs(report: ReplacementReport) -> None:
    frame = report.to_pandas()
    assert list(frame["task_id"]) == [t.task_id for t in report.rows()]
    assert {"verdict", "reason", "predicted", "agreement", "savings", "tokens",
            "monthly_llm_cost", "monthly_savings"} <= set(frame.columns)
    weather = frame[frame["task_id"] == 0].iloc[0]
    assert weather["monthly_llm_cost"] == pytest.approx(weather["llm_cost"]
                                                        * report.monthly_factor)


def test_importing_the_report_package_stays_light() -> None:
    code = ("import sys, slm_agents.report; heavy = {'numpy', 'sklearn', 'matplotlib', "
            "'pandas', 'torch'}; print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
