"""select(): every constraint is respected, every rejection explained, the ranking documented."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from slm_agents.errors import ConfigError
from slm_agents.select import ModelCard, ModelCatalog, Selection, estimate_memory, task_needs


@pytest.fixture(scope="module")
def catalog() -> ModelCatalog:
    return ModelCatalog.default()


# constraint kwargs, a check every kept card passes, a phrase in the reasons of rejected cards
CONSTRAINTS: list[tuple[dict[str, Any], Callable[[ModelCard], bool], str]] = [
    # a memory budget for serving at bf16 with the default 2,048-token context
    ({"memory_gb": 4},
     lambda c: estimate_memory(c, "bf16", context=2048).total_gib <= 4, "GiB budget"),
    # a budget for QLoRA fine-tuning
    ({"memory_gb": 6, "training": "qlora"},
     lambda c: estimate_memory(c, context=2048, training="qlora").total_gib <= 6, "qlora"),
    # a licence allow-list
    ({"licenses": ["apache-2.0", "mit"]},
     lambda c: c.license in ("apache-2.0", "mit"), "not in the allow-list"),
    # commercial use required
    ({"commercial": True}, lambda c: c.commercial_use, "does not allow commercial use"),
    # a long context
    ({"min_context": 65536}, lambda c: c.context_length >= 65536, "tokens needed"),
    # native tool calling
    ({"tool_calling": True}, lambda c: c.tool_calling, "no native tool calling"),
    # installed only
    ({"installed_only": True}, lambda c: c.installed, "not installed"),
]


@pytest.mark.parametrize(("kwargs", "holds", "reason"), CONSTRAINTS)
def test_select_respects_each_constraint_and_explains_rejections(
        catalog: ModelCatalog, kwargs: dict[str, Any], holds: Callable[[ModelCard], bool],
        reason: str) -> None:
    selection = catalog.select(**kwargs)
    assert all(holds(card) for card in selection)
    for rejection in selection.rejected:
        assert not holds(rejection.card)
        assert any(reason in r for r in rejection.reasons), rejection
    assert len(selection) + len(selection.rejected) == len(catalog)


def test_all_constraints_together_and_every_failed_one_is_listed(catalog: ModelCatalog) -> None:
    selection = catalog.select(memory_gb=8, licenses=["apache-2.0", "mit"], commercial=True,
                               min_context=4096, tool_calling=True)
    assert selection.ids and all(c.license in ("apache-2.0", "mit") and c.commercial_use
                                 and c.context_length >= 4096 and c.tool_calling
                                 for c in selection)
    xlam = selection.explain("xlam-2-8b")
    for reason in ("allow-list", "commercial use", "GiB budget"):
        assert reason in xlam
    assert selection.explain(selection.ids[0]).startswith(f"{selection.ids[0]}: kept, rank 1")
    with pytest.raises(KeyError):
        selection.explain("not-a-card")


def test_ranking_is_sorted_and_follows_the_documented_score(catalog: ModelCatalog) -> None:
    selection = catalog.select(memory_gb=16)
    scores = [c.score for c in selection.kept]
    assert scores == sorted(scores, reverse=True)
    for candidate in selection.kept:
        parts = candidate.parts
        expected = (0.6 * parts["quality"] + 0.25 * parts["fit"] + 0.1 * parts["tools"]
                    + 0.05 * parts["installed"])
        assert candidate.score == pytest.approx(expected)
        assert candidate.parts["fit"] == pytest.approx(1 - candidate.memory.total_gib / 16)
        if candidate.card.scores:
            mean = sum(s.value for s in candidate.card.scores.values()) / len(
                candidate.card.scores) / 100
            assert parts["quality"] == pytest.approx(mean)
        else:
            assert "size prior" in candidate.reasons[0]


def test_installed_models_get_the_installed_bonus(catalog: ModelCatalog) -> None:
    if not catalog["smollm2-135m"].installed:
        pytest.skip("the offline SmolLM2 is not installed")
    only_installed = {"quality": 0.0, "fit": 0.0, "tools": 0.0, "installed": 1.0}
    assert catalog.select(weights=only_installed)[0].id == "smollm2-135m"


def test_top_k_keeps_the_best_and_explains_the_rest(catalog: ModelCatalog) -> None:
    everything = catalog.select(memory_gb=10)
    top = catalog.select(memory_gb=10, top_k=3)
    assert top.ids == everything.ids[:3]
    dropped = [r for r in top.rejected if any("top_k=3" in x for x in r.reasons)]
    assert len(dropped) == len(everything) - 3


def test_a_task_profile_sets_the_context_and_favours_native_tools(catalog: ModelCatalog) -> None:
    task = {"size": 100, "input_tokens": 300_000, "output_tokens": 20_000,
            "output_kind": "tool:get_weather", "tools_used": {"get_weather": 100}}
    assert task_needs(task) == {"context": 6400, "tools": True}
    selection = catalog.select(task=task)
    assert selection.constraints["min_context"] == 6400
    assert "phi-3-mini-4k" not in selection.ids  # 4K context < 6,400 tokens
    for candidate in selection.kept:
        assert candidate.parts["tools"] == (1.0 if candidate.card.tool_calling else 0.0)
    # An explicit maximum wins over the mean-based guess.
    assert task_needs({"max_input_tokens": 900, "max_output_tokens": 100})["context"] == 1000


def test_a_cluster_report_task_stats_is_accepted(catalog: ModelCatalog) -> None:
    report = pytest.importorskip("slm_agents.cluster.report")
    stats = report.TaskStats(task_id=0, name="weather", size=10, input_tokens=2000,
                             output_tokens=500, output_kind="text")
    assert task_needs(stats) == {"context": 500, "tools": False}
    assert catalog.select(task=stats, top_k=2).constraints["min_context"] == 500


def test_selection_is_a_sequence_of_cards(catalog: ModelCatalog) -> None:
    selection = catalog.select(memory_gb=2, commercial=True)
    assert isinstance(selection, Selection)
    assert list(selection) == [selection[i] for i in range(len(selection))]
    assert selection[:2] == list(selection)[:2]
    assert "rejected" in repr(selection)
    table = selection.to_markdown()
    assert all(card_id in table for card_id in catalog.ids())
    data = selection.to_dict()
    assert [k["id"] for k in data["kept"]] == selection.ids


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"memory_gb": -1}, "memory_gb must be a positive number"),
    ({"memory_gb": 0}, "memory_gb must be a positive number"),
    ({"memory_gb": float("nan")}, "memory_gb must be a positive number"),
    ({"min_context": 0}, "min_context must be a positive integer"),
    ({"top_k": 0}, "top_k must be a positive integer"),
    ({"batch": 1.5}, "batch must be a positive integer"),
    ({"licenses": ["apache2.0"]}, "did you mean apache-2.0"),    # a typo, not a licence
    ({"weights": {"speed": 1}}, "unknown ranking weights"),
    ({"training": "rlhf"}, "valid methods are"),
])
def test_bad_input_gives_clear_errors(catalog: ModelCatalog, kwargs: dict[str, Any],
                                      message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        catalog.select(**kwargs)


def test_a_licence_missing_from_the_catalog_but_known_is_fine(catalog: ModelCatalog) -> None:
    # bsd-3-clause is a real licence no card uses: nothing is kept, nothing is an error.
    assert len(catalog.select(licenses="bsd-3-clause")) == 0
