"""What task discovery found: per task, how big and costly it is, and how replaceable it looks.

:class:`ClusterReport` summarises clustered calls (``TaskClusterer.report()`` builds one; so can
:meth:`ClusterReport.build` from any labels). Per task (:class:`TaskStats`) it gives the size, the
share of calls, tokens and estimated cost (at :class:`Prices`), the median latency, the dominant
output kind, the tools called, keywords, short examples, and signals of how well a small model
could take the task over: how templated its inputs are (``template_share``,
``input_similarity``), how constrained its outputs are (``constrained_share``), and how few
distinct outputs it has (``output_diversity``).

Calls the clusterer left unassigned (label ``-1``) get their own row, never hidden, and every
share is over all calls, so the tasks' shares plus the unassigned share sum to 1.

Items may be :class:`~slm_agents.records.CallRecord` objects or plain strings. Tokens come from
``record.usage``; a count that is missing (or 0) is estimated as ``ceil(len(text) / 4)``, and a
string counts as input only. Strings have no latency and an ``"unknown"`` output kind.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import combinations
from os import PathLike
from statistics import median
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ClusteringError, ConfigError
from ..records import CallRecord

__all__ = ["EXAMPLE_CHARS", "N_EXAMPLES", "SIMILARITY_SAMPLE", "TEMPLATE_MIN_OTHERS", "UNASSIGNED",
           "ClusterReport", "Prices", "TaskStats"]

UNASSIGNED = -1
#: Examples kept per task, and their length in characters at most.
N_EXAMPLES = 3
EXAMPLE_CHARS = 200
#: A call's input counts as templated when its masked form is shared with this many other calls.
TEMPLATE_MIN_OTHERS = 2
#: Calls per task compared pairwise for ``input_similarity`` (30 calls: 435 pairs, ~1 ms).
SIMILARITY_SAMPLE = 30
_FORMAT_VERSION = 1

# Variable slots of an input, masked in this order (URLs and e-mails contain numbers and dots).
_MASKS = [
    (re.compile(r"https?://\S+|www\.\S+"), "<url>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b(?=[0-9a-f-]*\d)[0-9a-f]{8,}(?:-[0-9a-f]{4,})*\b", re.IGNORECASE), "<id>"),
    (re.compile(r'"[^"\n]{0,200}"'), "<str>"),
    (re.compile(r"[-+$€£]?\d[\d.,:/-]*%?"), "<num>"),
    # A capitalised word after a lower-case word or a comma is a name (city, person, product);
    # the first word of a sentence is not.
    (re.compile(r"(?<=[a-z0-9,;:>] )[A-Z][\w'-]*"), "<name>"),
]
_RUNS = re.compile(r"(<(?:url|email|id|str|num|name)>)(?:\s*\1)+")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"<\w+>|\w+")


class Prices(BaseModel):
    """Prices of the LLM being replaced, in US dollars per 1,000 tokens.

    The defaults are GPT-4o's list prices: $2.50 per million input tokens and $10 per million
    output tokens. Pass your model's prices for estimates that mean something.

    Examples:
        >>> Prices(input_per_1k=0.001, output_per_1k=0.002).cost(1000, 500)
        0.002
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_1k: float = Field(default=0.0025, ge=0, allow_inf_nan=False)
    output_per_1k: float = Field(default=0.01, ge=0, allow_inf_nan=False)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Estimated cost in dollars of one call with these token counts."""
        return input_tokens / 1000 * self.input_per_1k + output_tokens / 1000 * self.output_per_1k


@dataclass
class TaskStats:
    """One task's row of the report (``task_id == -1`` is the unassigned calls).

    Attributes:
        task_id: The cluster label.
        name: The task's name (``"unassigned"`` for label -1).
        size: Calls in the task.
        call_share: ``size`` over all calls.
        input_tokens: Input tokens of the task's calls (reported or estimated).
        output_tokens: Output tokens of the task's calls (reported or estimated).
        token_share: The task's tokens over all tokens.
        cost: Estimated cost in dollars at the report's :class:`Prices`.
        cost_share: ``cost`` over the total cost.
        median_latency_ms: Median latency of the calls that report one, else ``None``.
        output_kind: The most common output: ``"tool:<name>"``, ``"text"``, ``"error"``, or
            ``"unknown"`` (plain strings).
        tools_used: Tool calls in the outputs, per tool name, most called first.
        keywords: Words that set the task apart (from the clusterer).
        examples: Short texts of the variable user content of representative calls.
        template_share: How templated the inputs are: the share of calls whose *masked* input
            (user and tool turns with numbers, quoted strings, names, ids, e-mails and URLs
            replaced by placeholders) equals that of ``TEMPLATE_MIN_OTHERS`` or more other calls.
        input_similarity: Mean pairwise Jaccard similarity of the masked inputs' word sets over
            up to ``SIMILARITY_SAMPLE`` evenly spaced calls; a template with a free-text slot
            scores high here though no two inputs are equal (``None`` below 2 calls).
        constrained_share: Share of outputs bound by a schema: tool calls, or text that parses
            as a JSON object or array (``None`` when no output is known: strings, errors).
        output_diversity: Distinct outputs (text normalised, tool calls as name and canonical
            arguments) over known outputs: near 0 for a classifier's few labels, 1 for prose.
    """

    task_id: int
    name: str
    size: int = 0
    call_share: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    token_share: float = 0.0
    cost: float = 0.0
    cost_share: float = 0.0
    median_latency_ms: float | None = None
    output_kind: str = "unknown"
    tools_used: dict[str, int] = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    template_share: float = 0.0
    input_similarity: float | None = None
    constrained_share: float | None = None
    output_diversity: float | None = None

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskStats:
        """Rebuild from :func:`dataclasses.asdict` output (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class _Call:
    """What the report needs of one item, extracted once."""

    input_tokens: int
    output_tokens: int
    latency_ms: float | None
    kind: str
    tools: list[str]
    constrained: bool | None
    output_key: str | None
    template: str
    example: str


@dataclass(repr=False)
class ClusterReport:
    """Per-task statistics of clustered calls, with Markdown, HTML, pandas and JSON views.

    Build it with :meth:`build` (or ``TaskClusterer.report()``), not by hand.

    Attributes:
        tasks: One :class:`TaskStats` per task, largest first.
        unassigned: The calls with label -1 (size 0 when there are none), never left out.
        n_calls: All calls.
        total_tokens: Tokens of all calls.
        total_cost: Estimated cost of all calls, in dollars.
        prices: The prices the costs were estimated at.
        selection: How the clusterer chose its granularity (JSON values), or ``None``.
        labels: The label of each call, in input order (for the map).
        coords_2d: ``[x, y]`` of each call for the map, or ``None``.

    Examples:
        >>> from slm_agents.records import CallRecord, Message, Usage
        >>> calls = [CallRecord(messages=[Message(role="user", content=f"weather in city {i}")],
        ...                     output="sunny", usage=Usage(input_tokens=1000, output_tokens=100))
        ...          for i in range(4)]
        >>> report = ClusterReport.build(calls, [0, 0, 0, -1], {0: "weather"},
        ...                              prices=Prices(input_per_1k=0.01, output_per_1k=0.1))
        >>> round(report.total_cost, 6), round(report.tasks[0].cost_share, 2)
        (0.08, 0.75)
        >>> report.to_markdown().splitlines()[0]
        '# Task report'
        >>> ClusterReport.from_dict(report.to_dict()) == report
        True
    """

    tasks: list[TaskStats]
    unassigned: TaskStats
    n_calls: int
    total_tokens: int
    total_cost: float
    prices: Prices = field(default_factory=Prices)
    selection: dict[str, Any] | None = None
    labels: list[int] = field(default_factory=list)
    coords_2d: list[list[float]] | None = None

    @classmethod
    def build(
        cls,
        items: Sequence[CallRecord | str],
        labels: Sequence[int] | Any,
        names: Mapping[int, str] | None = None,
        keywords: Mapping[int, Sequence[str]] | None = None,
        representatives: Mapping[int, Sequence[int]] | None = None,
        coords_2d: Any = None,
        selection: Mapping[str, Any] | None = None,
        prices: Prices | None = None,
    ) -> ClusterReport:
        """Compute the report of ``items`` grouped by ``labels``.

        Args:
            items: The clustered calls, as records or plain strings.
            labels: One task label per item (a numpy array or a list); -1 is unassigned.
            names: Task names by label; a label without one is called ``"task <id>"``.
            keywords: Keywords by label.
            representatives: Indices into ``items`` by label, most typical first; the examples
                are taken from them (else from the task's first calls).
            coords_2d: One ``(x, y)`` per item (an ``(n, 2)`` array) for the map, or ``None``.
            selection: How the clusterer chose its granularity, shown in the report.
            prices: Prices for the cost estimates (``None``: :class:`Prices` defaults).

        Raises:
            ClusteringError: ``items`` is empty.
            ConfigError: ``labels`` or ``coords_2d`` do not match ``items``, or a label is < -1.
            TypeError: an item is neither a ``CallRecord`` nor a string.
        """
        items = list(items)
        if not items:
            raise ClusteringError("no items to report on: pass the calls that were clustered")
        label_list = _as_labels(labels, len(items))
        coords = _as_coords(coords_2d, len(items))
        prices = prices if prices is not None else Prices()
        calls = [_profile(item, i) for i, item in enumerate(items)]

        members: dict[int, list[int]] = {}
        for i, label in enumerate(label_list):
            members.setdefault(label, []).append(i)
        costs = [prices.cost(c.input_tokens, c.output_tokens) for c in calls]
        total_tokens = sum(c.input_tokens + c.output_tokens for c in calls)
        total_cost = sum(costs)
        # Keys as ints: mappings read back from JSON have string keys ("0").
        names = {int(k): v for k, v in (names or {}).items()}
        keywords = {int(k): v for k, v in (keywords or {}).items()}
        representatives = {int(k): v for k, v in (representatives or {}).items()}

        def stats(task_id: int, name: str) -> TaskStats:
            idx = members.get(task_id, [])
            reps = [int(r) for r in representatives.get(task_id, ())
                    if 0 <= int(r) < len(items) and label_list[int(r)] == task_id]
            examples = list(dict.fromkeys(calls[i].example for i in reps + idx
                                          if calls[i].example))[:N_EXAMPLES]
            task = _task_stats(task_id, name, [calls[i] for i in idx], examples,
                               [str(k) for k in keywords.get(task_id, ())])
            task.cost = sum(costs[i] for i in idx)
            task.call_share = task.size / len(items)
            task.token_share = task.tokens / total_tokens if total_tokens else 0.0
            task.cost_share = task.cost / total_cost if total_cost else 0.0
            return task

        tasks = [stats(t, str(names.get(t, f"task {t}"))) for t in members if t != UNASSIGNED]
        tasks.sort(key=lambda task: (-task.size, task.task_id))
        return cls(tasks=tasks, unassigned=stats(UNASSIGNED, "unassigned"), n_calls=len(items),
                   total_tokens=total_tokens, total_cost=total_cost, prices=prices,
                   selection=_jsonable(dict(selection)) if selection is not None else None,
                   labels=label_list, coords_2d=coords)

    @property
    def n_tasks(self) -> int:
        """Tasks found (the unassigned calls are not a task)."""
        return len(self.tasks)

    def rows(self) -> list[TaskStats]:
        """The tasks, largest first, then the unassigned row."""
        return [*self.tasks, self.unassigned]

    def to_pandas(self) -> Any:
        """One row per task, largest first, and a last ``"unassigned"`` row (``task_id`` -1).

        Columns are :class:`TaskStats`' fields plus ``tokens``.

        Raises:
            MissingDependencyError: pandas is not installed.
        """
        from ._report_render import render_pandas

        return render_pandas(self)

    def to_markdown(self) -> str:
        """The report as a Markdown document (summary, task table, then each task's details).

        Text that came from records is escaped, so the document renders as plain text.
        """
        from ._report_render import render_markdown

        return render_markdown(self)

    def to_html(self, path: str | PathLike[str] | None = None) -> str:
        """The report as one self-contained HTML page, written to ``path`` when given.

        The page holds a map of calls coloured by task (when ``coords_2d`` was given) and a
        bar chart of the cost share per task, both as base64 PNG images; it loads nothing and
        runs no script. Text that came from records is HTML-escaped.

        Raises:
            MissingDependencyError: matplotlib is not installed.
        """
        from ._report_render import render_html

        page = render_html(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(page)
        return page

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-safe values (:meth:`from_dict` reads it back)."""
        # asdict turns the TaskStats into dicts and copies the lists; Prices is a pydantic model.
        return {"format_version": _FORMAT_VERSION, **asdict(self),
                "prices": self.prices.model_dump()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClusterReport:
        """Rebuild a report from :meth:`to_dict` output (unknown keys are ignored)."""
        return cls(
            tasks=[TaskStats.from_dict(task) for task in data.get("tasks", ())],
            unassigned=TaskStats.from_dict(data.get("unassigned")
                                           or {"task_id": UNASSIGNED, "name": "unassigned"}),
            n_calls=int(data.get("n_calls", 0)),
            total_tokens=int(data.get("total_tokens", 0)),
            total_cost=float(data.get("total_cost", 0.0)),
            prices=Prices(**data.get("prices", {})),
            selection=data.get("selection"),
            labels=[int(label) for label in data.get("labels", ())],
            coords_2d=data.get("coords_2d"),
        )

    def __repr__(self) -> str:
        return (f"ClusterReport(n_calls={self.n_calls}, n_tasks={self.n_tasks}, "
                f"unassigned={self.unassigned.size}, total_cost={self.total_cost:.4f})")


def _as_labels(labels: Any, n: int) -> list[int]:
    values = labels.tolist() if hasattr(labels, "tolist") else list(labels)
    if len(values) != n:
        raise ConfigError(f"got {len(values)} labels for {n} items: pass one label per item")
    out = [int(v) for v in values]
    if out and min(out) < UNASSIGNED:
        raise ConfigError(f"labels must be >= -1 (-1 is unassigned), got {min(out)}")
    return out


def _as_coords(coords: Any, n: int) -> list[list[float]] | None:
    if coords is None:
        return None
    rows = coords.tolist() if hasattr(coords, "tolist") else [list(row) for row in coords]
    if len(rows) != n or any(len(row) != 2 for row in rows):
        raise ConfigError(f"coords_2d must hold one (x, y) pair per item ({n} items)")
    return [[float(x), float(y)] for x, y in rows]


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays, tuples and non-string keys made JSON-safe."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _jsonable(value.tolist())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _estimate(text: str) -> int:
    return math.ceil(len(text) / 4)


def _mask(text: str) -> str:
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return _RUNS.sub(r"\1", _SPACE.sub(" ", text).strip()).lower()


def _short(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS - 1] + "…"


def _arguments_key(arguments: Any, raw: str | None) -> str:
    if raw is not None and not arguments:
        return raw
    return json.dumps(arguments, sort_keys=True, default=str)


def _profile(item: CallRecord | str, index: int) -> _Call:
    if isinstance(item, str):
        return _Call(_estimate(item), 0, None, "unknown", [], None, None, _mask(item),
                     _short(item))
    if not isinstance(item, CallRecord):
        raise TypeError(f"item {index} is a {type(item).__name__}; items must be CallRecord "
                        "objects or strings")
    inputs: list[str] = []
    variable: list[str] = []
    last_user = ""
    for message in item.messages:
        content = message.content or ""
        inputs.append(content)
        inputs += [c.name + _arguments_key(c.arguments, c.raw_arguments)
                   for c in message.tool_calls]
        if message.role in ("user", "tool"):
            variable.append(content)
        if message.role == "user" and content.strip():
            last_user = content
    if item.tools:
        inputs.append(json.dumps(item.tools, default=str))
    calls = [c.name + _arguments_key(c.arguments, c.raw_arguments) for c in item.tool_calls]
    output = item.output or ""
    usage = item.usage
    # Schema-bound: tool calls, or text that is a JSON object or array (structured output).
    structured = bool(item.tool_calls) or _is_json(output)
    failed = not item.tool_calls and item.output is None and item.error is not None
    kind = f"tool:{item.tool_calls[0].name}" if item.tool_calls else "error" if failed else "text"
    return _Call(
        input_tokens=usage.input_tokens or _estimate("\n".join(inputs)),
        output_tokens=usage.output_tokens or _estimate("\n".join([output, *calls])),
        latency_ms=item.latency_ms,
        kind=kind,
        tools=[c.name for c in item.tool_calls],
        constrained=None if failed else structured,
        output_key=None if failed else "\n".join([_SPACE.sub(" ", output).strip().lower(),
                                                   *calls]),
        template=_mask("\n".join(variable)),
        example=_short(last_user or "\n".join(variable) or output),
    )


def _is_json(text: str) -> bool:
    text = text.strip()
    if not text or text[0] not in "[{":
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _task_stats(task_id: int, name: str, calls: list[_Call], examples: list[str],
                keywords: list[str]) -> TaskStats:
    """A task's counts and signals; its cost and shares are filled in by the caller."""
    size = len(calls)
    input_tokens = sum(c.input_tokens for c in calls)
    output_tokens = sum(c.output_tokens for c in calls)
    latencies = [c.latency_ms for c in calls if c.latency_ms is not None]
    kinds = Counter(c.kind for c in calls)
    tools = Counter(name for c in calls for name in c.tools)
    known = [c for c in calls if c.output_key is not None]
    templates = Counter(c.template for c in calls)
    return TaskStats(
        task_id=task_id,
        name=name,
        size=size,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        median_latency_ms=float(median(latencies)) if latencies else None,
        output_kind=kinds.most_common(1)[0][0] if kinds else "unknown",
        tools_used=dict(tools.most_common()),
        keywords=keywords,
        examples=examples,
        template_share=(sum(1 for c in calls if templates[c.template] > TEMPLATE_MIN_OTHERS)
                        / size if size else 0.0),
        input_similarity=_mean_similarity([c.template for c in calls]),
        constrained_share=(sum(1 for c in known if c.constrained) / len(known)
                           if known else None),
        output_diversity=(len({c.output_key for c in known}) / len(known) if known else None),
    )


def _mean_similarity(texts: list[str]) -> float | None:
    """Mean pairwise Jaccard similarity of word sets over an evenly spaced sample."""
    if len(texts) < 2:
        return None
    n = min(len(texts), SIMILARITY_SAMPLE)
    sample = [set(_WORD.findall(texts[i * len(texts) // n])) for i in range(n)]
    pairs = list(combinations(sample, 2))
    return sum(len(a & b) / len(a | b) if a | b else 1.0 for a, b in pairs) / len(pairs)
