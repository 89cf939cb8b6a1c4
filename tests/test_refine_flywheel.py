"""The flywheel on a real encrypted store: rounds, the promotion gate, drift, crashes.

The trainer is a stand-in for a user-supplied ``fine_tuner_factory`` (see ``test_refine_support``);
the store, curator, clusterer, evaluator, registry and router are the real ones.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from test_refine_support import T0, Factory, RuleSpecialist, calls, math_call, weather_call

import slm_agents as sa
from slm_agents.cluster import HashingEmbedder, NoReduction, TaskClusterer
from slm_agents.curate import Curator
from slm_agents.errors import ConfigError
from slm_agents.refine import Flywheel, RoundReport


def _flywheel(store: sa.Store, workdir: Path, factory: Any, **options: Any) -> Flywheel:
    settings: dict[str, Any] = {
        "clusterer": TaskClusterer(embedder=HashingEmbedder(n_features=512),
                                   reducer=NoReduction(), min_cluster_size=10),
        "curator": Curator(dedupe="exact"), "fine_tuner_factory": factory,
        "loader": RuleSpecialist.load, "evaluator": _evaluate, "test_fraction": 0.3}
    settings.update(options)
    return Flywheel(store, workdir, **settings)


def _evaluate(model: Any, dataset: Any) -> Any:
    from slm_agents.evaluate import evaluate

    return evaluate(model, dataset, progress=False, bootstrap=500)


def _task(flywheel: Flywheel, record: sa.CallRecord) -> int:
    task, _ = flywheel.task_clusterer().assign(record)
    assert task >= 0
    return task


@pytest.fixture
def first_round(store: sa.Store, tmp_path: Path) -> tuple[Flywheel, Factory, RoundReport]:
    """150 weather and 150 addition calls, one round: both tasks get a first version."""
    store.add_many(calls("weather", 0, 150, T0) + calls("math", 0, 150, T0 + timedelta(hours=1)))
    factory = Factory()
    flywheel = _flywheel(store, tmp_path / "wheel", factory)
    report = flywheel.run_once()
    return flywheel, factory, report


def test_first_round_fits_the_clusterer_and_promotes_a_first_version_per_task(
        first_round: tuple[Flywheel, Factory, RoundReport]) -> None:
    flywheel, factory, report = first_round
    weather, math = _task(flywheel, weather_call(9999, T0)), _task(flywheel, math_call(9999, T0))
    assert report.status == "ok" and report.clusterer["fitted"] is True
    assert report.new_records == report.new_examples == 300
    assert sorted(report.promoted) == sorted([weather, math]) == sorted(factory.trained)
    decision = report.task(math)
    assert decision.triggers == ["first_version"] and decision.candidate_version == 1
    assert decision.candidate_agreement == 1.0 and decision.candidate_lower_bound > 0.9
    assert flywheel.registry_.current(math).window.n_examples == decision.train_examples
    assert flywheel.state().watermark == T0 + timedelta(hours=1, seconds=149)
    assert flywheel.registry_.verify() == []


def test_second_round_trains_only_the_task_that_gained_data(
        store: sa.Store, first_round: tuple[Flywheel, Factory, RoundReport]) -> None:
    flywheel, factory, _ = first_round
    weather, math = _task(flywheel, weather_call(9999, T0)), _task(flywheel, math_call(9999, T0))
    factory.trained.clear()
    store.add_many(calls("math", 150, 60, T0 + timedelta(hours=2))
                   + calls("weather", 150, 10, T0 + timedelta(hours=3)))
    report = flywheel.run_once()
    assert report.new_records == 70 and factory.trained == [math]
    assert report.retrained == [math]
    skipped = report.task(weather)
    assert skipped.decision == "skipped" and skipped.pending_examples == 10
    assert "10/50 new examples" in skipped.reason
    # As good as the incumbent is not better: no churn, v1 keeps serving.
    trained = report.task(math)
    assert trained.decision == "rejected" and "does not beat the incumbent" in trained.reason
    assert trained.incumbent_version == 1 and trained.comparison["paired"] is True
    assert flywheel.registry_.current(math).version == 1
    # The weather counter carries over to the next round.
    assert flywheel.state().pending[weather].examples == 10


def test_a_candidate_that_got_worse_is_registered_as_rejected_and_not_promoted(
        store: sa.Store, first_round: tuple[Flywheel, Factory, RoundReport]) -> None:
    flywheel, factory, _ = first_round
    math = _task(flywheel, math_call(9999, T0))
    factory.error_rates["math"] = 0.4  # a sabotaged training run
    store.add_many(calls("math", 150, 60, T0 + timedelta(hours=2)))
    report = flywheel.run_once()
    decision = report.task(math)
    assert decision.decision == "rejected" and report.rejected == [math]
    assert decision.candidate_agreement < 0.8 and "< bar 90%" in decision.reason
    assert decision.incumbent_agreement == 1.0
    history = flywheel.registry_.history(math)
    assert [(v.version, v.status) for v in history] == [(1, "promoted"), (2, "rejected")]
    assert history[1].parent == 1 and history[1].metrics["agreement"] < 0.8


def test_a_better_candidate_is_promoted_and_served_by_the_running_router(
        store: sa.Store, tmp_path: Path) -> None:
    store.add_many(calls("math", 0, 150, T0) + calls("weather", 0, 150, T0))
    factory = Factory({"math": 0.15})
    flywheel = _flywheel(store, tmp_path / "wheel", factory, quality_bar=0.8, bar_bound="point")
    flywheel.run_once()
    math = _task(flywheel, math_call(9999, T0))
    assert flywheel.registry_.current(math).metrics["agreement"] < 1.0
    router = flywheel.router(lambda messages, tools: "LLM", check_interval=0,
                             agent="calculator")
    question = [m.model_dump(include={"role", "content"}) for m in math_call(5, T0).messages]
    assert router.invoke(question).route == "specialist"

    factory.error_rates["math"] = 0.0
    store.add_many(calls("math", 150, 60, T0 + timedelta(hours=1)))
    report = flywheel.run_once()
    assert report.promoted == [math] and report.task(math).comparison["beats"] is True
    assert flywheel.registry_.current(math).version == 2
    answer = router.invoke(question)
    assert (answer.route, answer.task, answer.text) == ("specialist", math, str(1035 + 26))
    assert answer.model_name == f"registry:{math}"


def test_live_escalations_roll_a_version_back(store: sa.Store, tmp_path: Path) -> None:
    store.add_many(calls("math", 0, 150, T0) + calls("weather", 0, 150, T0))
    factory = Factory({"math": 0.15})
    flywheel = _flywheel(store, tmp_path / "wheel", factory, quality_bar=0.8, bar_bound="point",
                         min_escalations=1000)
    flywheel.run_once()
    factory.error_rates["math"] = 0.0
    store.add_many(calls("math", 150, 60, T0 + timedelta(hours=1)))
    flywheel.run_once()
    math = _task(flywheel, math_call(9999, T0))
    assert flywheel.registry_.current(math).version == 2
    # The router then escalates most calls of the task to the LLM.
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    routed = [math_call(500 + i, now + timedelta(seconds=i), metadata={
        "route": "llm" if i % 4 else "specialist", "task": math,
        "fallback_reason": "parse_error" if i % 4 else None}) for i in range(30)]
    store.add_many(routed)
    report = flywheel.run_once()
    assert report.new_escalations == 22
    # The 8 calls the specialist answered are not training data: their outputs are not the LLM's.
    assert report.new_examples == 22 and report.curation["specialist_answered"] == 8
    assert [(r.task, r.from_version, r.to_version) for r in report.rollbacks] == [(math, 2, 1)]
    assert "escalation rate 73%" in report.rollbacks[0].reason
    assert flywheel.registry_.current(math).version == 1
    assert flywheel.registry_.get(math, 2).status == "rejected"


@pytest.mark.parametrize("failing_file", ["index.json", "state.json"])
def test_a_crash_mid_round_leaves_the_registry_consistent_and_the_watermark_unchanged(
        store: sa.Store, first_round: tuple[Flywheel, Factory, RoundReport], monkeypatch,
        failing_file: str) -> None:
    flywheel, factory, _ = first_round
    watermark = flywheel.state().watermark
    store.add_many(calls("math", 150, 60, T0 + timedelta(hours=2)))
    factory.error_rates["math"] = 0.0
    real_replace = os.replace

    def crash(src: Any, dst: Any) -> None:
        if str(dst).endswith(failing_file):  # the registry's index, or the round's commit
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        flywheel.run_once()
    monkeypatch.setattr(os, "replace", real_replace)
    assert flywheel.last_report_.status == "failed"
    assert "simulated crash" in flywheel.last_report_.error
    assert flywheel.state().watermark == watermark and flywheel.state().round == 1
    assert flywheel.registry_.verify() == []
    assert not (flywheel.workdir_ / "rounds" / "round-00002.json").exists()
    # The next round reads the same records again.
    again = flywheel.run_once()
    assert again.new_records == 60 and again.round == 2
    assert flywheel.registry_.verify() == []


_CRASHING_ROUND = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    sys.path.insert(0, {here!r})
    import slm_agents as sa
    from test_refine_flywheel import _flywheel
    from test_refine_support import Factory
    store = sa.Store({db!r}, key={key!r})
    flywheel = _flywheel(store, {workdir!r}, Factory())
    real_replace = os.replace
    def replace(src, dst):
        real_replace(src, dst)
        if str(dst).endswith("index.json"):  # killed right after the registry changed
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace
    flywheel.run_once()
""")


