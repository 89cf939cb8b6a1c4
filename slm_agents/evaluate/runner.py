"""Run a model over a dataset's examples and score its answers against the LLM's logged ones.

For each example, the input is every message before the final assistant turn (with the tools
offered) and the reference is that final turn: what the LLM answered when the call was logged.
The model's :class:`~slm_agents.train.generation.Generation` is scored with the functions of
:mod:`slm_agents.evaluate.metrics`, and the results are aggregated into an
:class:`~slm_agents.evaluate.EvalReport`.

Examples:
    >>> from slm_agents.train.generation import Generation
    >>> class Echo:
    ...     def generate(self, messages, tools=None, **kwargs):
    ...         return Generation(text=messages[-1]["content"])
    >>> data = [{"messages": [{"role": "user", "content": "hi"},
    ...                       {"role": "assistant", "content": "hi"}]}]
    >>> evaluate(Echo(), data, bootstrap=0).agreement
    1.0
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from ..errors import ConfigError
from ..records import ToolCall
from ..train.generation import Generation, GenerativeModel, example_reference, parse_tool_output
from .metrics import ToolCallScore, exact_match, schema_errors, score_tool_calls, token_f1
from .report import EvalReport, ExampleResult, Prices

__all__ = ["evaluate", "score_example"]

logger = logging.getLogger("slm_agents")

_PROGRESS_MIN = 20  # below this many examples a progress bar is noise


def score_example(prediction: Generation, reference: Generation,
                  tools: Sequence[Mapping[str, Any]] | None = None, *, index: int = 0,
                  task: str = "unassigned", key: str = "", error: str | None = None,
                  agreement_f1: float = 0.8, unordered_lists: bool = False) -> ExampleResult:
    """Score one prediction against its reference (see :mod:`slm_agents.evaluate.report` for
    what each flag means and when it applies).

    Args:
        prediction: The model's answer (an empty one when the call failed).
        reference: The LLM's logged answer.
        tools: The tools offered.
        index: The example's position in the dataset.
        task: The example's task.
        key: The example's fingerprint (pairs examples across reports).
        error: Why the model's call failed, when it did.
        agreement_f1: Token F1 at which a text answer agrees with a text reference.
        unordered_lists: Compare list arguments as multisets.

    Examples:
        >>> from slm_agents.records import ToolCall
        >>> ref = Generation(tool_calls=[ToolCall(name="f", arguments={"n": 1})])
        >>> score_example(Generation(tool_calls=[ToolCall(name="f", arguments={"n": "1"})]),
        ...               ref).agreement
        True
    """
    failed = error is not None
    result = ExampleResult(index=index, task=task, key=key, reference=reference,
                           prediction=prediction, error=error)
    predicted_calls = prediction.tool_calls
    if reference.tool_calls:
        score = score_tool_calls(predicted_calls, reference.tool_calls, tools,
                                 unordered_lists=unordered_lists)
        result.tool_call_exact = score.exact
        result.tool_name_accuracy = score.name_accuracy
        result.argument_match = score.argument_match
        result.call_when_needed = bool(predicted_calls)
        result.call_mismatches = _mismatches(score, predicted_calls, reference.tool_calls)
    else:
        # An empty answer from a failed call did not "correctly refrain" from calling.
        result.no_call_when_none_needed = not predicted_calls and not failed
    if predicted_calls:
        problems = [e for call in predicted_calls for e in schema_errors(call, tools)]
        result.schema_valid = not problems
        result.schema_errors = problems
    if reference.text is not None and not reference.tool_calls:
        # Text beside a reference's tool calls is a preamble ("Let me check."): not the answer.
        result.exact_match = exact_match(prediction.text, reference.text)
        result.token_f1 = token_f1(prediction.text, reference.text)
    if failed:
        result.agreement = False
    elif reference.tool_calls:
        result.agreement = bool(result.tool_call_exact)
    else:
        text_agrees = exact_match(prediction.text, reference.text) or (
            reference.text is not None and token_f1(prediction.text, reference.text)
            >= agreement_f1)
        result.agreement = not predicted_calls and text_agrees
    return result


def _mismatches(score: ToolCallScore, predicted: Sequence[ToolCall],
                reference: Sequence[ToolCall]) -> list[str]:
    """What differs between paired calls, and the calls left unpaired on either side."""
    notes: list[str] = []
    for pair in score.pairs:
        expected, got = reference[pair.reference], predicted[pair.predicted]
        if not pair.name_match:
            notes.append(f"called {got.name} instead of {expected.name}")
        else:
            notes += [f"wrong argument {expected.name}.{key}" for key in pair.wrong_arguments]
    paired_r = {p.reference for p in score.pairs}
    paired_p = {p.predicted for p in score.pairs}
    notes += [f"missing call {c.name}" for i, c in enumerate(reference) if i not in paired_r]
    notes += [f"extra call {c.name}" for i, c in enumerate(predicted) if i not in paired_p]
    return notes


def _examples(dataset: Any) -> list[tuple[Mapping[str, Any], str]]:
    """``(example, task)`` pairs from a Dataset or a sequence of example dicts."""
    examples = getattr(dataset, "examples", None)
    meta = getattr(dataset, "meta", None)
    if isinstance(examples, list) and isinstance(meta, list):
        return [(ex, str((m or {}).get("task") or "unassigned"))
                for ex, m in zip(examples, meta, strict=False)]
    if hasattr(dataset, "test") and hasattr(dataset, "train"):
        raise TypeError("evaluate() takes one dataset, not DatasetSplits: pass splits.test "
                        "(or splits.validation)")
    if isinstance(dataset, (str, bytes, Mapping)) or not isinstance(dataset, Iterable):
        raise TypeError("dataset must be a slm_agents.Dataset or a list of chat examples "
                        "({'messages': [...], 'tools': [...]}); got "
                        f"{type(dataset).__name__}")
    pairs = []
    for item in dataset:
        task = "unassigned"
        if isinstance(item, Mapping) and isinstance(item.get("meta"), Mapping):
            task = str(item["meta"].get("task") or "unassigned")
        pairs.append((item, task))
    return pairs


def _fingerprint(messages: Any, tools: Any, final: Any) -> str:
    blob = orjson.dumps({"m": messages, "t": tools, "r": final},
                        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(blob).hexdigest()[:20]


def _coerce(answer: Any, tools: Sequence[Mapping[str, Any]] | None) -> Generation:
    """The model's answer as a Generation: a Generation, a dict of its fields, or raw text."""
    if isinstance(answer, Generation):
        return answer
    if isinstance(answer, str):
        return parse_tool_output(answer, tools)
    if isinstance(answer, Mapping):
        return Generation.model_validate(answer)
    raise TypeError(f"generate() returned {type(answer).__name__}, expected a Generation")


