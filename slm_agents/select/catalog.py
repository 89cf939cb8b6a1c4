"""The catalog of small models step S4 chooses from.

:meth:`ModelCatalog.default` holds the SLMs the field recommends for agents (SmolLM2, Qwen2.5,
Qwen3, Llama 3.2, Gemma 3, Phi-3/3.5-mini, NVIDIA Nemotron-H, Nemotron Nano and Hymba,
Salesforce xLAM-2, DeepSeek-R1 distills, and 7-8B generalists). Look cards up by id (or hub id),
:meth:`~ModelCatalog.select` the ones that fit a budget and a task, and
:meth:`~ModelCatalog.probe` the installed ones on the task's own data.

Examples:
    >>> catalog = ModelCatalog.default()
    >>> catalog["smollm2-135m"].hub_id
    'HuggingFaceTB/SmolLM2-135M-Instruct'
    >>> best = catalog.select(memory_gb=24, commercial=True, tool_calling=True, top_k=3)
    >>> len(best) <= 3 and all(card.commercial_use and card.tool_calling for card in best)
    True
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .cards import ModelCard
from .selection import Selection, select_cards

if TYPE_CHECKING:  # pragma: no cover
    from .probe import ProbeResult

__all__ = ["ModelCatalog", "UnknownModelError"]

_FORMAT_VERSION = 1


class UnknownModelError(ConfigError, KeyError):
    """No card has that id or hub id; the message lists the closest ids.

    A ``KeyError`` for mapping-style lookups and a :class:`~slm_agents.errors.ConfigError` for
    code that validates options.
    """

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


class ModelCatalog:
    """An ordered collection of :class:`ModelCard`, looked up by id.

    Args:
        cards: Cards or their dicts (as :meth:`ModelCard.to_dict` writes them).

    Raises:
        ConfigError: two cards share an id.

    Examples:
        >>> catalog = ModelCatalog([ModelCatalog.default()["qwen2.5-0.5b"]])
        >>> len(catalog), "qwen2.5-0.5b" in catalog, catalog.families()
        (1, True, ['qwen2.5'])
    """

    def __init__(self, cards: Iterable[ModelCard | Mapping[str, Any]] = ()) -> None:
        self._cards: dict[str, ModelCard] = {}
        for item in cards:
            self.add(item)

    @classmethod
    def default(cls) -> ModelCatalog:
        """The built-in catalog (a new object each call; the cards are immutable)."""
        return cls(_default_cards())

    # ---------------------------------------------------------------- mapping-like access

    def add(self, card: ModelCard | Mapping[str, Any], *, replace: bool = False) -> ModelCard:
        """Add a card (or its dict); ``replace=True`` overwrites one with the same id.

        Raises:
            ConfigError: a card with that id exists and ``replace`` is false.
        """
        card = card if isinstance(card, ModelCard) else ModelCard.from_dict(card)
        if card.id in self._cards and not replace:
            raise ConfigError(f"the catalog already has a card {card.id!r}; pass replace=True "
                              f"to overwrite it")
        self._cards[card.id] = card
        return card

    def __getitem__(self, key: str) -> ModelCard:
        card = self.get(key)
        if card is None:
            raise UnknownModelError(self._unknown(key))
        return card

    def get(self, key: str, default: ModelCard | None = None) -> ModelCard | None:
        """The card with this id (or hub id, case-insensitive), else ``default``."""
        if not isinstance(key, str):
            return default
        if key in self._cards:
            return self._cards[key]
        wanted = key.strip().lower()
        for card in self._cards.values():
            if wanted in (card.id, card.hub_id.lower()):
                return card
        return default

    def _unknown(self, key: object) -> str:
        close = difflib.get_close_matches(str(key).lower(), list(self._cards), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (f"no model {key!r} in the catalog{hint} Known ids: "
                f"{', '.join(self._cards) or 'none'}")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[ModelCard]:
        return iter(list(self._cards.values()))

    def __len__(self) -> int:
        return len(self._cards)

    def __repr__(self) -> str:
        return f"ModelCatalog({len(self)} cards, {len(self.families())} families)"

    @property
    def cards(self) -> list[ModelCard]:
        """Every card, in catalog order."""
        return list(self._cards.values())

    def ids(self) -> list[str]:
        """Every card id, in catalog order."""
        return list(self._cards)

    def families(self) -> list[str]:
        """The families present, in order of first appearance."""
        return list(dict.fromkeys(card.family for card in self._cards.values()))

    def installed(self) -> list[ModelCard]:
        """The cards whose weights are on this machine."""
        return [card for card in self._cards.values() if card.installed]

    # ---------------------------------------------------------------- choosing

    def select(self, memory_gb: float | None = None, *, training: str | None = None,
               dtype: str | None = None, licenses: str | Iterable[str] | None = None,
               commercial: bool | None = None, min_context: int | None = None,
               tool_calling: bool | None = None, task: Any = None,
               installed_only: bool = False, top_k: int | None = None, batch: int = 1,
               weights: Mapping[str, float] | None = None) -> Selection:
        """Cards meeting every constraint, ranked; the others with the reasons they were dropped.

        See :func:`slm_agents.select.selection.select_cards` for the arguments and the ranking
        score. The result is a sequence of :class:`ModelCard` (best first) with ``.kept``
        (scores), ``.rejected`` (reasons), ``.explain(id)`` and ``.to_markdown()``.

        Examples:
            >>> sel = ModelCatalog.default().select(memory_gb=1, commercial=True)
            >>> "smollm2-135m" in sel.ids
            True
            >>> sel.explain("xlam-2-8b").startswith("xlam-2-8b: rejected")
            True
        """
        return select_cards(self, memory_gb, training=training, dtype=dtype, licenses=licenses,
                            commercial=commercial, min_context=min_context,
                            tool_calling=tool_calling, task=task, installed_only=installed_only,
                            top_k=top_k, batch=batch, weights=weights)

    def probe(self, dataset: Any, candidates: Iterable[str | ModelCard] | None = None, *,
              shots: int | Iterable[int] = 0, max_examples: int | None = 50,
              **kwargs: Any) -> list[ProbeResult]:
        """Evaluate installed candidates zero- or few-shot on the task's data; best first.

        See :func:`slm_agents.select.probe.probe` for the arguments.
        """
        from .probe import probe

        return probe(dataset, candidates, catalog=self, shots=shots, max_examples=max_examples,
                     **kwargs)

    # ---------------------------------------------------------------- persistence and display

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"version": 1, "cards": [card dicts]}``."""
        return {"version": _FORMAT_VERSION, "cards": [c.to_dict() for c in self._cards.values()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCatalog:
        """Rebuild a catalog from :meth:`to_dict` output.

        Raises:
            ConfigError: an unsupported format version or no ``cards`` list.
        """
        version = data.get("version", _FORMAT_VERSION)
        if version != _FORMAT_VERSION:
            raise ConfigError(f"unsupported catalog format version {version!r} "
                              f"(this version reads {_FORMAT_VERSION})")
        cards = data.get("cards")
        if not isinstance(cards, list):
            raise ConfigError("a catalog dict needs a 'cards' list")
        return cls(cards)

    def save(self, path: str | Path) -> Path:
        """Write the catalog as JSON; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelCatalog:
        """Read a catalog written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_markdown(self) -> str:
        """A table of the cards: size, architecture, licence, context, tools, scores, installed."""
        lines = ["| id | params (B) | architecture | licence | commercial | context | tools "
                 "| scores | installed |",
                 "|---|---:|---|---|---|---:|---|---|---|"]
        for c in self._cards.values():
            scores = ", ".join(f"{n} {s.value:g}" for n, s in c.scores.items()) or "-"
            lines.append(f"| {c.id} | {c.params:g} | {c.architecture} | {c.license} | "
                         f"{'yes' if c.commercial_use else 'no'} | {c.context_length} | "
                         f"{'yes' if c.tool_calling else 'no'} | {scores} | "
                         f"{'yes' if c.installed else 'no'} |")
        return "\n".join(lines)


_DEFAULT: tuple[ModelCard, ...] | None = None


def _default_cards() -> tuple[ModelCard, ...]:
    global _DEFAULT
    if _DEFAULT is None:
        from ._catalog_data import ENTRIES

        _DEFAULT = tuple(ModelCard.model_validate(entry) for entry in ENTRIES)
    return _DEFAULT
