"""evaluate() end to end: a dataset of logged calls, a model, and the report it produces."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from slm_agents.curate.dataset import Dataset, DatasetSplits
from slm_agents.errors import ConfigError
from slm_agents.evaluate import EvalReport, Prices, evaluate, score_example
from slm_agents.records import ToolCall
from slm_agents.train.generation import Generation

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather forecast for a city.",
    "parameters": {"type": "object",
                   "properties": {"city": {"type": "string"},
                                  "days": {"type": "integer", "default": 1}},
                   "required": ["city"], "additionalProperties": False}}}


def tool_example(question: str, city: str, days: int = 1) -> dict[str, Any]:
    arguments = {"city": city} if days == 1 else {"city": city, "days": days}
    return {"messages": [
        {"role": "system", "content": "You answer weather questions with the tool."},
        {"role": "user", "content": question},
        {"role": "assistant", "tool_calls": [{"id": "call_0", "type": "function", "function": {
            "name": "get_weather", "arguments": json.dumps(arguments)}}]}],
        "tools": [WEATHER]}


def text_example(question: str, answer: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question},
                         {"role": "assistant", "content": answer}]}


class ReplayModel:
    """A stand-in model that answers each question (the last user turn) from a table.

    Answers are Generations, raw text (parsed by evaluate), or an exception to raise.
    """

    name = "replay"

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[list[dict[str, Any]], Any]] = []

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Any:
        self.calls.append(([dict(m) for m in messages], tools))
        answer = self.answers[messages[-1]["content"]]
        if isinstance(answer, Exception):
            raise answer
        return answer


def weather(city: str, **arguments: Any) -> Generation:
    return Generation(tool_calls=[ToolCall(name="get_weather", arguments={"city": city,
                                                                          **arguments})],
                      input_tokens=80, output_tokens=20, latency_ms=40.0)


DATASET = Dataset(
    [tool_example("Weather in Oslo?", "Oslo"),
     tool_example("Oslo for 3 days?", "Oslo", days=3),
     tool_example("Weather in Rome?", "Rome"),
     tool_example("Weather in Lima?", "Lima"),
     text_example("Say hi", "Hello there!"),
     text_example("Capital of France?", "The capital of France is Paris."),
     text_example("2+2?", "4")],
    meta=[{"task": "weather"}] * 4 + [{"task": "chat"}] * 3)

ANSWERS = {
    "Weather in Oslo?": weather("oslo", days=1),  # default given explicitly, lower case: agrees
    "Oslo for 3 days?": weather("Oslo", days="3"),  # "3" for 3: agrees, but not schema-valid
    "Weather in Rome?": weather("Roma"),  # wrong argument value
    "Weather in Lima?": RuntimeError("CUDA out of memory"),  # the call fails
    "Say hi": Generation(text="Hello there!", latency_ms=10.0, output_tokens=3),  # exact
    "Capital of France?": "Paris is the capital of France.",  # raw text, F1 high enough
    "2+2?": '<tool_call>\n{"name": "calculator", "arguments": {}}\n</tool_call>',  # a needless
}


@pytest.fixture(scope="module")
def report() -> EvalReport:
    return evaluate(ReplayModel(ANSWERS), DATASET, seed=0, bootstrap=200,
                    prices=Prices(input_per_1k=0.01, output_per_1k=0.02))


def test_each_example_is_scored_against_the_llms_final_turn(report: EvalReport) -> None:
    flags = [(r.index, r.task, r.agreement) for r in report.examples]
    assert flags == [(0, "weather", True), (1, "weather", True), (2, "weather", False),
                     (3, "weather", False), (4, "chat", True), (5, "chat", True),
                     (6, "chat", False)]
    assert report.agreement == pytest.approx(4 / 7)


def test_tool_call_metrics_cover_the_examples_whose_reference_calls_a_tool(
        report: EvalReport) -> None:
    assert report.metrics["tool_call_exact"].n == 4
    assert report.tool_call_exact == pytest.approx(2 / 4)
    assert report.tool_name_accuracy == pytest.approx(3 / 4)
    assert report.argument_match == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert report.value("call_when_needed") == pytest.approx(3 / 4)


def test_schema_validity_is_strict_where_argument_match_is_lenient(report: EvalReport) -> None:
    second = report.examples[1]
    assert second.tool_call_exact and second.schema_valid is False
    assert second.schema_errors == ["get_weather: $.days: expected integer, got string"]
    # examples 0, 1, 2 and 6 made calls; 1 has a string for an integer, 6 an unoffered tool
    assert report.metrics["schema_valid_rate"].n == 4
    assert report.schema_valid_rate == pytest.approx(2 / 4)


def test_no_call_when_none_needed_counts_needless_calls(report: EvalReport) -> None:
    assert report.metrics["no_call_when_none_needed"].n == 3
    assert report.value("no_call_when_none_needed") == pytest.approx(2 / 3)


def test_text_metrics_cover_the_examples_whose_reference_has_text(report: EvalReport) -> None:
    assert report.metrics["exact_match"].n == 3
    assert report.exact_match == pytest.approx(1 / 3)
    assert report.examples[5].token_f1 == pytest.approx(1.0)  # same words, another order


def test_a_failing_call_is_recorded_and_the_run_goes_on(report: EvalReport) -> None:
    failed = report.examples[3]
    assert failed.error == "RuntimeError: CUDA out of memory"
    assert not failed.agreement and failed.tool_call_exact is False
    assert report.n_failed == 1 and report.value("failure_rate") == pytest.approx(1 / 7)


def test_latency_tokens_and_cost_come_from_the_generations(report: EvalReport) -> None:
    served = [r.prediction for r in report.examples if r.error is None]
    assert len(served) == 6
    assert all(g.latency_ms > 0 for g in served)  # measured where the model reported none
    assert report.mean_input_tokens == pytest.approx(sum(g.input_tokens for g in served) / 6)
    assert report.cost_per_1k_calls == pytest.approx(1000 * sum(
        g.input_tokens / 1000 * 0.01 + g.output_tokens / 1000 * 0.02 for g in served) / 6)
    assert report.tokens_per_second is not None and report.tokens_per_second > 0


def test_per_task_breakdown_uses_the_dataset_meta(report: EvalReport) -> None:
    assert report.per_task["weather"]["n"] == 4
    assert report.per_task["weather"]["agreement"] == pytest.approx(0.5)
    assert report.per_task["chat"]["exact_match"] == pytest.approx(1 / 3)


def test_the_model_sees_the_input_and_tools_but_not_the_answer() -> None:
    model = ReplayModel(ANSWERS)
    evaluate(model, DATASET[:1], bootstrap=0)
    messages, tools = model.calls[0]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert tools == [WEATHER]


def test_the_report_survives_a_json_round_trip_and_renders(report: EvalReport) -> None:
    assert EvalReport.from_json(report.to_json()) == report
    assert "## First 3 disagreements" in report.to_markdown()
    assert report.summary().startswith("replay: n=7 (1 failed)")


def test_a_list_of_example_dicts_works_and_meta_keys_give_tasks() -> None:
    examples = [{**text_example("Say hi", "Hello there!"), "meta": {"task": "greet"}}]
    result = evaluate(ReplayModel(ANSWERS), examples, bootstrap=0)
    assert result.agreement == 1.0 and set(result.per_task) == {"greet"}


def test_max_examples_takes_the_first_examples() -> None:
    assert evaluate(ReplayModel(ANSWERS), DATASET, max_examples=2, bootstrap=0).n == 2


def test_a_better_model_beats_a_worse_one_on_the_same_examples() -> None:
    data = [text_example(f"q{i}", f"answer number {i}") for i in range(40)]
    good = ReplayModel({f"q{i}": f"answer number {i}" for i in range(40)})
    poor = ReplayModel({f"q{i}": f"answer number {i}" if i % 2 else "no idea"
                        for i in range(40)})
    good_report = evaluate(good, data, bootstrap=500)
    poor_report = evaluate(poor, data, bootstrap=500)
    assert good_report.beats(poor_report, metric="agreement", confidence=0.95)
    assert not poor_report.beats(good_report)


def test_a_progress_bar_does_not_change_the_result() -> None:
    data = [text_example(f"q{i}", "ok") for i in range(25)]
    model = ReplayModel({f"q{i}": Generation(text="ok", latency_ms=1.0) for i in range(25)})
    shown = evaluate(model, data, progress=True, bootstrap=50)
    hidden = evaluate(model, data, progress=False, bootstrap=50)
    assert shown == hidden


BAD_INPUTS = [
    # (dataset, error, message fragment)
    (Dataset([]), ConfigError, "empty dataset"),  # nothing to evaluate
    ([], ConfigError, "empty dataset"),  # an empty list too
    ([text_example("a", "b"), {"messages": [{"role": "user", "content": "x"}]}], ConfigError,
     "example 1"),  # the second example ends with the user's turn
    ([text_example("a", "b"), {"messages": []}], ConfigError, "example 1"),  # no messages
    ([text_example("a", "b"), "just text"], ConfigError, "example 1"),  # not a dict
    (DatasetSplits(Dataset([]), Dataset([]), Dataset([])), TypeError, "splits.test"),  # splits
    ("data.jsonl", TypeError, "list of chat examples"),  # a path is not a dataset
]


@pytest.mark.parametrize(("dataset", "error", "fragment"), BAD_INPUTS)
def test_bad_datasets_give_clear_errors_before_the_model_runs(
        dataset: Any, error: type[Exception], fragment: str) -> None:
    model = ReplayModel({})
    with pytest.raises(error, match=fragment):
        evaluate(model, dataset)
    assert model.calls == []


BAD_OPTIONS = [
    # (keyword arguments, message fragment)
    ({"max_examples": 0}, "max_examples"),  # nothing would be evaluated
    ({"bootstrap": -1}, "bootstrap"),  # a negative resample count
    ({"confidence": 1.0}, "confidence"),  # a 100% interval is unbounded
    ({"agreement_f1": 1.5}, "agreement_f1"),  # F1 never exceeds 1
]


@pytest.mark.parametrize(("options", "fragment"), BAD_OPTIONS)
def test_bad_options_are_config_errors(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        evaluate(ReplayModel({}), [text_example("a", "b")], **options)


def test_an_object_without_generate_is_refused() -> None:
    with pytest.raises(TypeError, match="generate"):
        evaluate(object(), [text_example("a", "b")])  # type: ignore[arg-type]


def test_a_model_returning_something_odd_is_a_recorded_failure() -> None:
    result = evaluate(ReplayModel({"a": 42}), [text_example("a", "b")], bootstrap=0)
    assert result.examples[0].error is not None and "returned int" in result.examples[0].error


def test_score_example_applies_the_agreement_threshold() -> None:
    reference = Generation(text="the meeting is at noon on friday")
    close = Generation(text="meeting at noon on friday")
    assert score_example(close, reference, agreement_f1=0.8).agreement
    assert not score_example(close, reference, agreement_f1=0.99).agreement


def test_text_beside_reference_tool_calls_is_not_scored_as_an_answer() -> None:
    reference = Generation(text="Let me check.",
                           tool_calls=[ToolCall(name="get_weather", arguments={"city": "Oslo"})])
    result = score_example(weather("Oslo"), reference, [WEATHER])
    assert result.agreement and result.exact_match is None and result.token_f1 is None


def test_prices_given_as_a_dict_are_validated() -> None:
    data = [text_example("Say hi", "Hello there!")]
    priced = evaluate(ReplayModel(ANSWERS), data, prices={"per_hour": 3.6}, bootstrap=0)
    assert priced.cost_per_1k_calls == pytest.approx(0.01)  # 10 ms at $0.001 per second
    with pytest.raises(ConfigError, match="prices"):
        evaluate(ReplayModel(ANSWERS), data, prices={"per_hour": -1.0})


def test_importing_the_evaluate_package_loads_no_heavy_module() -> None:
    code = ("import sys, json, slm_agents.evaluate; print(json.dumps([m for m in "
            "('numpy', 'torch', 'transformers', 'tqdm') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []


MISMATCH_CASES = [
    # (predicted calls, expected notes)
    ([ToolCall(name="get_weather", arguments={"city": "Roma"})],
     ["wrong argument get_weather.city"]),  # right tool, wrong value
    ([ToolCall(name="search", arguments={})],
     ["called search instead of get_weather"]),  # wrong tool
    ([], ["missing call get_weather"]),  # no call at all
    ([ToolCall(name="get_weather", arguments={"city": "Rome"}),
      ToolCall(name="search", arguments={})], ["extra call search"]),  # one call too many
]


@pytest.mark.parametrize(("predicted", "notes"), MISMATCH_CASES)
def test_call_mismatches_say_what_differs_from_the_reference(
        predicted: list[ToolCall], notes: list[str]) -> None:
    reference = Generation(tool_calls=[ToolCall(name="get_weather", arguments={"city": "Rome"})])
    assert score_example(Generation(tool_calls=predicted), reference).call_mismatches == notes
