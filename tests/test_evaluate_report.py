"""Bootstrap intervals, report aggregation, JSON round trip, rendering and comparisons."""

from __future__ import annotations

import json

import pytest

from slm_agents.errors import ConfigError
from slm_agents.evaluate import EvalReport, ExampleResult, Prices
from slm_agents.evaluate.stats import bootstrap_ci, bootstrap_difference, quantile
from slm_agents.records import ToolCall
from slm_agents.train.generation import Generation

# ------------------------------------------------------------------ bootstrap

CI_CASES = [
    # (values) whose mean the interval must contain
    [1, 0, 1, 1, 0, 1, 1, 1],  # a typical binary metric
    [0.2, 0.9, 0.5, 0.7],  # a fractional metric (argument match, F1)
    [1] * 30,  # a perfect score: the interval collapses onto it
    [0] * 99 + [1],  # a rare success: a skewed distribution
    [0.5],  # a single example
]


@pytest.mark.parametrize("values", CI_CASES)
def test_bootstrap_interval_contains_the_point_estimate(values: list[float]) -> None:
    low, high = bootstrap_ci(values, seed=3)  # type: ignore[misc]
    mean = sum(values) / len(values)
    assert low <= mean <= high


def test_bootstrap_is_deterministic_for_a_seed_and_varies_with_it() -> None:
    values = [0.13, 0.92, 0.55, 0.71, 0.08, 0.64, 0.37, 0.99, 0.45, 0.26]  # no tied quantiles
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)


def test_bootstrap_interval_narrows_with_more_examples() -> None:
    small = bootstrap_ci([1, 0] * 5, seed=0)
    large = bootstrap_ci([1, 0] * 500, seed=0)
    assert small is not None and large is not None
    assert large[1] - large[0] < small[1] - small[0]


def test_bootstrap_of_nothing_is_none_and_bad_settings_are_config_errors() -> None:
    assert bootstrap_ci([]) is None
    with pytest.raises(ConfigError, match="confidence"):
        bootstrap_ci([1.0], confidence=1.5)
    with pytest.raises(ConfigError, match="resamples"):
        bootstrap_ci([1.0], resamples=0)


def test_paired_difference_sees_a_consistent_small_gain_that_unpaired_misses() -> None:
    # Hard and easy examples vary a lot; model a is better by 0.1 on every one of them.
    b = [0.0, 0.9, 0.1, 0.8, 0.2, 0.7, 0.0, 0.9, 0.1, 0.8] * 2
    a = [v + 0.1 for v in b]
    paired = bootstrap_difference(a, b, paired=True, seed=0)
    unpaired = bootstrap_difference(a, b, paired=False, seed=0)
    assert paired.difference == pytest.approx(0.1)
    assert paired.lower_bound > 0
    assert unpaired.lower_bound < 0


def test_quantile_interpolates_like_numpy() -> None:
    numpy = pytest.importorskip("numpy")
    values = [5.0, 1.0, 9.0, 3.0, 7.5]
    for q in (0.0, 0.5, 0.95, 1.0):
        assert quantile(values, q) == pytest.approx(float(numpy.quantile(values, q)))


# ------------------------------------------------------------------ prices

def test_prices_add_token_and_machine_costs() -> None:
    prices = Prices(input_per_1k=0.001, output_per_1k=0.002, per_hour=3.6, concurrency=2)
    # 1000 in → 0.001, 500 out → 0.001, 1 s on a $3.6/h machine shared by 2 → 0.0005
    assert prices.cost_per_call(1000, 500, 1000.0) == pytest.approx(0.0025)


def test_prices_reject_negative_values_and_unknown_fields() -> None:
    with pytest.raises(ValueError):
        Prices(per_hour=-1)
    with pytest.raises(ValueError):
        Prices(per_hour_usd=1)  # type: ignore[call-arg]


# ------------------------------------------------------------------ aggregation

def text_result(index: int, agrees: bool, task: str = "t", latency: float = 100.0,
                key: str | None = None) -> ExampleResult:
    reference = Generation(text="yes")
    prediction = Generation(text="yes" if agrees else "no", latency_ms=latency,
                            input_tokens=100, output_tokens=10)
    return ExampleResult(index=index, task=task, key=key or f"k{index}", reference=reference,
                         prediction=prediction, agreement=agrees, exact_match=agrees,
                         token_f1=1.0 if agrees else 0.0, no_call_when_none_needed=True)


def call_result(index: int, exact: bool) -> ExampleResult:
    reference = Generation(tool_calls=[ToolCall(name="f", arguments={"x": 1})])
    prediction = Generation(tool_calls=[ToolCall(name="f", arguments={"x": 1 if exact else 2})],
                            latency_ms=50.0, output_tokens=5)
    return ExampleResult(index=index, task="calls", key=f"c{index}", reference=reference,
                         prediction=prediction, agreement=exact, tool_call_exact=exact,
                         tool_name_accuracy=1.0, argument_match=1.0 if exact else 0.0,
                         call_when_needed=True, schema_valid=True)


