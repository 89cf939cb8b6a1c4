"""The curated fine-tuning set: chat examples with tools, their provenance, splits and exports.

Examples are in OpenAI's chat fine-tuning format (see :mod:`slm_agents.curate.chat_format`); each
has a ``meta`` entry saying where it came from (``record_id``, ``trace_id``, ``task``, ``agent``,
``started_at``), which :meth:`Dataset.split` uses to keep traces together and tasks balanced.

Examples:
    >>> ds = Dataset([{"messages": [{"role": "user", "content": "hi"},
    ...                             {"role": "assistant", "content": "hello"}]}])
    >>> len(ds), ds.tasks()
    (1, Counter({'unassigned': 1}))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import orjson

from ..errors import InvalidRecordError, MissingDependencyError
from .report import CurationReport
from .splits import SPLIT_NAMES, split_indices

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = ["META_KEYS", "UNASSIGNED", "Dataset", "DatasetSplits", "SharedParts"]

META_KEYS = ("record_id", "trace_id", "task", "agent", "started_at")
_HF_CHUNK = 5_000
UNASSIGNED = "unassigned"


class SharedParts:
    """Keeps one copy of the parts that repeat across examples: tool lists and system prompts.

    Records read from a store or a file hold a separate copy of each; 100,000 copies of the same
    tool schemas cost hundreds of megabytes. Examples passed through :meth:`share` may therefore
    share these objects: copy an example before changing its tools or system prompt in place.
    """

    __slots__ = ("_strings", "_tools")

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._tools: dict[bytes, list[dict[str, Any]]] = {}

    def share(self, example: dict[str, Any]) -> dict[str, Any]:
        """``example``, its tools and system prompts replaced by the shared copies (in place)."""
        tools = example.get("tools")
        if tools:
            example["tools"] = self._tools.setdefault(orjson.dumps(tools), tools)
        for message in example.get("messages", ()):
            content = message.get("content")
            if message.get("role") == "system" and isinstance(content, str):
                message["content"] = self._strings.setdefault(content, content)
        return example


def _empty_meta() -> dict[str, Any]:
    return {"record_id": None, "trace_id": None, "task": UNASSIGNED, "agent": None,
            "started_at": None}


class Dataset:
    """Chat fine-tuning examples, with per-example provenance and the report that made them.

    Attributes:
        examples: ``{"messages": [...], "tools": [...]}`` dicts (``tools`` only where offered).
        meta: One dict per example: ``record_id``, ``trace_id``, ``task``, ``agent``,
            ``started_at`` (ISO 8601 text).
        report: The :class:`CurationReport` of the run that built it (``None`` when loaded).

    Examples:
        >>> ds = Dataset([{"messages": [{"role": "user", "content": "2+2"},
        ...                             {"role": "assistant", "content": "4"}]}] * 10)
        >>> splits = ds.split(validation=0.2, test=0.1, seed=0)
        >>> len(splits.train), len(splits.validation), len(splits.test)
        (7, 2, 1)
    """

    def __init__(self, examples: Sequence[dict[str, Any]] = (),
                 meta: Sequence[Mapping[str, Any]] | None = None,
                 report: CurationReport | None = None) -> None:
        self.examples: list[dict[str, Any]] = list(examples)
        if meta is None:
            self.meta: list[dict[str, Any]] = [_empty_meta() for _ in self.examples]
        else:
            self.meta = [{**_empty_meta(), **m} for m in meta]
            if len(self.meta) != len(self.examples):
                raise ValueError(f"meta has {len(self.meta)} entries for "
                                 f"{len(self.examples)} examples")
        self.report = report

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.examples)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Dataset: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Dataset:
        if isinstance(index, slice):
            return Dataset(self.examples[index], self.meta[index], self.report)
        return self.examples[index]

    def __repr__(self) -> str:
        return f"Dataset({len(self)} examples, {len(self.tasks())} tasks)"

    def tasks(self) -> Counter[str]:
        """Examples per task."""
        return Counter(str(m.get("task") or UNASSIGNED) for m in self.meta)

    def subset(self, indices: Sequence[int]) -> Dataset:
        """The examples at ``indices``, in that order (sharing this dataset's report)."""
        return Dataset([self.examples[i] for i in indices], [self.meta[i] for i in indices],
                       self.report)

    def split(self, validation: float = 0.1, test: float = 0.1, seed: int = 0) -> DatasetSplits:
        """Train/validation/test splits, grouped by trace and stratified by task.

        All examples of a trace land in one split (an example without a trace id is a group of
        its own); within each task, whole traces are dealt out so that each split gets close to
        its fraction of that task's examples (see :mod:`slm_agents.curate.splits`). The result
        depends only on the examples and ``seed``. The split sizes are recorded in
        :attr:`report` when there is one.

        Raises:
            ConfigError: fractions outside ``[0, 1)`` or adding up to 1 or more.
        """
        groups = []
        for index, meta in enumerate(self.meta):
            trace = meta.get("trace_id")
            if trace is not None:
                groups.append(f"trace\x00{trace}")
            else:
                groups.append(f"record\x00{meta.get('record_id') or ''}\x00{index}")
        tasks = [str(m.get("task") or UNASSIGNED) for m in self.meta]
        parts = split_indices(groups, tasks, validation, test, seed)
        train_set, validation_set, test_set = (self.subset(p) for p in parts)
        splits = DatasetSplits(train_set, validation_set, test_set, report=self.report)
        if self.report is not None:
            self.report.splits = {n: len(p) for n, p in zip(SPLIT_NAMES, parts, strict=True)}
            self.report.split_tasks = {
                n: dict(sorted(Counter(tasks[i] for i in p).items()))
                for n, p in zip(SPLIT_NAMES, parts, strict=True)}
        return splits

    def to_jsonl(self, path: str | Path, include_meta: bool = False) -> Path:
        """Write one example per line (UTF-8 JSON), ready for OpenAI fine-tuning or TRL.

        Args:
            path: File to write (parent folders are created).
            include_meta: Add each example's provenance under a ``"meta"`` key (OpenAI's
                uploader expects only ``messages``/``tools``, so leave it off for that).

        Returns:
            The path written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            for example, meta in zip(self.examples, self.meta, strict=True):
                row = {**example, "meta": meta} if include_meta else example
                handle.write(orjson.dumps(row))
                handle.write(b"\n")
        return path

    @classmethod
    def from_jsonl(cls, path: str | Path) -> Dataset:
        """Read a file written by :meth:`to_jsonl` (or any chat-format JSONL).

        Raises:
            InvalidRecordError: a line is not a JSON object with a ``messages`` list.
        """
        examples: list[dict[str, Any]] = []
        metas: list[dict[str, Any]] = []
        shared = SharedParts()
        with Path(path).open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InvalidRecordError(f"{path}:{number}: not JSON: {exc}") from exc
                if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
                    raise InvalidRecordError(
                        f"{path}:{number}: expected an object with a 'messages' list")
                meta = row.pop("meta", None)
                examples.append(shared.share(row))
                metas.append({**_empty_meta(), **meta} if isinstance(meta, dict)
                             else _empty_meta())
        return cls(examples, metas)

    def to_hf(self, include_meta: bool = False) -> datasets.Dataset:
        """A Hugging Face ``datasets.Dataset`` with columns ``messages`` and ``tools``.

        ``messages`` is a list of structs with the same fields in every row (``role``,
        ``content``, ``tool_calls``, ``tool_call_id``, ``name``; absent ones are ``None``), each
        tool call ``{"id", "type", "function": {"name", "arguments"}}`` with ``arguments`` a JSON
        string. Arrow needs one schema per column, and tool schemas differ from row to row, so
        ``tools`` holds the tool list as a **JSON string** (``"[]"`` when no tool was offered):
        decode it with ``json.loads(row["tools"])`` before passing it to a chat template.

        Args:
            include_meta: Also add the provenance columns (``record_id``, ``trace_id``,
                ``task``, ``agent``, ``started_at``).

        Raises:
            MissingDependencyError: ``datasets`` is not installed (extra ``train``).
        """
        hf = _datasets()
        features = _features(hf, include_meta)
        # Converted in chunks: Python-side columns for 100k rows would cost gigabytes at once.
        parts = []
        for start in range(0, max(len(self.examples), 1), _HF_CHUNK):
            examples = self.examples[start:start + _HF_CHUNK]
            columns: dict[str, list[Any]] = {
                "messages": [[_hf_message(m) for m in ex.get("messages", ())] for ex in examples],
                "tools": [orjson.dumps(ex.get("tools") or []).decode("utf-8") for ex in examples],
            }
            if include_meta:
                metas = self.meta[start:start + _HF_CHUNK]
                for key in META_KEYS:
                    columns[key] = [None if m.get(key) is None else str(m[key]) for m in metas]
            parts.append(hf.Dataset.from_dict(columns, features=features))
        return parts[0] if len(parts) == 1 else hf.concatenate_datasets(parts)


@dataclass
class DatasetSplits:
    """Train, validation and test sets made by :meth:`Dataset.split`."""

    train: Dataset
    validation: Dataset
    test: Dataset
    report: CurationReport | None = None

    def items(self) -> list[tuple[str, Dataset]]:
        """``(name, dataset)`` pairs in the order train, validation, test."""
        return [("train", self.train), ("validation", self.validation), ("test", self.test)]

    def sizes(self) -> dict[str, int]:
        """Examples per split."""
        return {name: len(ds) for name, ds in self.items()}

    def to_jsonl(self, directory: str | Path, include_meta: bool = False) -> dict[str, Path]:
        """Write ``train.jsonl``, ``validation.jsonl`` and ``test.jsonl`` into ``directory``."""
        directory = Path(directory)
        return {name: ds.to_jsonl(directory / f"{name}.jsonl", include_meta)
                for name, ds in self.items()}

    def to_hf(self, include_meta: bool = False) -> datasets.DatasetDict:
        """A ``datasets.DatasetDict`` with ``train``, ``validation`` and ``test``."""
        hf = _datasets()
        return hf.DatasetDict({name: ds.to_hf(include_meta) for name, ds in self.items()})


def _datasets() -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError("datasets", "curate", "Hugging Face export") from exc
    return datasets


def _hf_message(message: Mapping[str, Any]) -> dict[str, Any]:
    calls = message.get("tool_calls")
    content = message.get("content")
    return {
        "role": message.get("role"),
        "content": content if content is None or isinstance(content, str)
        else orjson.dumps(content).decode("utf-8"),
        "tool_calls": None if not calls else [
            {"id": call.get("id"), "type": call.get("type", "function"),
             "function": {"name": call.get("function", {}).get("name"),
                          "arguments": _text(call.get("function", {}).get("arguments"))}}
            for call in calls],
        "tool_call_id": message.get("tool_call_id"),
        "name": message.get("name"),
    }


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode("utf-8")


def _features(hf: Any, include_meta: bool) -> Any:
    string = hf.Value("string")
    tool_call = {"id": string, "type": string,
                 "function": {"name": string, "arguments": string}}
    message = {"role": string, "content": string, "tool_calls": [tool_call],
               "tool_call_id": string, "name": string}
    spec: dict[str, Any] = {"messages": [message], "tools": string}
    if include_meta:
        spec.update({key: string for key in META_KEYS})
    return hf.Features(spec)