def _label(model: Any) -> str:
    for attribute in ("name", "model_name", "base_model"):
        value = getattr(model, attribute, None)
        if isinstance(value, str) and value:
            return value
    if type(model).__repr__ is not object.__repr__:  # a class's own repr names it best
        text = repr(model)
        if len(text) <= 100:
            return text
    return type(model).__name__


def _progress(items: list[Any], enabled: bool) -> Iterable[Any]:
    if not enabled or len(items) < _PROGRESS_MIN:
        return items
    try:
        from tqdm import tqdm
    except ImportError:  # a progress bar is a nicety: run without one
        return items
    return tqdm(items, desc="evaluate", unit="example")


def evaluate(model: GenerativeModel, dataset: Any, *, max_examples: int | None = None,
             prices: Prices | Mapping[str, float] | None = None, bootstrap: int = 1000,
             seed: int = 0, progress: bool = True, confidence: float = 0.95,
             agreement_f1: float = 0.8, unordered_lists: bool = False,
             generate_kwargs: Mapping[str, Any] | None = None,
             name: str | None = None) -> EvalReport:
    """Evaluate ``model`` on ``dataset`` against the LLM's logged answers.

    Every example is checked before the model runs, so a malformed one fails fast. A call that
    raises is recorded as a failure (``error`` on its :class:`ExampleResult`; it never agrees)
    and the run goes on. When the model's Generation reports no latency, the wall time of the
    ``generate`` call is used.

    Args:
        model: Anything with ``generate(messages, tools=None, **kwargs)`` returning a
            :class:`~slm_agents.train.generation.Generation` (raw text is parsed with
            :func:`~slm_agents.train.generation.parse_tool_output`).
        dataset: A :class:`slm_agents.Dataset` (its ``meta`` gives each example's task) or a
            list of ``{"messages": [...], "tools": [...]}`` examples (an optional ``"meta"``
            key gives the task).
        max_examples: Evaluate only the first this many examples.
        prices: :class:`Prices` (or its fields as a dict) for the cost per 1K calls.
        bootstrap: Bootstrap resamples for the intervals (0: no intervals, no numpy).
        seed: Seed of the bootstrap.
        progress: Show a tqdm progress bar (when tqdm is installed and there are at least 20
            examples).
        confidence: Coverage of the intervals.
        agreement_f1: Token F1 at which a text answer agrees with the LLM's text.
        unordered_lists: Compare every list argument as a multiset (by default only lists whose
            schema says ``uniqueItems``).
        generate_kwargs: Passed to every ``generate`` call (``max_new_tokens``...).
        name: A label for the model in the report (default: its ``name`` or class name).

    Returns:
        The :class:`EvalReport`.

    Raises:
        ConfigError: an empty dataset, ``max_examples`` below 1, an example without a final
            assistant turn (the message names its index), or a bad ``bootstrap``,
            ``confidence`` or ``agreement_f1``.
        TypeError: ``model`` has no ``generate`` method or ``dataset`` is not a dataset.
    """
    if not callable(getattr(model, "generate", None)):
        raise TypeError(f"model must have a generate(messages, tools=None) method; got "
                        f"{type(model).__name__}")
    if max_examples is not None and max_examples < 1:
        raise ConfigError(f"max_examples must be at least 1, got {max_examples}")
    if bootstrap < 0:
        raise ConfigError(f"bootstrap must be 0 (no intervals) or more, got {bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1, got {confidence}")
    if not 0.0 <= agreement_f1 <= 1.0:
        raise ConfigError(f"agreement_f1 must be between 0 and 1, got {agreement_f1}")
    if isinstance(prices, Mapping):
        try:
            prices = Prices.model_validate(dict(prices))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ConfigError(f"invalid prices: {exc}") from exc
    pairs = _examples(dataset)
    if max_examples is not None:
        pairs = pairs[:max_examples]
    if not pairs:
        raise ConfigError("cannot evaluate on an empty dataset")
    cases = []
    seen: Counter[str] = Counter()
    for index, (example, task) in enumerate(pairs):
        if not isinstance(example, Mapping):
            raise ConfigError(f"example {index} is a {type(example).__name__}, not a dict")
        try:
            messages, tools, reference = example_reference(example)
        except ValueError as exc:
            raise ConfigError(f"example {index}: {exc}; every example must end with the "
                              f"assistant turn to compare with") from exc
        key = _fingerprint(messages, tools, example["messages"][-1])
        seen[key] += 1
        if seen[key] > 1:
            key = f"{key}#{seen[key] - 1}"
        cases.append((index, task, key, messages, tools, reference))
    kwargs = dict(generate_kwargs or {})
    results = []
    for index, task, key, messages, tools, reference in _progress(cases, progress):
        error = None
        started = time.perf_counter()
        try:
            prediction = _coerce(model.generate(messages, tools=tools, **kwargs), tools)
        except Exception as exc:  # one bad call must not end the run
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("evaluate: example %d failed: %s", index, error)
            prediction = Generation()
        elapsed_ms = (time.perf_counter() - started) * 1000
        if error is None and not prediction.latency_ms:
            prediction = prediction.model_copy(update={"latency_ms": elapsed_ms})
        results.append(score_example(prediction, reference, tools, index=index, task=task,
                                     key=key, error=error, agreement_f1=agreement_f1,
                                     unordered_lists=unordered_lists))
    report = EvalReport.from_results(results, model=name or _label(model), prices=prices,
                                     bootstrap=bootstrap, seed=seed, confidence=confidence,
                                     agreement_f1=agreement_f1)
    logger.info("evaluate: %s", report.summary())
    return report