def test_a_killed_round_commits_nothing_and_is_redone(
        store: sa.Store, first_round: tuple[Flywheel, Factory, RoundReport],
        admin_key: str) -> None:
    flywheel, _, _ = first_round
    watermark = flywheel.state().watermark
    store.add_many(calls("math", 150, 60, T0 + timedelta(hours=2)))
    here = str(Path(__file__).parent)
    script = _CRASHING_ROUND.format(tests=here, here=here, db=str(store.path), key=admin_key,
                                    workdir=str(flywheel.workdir_))
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert flywheel.registry_.verify() == []
    assert [v.status for v in flywheel.registry_.history(_task(flywheel, math_call(1, T0)))
            ] == ["promoted", "candidate"]  # registered, killed before the verdict was written
    assert flywheel.state().watermark == watermark
    report = flywheel.run_once()
    assert report.new_records == 60 and flywheel.registry_.verify() == []


def test_drift_flags_a_new_task_and_reclustering_keeps_the_old_task_ids(
        store: sa.Store, first_round: tuple[Flywheel, Factory, RoundReport]) -> None:
    flywheel, factory, _ = first_round
    weather, math = _task(flywheel, weather_call(9999, T0)), _task(flywheel, math_call(9999, T0))
    flywheel.bar_bound = "point"
    store.add_many(calls("translate", 0, 80, T0 + timedelta(hours=2)))
    report = flywheel.run_once()
    drift = report.drift
    assert drift is not None and drift.unassigned_flag and drift.unassigned_share == 1.0
    assert drift.new_regions == 1 and drift.regions[0].size == 80
    assert drift.regions[0].cohesion >= 0.9 * drift.regions[0].baseline_cohesion
    assert drift.recluster and report.clusterer["refitted"] is True
    from test_refine_support import translate_call

    new_task = _task(flywheel, translate_call(999, T0))
    assert new_task not in (weather, math)
    assert (_task(flywheel, weather_call(9999, T0)), _task(flywheel, math_call(9999, T0))) == (
        weather, math)
    assert report.task(new_task).triggers == ["first_version"]
    assert report.promoted == [new_task]
    assert "dense region" in report.to_markdown()