def sample_report(**kwargs: object) -> EvalReport:
    results = [text_result(i, agrees=i % 4 != 0, latency=100.0 + i) for i in range(8)]
    results += [call_result(8 + i, exact=i != 0) for i in range(4)]
    results.append(ExampleResult(index=12, task="t", key="k12", reference=Generation(text="a"),
                                 prediction=Generation(), error="RuntimeError: boom",
                                 exact_match=False, token_f1=0.0))
    return EvalReport.from_results(results, model="m", seed=1, **kwargs)  # type: ignore[arg-type]


def test_from_results_averages_each_metric_over_the_examples_it_applies_to() -> None:
    report = sample_report(prices=Prices(per_hour=3.6))
    assert report.n == 13 and report.n_failed == 1
    assert report.metrics["agreement"].n == 13
    assert report.agreement == pytest.approx(9 / 13)
    assert report.metrics["tool_call_exact"].n == 4
    assert report.tool_call_exact == pytest.approx(0.75)
    assert report.exact_match == pytest.approx(6 / 9)
    assert report.value("failure_rate") == pytest.approx(1 / 13)
    assert report.value("parse_error_rate") == pytest.approx(1 / 13)
    for name, estimate in report.metrics.items():
        assert estimate.low is not None and estimate.high is not None, name
        assert estimate.low <= estimate.value <= estimate.high, name  # type: ignore[operator]


def test_from_results_measures_latency_throughput_and_cost_on_served_calls() -> None:
    report = sample_report(prices=Prices(per_hour=3.6))
    latencies = sorted([100.0 + i for i in range(8)] + [50.0] * 4)
    assert report.latency_ms_median == pytest.approx(quantile(latencies, 0.5))
    assert report.latency_ms_p95 == pytest.approx(quantile(latencies, 0.95))
    assert report.tokens_per_second == pytest.approx((8 * 10 + 4 * 5) / (sum(latencies) / 1000))
    # $3.6/h is $0.001 per second: 1000 calls of mean latency L ms cost L/1000 dollars.
    assert report.cost_per_1k_calls == pytest.approx(sum(latencies) / len(latencies) / 1000)


def test_per_task_breakdown_has_one_row_per_task() -> None:
    report = sample_report()
    assert set(report.per_task) == {"t", "calls"}
    assert report.per_task["calls"]["n"] == 4
    assert report.per_task["calls"]["tool_call_exact"] == pytest.approx(0.75)
    assert report.per_task["t"]["tool_call_exact"] is None


def test_without_bootstrap_there_are_no_intervals() -> None:
    report = sample_report(bootstrap=0)
    assert report.interval("agreement") is None
    assert report.agreement is not None


def test_unknown_metric_names_are_config_errors_listing_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid metrics are: agreement"):
        sample_report().value("accuracy")


def test_report_round_trips_through_dict_and_json() -> None:
    report = sample_report(prices=Prices(input_per_1k=0.5))
    data = json.loads(json.dumps(report.to_dict()))
    assert EvalReport.from_dict(data) == report
    assert EvalReport.from_json(report.to_json()) == report


def test_summary_is_one_line_with_agreement_and_its_interval() -> None:
    text = sample_report(prices=Prices(per_hour=1.0)).summary()
    assert "\n" not in text
    assert text.startswith("m: n=13 (1 failed)")
    assert "agreement 0.692 [" in text and "/1K calls" in text


def test_markdown_shows_metrics_speed_tasks_and_disagreements() -> None:
    text = sample_report().to_markdown(disagreements=2)
    assert "| Agreement with the LLM | 0.692 |" in text
    assert "## Per task" in text and "| calls | 4 |" in text
    assert "## First 2 disagreements" in text
    assert "RuntimeError: boom" not in text  # only the first two are shown
    assert "RuntimeError: boom" in sample_report().to_markdown(disagreements=10)


# ------------------------------------------------------------------ comparisons

def reports_for(agree_a: list[bool], agree_b: list[bool]) -> tuple[EvalReport, EvalReport]:
    a = EvalReport.from_results([text_result(i, x) for i, x in enumerate(agree_a)])
    b = EvalReport.from_results([text_result(i, x) for i, x in enumerate(agree_b)])
    return a, b


def test_a_clearly_better_report_beats_the_other_with_confidence() -> None:
    a, b = reports_for([True] * 40, [True] * 20 + [False] * 20)
    comparison = a.compare(b)
    assert comparison.paired and comparison.beats
    assert comparison.difference == pytest.approx(0.5)
    assert a.beats(b, metric="agreement", confidence=0.95)
    assert not b.beats(a)


def test_equal_reports_do_not_beat_each_other() -> None:
    a, b = reports_for([True, False] * 10, [True, False] * 10)
    assert not a.beats(b) and not b.beats(a)


def test_a_single_lucky_example_is_not_enough_to_beat() -> None:
    a, b = reports_for([True] * 10 + [True], [True] * 10 + [False])
    assert not a.beats(b, confidence=0.95)


def test_reports_on_different_examples_are_compared_unpaired() -> None:
    a = EvalReport.from_results([text_result(i, True) for i in range(30)])
    b = EvalReport.from_results([text_result(i, i % 2 == 0, key=f"other{i}") for i in range(30)])
    comparison = a.compare(b)
    assert not comparison.paired and comparison.beats


def test_compare_on_a_metric_without_values_is_a_config_error() -> None:
    a, b = reports_for([True] * 3, [False] * 3)
    with pytest.raises(ConfigError, match="tool_call_exact"):
        a.compare(b, metric="tool_call_exact")
