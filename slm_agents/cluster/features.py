"""What a call is, for clustering: its variable content plus its structure, as one vector.

A task is more than the words a user typed: in an agent loop, several different LLM calls share the
same last user turn (plan, call a tool, summarise the tool's result), and two agents may receive the
same text. So each call is described by five signals (:class:`CallView`):

- ``text``: the variable content, i.e. the last user turn and the tool results that follow it (never
  the system prompt, which is the same for every call of a template);
- ``agent``: the agent's name;
- ``template``: the system prompt with its variable parts masked (:func:`mask_template`: numbers,
  dates, times, e-mails, URLs, ids, quoted strings), so that "Today is 2024-05-01" and "Today is
  2024-05-02" are the same template, then described by its content words (hashed into
  :data:`TEMPLATE_DIM` columns), so that a prompt with an unmasked name in it stays close to the
  other prompts of its template;
- ``tools``: the set of tool names offered;
- ``output``: the output kind, ``"tool:<name>"`` for a tool call, ``"text"`` or ``"error"``.

:class:`FeatureSpace` turns views into rows: an L2-normalised text embedding, then one unit-norm
block per structural signal (one-hot for agent and output, a normalised multi-hot for the tools
offered and for the template's words), each block multiplied by ``sqrt(weight)``. As every block
has unit norm before weighting, the dot product of two rows is ``sum(weight_b * cos_b)``: each
weight is the block's share of the similarity, a weight of 1 gives a signal as much say as the
text, and 0 leaves it out.

A signal that is unknown for a call (plain strings have no agent; a call not yet answered has no
output) is *absent*: its block is zero and :meth:`FeatureSpace.transform` reports the summed weight
of the blocks that are present, so similarities can be averaged over what is known only.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import ClusteringError, ConfigError
from ..records import CallRecord

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "BLOCKS",
    "TEMPLATE_DIM",
    "CallView",
    "FeatureSpace",
    "as_items",
    "content_text",
    "content_text_of",
    "mask_template",
    "output_kind",
    "template_buckets",
    "view_of",
    "view_of_turns",
]

BLOCKS = ("text", "agent", "template", "tools", "output")
ACCEPTED_FORMS = "a CallRecord, a str, or a dict of CallRecord fields"

_MAX_PART = 2000  # characters of one message kept for the embedding (MiniLM reads 256 tokens)
_MAX_CATEGORIES = 2048  # rarer values of one signal get no column: they count as "seen nowhere"
TEMPLATE_DIM = 512  # hashed word columns of the template block
_WORD = re.compile(r"<[a-z]+>|[a-z][a-z0-9_']+")

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# Order matters: URLs and e-mails contain numbers and dots; dates contain numbers.
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, flags), token)
    for pattern, token, flags in (
        (r"\b(?:https?|ftp)://[^\s<>\"']+|\bwww\.[^\s<>\"']+", "<url>", re.I),
        (r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b", "<email>", 0),
        (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<id>", re.I),
        (r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
         r"(?:Z|[+-]\d{2}:?\d{2})?)?\b", "<date>", 0),
        (r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b", "<date>", 0),
        (rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\b\.?(?:,?\s+\d{{4}}\b)?"
         rf"|\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}}\b)?"
         rf"|\b{_MONTH}\.?\s+\d{{4}}\b", "<date>", re.I),
        (r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b", "<day>", re.I),
        (r"\b\d{1,2}(?::\d{2}){1,2}(?:\s?[ap]\.?m\.?)?(?!\w)|\b\d{1,2}\s?[ap]\.?m\.?(?!\w)",
         "<time>", re.I),
        (r"\"[^\"\n]*\"|“[^”\n]*”|‘[^’\n]*’|(?<![\w'])'[^'\n]*'(?![\w'])", "<str>", 0),
        # Tokens mixing letters and digits (order numbers, user ids, hashes) and long hex strings.
        (r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{4,}\b|\b[0-9a-f]{12,}\b", "<id>", re.I),
        (r"[-+]?\d+(?:[.,]\d+)*", "<num>", 0),
        (r"\s+", " ", 0),
    )
)


def mask_template(text: str) -> str:
    """The system prompt with its variable parts replaced by placeholders.

    Masked, in this order: URLs, e-mails, UUIDs, dates (ISO, numeric, with month names), weekdays,
    times, quoted strings, ids (tokens mixing letters and digits, long hex strings), numbers; then
    runs of whitespace become one space. Names of people and other free text stay as they are.

    Examples:
        >>> mask_template("Today is 2024-05-01. Help user 'Ann' (id ab12cd34) with order 5.")
        'Today is <date>. Help user <str> (id <id>) with order <num>.'
    """
    return _mask_cached(text)


@lru_cache(maxsize=4096)
def _mask_cached(text: str) -> str:
    # Agents resend the same prompts: masking each distinct prompt once keeps predict fast.
    for pattern, token in _MASKS:
        text = pattern.sub(token, text)
    return text.strip()


def _clip(text: str | None) -> str:
    return (text or "").strip()[:_MAX_PART]


def content_text(record: CallRecord) -> str:
    """The variable content of a call: its last user turn and the tool results after it.

    Falls back to the last non-system message when there is no user turn. The system prompt is
    left out (it is the ``template`` signal), and so is the output (unknown when routing).
    """
    return content_text_of([(m.role, m.content, m.name) for m in record.messages])


def content_text_of(turns: Sequence[tuple[str, str | None, str | None]]) -> str:
    """:func:`content_text` of a conversation given as ``(role, text, name)`` turns."""
    last_user = max((i for i, (role, _, _) in enumerate(turns) if role == "user"), default=None)
    if last_user is None:
        rest = [text for role, text, _ in turns if role != "system" and text]
        return _clip(rest[-1]) if rest else ""
    parts = [_clip(turns[last_user][1])]
    for role, text, name in turns[last_user + 1:]:
        if role == "tool" and text:
            label = f"{name}: " if name else ""
            parts.append(label + _clip(text))
    return "\n".join(p for p in parts if p)


def view_of_turns(turns: Sequence[tuple[str, str | None, str | None]], agent: str | None,
                  tool_names: Sequence[str]) -> CallView:
    """The :class:`CallView` of a call being routed (no output yet), from its turns: what
    :func:`view_of` gives for the same call as a record, without building one."""
    system = "\n".join(text or "" for role, text, _ in turns if role == "system")
    return CallView(text=content_text_of(turns), agent=agent or "",
                    template=mask_template(system) if system.strip() else "",
                    tools=tuple(sorted(set(tool_names))), output=None, is_record=True)


def output_kind(record: CallRecord) -> str | None:
    """``"tool:<name>"`` (names joined by ``+`` when several), ``"error"``, ``"text"``, or None.

    None means the call has no outcome yet (it is being routed), so the signal is absent.
    """
    if record.tool_calls:
        return "tool:" + "+".join(sorted({call.name for call in record.tool_calls}))
    if record.error is not None:
        return "error"
    if record.output is not None:
        return "text"
    return None


@dataclass(frozen=True)
class CallView:
    """The signals of one call; ``None`` marks a signal that is unknown for this item."""

    text: str
    agent: str | None = None
    template: str | None = None
    tools: tuple[str, ...] | None = None
    output: str | None = None
    is_record: bool = False


def view_of(item: CallRecord | str) -> CallView:
    """The :class:`CallView` of a record or a plain string (a string has only text)."""
    if isinstance(item, str):
        return CallView(text=item.strip()[:_MAX_PART])
    system = "\n".join(m.content or "" for m in item.messages if m.role == "system")
    return CallView(
        text=content_text(item),
        agent=item.agent or "",
        template=mask_template(system) if system.strip() else "",
        tools=tuple(sorted(set(item.tool_names))),
        output=output_kind(item),
        is_record=True,
    )


@lru_cache(maxsize=4096)
def template_buckets(masked: str) -> tuple[int, ...]:
    """The hashed columns of a masked template's content words (stable across processes).

    Words, not the whole prompt, so that a template whose unmasked parts vary a little (a user's
    name in "You are helping Ann") stays close to itself rather than becoming a new template.
    """
    words = {w for w in _WORD.findall(masked.lower()) if w not in _stop_words()}
    if not words:
        words = {"<no system prompt>"}
    return tuple(sorted({zlib.crc32(w.encode("utf-8")) % TEMPLATE_DIM for w in words}))


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    try:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    except ImportError:  # pragma: no cover - sklearn comes with the cluster extra
        return frozenset()
    return frozenset(ENGLISH_STOP_WORDS)


def as_items(items: Any, *, what: str = "items") -> list[CallRecord | str]:
    """Normalise the accepted input forms into a list of records and strings.

    Raises:
        ClusteringError: ``items`` is a single item rather than a sequence, or holds an item of
            another type (the message lists the accepted forms).
    """
    if isinstance(items, (str, bytes, CallRecord, Mapping)):
        raise ClusteringError(f"{what} must be a sequence (e.g. a list) of {ACCEPTED_FORMS}; "
                              f"got a single {type(items).__name__}")
    try:
        seq = list(items)
    except TypeError:
        raise ClusteringError(f"{what} must be a sequence of {ACCEPTED_FORMS}; "
                              f"got {type(items).__name__}") from None
    out: list[CallRecord | str] = []
    for i, item in enumerate(seq):
        if isinstance(item, (CallRecord, str)):
            out.append(item)
        elif isinstance(item, Mapping):
            try:
                out.append(CallRecord.model_validate(item))
            except ValidationError as exc:
                raise ClusteringError(f"{what}[{i}] is a dict that is not a valid CallRecord: "
                                      f"{exc.errors()[0]['msg']}") from exc
        else:
            raise ClusteringError(f"{what}[{i}] is a {type(item).__name__}; accepted forms are "
                                  f"{ACCEPTED_FORMS}")
    return out


def _values(name: str, value: Any) -> tuple[str, ...]:
    # No tools offered is a value of its own (a plain chat call), not an absent signal.
    if name == "tools":
        return tuple(value) or ("<none>",)
    return (value,)


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Validated signal weights (finite, non-negative, not all zero)."""
    out: dict[str, float] = {}
    for name in BLOCKS:
        value = weights[name]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}_weight must be a number >= 0, got {value!r}") from None
        if not number >= 0 or number == float("inf"):
            raise ConfigError(f"{name}_weight must be a finite number >= 0, got {value!r}")
        out[name] = number
    if not any(out.values()):
        raise ConfigError("every signal weight is 0; give at least one of text_weight, "
                          "agent_weight, template_weight, tools_weight, output_weight a value > 0")
    return out


