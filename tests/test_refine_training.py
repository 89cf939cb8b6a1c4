"""The flywheel with real training: FineTuner on a tiny random Llama, real Specialists on disk.

The tiny model's answers are noise, so its candidates never clear the bar: what this proves is
the path (train, evaluate, register the saved adapter, load it back with ``Specialist.load`` as
the incumbent and in a router). The run with the default SmolLM2 trainer is marked slow.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from test_refine_support import T0, calls, math_call  # noqa: E402

import slm_agents as sa  # noqa: E402
from slm_agents.cluster import HashingEmbedder, NoReduction, TaskClusterer  # noqa: E402
from slm_agents.curate import Curator  # noqa: E402
from slm_agents.evaluate import evaluate  # noqa: E402
from slm_agents.refine import Flywheel  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    import torch  # a tiny model's ops are too small to share among threads

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_factory(task: Any) -> Any:
    from slm_agents.train import FineTuner, LoraSettings, TrainingSettings
    from slm_agents.train.testing import tiny_model_dir

    return FineTuner(str(tiny_model_dir()), method="lora", lora=LoraSettings(r=4),
                     training=TrainingSettings(max_steps=3, per_device_train_batch_size=4,
                                               learning_rate=1e-2, progress=False,
                                               save_total_limit=1),
                     device="cpu")


def test_a_round_trains_real_specialists_and_the_registry_serves_them(
        store: sa.Store, tmp_path: Path) -> None:
    from slm_agents.train import Specialist

    store.add_many(calls("math", 0, 30, T0) + calls("weather", 0, 12, T0))
    flywheel = Flywheel(
        store, tmp_path / "wheel",
        clusterer=TaskClusterer(embedder=HashingEmbedder(n_features=256), reducer=NoReduction(),
                                min_cluster_size=5),
        curator=Curator(dedupe="exact"), fine_tuner_factory=tiny_factory,
        evaluator=functools.partial(evaluate, progress=False, bootstrap=200,
                                    generate_kwargs={"max_new_tokens": 4}),
        min_new_examples=20, min_test_examples=5, test_fraction=0.3, validation_fraction=0.0)
    report = flywheel.run_once()
    math = flywheel.task_clusterer().assign(math_call(999, T0))[0]
    assert report.status == "ok" and report.retrained == report.rejected == [math]
    decision = report.task(math)
    assert "< bar 90%" in decision.reason
    assert decision.train_examples + decision.test_examples == 30
    version = flywheel.registry_.get(math, 1)
    assert version.metrics["n"] == decision.test_examples
    assert (version.path / "specialist.json").is_file()
    assert (version.path / "adapter").is_dir()
    assert isinstance(flywheel.registry_.load(math, 1), Specialist)

    # Promoted by hand, v1 becomes the incumbent the next candidate is compared with, loaded
    # with Specialist.load, and a router serves it.
    flywheel.registry_.promote(math, 1)
    store.add_many(calls("math", 30, 20, T0 + timedelta(hours=1)))
    second = flywheel.run_once()
    assert second.retrained == [math]
    again = second.task(math)
    assert again.incumbent_version == 1 and again.incumbent_agreement is not None
    assert again.decision == "rejected" and flywheel.registry_.current(math).version == 1
    router = flywheel.router(lambda messages, tools: "LLM", thresholds=0.0, agent="calculator")
    question = [m.model_dump(include={"role", "content"}) for m in math_call(5, T0).messages]
    answer = router.invoke(question)
    assert answer.task == math and answer.attempts >= 1  # the real specialist was tried


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_default_flywheel_trains_smollm2_specialists(store: sa.Store, tmp_path: Path) -> None:
    store.add_many(calls("math", 0, 40, T0) + calls("weather", 0, 40, T0))
    flywheel = Flywheel(store, tmp_path / "wheel", quality_bar=0.5, bar_bound="point",
                        min_new_examples=30, min_test_examples=5, max_eval_examples=10)
    report = flywheel.run_once()
    assert report.status == "ok" and len(report.retrained) == 2, report.to_markdown()
    assert all(t.candidate_agreement is not None for t in report.tasks)
