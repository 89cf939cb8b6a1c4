"""Choosing base models: hard constraints first, then a documented ranking score.

:func:`select_cards` (what :meth:`ModelCatalog.select` runs) checks every card against every
constraint given and records *all* the reasons a card fails, then ranks the cards left:

``score = 0.6·quality + 0.25·fit + 0.1·tools + 0.05·installed`` (:data:`DEFAULT_WEIGHTS`, each
part in [0, 1]):

* **quality**: the mean of the card's published agent-relevant scores (BFCL, IFEval...) / 100.
  Variants differ (BFCL v2 vs v3, IFEval prompt vs instruction level), so this is a coarse
  signal. A card with no known score gets a conservative size prior, ``0.25 + 0.1·log2(params /
  0.5B)`` clipped to [0.1, 0.6]: bigger models tend to do better, but an unmeasured one should
  not outrank a measured one of its size.
* **fit**: with a memory budget, the share of it left free (``1 - estimate / budget``); without,
  ``1 / (1 + params / 2B)``: smaller models are cheaper to serve and to fine-tune.
* **tools**: 1 when the task calls tools (or ``tool_calling=True`` was asked) and the chat
  template supports tools natively, else 0. Models without native support can still learn our
  ``<tool_call>`` format in fine-tuning, so a task's tool use ranks rather than filters.
* **installed**: 1 when the weights are on this machine (it can be probed and tuned offline now).

Examples:
    >>> from slm_agents.select import ModelCatalog
    >>> picked = ModelCatalog.default().select(memory_gb=2, licenses=["apache-2.0"],
    ...                                        commercial=True, min_context=4096)
    >>> all(card.license == "apache-2.0" for card in picked)
    True
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from ..errors import ConfigError
from .cards import LICENSES, ModelCard
from .memory import MemoryEstimate, estimate_memory

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import ModelCatalog

__all__ = ["CONTEXT_SAFETY", "DEFAULT_CONTEXT", "DEFAULT_WEIGHTS", "Candidate", "Rejection",
           "Selection", "select_cards", "task_needs"]

#: Ranking weights (see the module docstring); override with ``select(weights=...)``.
DEFAULT_WEIGHTS: dict[str, float] = {"quality": 0.6, "fit": 0.25, "tools": 0.1, "installed": 0.05}
#: Tokens per sequence for the memory check when neither the task nor ``min_context`` says.
DEFAULT_CONTEXT = 2048
#: A task known only by its mean tokens needs this multiple of them as context.
CONTEXT_SAFETY = 2.0


@dataclass(frozen=True)
class Candidate:
    """A card that meets the constraints, with its score and what the score rests on."""

    card: ModelCard
    score: float
    parts: dict[str, float]
    memory: MemoryEstimate | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rejection:
    """A card dropped, with every constraint it fails."""

    card: ModelCard
    reasons: list[str]


class Selection(Sequence[ModelCard]):
    """Ranked cards (a sequence of :class:`ModelCard`, best first) with the reasons behind them.

    Attributes:
        kept: :class:`Candidate` per ranked card, best first.
        rejected: :class:`Rejection` per dropped card, in catalog order.
        constraints: The constraints applied, after defaults and the task profile.
    """

    def __init__(self, kept: list[Candidate], rejected: list[Rejection],
                 constraints: dict[str, Any]) -> None:
        self.kept = kept
        self.rejected = rejected
        self.constraints = constraints

    @overload
    def __getitem__(self, index: int) -> ModelCard: ...

    @overload
    def __getitem__(self, index: slice) -> list[ModelCard]: ...

    def __getitem__(self, index: int | slice) -> ModelCard | list[ModelCard]:
        if isinstance(index, slice):
            return [c.card for c in self.kept[index]]
        return self.kept[index].card

    def __len__(self) -> int:
        return len(self.kept)

    def __iter__(self) -> Iterator[ModelCard]:
        return (c.card for c in self.kept)

    def __repr__(self) -> str:
        ids = ", ".join(c.card.id for c in self.kept[:5])
        more = "..." if len(self.kept) > 5 else ""
        return f"Selection([{ids}{more}], {len(self.rejected)} rejected)"

    @property
    def ids(self) -> list[str]:
        """The kept cards' ids, best first."""
        return [c.card.id for c in self.kept]

    @property
    def scores(self) -> dict[str, float]:
        """Card id -> ranking score, best first."""
        return {c.card.id: c.score for c in self.kept}

    def explain(self, card_id: str) -> str:
        """Why ``card_id`` was kept (its score parts) or dropped (every failed constraint).

        Raises:
            KeyError: the card was not considered.
        """
        for rank, candidate in enumerate(self.kept, start=1):
            if candidate.card.id == card_id:
                parts = ", ".join(f"{k} {v:.2f}" for k, v in candidate.parts.items())
                notes = "; ".join(candidate.reasons)
                return (f"{card_id}: kept, rank {rank}, score {candidate.score:.3f} ({parts})"
                        + (f"; {notes}" if notes else ""))
        for rejection in self.rejected:
            if rejection.card.id == card_id:
                return f"{card_id}: rejected: {'; '.join(rejection.reasons)}"
        raise KeyError(f"{card_id!r} was not considered by this selection")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: constraints, kept (id, score, parts, GiB), rejected reasons."""
        return {
            "constraints": self.constraints,
            "kept": [{"id": c.card.id, "score": c.score, "parts": c.parts,
                      "memory_gib": None if c.memory is None else c.memory.total_gib,
                      "reasons": c.reasons} for c in self.kept],
            "rejected": [{"id": r.card.id, "reasons": r.reasons} for r in self.rejected],
        }

    def to_markdown(self) -> str:
        """The ranking and the rejections as Markdown tables."""
        lines = ["| rank | model | score | quality | fit | memory (GiB) | licence | context |",
                 "|---:|---|---:|---:|---:|---:|---|---:|"]
        for rank, c in enumerate(self.kept, start=1):
            memory = "" if c.memory is None else f"{c.memory.total_gib:.2f}"
            lines.append(f"| {rank} | {c.card.id} | {c.score:.3f} | {c.parts['quality']:.2f} | "
                         f"{c.parts['fit']:.2f} | {memory} | {c.card.license} | "
                         f"{c.card.context_length} |")
        if self.rejected:
            lines += ["", "| rejected | why |", "|---|---|"]
            lines += [f"| {r.card.id} | {'; '.join(r.reasons)} |" for r in self.rejected]
        return "\n".join(lines)


def task_needs(task: Any) -> dict[str, Any]:
    """What a task profile asks of a model: ``{"context": int | None, "tools": bool}``.

    ``task`` is a :class:`~slm_agents.cluster.report.TaskStats` (or anything with its
    attributes) or a dict. ``max_input_tokens`` + ``max_output_tokens`` give the context when
    present; otherwise the mean tokens per call (``input_tokens``/``output_tokens`` over
    ``size``) times :data:`CONTEXT_SAFETY`. The task uses tools when ``tools_used`` is not
    empty, ``output_kind`` starts with ``"tool:"``, or ``needs_tools`` is true.

    Examples:
        >>> task_needs({"size": 10, "input_tokens": 5000, "output_tokens": 1000,
        ...             "output_kind": "tool:get_weather"})
        {'context': 1200, 'tools': True}
    """
    def get(name: str) -> Any:
        if isinstance(task, Mapping):
            return task.get(name)
        return getattr(task, name, None)

    context = None
    max_in, max_out = get("max_input_tokens"), get("max_output_tokens")
    size = get("size")
    if max_in is not None:
        context = int(max_in) + int(max_out or 0)
    elif size:
        mean = ((get("input_tokens") or 0) + (get("output_tokens") or 0)) / size
        context = math.ceil(mean * CONTEXT_SAFETY) or None
    kind = get("output_kind") or ""
    tools = bool(get("tools_used")) or str(kind).startswith("tool:") or bool(get("needs_tools"))
    return {"context": context, "tools": tools}


def _check_number(name: str, value: Any, *, integer: bool = False) -> None:
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or (
        integer and not isinstance(value, int))
    if bad or not math.isfinite(value) or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"{name} must be {kind}, got {value!r}")


def _quality(card: ModelCard) -> tuple[float, str]:
    if card.scores:
        values = [s.value for s in card.scores.values()]
        names = ", ".join(f"{n} {s.value:g}" for n, s in card.scores.items())
        return sum(values) / len(values) / 100, f"published scores: {names}"
    prior = min(0.6, max(0.1, 0.25 + 0.1 * math.log2(card.params / 0.5)))
    return prior, "no published agent score: size prior used"


def select_cards(catalog: ModelCatalog, memory_gb: float | None = None, *,
                 training: str | None = None, dtype: str | None = None,
                 licenses: str | Iterable[str] | None = None, commercial: bool | None = None,
                 min_context: int | None = None, tool_calling: bool | None = None,
                 task: Any = None, installed_only: bool = False, top_k: int | None = None,
                 batch: int = 1, weights: Mapping[str, float] | None = None) -> Selection:
    """Filter the catalog by constraints and rank what is left (see the module docstring).

    Args:
        catalog: The cards to choose from.
        memory_gb: Memory budget in GiB for the estimate of :func:`estimate_memory` (inference,
            or ``training``), at the context needed.
        training: ``None`` (serve), ``"lora"``, ``"qlora"`` or ``"full"``.
        dtype: Weight precision for the estimate (default: bf16, nf4 for QLoRA).
        licenses: Allowed licence ids (case-insensitive).
        commercial: ``True`` keeps only licences that allow commercial use.
        min_context: Context the model must support, in tokens (default: from ``task``).
        tool_calling: ``True`` keeps only models whose chat template supports tools.
        task: A task profile (``TaskStats`` or dict, see :func:`task_needs`).
        installed_only: Keep only models installed on this machine.
        top_k: Keep at most this many; the rest are rejected as ranked below.
        batch: Sequences at once, for the memory estimate.
        weights: Ranking weights to override (keys of :data:`DEFAULT_WEIGHTS`).

    Raises:
        ConfigError: a non-positive budget, context, top_k or batch; an unknown licence that
            matches no card (likely a typo); unknown weight names.
    """
    if memory_gb is not None:
        _check_number("memory_gb", memory_gb)
    if min_context is not None:
        _check_number("min_context", min_context, integer=True)
    if top_k is not None:
        _check_number("top_k", top_k, integer=True)
    _check_number("batch", batch, integer=True)
    mix = dict(DEFAULT_WEIGHTS)
    if weights:
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ConfigError(f"unknown ranking weights {sorted(unknown)}; valid: "
                              f"{', '.join(DEFAULT_WEIGHTS)}")
        mix.update(weights)
    allowed = None
    if licenses is not None:
        allowed = {licenses.lower()} if isinstance(licenses, str) else {
            str(x).lower() for x in licenses}
        present = {c.license for c in catalog}
        for name in sorted(allowed - present - set(LICENSES)):
            close = difflib.get_close_matches(name, sorted(present | set(LICENSES)), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"licence {name!r} matches no card and is not a known "
                              f"licence id{hint}")
    needs = task_needs(task) if task is not None else {"context": None, "tools": False}
    context = min_context if min_context is not None else needs["context"]
    wants_tools = bool(tool_calling) or needs["tools"]
    memory_context = context or DEFAULT_CONTEXT
    constraints = {"memory_gb": memory_gb, "training": training, "dtype": dtype,
                   "licenses": None if allowed is None else sorted(allowed),
                   "commercial": commercial, "min_context": context,
                   "tool_calling": tool_calling, "task_uses_tools": needs["tools"],
                   "installed_only": installed_only, "top_k": top_k, "batch": batch,
                   "memory_context": memory_context, "weights": mix}

    kept: list[Candidate] = []
    rejected: list[Rejection] = []
    for card in catalog:
        reasons: list[str] = []
        notes: list[str] = []
        if allowed is not None and card.license.lower() not in allowed:
            reasons.append(f"licence {card.license} not in the allow-list")
        if commercial and not card.commercial_use:
            reasons.append(f"licence {card.license} does not allow commercial use")
        if context is not None and card.context_length < context:
            reasons.append(f"context {card.context_length} < {context} tokens needed")
        if tool_calling and not card.tool_calling:
            reasons.append("no native tool calling in its chat template")
        installed = card.installed
        if installed_only and not installed:
            reasons.append("not installed on this machine")
        memory = estimate_memory(card, dtype, context=memory_context, batch=batch,
                                 training=training)
        if memory_gb is not None and memory.total_gib > memory_gb:
            reasons.append(f"needs ~{memory.total_gib:.2f} GiB "
                           f"({training or 'inference'}, {memory.dtype}, {memory_context} "
                           f"tokens) > {memory_gb} GiB budget")
        if reasons:
            rejected.append(Rejection(card, reasons))
            continue
        quality, why = _quality(card)
        fit = (1 - memory.total_gib / memory_gb) if memory_gb else 1 / (1 + card.params / 2)
        parts = {"quality": quality, "fit": fit,
                 "tools": 1.0 if wants_tools and card.tool_calling else 0.0,
                 "installed": 1.0 if installed else 0.0}
        score = sum(mix[k] * v for k, v in parts.items())
        notes.insert(0, why)
        if wants_tools and not card.tool_calling:
            notes.append("no native tool template: fine-tuning teaches the <tool_call> format")
        kept.append(Candidate(card, score, parts, memory, notes))
    kept.sort(key=lambda c: (-c.score, c.card.params, c.card.id))
    if top_k is not None and len(kept) > top_k:
        for rank, candidate in enumerate(kept[top_k:], start=top_k + 1):
            rejected.append(Rejection(candidate.card, [
                f"ranked {rank} with score {candidate.score:.3f}, below top_k={top_k}"]))
        kept = kept[:top_k]
    return Selection(kept, rejected, constraints)
