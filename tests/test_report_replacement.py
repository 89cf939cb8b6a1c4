"""replacement_report: shares, costs, measured vs predicted quality, verdicts, volume, inputs."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
from test_report_support import (
    HARDWARE,
    NAMES,
    PRICES,
    SLM_IN,
    SLM_OUT,
    T0,
    WeatherModel,
    calls,
    chat,
    weather,
)

import slm_agents as sa
from slm_agents.cluster import HashingEmbedder, NoReduction, TaskClusterer
from slm_agents.cluster.report import Prices
from slm_agents.errors import ClusteringError, ConfigError, StoreNotFoundError, WrongKeyError
from slm_agents.evaluate import evaluate
from slm_agents.refine import ModelRegistry
from slm_agents.report import (
    KEEP_ON_LLM,
    LIKELY_REPLACEABLE,
    REPLACEABLE_NOW,
    ReplacementReport,
    TaskReplacement,
    replacement_report,
)
from slm_agents.select import estimate_cost


def _report(**options: object) -> ReplacementReport:
    records, labels = calls()
    defaults: dict[str, object] = {"labels": labels, "task_names": NAMES, "llm_prices": PRICES,
                                   "slm": 0.5, "hardware": HARDWARE}
    return replacement_report(records, **{**defaults, **options})


def _task(report: ReplacementReport, name: str) -> TaskReplacement:
    return next(t for t in report.tasks if t.name == name)


# ---------------------------------------------------------------- shares and costs

def test_shares_of_calls_and_tokens_sum_to_one_with_the_unassigned_row() -> None:
    report = _report()
    assert report.n_calls == 230 and [t.name for t in report.tasks] == ["weather", "chat",
                                                                         "sentiment"]
    assert report.unassigned.calls == 10
    assert math.isclose(sum(t.call_share for t in report.rows()), 1.0)
    assert math.isclose(sum(t.token_share for t in report.rows()), 1.0)
    assert math.isclose(_task(report, "weather").call_share, 120 / 230)
    tokens = 120 * 120 + 60 * 1200 + 40 * 51 + 10 * 20
    assert report.total_tokens == tokens
    assert math.isclose(_task(report, "chat").token_share, 60 * 1200 / tokens)


def test_llm_and_specialist_costs_match_a_hand_computation() -> None:
    report = _report(period_days=30)
    task = _task(report, "weather")
    # LLM: 120 calls × (100 in × $1/1K + 20 out × $2/1K) = 120 × $0.14.
    assert math.isclose(task.llm_cost, 16.8)
    # Specialist: 120 × (100 × $0.001/1K + 20 × $0.1/1K) = 120 × $0.0021.
    assert (report.slm_input_per_1k, report.slm_output_per_1k) == pytest.approx((SLM_IN,
                                                                                 SLM_OUT))
    assert math.isclose(task.specialist_cost, 0.252)
    assert math.isclose(task.savings, 16.8 - 0.252)
    assert math.isclose(report.llm_cost, 16.8 + 60 * 1.4 + 40 * 0.052 + 10 * 0.03)
    # Only the weather task is likely replaceable here; nothing is measured.
    assert report.savings_now == 0 and math.isclose(report.savings_potential, task.savings)
    assert report.monthly_factor == 1.0 and report.hardware == "test-box"


def test_default_specialist_cost_is_smollm2_on_two_cpu_cores_from_the_roofline() -> None:
    records, labels = calls()
    report = replacement_report(records, labels=labels, llm_prices=PRICES)
    assert report.slm == "smollm2-135m" and report.hardware == "cpu-2core"
    assert math.isclose(report.slm_input_per_1k,
                        estimate_cost("smollm2-135m", 1000, 0).cost_per_call)
    task = report.tasks[0]
    per_call = estimate_cost("smollm2-135m", 100, 20).cost_per_call
    assert math.isclose(task.specialist_cost, 120 * per_call)


def test_slm_prices_replace_the_roofline_when_the_specialist_is_paid_per_token() -> None:
    report = _report(slm_prices=(0.01, 0.03))
    assert report.hardware == "priced per token"
    assert math.isclose(_task(report, "weather").specialist_cost, 120 * (0.001 + 0.0006))


# ---------------------------------------------------------------- verdicts

def test_verdicts_follow_the_prediction_threshold_without_measurements() -> None:
    report = _report()
    weather_row, chat_row, sentiment_row = (_task(report, n) for n in ("weather", "chat",
                                                                        "sentiment"))
    # Templated tool calls, 120 examples: (0.4 × 1 + 0.6 × 1) × 1 × 1.
    assert weather_row.predicted == pytest.approx(1.0)
    assert weather_row.verdict == LIKELY_REPLACEABLE and "predicted 1.00 >= 0.60" in \
        weather_row.reason
    # Shown to people: the human-facing factor is 0.
    assert chat_row.predicted == 0.0 and chat_row.verdict == KEEP_ON_LLM
    assert "100% human-facing" in chat_row.reason
    # A narrow classifier, but 40 calls of the 100 that give full evidence.
    assert sentiment_row.predicted == pytest.approx(
        (0.4 * 1.0 + 0.6 * (1 - 2 / 40)) * 40 / 100)
    assert sentiment_row.verdict == KEEP_ON_LLM and "only 40 calls" in sentiment_row.reason
    assert report.unassigned.verdict == KEEP_ON_LLM and report.unassigned.predicted is None
    assert math.isclose(report.replaceable_share, 120 / 230) and report.replaceable_now_share == 0


def test_a_looser_rule_changes_the_verdict_of_a_small_task() -> None:
    report = _report(rule={"min_examples": 40})
    assert _task(report, "sentiment").verdict == LIKELY_REPLACEABLE
    assert math.isclose(report.likely_share, 160 / 230)


def test_measured_quality_overrides_the_prediction_both_ways() -> None:
    records, _ = calls()
    weather_calls = [r for r in records if r.agent == "travel"][:30]
    from slm_agents.curate.chat_format import record_to_example

    poor = evaluate(WeatherModel(right=False), [record_to_example(r) for r in weather_calls],
                    progress=False, bootstrap=200)
    report = _report(evaluations={"weather": poor, 1: {"agreement": 0.97, "n": 400}})
    weather_row, chat_row = _task(report, "weather"), _task(report, "chat")
    # Predicted 1.0, measured 0%: kept on the LLM, and the reason says the prediction lost.
    assert weather_row.agreement == 0.0 and weather_row.eval_n == 30
    assert weather_row.verdict == KEEP_ON_LLM
    assert "overrides the prediction (1.00)" in weather_row.reason
    # Predicted 0 (human-facing), measured 97%: replaceable now.
    assert chat_row.verdict == REPLACEABLE_NOW and chat_row.predicted == 0.0
    assert chat_row.agreement_low is not None and chat_row.agreement_low < 0.97 < \
        chat_row.agreement_high
    assert math.isclose(report.replaceable_now_share, 60 / 230)
    assert math.isclose(report.savings_now, chat_row.savings)


def test_the_lower_bound_option_demands_confidence_not_just_a_good_point_estimate() -> None:
    evaluations = {"weather": {"agreement": 0.92, "n": 50}}
    assert _task(_report(evaluations=evaluations), "weather").verdict == REPLACEABLE_NOW
    strict = _task(_report(evaluations=evaluations, bar_bound="lower"), "weather")
    assert strict.verdict == KEEP_ON_LLM and "lower bound of the agreement" in strict.reason


def test_specialists_are_evaluated_on_their_tasks_calls() -> None:
    report = _report(specialists={0: WeatherModel()}, max_eval_examples=25)
    row = _task(report, "weather")
    assert row.verdict == REPLACEABLE_NOW and row.agreement == 1.0 and row.eval_n == 25
    assert "weather-specialist" in (row.quality_source or "")


def test_a_registry_supplies_the_promoted_versions_measured_quality(tmp_path: Path) -> None:
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "weights.txt").write_text("w")
    registry = ModelRegistry(tmp_path / "registry")
    registry.register(0, folder, metrics={"agreement": 0.96, "n": 300})
    registry.promote(0, 1)
    registry.register(2, folder, metrics={"agreement": 0.99, "n": 300})  # never promoted
    report = _report(registry=tmp_path / "registry")
    assert _task(report, "weather").verdict == REPLACEABLE_NOW
    assert _task(report, "weather").quality_source == "registry 0 v1"
    assert _task(report, "sentiment").agreement is None
    with pytest.raises(ConfigError, match="no model registry"):
        _report(registry=tmp_path / "nowhere")


# ---------------------------------------------------------------- volume

def test_monthly_figures_scale_the_observed_period_from_timestamps() -> None:
    report = _report()
    # 230 calls an hour apart: the first and last are 229 hours apart.
    assert report.period_source == "timestamps"
    assert math.isclose(report.period_days, 229 / 24)
    factor = 30 / (229 / 24)
    assert math.isclose(report.monthly_factor, factor)
    assert math.isclose(report.monthly_calls, 230 * factor)
    assert math.isclose(report.monthly_llm_cost, report.llm_cost * factor)
    assert math.isclose(report.monthly_savings_potential, report.savings_potential * factor)


def test_a_given_period_overrides_the_timestamps() -> None:
    report = _report(period_days=10)
    assert report.period_source == "given" and report.monthly_factor == 3.0
    assert math.isclose(report.monthly_llm_cost, 3 * report.llm_cost)


def test_a_burst_of_calls_is_not_scaled_to_a_month() -> None:
    records = [weather(i) for i in range(20)]
    for i, record in enumerate(records):
        record.started_at = T0 + timedelta(seconds=i)
    report = replacement_report(records, labels=[0] * 20)
    assert report.period_days is None and report.period_source == "too short"
    assert report.monthly_llm_cost is None and report.monthly_savings_now is None
    assert "over the observed calls" in report.summary()


# ---------------------------------------------------------------- inputs

def test_an_unfitted_clusterer_is_fitted_and_a_fitted_one_predicts() -> None:
    records = [weather(i) for i in range(60)] + [chat(i) for i in range(60)]
    clusterer = TaskClusterer(embedder=HashingEmbedder(), reducer=NoReduction())
    report = replacement_report(records, clusterer=clusterer, period_days=1)
    assert hasattr(clusterer, "labels_") and len(report.tasks) >= 2
    assert math.isclose(sum(t.call_share for t in report.rows()), 1.0)
    again = replacement_report(records[:30], clusterer=clusterer, period_days=1)
    assert again.n_calls == 30
    assert sum(t.calls for t in again.tasks) + again.unassigned.calls == 30


def test_task_names_per_record_are_labels_too() -> None:
    records, _ = calls()
    report = replacement_report(records, labels=[r.agent for r in records])
    assert {t.name for t in report.tasks} == {"travel", "concierge", "triage", "misc"}
    assert report.unassigned.calls == 0


def test_a_store_path_or_a_store_gives_the_same_report(tmp_path: Path) -> None:
    records, labels = calls()
    key = sa.generate_key()
    with sa.Store(tmp_path / "calls.db", key=key) as store:
        store.add_many(records)
        from_store = replacement_report(store, labels=labels)
    from_path = replacement_report(tmp_path / "calls.db", key=key, labels=labels)
    from_list = replacement_report(records, labels=labels)
    assert from_path.to_dict() == from_list.to_dict() == from_store.to_dict()


def test_a_missing_store_is_reported_and_never_created(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    with pytest.raises(StoreNotFoundError, match="no store at"):
        replacement_report(path, key=sa.generate_key())
    assert not path.exists()


def test_a_wrong_key_is_refused_by_the_store(tmp_path: Path) -> None:
    with sa.Store(tmp_path / "calls.db", key=sa.generate_key()) as store:
        store.add(weather(0))
    with pytest.raises(WrongKeyError):
        replacement_report(tmp_path / "calls.db", key=sa.generate_key())


@pytest.mark.parametrize(("options", "error", "match"), [
    # a store path needs a key
    ({"records": "calls.db"}, ConfigError, "key="),
    # nothing to report on
    ({"records": []}, ClusteringError, "no records"),
    # a label per record
    ({"labels": [0, 1]}, ConfigError, "2 labels for 230 records"),
    # clusterer and labels together are ambiguous
    ({"clusterer": TaskClusterer()}, ConfigError, "not both"),
    # a measurement for a task that is not there
    ({"evaluations": {"flights": {"agreement": 1.0, "n": 5}}}, ConfigError, "no task 'flights'"),
    # not a measurement
    ({"evaluations": {0: 0.9}}, ConfigError, "expected an EvalReport"),
    ({"quality_bar": 1.5}, ConfigError, "quality_bar"),
    ({"bar_bound": "upper"}, ConfigError, "bar_bound"),
    ({"hardware": "abacus"}, ConfigError, "unknown hardware"),
    ({"slm": "gpt-9"}, ConfigError, "gpt-9"),
    ({"llm_prices": {"input_per_1k": -1, "output_per_1k": 1}}, ConfigError, "invalid prices"),
    ({"rule": {"threshold": 2}}, ConfigError, "invalid rule"),
    ({"rule": {"treshold": 0.5}}, ConfigError, "invalid rule"),
    ({"period_days": 0}, ConfigError, "period_days"),
    ({"max_eval_examples": 0}, ConfigError, "max_eval_examples"),
    # plain strings carry no tokens, times or outputs
    ({"records": ["hello"], "labels": [0]}, TypeError, "CallRecord"),
    ({"records": weather(0), "labels": [0]}, TypeError, "single record"),
])
def test_bad_input_raises_a_clear_error(options: dict, error: type, match: str,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    records, labels = calls()
    options = {"labels": labels, **options}
    source = options.pop("records", records)
    with pytest.raises(error, match=match):
        replacement_report(source, **options)


def test_llm_prices_accept_a_pair_a_dict_or_prices() -> None:
    pair = _report(llm_prices=(1.0, 2.0))
    mapping = _report(llm_prices={"input_per_1k": 1.0, "output_per_1k": 2.0})
    assert pair.llm_prices == mapping.llm_prices == Prices(input_per_1k=1.0, output_per_1k=2.0)
    assert math.isclose(pair.llm_cost, mapping.llm_cost)
