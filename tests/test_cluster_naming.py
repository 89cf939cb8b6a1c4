"""Task names: c-TF-IDF keywords, the dominant tool or agent, and the namer hook."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from slm_agents.cluster.features import view_of
from slm_agents.cluster.naming import (
    TaskSummaryInput,
    class_tfidf_keywords,
    default_name,
    name_tasks,
)
from slm_agents.records import CallRecord, Message, ToolCall

CORPUS = [
    "book a flight to Rome", "cheap flight to Paris", "flight from Oslo to Lima",
    "weather in Rome tomorrow", "will it rain in Paris", "weather forecast for Oslo",
    "refund my order", "refund for a broken order", "I want my money back for this order",
]
LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])


def test_ctfidf_keywords_are_the_words_typical_of_each_task() -> None:
    keywords = class_tfidf_keywords(CORPUS, LABELS, top_n=3)
    assert keywords[0][0] == "flight"
    assert keywords[1][0] == "weather"
    assert keywords[2][0] in {"order", "refund"}
    # City names appear in two tasks: they rank below the words of one task.
    assert "rome" not in keywords[0][:1]


def test_ctfidf_ignores_numbers_stop_words_and_unassigned_items() -> None:
    keywords = class_tfidf_keywords(["the 123 of", "flight 42", "noise words"],
                                    np.array([0, 1, -1]))
    assert keywords == {0: [], 1: ["flight"]}


def test_ctfidf_with_only_stop_words_gives_empty_keywords() -> None:
    assert class_tfidf_keywords(["the", "of and"], np.array([0, 0])) == {0: []}


@pytest.mark.parametrize(("outputs", "agents", "name"), [
    # a tool call names the task
    ({"tool:search": 3, "text": 1}, {"travel": 4}, "search: flight, fare"),
    # text outputs: the agent names it
    ({"text": 4}, {"travel": 4}, "travel: flight, fare"),
    # plain strings: keywords only
    ({}, {}, "flight, fare"),
])
def test_default_name_is_the_dominant_tool_or_agent_then_keywords(
        outputs: dict, agents: dict, name: str) -> None:
    assert default_name(0, ["flight", "fare"], outputs, agents) == name


def test_a_task_with_nothing_to_say_is_called_by_its_number() -> None:
    assert default_name(7, [], {}, {}) == "task 7"


def _views() -> list:
    return [view_of(CallRecord(agent="travel", messages=[Message(role="user", content=t)],
                               tool_calls=[ToolCall(name="search")])) for t in CORPUS[:3]]


def test_the_namer_hook_receives_a_summary_and_names_the_task() -> None:
    seen: list[TaskSummaryInput] = []

    def namer(summary: TaskSummaryInput) -> str:
        seen.append(summary)
        return "Flight search"

    names = name_tasks(_views(), np.array([0, 0, 0]), {0: ["flight"]}, {0: [1, 0]}, namer)
    assert names == {0: "Flight search"}
    assert seen[0].size == 3 and seen[0].output_kinds == {"tool:search": 3}
    assert seen[0].examples == [CORPUS[1], CORPUS[0]]
    assert seen[0].default_name == "search: flight"


def test_a_failing_namer_keeps_the_default_name_and_warns(caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    def namer(summary: TaskSummaryInput) -> str:
        raise RuntimeError("LLM down")

    with caplog.at_level(logging.WARNING, logger="slm_agents"):
        names = name_tasks(_views(), np.array([0, 0, 0]), {0: ["flight"]}, {}, namer)
    assert names == {0: "search: flight"}
    assert "LLM down" in caplog.text


def test_tasks_that_would_share_a_name_are_told_apart_by_their_label() -> None:
    names = name_tasks(_views(), np.array([0, 0, 1]), {0: ["flight"], 1: ["flight"]}, {})
    assert names == {0: "search: flight (0)", 1: "search: flight (1)"}