class FeatureSpace:
    """Maps :class:`CallView` s to weighted feature rows; fitted vocabularies, JSON-serialisable.

    Args:
        weights: Weight of each signal in :data:`BLOCKS` (0 leaves the block out entirely).
        vocab: For agent, tools and output, value -> column (values not seen in fit get no
            column: such a call is similar to none on that signal).
        text_dim: Width of the text embedding (0 when the text signal is off).
    """

    def __init__(self, weights: Mapping[str, float], vocab: Mapping[str, Mapping[str, int]],
                 text_dim: int) -> None:
        self.weights = dict(weights)
        self.vocab = {name: dict(values) for name, values in vocab.items()}
        self.text_dim = int(text_dim) if self.weights["text"] > 0 else 0
        self.slices: dict[str, slice] = {}
        start = 0
        for name in BLOCKS:
            if self.weights[name] <= 0:
                continue
            if name == "text":
                width = self.text_dim
            elif name == "template":
                width = TEMPLATE_DIM
            else:
                width = len(self.vocab.get(name, {}))
            self.slices[name] = slice(start, start + width)
            start += width
        self.dim = start

    @classmethod
    def fit(cls, views: Sequence[CallView], weights: Mapping[str, float],
            text_dim: int) -> FeatureSpace:
        """Learn each categorical signal's values (the most frequent ones if there are many)."""
        vocab: dict[str, dict[str, int]] = {}
        for name in ("agent", "tools", "output"):
            if weights[name] <= 0:
                continue
            counts: Counter[str] = Counter()
            for view in views:
                value = getattr(view, name)
                if value is None:
                    continue
                counts.update(_values(name, value))
            common = sorted(counts.most_common(_MAX_CATEGORIES), key=lambda kv: kv[0])
            vocab[name] = {value: i for i, (value, _) in enumerate(common)}
        return cls(weights, vocab, text_dim)

    def transform(self, views: Sequence[CallView],
                  text_vectors: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows (float32) and, per row, the summed weight of the blocks present."""
        import numpy as np

        n = len(views)
        rows = np.zeros((n, self.dim), dtype=np.float32)
        present = np.zeros(n, dtype=np.float64)
        text = self.slices.get("text")
        if text is not None:
            assert text_vectors is not None
            norms = np.linalg.norm(text_vectors, axis=1)
            known = norms > 0
            scale = np.sqrt(self.weights["text"])
            rows[known, text] = text_vectors[known] * (scale / norms[known, None])
            present[known] += self.weights["text"]
        # Calls share few structures: build each distinct one once, then copy it to its rows.
        keys = [(v.agent, v.template, v.tools, v.output) for v in views]
        built: dict[tuple, int] = {}
        which = np.array([built.setdefault(key, len(built)) for key in keys], dtype=np.int64)
        start = text.stop if text is not None else 0
        structures = np.zeros((len(built), self.dim - start), dtype=np.float32)
        weights = np.zeros(len(built))
        for key, j in built.items():
            weights[j] = self._structure(dict(zip(BLOCKS[1:], key, strict=True)),
                                         structures[j], start)
        if len(built):
            rows[:, start:] = structures[which]
            present += weights[which]
        return rows, present

    def _structure(self, values: dict[str, Any], out: np.ndarray, offset: int) -> float:
        """Fill ``out`` with the structural blocks of one call; returns their present weight."""
        import numpy as np

        weight = 0.0
        for name, cols in self.slices.items():
            value = values.get(name)
            if name == "text" or value is None:
                continue
            weight += self.weights[name]
            if name == "template":
                hits = list(template_buckets(value))
            else:
                column = self.vocab.get(name, {})
                hits = [column[v] for v in _values(name, value) if v in column]
            for j in hits:
                out[cols.start - offset + j] = np.sqrt(self.weights[name] / len(hits))
        return weight

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (:meth:`from_dict` reads it back)."""
        return {"weights": self.weights, "vocab": self.vocab, "text_dim": self.text_dim}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpace:
        """The space described by :meth:`to_dict`."""
        return cls(data["weights"], data["vocab"], data["text_dim"])
