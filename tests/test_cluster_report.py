"""ClusterReport: per-task shares, costs, replaceability signals, and its four renderings."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from slm_agents.cluster.report import EXAMPLE_CHARS, ClusterReport, Prices, TaskStats
from slm_agents.errors import ClusteringError, ConfigError, MissingDependencyError
from slm_agents.records import CallRecord, Message, ToolCall, Usage

FLIGHT_TOOL = {"type": "function", "function": {
    "name": "search_flights", "description": "Search flights",
    "parameters": {"type": "object", "properties": {"origin": {"type": "string"},
                                                    "destination": {"type": "string"},
                                                    "date": {"type": "string"}}}}}
CITIES = [("Paris", "Tokyo"), ("Oslo", "Rome"), ("New York", "Lima"), ("Cairo", "Delhi")]
TOPICS = ["the quarterly earnings call", "a long thread about office plants",
          "minutes of the budget meeting", "an essay on river ecology", "the onboarding guide",
          "notes from a design review", "a customer complaint about shipping",
          "the release notes of version two"]
NAMES = {0: "search_flights", 1: "summarise", 2: "classify_sentiment"}
SCRIPT = "<script>alert('x')</script>"
PRICES = Prices(input_per_1k=1.0, output_per_1k=2.0)


def _flight(i: int) -> CallRecord:
    origin, destination = CITIES[i % len(CITIES)]
    return CallRecord(
        agent="travel",
        messages=[Message(role="system", content="You book travel."),
                  Message(role="user", content=f"Find flights from {origin} to {destination} "
                                               f"on 2024-05-{i + 1:02d}")],
        tools=[FLIGHT_TOOL],
        tool_calls=[ToolCall(name="search_flights", arguments={
            "origin": origin, "destination": destination, "date": f"2024-05-{i + 1:02d}"})],
        usage=Usage(input_tokens=100, output_tokens=20), latency_ms=100.0 + 10 * i)


def _summary(i: int) -> CallRecord:
    return CallRecord(
        agent="writer",
        messages=[Message(role="user", content=f"Please write me a summary of {TOPICS[i]}")],
        output=f"In short, {TOPICS[i]} covered {i} things.",
        usage=Usage(input_tokens=300, output_tokens=80), latency_ms=500.0)


def _sentiment(i: int) -> CallRecord:
    return CallRecord(
        agent="support",
        messages=[Message(role="user", content=f"Sentiment of review #{i}: 'great stuff {i}'")],
        output=["positive", "negative"][i % 2],
        usage=Usage(input_tokens=50, output_tokens=1), latency_ms=50.0)


def _odd(i: int) -> CallRecord:
    text = SCRIPT if i == 0 else f"something unusual number {i} | with a pipe"
    return CallRecord(messages=[Message(role="user", content=text)], output=f"odd {i}",
                      usage=Usage(input_tokens=200, output_tokens=50))


def _corpus() -> tuple[list[CallRecord], list[int]]:
    items = ([_flight(i) for i in range(12)] + [_summary(i) for i in range(8)]
             + [_sentiment(i) for i in range(6)] + [_odd(i) for i in range(4)])
    labels = [0] * 12 + [1] * 8 + [2] * 6 + [-1] * 4
    return items, labels


@pytest.fixture(scope="module")
def report() -> ClusterReport:
    items, labels = _corpus()
    coords = np.random.default_rng(0).normal(size=(len(items), 2)).astype(np.float32)
    return ClusterReport.build(
        items, np.asarray(labels), NAMES,
        keywords={0: ["flight", "route"], 1: ["summary"], 2: ["review", "sentiment"]},
        representatives={0: [3, 1], 1: [14], 2: [20]},
        coords_2d=coords, selection={"chosen": np.int64(5), "scores": np.array([0.1, 0.4])},
        prices=PRICES)


def _task(report: ClusterReport, name: str) -> TaskStats:
    return next(t for t in report.rows() if t.name == name)


def test_tasks_are_listed_largest_first_with_their_names(report: ClusterReport) -> None:
    assert [(t.task_id, t.name, t.size) for t in report.tasks] == [
        (0, "search_flights", 12), (1, "summarise", 8), (2, "classify_sentiment", 6)]
    assert report.n_tasks == 3 and report.n_calls == 30


@pytest.mark.parametrize("share", ["call_share", "token_share", "cost_share"])
def test_shares_sum_to_one_when_the_unassigned_calls_are_counted(
        report: ClusterReport, share: str) -> None:
    assert math.isclose(sum(getattr(t, share) for t in report.rows()), 1.0)


def test_unassigned_calls_are_reported_with_their_share_never_hidden(
        report: ClusterReport) -> None:
    assert report.unassigned.task_id == -1 and report.unassigned.name == "unassigned"
    assert report.unassigned.size == 4
    assert report.unassigned.call_share == pytest.approx(4 / 30)


@pytest.mark.parametrize(("name", "cost"), [
    ("search_flights", 12 * (100 / 1000 * 1.0 + 20 / 1000 * 2.0)),   # 12 x 0.14
    ("summarise", 8 * (300 / 1000 * 1.0 + 80 / 1000 * 2.0)),          # 8 x 0.46
    ("classify_sentiment", 6 * (50 / 1000 * 1.0 + 1 / 1000 * 2.0)),   # 6 x 0.052
    ("unassigned", 4 * (200 / 1000 * 1.0 + 50 / 1000 * 2.0)),         # 4 x 0.30
])
def test_cost_at_given_prices_matches_the_hand_computed_sum(
        report: ClusterReport, name: str, cost: float) -> None:
    assert _task(report, name).cost == pytest.approx(cost)
    assert _task(report, name).cost_share == pytest.approx(cost / 6.872)


def test_total_cost_and_tokens_are_the_sums_over_all_calls(report: ClusterReport) -> None:
    assert report.total_cost == pytest.approx(1.68 + 3.68 + 0.312 + 1.2)
    assert report.total_tokens == 12 * 120 + 8 * 380 + 6 * 51 + 4 * 250


def test_default_prices_are_documented_list_prices() -> None:
    assert Prices() == Prices(input_per_1k=0.0025, output_per_1k=0.01)


@pytest.mark.parametrize("kwargs", [
    {"input_per_1k": 1.0, "output_per_1k": 1.0, "currency": "EUR"},  # a typo or extra option
    {"input_per_1k": -0.5},                                            # a negative price
    {"output_per_1k": float("nan")},                                   # not a number
])
def test_prices_refuse_unknown_options_and_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Prices(**kwargs)


@pytest.mark.parametrize(("text", "tokens"), [
    ("", 0),           # nothing to count
    ("a", 1),          # any text is at least one token
    ("abcdefgh", 2),   # exactly two blocks of four characters
    ("abcdefghi", 3),  # a partial block rounds up
])
def test_tokens_of_plain_strings_are_estimated_as_a_quarter_of_their_length(
        text: str, tokens: int) -> None:
    task = ClusterReport.build([text], [0], {0: "t"}).tasks[0]
    assert (task.input_tokens, task.output_tokens) == (tokens, 0)


def test_plain_strings_have_no_latency_and_an_unknown_output_kind() -> None:
    task = ClusterReport.build(["one", "two"], [0, 0], {0: "t"}).tasks[0]
    assert task.median_latency_ms is None and task.output_kind == "unknown"
    assert task.constrained_share is None and task.output_diversity is None


def test_missing_usage_of_a_record_is_estimated_from_its_text() -> None:
    record = CallRecord(messages=[Message(role="user", content="x" * 20)], output="y" * 10)
    task = ClusterReport.build([record], [0], {0: "t"}).tasks[0]
    assert (task.input_tokens, task.output_tokens) == (5, 3)


@pytest.mark.parametrize(("name", "kind", "tools"), [
    ("search_flights", "tool:search_flights", {"search_flights": 12}),  # every call a tool call
    ("summarise", "text", {}),                                           # free text
    ("classify_sentiment", "text", {}),                                  # a label as text
])
def test_output_kind_and_tools_used_come_from_the_outputs(
        report: ClusterReport, name: str, kind: str, tools: dict[str, int]) -> None:
    assert (_task(report, name).output_kind, _task(report, name).tools_used) == (kind, tools)


def test_median_latency_is_over_the_task_calls(report: ClusterReport) -> None:
    assert _task(report, "search_flights").median_latency_ms == pytest.approx(155.0)
    assert _task(report, "unassigned").median_latency_ms is None


def test_templated_inputs_score_higher_than_free_text(report: ClusterReport) -> None:
    flights, summaries = _task(report, "search_flights"), _task(report, "summarise")
    # "Find flights from <name> to <name> on <num>": one template for all twelve calls.
    assert flights.template_share == 1.0
    assert summaries.template_share == 0.0
    assert flights.input_similarity > summaries.input_similarity


@pytest.mark.parametrize(("name", "constrained", "diversity"), [
    ("search_flights", 1.0, 12 / 12),    # tool calls, each with its own arguments
    ("summarise", 0.0, 8 / 8),           # prose, all different
    ("classify_sentiment", 0.0, 2 / 6),  # two labels over six calls
])
def test_output_signals_tell_constrained_and_repetitive_outputs_apart(
        report: ClusterReport, name: str, constrained: float, diversity: float) -> None:
    task = _task(report, name)
    assert (task.constrained_share, task.output_diversity) == pytest.approx(
        (constrained, diversity))


def test_json_text_outputs_count_as_constrained() -> None:
    records = [CallRecord(messages=[Message(role="user", content="q")], output=out)
               for out in ('{"label": "a"}', "[1, 2]", "plain words", "{not json")]
    assert ClusterReport.build(records, [0] * 4, {}).tasks[0].constrained_share == 0.5


def test_examples_come_from_representatives_first_and_stay_short() -> None:
    long_text = "word " * 100
    items = ["first call", long_text, "third call", "fourth call", "fifth call"]
    task = ClusterReport.build(items, [0] * 5, {0: "t"}, representatives={0: [1, 3]}).tasks[0]
    assert task.examples[0].startswith("word word") and task.examples[1:] == [
        "fourth call", "first call"]
    assert all(len(example) <= EXAMPLE_CHARS for example in task.examples)


def test_examples_show_the_user_content_of_records(report: ClusterReport) -> None:
    assert _task(report, "search_flights").examples[0] == (
        "Find flights from Cairo to Delhi on 2024-05-04")


def test_a_label_without_a_name_gets_a_placeholder_name() -> None:
    assert ClusterReport.build(["a", "b"], [7, 7], {}).tasks[0].name == "task 7"


def test_names_keyed_by_strings_as_read_back_from_json_still_match() -> None:
    task = ClusterReport.build(["a", "b"], [3, 3], {"3": "from json"},
                               keywords={"3": ["kw"]}).tasks[0]
    assert (task.name, task.keywords) == ("from json", ["kw"])


def test_markdown_names_every_task_and_the_unassigned_row(report: ClusterReport) -> None:
    text = report.to_markdown()
    for name in [*NAMES.values(), "unassigned"]:
        assert name in text
    assert text.startswith("# Task report")


def test_markdown_escapes_record_text_so_it_cannot_inject_html_or_table_cells(
        report: ClusterReport) -> None:
    text = report.to_markdown()
    assert SCRIPT not in text and "&lt;script&gt;" in text
    assert r"something unusual number 1 \| with a pipe" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    cells = {len(re.split(r"(?<!\\)\|", row)) for row in rows}
    assert len(rows) == 5 and len(cells) == 1  # header, three tasks, unassigned: aligned


def test_html_embeds_the_map_and_the_cost_chart_as_png(report: ClusterReport) -> None:
    page = report.to_html()
    assert page.count('<img alt="plot" src="data:image/png;base64,') == 2
    for name in NAMES.values():
        assert name in page


def test_html_escapes_a_script_planted_in_a_record(report: ClusterReport) -> None:
    page = report.to_html()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page


def test_html_is_written_to_the_given_path(report: ClusterReport, tmp_path: Path) -> None:
    path = tmp_path / "tasks.html"
    page = report.to_html(path)
    assert path.read_text(encoding="utf-8") == page


def test_html_without_coordinates_has_only_the_cost_chart() -> None:
    page = ClusterReport.build(["a", "b", "c"], [0, 0, -1], {0: "t"}).to_html()
    assert page.count("data:image/png;base64,") == 1 and "no map of calls" in page


def test_html_leaves_the_matplotlib_backend_alone(report: ClusterReport) -> None:
    import matplotlib

    before = matplotlib.get_backend()
    report.to_html()
    assert matplotlib.get_backend() == before


def test_plot_labels_with_dollar_signs_do_not_break_mathtext() -> None:
    page = ClusterReport.build(["a", "b"], [0, 0], {0: "costs $5 and $6_x^"},
                               coords_2d=[[0, 0], [1, 1]]).to_html()
    assert page.count("data:image/png;base64,") == 2


def test_to_pandas_has_one_row_per_task_and_a_last_unassigned_row(
        report: ClusterReport) -> None:
    frame = report.to_pandas()
    assert list(frame.columns) == [
        "task_id", "name", "size", "call_share", "input_tokens", "output_tokens", "tokens",
        "token_share", "cost", "cost_share", "median_latency_ms", "output_kind", "tools_used",
        "keywords", "examples", "template_share", "input_similarity", "constrained_share",
        "output_diversity"]
    assert list(frame["name"]) == [*NAMES.values(), "unassigned"]
    assert frame["call_share"].sum() == pytest.approx(1.0)


def test_to_pandas_without_pandas_names_the_extra_to_install(
        report: ClusterReport, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingDependencyError, match=r"slm-agents\[cluster\]"):
        report.to_pandas()


def test_to_html_without_matplotlib_names_the_extra_to_install(
        report: ClusterReport, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match="matplotlib"):
        report.to_html()


def test_to_dict_survives_json_and_from_dict_rebuilds_an_equal_report(
        report: ClusterReport) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    assert ClusterReport.from_dict(data) == report
    assert data["selection"] == {"chosen": 5, "scores": [0.1, 0.4]}


def test_a_report_with_every_call_unassigned_renders_without_crashing() -> None:
    items, _ = _corpus()
    report = ClusterReport.build(items, [-1] * len(items), {},
                                 coords_2d=np.zeros((len(items), 2)))
    assert report.tasks == [] and report.unassigned.call_share == 1.0
    assert report.unassigned.cost_share == 1.0
    assert "unassigned" in report.to_markdown()
    assert report.to_html().count("data:image/png;base64,") == 2
    assert len(report.to_pandas()) == 1


@pytest.mark.parametrize(("items", "labels", "error"), [
    ([], [], ClusteringError),              # nothing to report on
    (["a", "b"], [0], ConfigError),         # one label short
    (["a"], [-2], ConfigError),             # a label below -1
    ([42], [0], TypeError),                 # neither a record nor a string
])
def test_bad_input_raises_a_clear_error(items: list, labels: list, error: type) -> None:
    with pytest.raises(error):
        ClusterReport.build(items, labels, {})


def test_coordinates_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(ConfigError, match="coords_2d"):
        ClusterReport.build(["a", "b"], [0, 0], {}, coords_2d=np.zeros((2, 3)))


def test_importing_the_report_module_loads_no_heavy_library() -> None:
    code = ("import sys, slm_agents.cluster.report; "
            "print([m for m in ('numpy', 'pandas', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize(("texts", "share"), [
    (["order 1", "order 2", "order 3"], 1.0),          # one template, shared by all three
    (["order 1", "order 2", "something else"], 0.0),   # a template seen twice is not enough
    (["ship to Oslo", "ship to Rome", "ship to Lima", "hello"], 0.75),  # names are masked
])
def test_an_input_is_templated_when_two_other_calls_share_its_masked_form(
        texts: list[str], share: float) -> None:
    task = ClusterReport.build(texts, [0] * len(texts), {}).tasks[0]
    assert task.template_share == pytest.approx(share)


def test_many_tasks_render_with_the_smallest_summed_into_one_bar() -> None:
    labels = [i % 30 for i in range(300)]
    report = ClusterReport.build([f"call {i}" for i in range(300)], labels,
                                 {i: f"task number {i}" for i in range(30)},
                                 coords_2d=np.arange(600, dtype=float).reshape(300, 2))
    assert report.n_tasks == 30
    assert report.to_html().count("data:image/png;base64,") == 2


def test_the_granularity_selection_is_shown_escaped_in_html() -> None:
    page = ClusterReport.build(["a"], [0], {}, selection={"note": SCRIPT}).to_html()
    assert "How the number of tasks was chosen" in page and "&lt;script&gt;" in page


def test_a_pipe_in_a_task_name_does_not_add_a_markdown_table_cell() -> None:
    text = ClusterReport.build(["a", "b"], [0, -1], {0: "left | right"}).to_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len({len(re.split(r"(?<!\\)\|", row)) for row in rows}) == 1
    assert r"left \| right" in text