def test_records_that_arrive_late_within_the_lookback_are_processed_once(
        store: sa.Store, first_round: tuple[Flywheel, Factory, RoundReport]) -> None:
    flywheel, _, _ = first_round
    watermark = flywheel.state().watermark
    assert watermark is not None
    store.add_many(calls("math", 900, 3, watermark - timedelta(seconds=30)))
    assert flywheel.run_once().new_records == 3
    assert flywheel.run_once().status == "skipped"


def test_a_round_with_nothing_new_is_skipped_and_commits_nothing(
        first_round: tuple[Flywheel, Factory, RoundReport]) -> None:
    flywheel, _, _ = first_round
    report = flywheel.run_once()
    assert (report.status, report.reason, report.round) == ("skipped", "no new records", 2)
    assert flywheel.state().round == 1


def test_a_task_whose_training_fails_is_reported_and_retried_while_others_go_on(
        store: sa.Store, tmp_path: Path) -> None:
    store.add_many(calls("math", 0, 150, T0) + calls("weather", 0, 150, T0))

    class Broken(Factory):
        def __call__(self, task: Any) -> Any:
            tuner = super().__call__(task)
            fit = tuner.fit

            def failing_fit(train: Any, eval_dataset: Any = None) -> Any:
                if "add" in str(list(train)[0]):
                    raise RuntimeError("out of memory")
                return fit(train, eval_dataset)

            tuner.fit = failing_fit
            return tuner

    flywheel = _flywheel(store, tmp_path / "wheel", Broken())
    report = flywheel.run_once()
    math, weather = _task(flywheel, math_call(1, T0)), _task(flywheel, weather_call(1, T0))
    assert report.failed == [math] and report.promoted == [weather]
    assert "out of memory" in report.task(math).error
    assert flywheel.state().pending[math].examples == 150  # kept: retried next round
    assert flywheel.state().pending[weather].examples == 0
    assert flywheel.registry_.current(math) is None


