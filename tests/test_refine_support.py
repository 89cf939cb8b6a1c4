"""Shared material for the refine tests: an agent's logged calls and a stand-in trainer.

The calls belong to three templated tasks (a weather tool call, an addition, a translation) with
distinct inputs, so curation keeps them and a clusterer can tell them apart. Record ids are fixed
(``math-12``), so the flywheel's hash-based held-out split is the same in every run.

:class:`RuleTuner` stands in for a user-supplied ``fine_tuner_factory`` (the edge of the flywheel:
real training is exercised separately with a tiny transformers model). It "learns" which of the
known skills the training examples show, and returns a :class:`RuleSpecialist` that applies it,
answering wrongly on a chosen share of inputs (``error_rate``: a sabotaged candidate). Specialists
save to and load from a folder, as real ones do.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from slm_agents import CallRecord, Message, ToolCall
from slm_agents.train.generation import Generation

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Forecast for a weather station.",
    "parameters": {"type": "object", "properties": {"station": {"type": "string"}},
                   "required": ["station"]}}}
FRENCH = {f"word{i}": f"mot{i}" for i in range(1000)}
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def weather_call(i: int, when: datetime, **kw: Any) -> CallRecord:
    station = f"ST{i:04d}"
    return CallRecord(
        id=kw.pop("id", f"weather-{i}"), agent="weather_bot", started_at=when, tools=[WEATHER_TOOL],
        messages=[Message(role="system", content="You answer weather questions with tools."),
                  Message(role="user", content=f"What is the forecast for station {station}?")],
        tool_calls=[ToolCall(name="get_weather", arguments={"station": station},
                             id=f"c{i}")], **kw)


def math_call(i: int, when: datetime, **kw: Any) -> CallRecord:
    a, b = 1000 + 7 * i, 3 * i + 11
    return CallRecord(
        id=kw.pop("id", f"math-{i}"), agent="calculator", started_at=when,
        messages=[Message(role="system", content="You are a calculator. Reply with a number."),
                  Message(role="user", content=f"Please add {a} and {b} together.")],
        output=str(a + b), **kw)


def translate_call(i: int, when: datetime, **kw: Any) -> CallRecord:
    return CallRecord(
        id=kw.pop("id", f"translate-{i}"), agent="translator", started_at=when,
        messages=[Message(role="system", content="Translate English words into French."),
                  Message(role="user", content=f"Translate the English word word{i} into "
                                               "French, one word only.")],
        output=FRENCH[f"word{i}"], **kw)


MAKERS: dict[str, Callable[..., CallRecord]] = {
    "weather": weather_call, "math": math_call, "translate": translate_call}


def calls(kind: str, start: int, n: int, at: datetime, **kw: Any) -> list[CallRecord]:
    """``n`` calls of one task, numbered from ``start``, one second apart from ``at``."""
    return [MAKERS[kind](start + j, at + timedelta(seconds=j), **kw) for j in range(n)]


# ---------------------------------------------------------------------------- the stand-in model
def _last_user(messages: Sequence[Mapping[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages)
                 if m.get("role") == "user"), "")


def _wrong(text: str, error_rate: float) -> bool:
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < error_rate


def answer(skill: str, text: str) -> Generation:
    if skill == "weather":
        match = re.search(r"station (\w+)", text)
        station = match.group(1) if match else "?"
        return Generation(text=None, tool_calls=[ToolCall(name="get_weather",
                                                             arguments={"station": station})])
    if skill == "math":
        numbers = [int(x) for x in re.findall(r"\d+", text)]
        return Generation(text=str(sum(numbers)))
    if skill == "translate":
        match = re.search(r"word\d+", text)
        return Generation(text=FRENCH.get(match.group(0), "?") if match else "?")
    return Generation(text="I do not know.")


class RuleSpecialist:
    """Applies one skill; wrong on ``error_rate`` of the inputs (chosen by a hash)."""

    def __init__(self, skill: str, error_rate: float = 0.0, tag: str = "") -> None:
        self.skill, self.error_rate, self.tag = skill, error_rate, tag

    def generate(self, messages: Sequence[Mapping[str, Any]], tools: Any = None,
                 **kwargs: Any) -> Generation:
        text = _last_user(messages)
        if _wrong(text, self.error_rate):
            return Generation(text="wrong answer")
        return answer(self.skill, text)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "rule.json").write_text(json.dumps(
            {"skill": self.skill, "error_rate": self.error_rate, "tag": self.tag}))
        return path

    @classmethod
    def load(cls, path: str | Path) -> RuleSpecialist:
        data = json.loads((Path(path) / "rule.json").read_text())
        return cls(data["skill"], data["error_rate"], data["tag"])


def skill_of(examples: Sequence[Mapping[str, Any]]) -> str:
    """The skill most training examples show."""
    votes: dict[str, int] = {}
    for example in examples:
        last = example["messages"][-1]
        text = _last_user(example["messages"])
        skill = ("weather" if last.get("tool_calls") else "math" if "add" in text
                 else "translate" if "Translate" in text else "unknown")
        votes[skill] = votes.get(skill, 0) + 1
    return max(votes, key=lambda k: votes[k])


class RuleTuner:
    """A ``FineTuner`` stand-in: ``fit(train, eval_dataset)`` returns a RuleSpecialist."""

    def __init__(self, error_rate: float = 0.0, tag: str = "") -> None:
        self.error_rate, self.tag = error_rate, tag
        self.fitted_on: int | None = None

    def fit(self, train: Any, eval_dataset: Any = None) -> RuleSpecialist:
        examples = list(train)
        self.fitted_on = len(examples)
        return RuleSpecialist(skill_of(examples), self.error_rate, self.tag)


class Factory:
    """``task -> RuleTuner`` with per-skill error rates; remembers which tasks it trained."""

    def __init__(self, error_rates: Mapping[str, float] | None = None, tag: str = "") -> None:
        self.error_rates = dict(error_rates or {})
        self.tag = tag
        self.trained: list[Any] = []

    def __call__(self, task: Any) -> Any:
        self.trained.append(task)
        factory = self

        class _Tuner(RuleTuner):
            def fit(self, train: Any, eval_dataset: Any = None) -> RuleSpecialist:
                skill = skill_of(list(train))
                self.error_rate = factory.error_rates.get(skill, 0.0)
                return super().fit(train, eval_dataset)

        return _Tuner(tag=self.tag)


# ---------------------------------------------------------------------------- the stand-in's tests
def test_the_stand_in_learns_the_skill_it_is_shown_and_round_trips(tmp_path: Path) -> None:
    from slm_agents.curate.chat_format import record_to_example

    examples = [record_to_example(r) for r in calls("math", 0, 5, T0)]
    specialist = Factory({"math": 0.0}, tag="x")(0).fit(examples)
    question = [{"role": "user", "content": "Please add 2 and 40 together."}]
    assert specialist.generate(question).text == "42"
    loaded = RuleSpecialist.load(specialist.save(tmp_path / "s"))
    assert (loaded.skill, loaded.tag) == ("math", "x")


def test_a_sabotaged_stand_in_is_wrong_on_about_its_error_rate() -> None:
    bad = RuleSpecialist("math", error_rate=0.4)
    answers = [bad.generate([{"role": "user", "content": f"Please add {i} and 1 together."}])
               for i in range(200)]
    wrong = sum(a.text == "wrong answer" for a in answers) / 200
    assert 0.3 < wrong < 0.5
