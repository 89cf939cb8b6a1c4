"""A running router follows the registry: promotions and rollbacks without a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_refine_support import RuleSpecialist

from slm_agents.errors import ModelLoadError
from slm_agents.refine import ModelRegistry, RegistrySpecialists
from slm_agents.route import Router

ASK = [{"role": "user", "content": "Please add 2 and 3 together."}]


class Tagged(RuleSpecialist):
    """Answers with its tag, so a test sees which version served."""

    def generate(self, messages: Any, tools: Any = None, **kwargs: Any) -> Any:
        from slm_agents.train.generation import Generation

        return Generation(text=f"served by {self.tag}")

    @classmethod
    def load(cls, path: str | Path) -> Tagged:
        loaded = RuleSpecialist.load(path)
        return cls(loaded.skill, loaded.error_rate, loaded.tag)


class Loads:
    """A loader that counts the loads (to show lazy, once-per-version loading)."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def __call__(self, path: Path) -> Tagged:
        self.paths.append(path)
        return Tagged.load(path)


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    registry = ModelRegistry(tmp_path / "registry")
    for tag in ("v1", "v2"):
        registry.register(7, Tagged("math", tag=tag))
    registry.promote(7, 1)
    return registry


def _router(specialists: RegistrySpecialists) -> Router:
    return Router(lambda messages, tools: "the LLM", specialists=specialists,
                  policy=lambda call: (7, 1.0))


def test_rollback_restores_the_previous_version_in_a_running_router(
        registry: ModelRegistry) -> None:
    router = _router(RegistrySpecialists(registry, loader=Tagged.load, check_interval=0))
    assert router.invoke(ASK).text == "served by v1"
    registry.promote(7, 2)
    answer = router.invoke(ASK)
    assert (answer.text, answer.route) == ("served by v2", "specialist")
    registry.rollback(7)
    assert router.invoke(ASK).text == "served by v1"


def test_a_task_with_no_promoted_version_left_goes_to_the_llm(registry: ModelRegistry) -> None:
    router = _router(RegistrySpecialists(registry, loader=Tagged.load, check_interval=0))
    assert router.invoke(ASK).route == "specialist"
    registry.rollback(7)  # v1 was the only promoted version
    answer = router.invoke(ASK)
    assert (answer.text, answer.route) == ("the LLM", "llm")


def test_models_load_lazily_once_per_version_and_checks_respect_the_interval(
        registry: ModelRegistry) -> None:
    loads = Loads()
    specialists = RegistrySpecialists(registry, loader=loads, check_interval=3600)
    assert list(specialists) == [7] and loads.paths == []
    model = specialists[7]
    assert model.generate(ASK).text == "served by v1"
    assert model.generate(ASK).text == "served by v1" and len(loads.paths) == 1
    registry.promote(7, 2)
    # Within the interval the registry is not looked at again...
    assert model.generate(ASK).text == "served by v1"
    # ...until the next check.
    assert specialists.refresh() is True
    assert model.generate(ASK).text == "served by v2" and len(loads.paths) == 2
    assert specialists.versions() == {7: 2} and model.version == 2


def test_the_mapping_lists_only_tasks_with_a_promoted_version(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.register("draft", Tagged("math", tag="d"))
    specialists = RegistrySpecialists(registry, loader=Tagged.load, preload=True)
    assert len(specialists) == 0 and "draft" not in specialists
    with pytest.raises(KeyError):
        specialists["draft"]


def test_a_proxy_without_a_version_raises_a_load_error(registry: ModelRegistry) -> None:
    specialists = RegistrySpecialists(registry.root, loader=Tagged.load, check_interval=0)
    model = specialists[7]
    registry.rollback(7)
    with pytest.raises(ModelLoadError, match="no promoted specialist"):
        model.generate(ASK)