def test_run_forever_runs_rounds_calls_hooks_and_stops(store: sa.Store, tmp_path: Path) -> None:
    store.add_many(calls("math", 0, 150, T0) + calls("weather", 0, 150, T0))
    events: list[str] = []
    flywheel = _flywheel(store, tmp_path / "wheel", Factory(), event_hooks={
        "round": [lambda e: events.append(e["report"].status)],
        "promoted": [lambda e: events.append(f"promoted {e['task']}")]})
    stop = threading.Event()
    reports = flywheel.run_forever(0.01, stop_event=stop, max_rounds=2)
    assert [r.status for r in reports] == ["ok", "skipped"]
    assert events.count("ok") == 1 and sum(e.startswith("promoted") for e in events) == 2
    stop.set()
    assert flywheel.run_forever(0.01, stop_event=stop) == []
    saved = flywheel.reports()
    assert [r.round for r in saved] == [1]
    assert RoundReport.from_dict(saved[0].to_dict()) == saved[0] == reports[0]
    markdown = saved[0].to_markdown()
    assert markdown.startswith("# Flywheel round 1: ok") and "| first_version | promoted |" in (
        markdown)


@pytest.mark.parametrize("options, message", [
    ({"quality_bar": 1.5}, "quality_bar"),  # not a share
    ({"min_new_examples": 0}, "min_new_examples"),  # must be positive
    ({"bar_bound": "upper"}, "bar_bound"),  # unknown rule
    ({"event_hooks": {"promote": []}}, "unknown event"),  # misspelt event
    ({"drift": {"min_items": 5, "typo": 1}}, "typo"),  # drift thresholds forbid extras
])
def test_invalid_settings_fail_on_the_first_round_with_a_clear_message(
        store: sa.Store, tmp_path: Path, options: dict[str, Any], message: str) -> None:
    flywheel = _flywheel(store, tmp_path / "wheel", Factory(), **options)
    with pytest.raises((ConfigError, ValueError), match=message):
        flywheel.run_once()


def test_flywheel_follows_the_estimator_parameter_protocol(store: sa.Store,
                                                           tmp_path: Path) -> None:
    flywheel = Flywheel(store, tmp_path, min_new_examples=10)
    assert flywheel.get_params()["min_new_examples"] == 10
    assert flywheel.set_params(quality_bar=0.8).quality_bar == 0.8
    assert "min_new_examples=10" in repr(flywheel)
    assert not (tmp_path / "registry").exists()  # __init__ only stores its arguments
