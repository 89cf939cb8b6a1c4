"""S2 curation: logged calls in, a clean, private, deduplicated fine-tuning dataset out.

:class:`Curator` runs one pass over the records (streamed in batches, so a store of 100,000 calls is
never all in memory as records), in this order:

1. **Filter** each record, one reason per dropped record: ``error``, ``human_facing``,
   ``empty_output``, ``truncated_output``, ``invalid_tool_json``, ``unknown_tool``
   (:mod:`slm_agents.curate.filters`).
2. **Scrub** the survivors with the injected scrubber (``scrub_records`` per batch, else
   ``scrub_record``); a record the scrubber cannot handle is dropped as ``scrub_failed``, never
   kept raw.
3. **Convert** to an OpenAI chat example and drop ``too_long`` ones (by the target tokenizer).
4. **Deduplicate** (``duplicate_exact``, ``duplicate_near``), best copy first by the ``keep`` rule.
5. **Sample** down to ``target_size``, balanced across tasks (``sampled_out``).

The result is a :class:`~slm_agents.curate.dataset.Dataset` in input order, with the counts in
``curator.report_`` (also ``dataset.report``).
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from .._params import ParamsMixin
from ..errors import ConfigError, CurationError, InvalidRecordError
from ..records import CallRecord
from .chat_format import record_to_example
from .dataset import UNASSIGNED, Dataset, SharedParts
from .dedupe import DEDUPE_MODES, Deduplicator
from .filters import (
    DROP_REASONS,
    FilterOptions,
    TokenCounter,
    drop_reason,
    entity_counts,
    has_invalid_tool_json,
    has_unknown_tool,
    scrub_batch,
)
from .report import CurationReport
from .splits import sample_by_task

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Store

__all__ = ["KEEP_RULES", "Curator", "ParamsMixin"]

logger = logging.getLogger("slm_agents.curate")

KEEP_RULES = ("latest", "quality")


class Curator(ParamsMixin):
    """Turns logged calls into a fine-tuning :class:`~slm_agents.curate.dataset.Dataset`.

    Follows scikit-learn's estimator contract: ``__init__`` only stores its arguments, options
    are validated by :meth:`run`, and what a run produced ends in ``_`` (:attr:`report_`).

    Args:
        scrubber: Anything with ``scrub_records(records) -> list[CallRecord]`` (used per batch)
            or ``scrub_record(record) -> CallRecord``, such as ``slm_agents.PIIScrubber()``.
            ``None`` keeps text as it is (for records already scrubbed at capture). If it has
            ``entity_counts``, the values replaced during the run are reported.
        include_human_facing: Keep calls whose output was shown to a person.
        drop_errors: Drop failed calls.
        drop_empty: Drop calls with neither output text nor tool calls.
        drop_truncated: Drop calls cut at the token limit or by capture's size limit.
        validate_tool_calls: Drop calls with tool arguments that are not a JSON object, or (when
            tools were offered) calling a tool that was not.
        max_tokens: Drop examples longer than this many tokens (``None``: no limit).
        tokenizer: The target model's tokenizer (Hugging Face: counted with its chat template,
            tools included), an object with ``encode``, or a callable ``str -> int``; ``None``
            estimates four characters per token.
        dedupe: ``"none"``, ``"exact"`` or ``"near"`` (exact, then MinHash-LSH near-duplicates).
        near_threshold: Jaccard similarity of the variable content (user and tool turns and the
            output, as word 3-shingles) at which two calls are near-duplicates.
        keep: Which copy of duplicates to keep: ``"latest"`` (the most recent ``started_at``;
            later in the input on ties) or ``"quality"`` (in order of preference: the call
            succeeded, its tool calls are valid, lower latency (unknown counts as slowest), then
            the most recent).
        target_size: Sample down to at most this many examples (``None``: keep all).
        balance_tasks: When sampling, give every task an equal share (a task with fewer
            examples keeps all of them and its unused share goes to the others); ``False``
            samples each task in proportion to its size.
        task_key: Key of the task label in ``record.metadata`` (when ``tasks`` does not say).
        seed: Seed of the sampling; the same records and seed give the same dataset.
        batch_size: Records per scrubbing batch.

    Attributes:
        report_: :class:`~slm_agents.curate.report.CurationReport` of the last run.

    Examples:
        >>> from slm_agents.records import CallRecord, Message
        >>> records = [CallRecord(messages=[Message(role="user", content=f"{i} + {i}?")],
        ...                       output=str(2 * i)) for i in range(5)]
        >>> records.append(CallRecord(messages=[Message(role="user", content="?")], error="boom"))
        >>> curator = Curator(seed=0)
        >>> dataset = curator.run(records)
        >>> len(dataset), curator.report_.dropped
        (5, {'error': 1})
        >>> dataset[0]["messages"][-1]
        {'role': 'assistant', 'content': '0'}
    """

    def __init__(
        self,
        *,
        scrubber: Any = None,
        include_human_facing: bool = False,
        drop_errors: bool = True,
        drop_empty: bool = True,
        drop_truncated: bool = True,
        validate_tool_calls: bool = True,
        max_tokens: int | None = 4096,
        tokenizer: Any = None,
        dedupe: Literal["none", "exact", "near"] = "near",
        near_threshold: float = 0.85,
        keep: Literal["latest", "quality"] = "latest",
        target_size: int | None = None,
        balance_tasks: bool = True,
        task_key: str = "task",
        seed: int = 0,
        batch_size: int = 512,
    ) -> None:
        self.scrubber = scrubber
        self.include_human_facing = include_human_facing
        self.drop_errors = drop_errors
        self.drop_empty = drop_empty
        self.drop_truncated = drop_truncated
        self.validate_tool_calls = validate_tool_calls
        self.max_tokens = max_tokens
        self.tokenizer = tokenizer
        self.dedupe = dedupe
        self.near_threshold = near_threshold
        self.keep = keep
        self.target_size = target_size
        self.balance_tasks = balance_tasks
        self.task_key = task_key
        self.seed = seed
        self.batch_size = batch_size

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        for name in ("include_human_facing", "drop_errors", "drop_empty", "drop_truncated",
                     "validate_tool_calls", "balance_tasks"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False; got {getattr(self, name)!r}")
        if self.dedupe not in DEDUPE_MODES:
            raise ConfigError(f"dedupe must be one of: {', '.join(DEDUPE_MODES)}; "
                              f"got {self.dedupe!r}")
        if self.keep not in KEEP_RULES:
            raise ConfigError(f"keep must be one of: {', '.join(KEEP_RULES)}; got {self.keep!r}")
        threshold = self.near_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
                0 < threshold <= 1):
            raise ConfigError(f"near_threshold must be a number in (0, 1]; got {threshold!r}")
        for name in ("max_tokens", "target_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ConfigError(f"{name} must be None or a positive int; got {value!r}")
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or (
                self.batch_size < 1):
            raise ConfigError(f"batch_size must be a positive int; got {self.batch_size!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an int; got {self.seed!r}")
        if not isinstance(self.task_key, str):
            raise ConfigError(f"task_key must be a str; got {self.task_key!r}")
        scrubber = self.scrubber
        if scrubber is not None and not (callable(getattr(scrubber, "scrub_records", None))
                                         or callable(getattr(scrubber, "scrub_record", None))):
            raise ConfigError("scrubber must be None or have scrub_records(records) or "
                              f"scrub_record(record); got {type(scrubber).__name__}")

    # ------------------------------------------------------------------ run
    def run(self, records: Iterable[CallRecord | Mapping[str, Any]] | Store,
            tasks: Mapping[str, str] | None = None) -> Dataset:
        """Curate ``records`` into a dataset; the counts go to :attr:`report_`.

        Args:
            records: ``CallRecord`` objects (or dicts of their fields), or a
                :class:`slm_agents.Store` (all its records are read with ``.records()``).
            tasks: Task label per record id. Records it does not name use
                ``record.metadata[task_key]``, else ``"unassigned"``.

        Returns:
            The dataset, examples in input order.

        Note:
            Python's cyclic garbage collector is paused during the run (and restored after):
            holding ~10^5 examples makes its full collections rescan millions of objects, which
            tripled the run time at 100,000 records. Curation creates no reference cycles, so
            reference counting still frees everything that is dropped.

        Raises:
            ConfigError: an invalid option (the message lists the valid values).
            TypeError: ``records`` is not an iterable of records or a store, or holds something
                else than records.
            InvalidRecordError: a dict in ``records`` is not a valid record.
            CurationError: no records, or none left after curation (the message has the drop
                counts).
        """
        self._check_params()
        if tasks is not None and not isinstance(tasks, Mapping):
            raise TypeError(f"tasks must be a mapping of record id to task; "
                            f"got {type(tasks).__name__}")
        with _gc_paused():
            return self._run(records, tasks)

    def _run(self, records: Any, tasks: Mapping[str, str] | None) -> Dataset:
        started = time.perf_counter()
        deduplicator = Deduplicator(self.dedupe, float(self.near_threshold))
        entities_before = entity_counts(self.scrubber)
        entities_discarded: Counter[str] = Counter()
        dropped: Counter[str] = Counter()
        per_task_in: Counter[str] = Counter()
        pool = self._collect(_iter_records(records), tasks, dropped, per_task_in,
                             entities_discarded)
        n_in = sum(per_task_in.values())
        if n_in == 0:
            raise CurationError("no records to curate: the input is empty")
        filtered_at = time.perf_counter()

        survivors = []
        for index in sorted(range(pool.size), key=pool.keys.__getitem__, reverse=True):
            reason = deduplicator.check(pool.examples[index])
            if reason is None:
                survivors.append(index)
            else:
                dropped[reason] += 1
        deduped_at = time.perf_counter()

        chosen = sample_by_task(survivors, pool.tasks, self.target_size, self.balance_tasks,
                                self.seed)
        dropped["sampled_out"] += len(survivors) - len(chosen)
        chosen.sort()

        report = CurationReport(
            n_in=n_in, n_out=len(chosen),
            dropped={r: dropped[r] for r in DROP_REASONS if dropped[r]},
            duplicates_exact=dropped["duplicate_exact"],
            duplicates_near=dropped["duplicate_near"],
            entities_scrubbed=_entity_delta(entities_before + entities_discarded,
                                            entity_counts(self.scrubber)),
            scrubber=None if self.scrubber is None else type(self.scrubber).__name__,
            per_task=dict(sorted(Counter(pool.tasks[i] for i in chosen).items())),
            per_task_in=dict(sorted(per_task_in.items())),
            elapsed_s=round(time.perf_counter() - started, 3),
        )
        self.report_ = report
        logger.info("curated %d records into %d examples in %.1f s (filter+scrub %.1f s, "
                    "dedupe %.1f s); dropped %s", n_in, len(chosen), report.elapsed_s,
                    filtered_at - started, deduped_at - filtered_at, report.dropped)
        if not chosen:
            counts = ", ".join(f"{r}={n}" for r, n in report.dropped.items())
            raise CurationError(f"no examples left after curating {n_in} records (dropped: "
                                f"{counts}); relax the filters that dropped the most")
        return Dataset([pool.examples[i] for i in chosen], [pool.meta[i] for i in chosen],
                       report)

    # ------------------------------------------------------------------ steps
    def _collect(self, source: Iterator[CallRecord], tasks: Mapping[str, str] | None,
                 dropped: Counter[str], per_task_in: Counter[str],
                 entities_discarded: Counter[str]) -> _Pool:
        """Filter, scrub, convert and length-check the records batch by batch (one pass)."""
        counter = TokenCounter(self.tokenizer)
        options = FilterOptions(
            drop_errors=self.drop_errors, include_human_facing=self.include_human_facing,
            drop_empty=self.drop_empty, drop_truncated=self.drop_truncated,
            validate_tool_calls=self.validate_tool_calls)
        pool = _Pool()
        while batch := list(islice(source, self.batch_size)):
            kept: list[tuple[CallRecord, str]] = []
            for record in batch:
                task = _task_of(record, tasks, self.task_key)
                per_task_in[task] += 1
                reason = drop_reason(record, options)
                if reason is None:
                    kept.append((record, task))
                else:
                    dropped[reason] += 1
            scrubbed = scrub_batch(self.scrubber, [record for record, _ in kept],
                                   entities_discarded)
            for (original, task), scrubbed_record in zip(kept, scrubbed, strict=True):
                if scrubbed_record is None:
                    dropped["scrub_failed"] += 1
                    continue
                example = record_to_example(scrubbed_record)
                if self.max_tokens is not None and counter(example) > self.max_tokens:
                    dropped["too_long"] += 1
                    continue
                pool.add(example, scrubbed_record, task, self._preference(original, pool.size))
        return pool

    def _preference(self, record: CallRecord, index: int) -> tuple[Any, ...]:
        """Sort key of a candidate: the higher, the more it deserves to be the copy kept."""
        when = record.started_at.timestamp()
        if self.keep == "latest":
            return (when, index)
        valid = not (has_invalid_tool_json(record) or has_unknown_tool(record))
        latency = record.latency_ms if record.latency_ms is not None else math.inf
        return (record.succeeded, valid, -latency, when, index)

class _Pool:
    """Candidates that passed the filters, as parallel lists (examples kept, records not).

    Repeated tool lists and system prompts are kept once (:class:`SharedParts`).
    """

    __slots__ = ("_shared", "examples", "keys", "meta", "tasks")

    def __init__(self) -> None:
        self.examples: list[dict[str, Any]] = []
        self.meta: list[dict[str, Any]] = []
        self.tasks: list[str] = []
        self.keys: list[tuple[Any, ...]] = []
        self._shared = SharedParts()

    @property
    def size(self) -> int:
        return len(self.examples)

    def add(self, example: dict[str, Any], record: CallRecord, task: str,
            key: tuple[Any, ...]) -> None:
        self._shared.share(example)
        self.examples.append(example)
        self.meta.append({"record_id": record.id, "trace_id": record.trace_id, "task": task,
                          "agent": record.agent, "started_at": record.started_at.isoformat()})
        self.tasks.append(task)
        self.keys.append(key)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _iter_records(records: Any) -> Iterator[CallRecord]:
    """Normalise the accepted inputs (records, dicts, a store) to an iterator of records."""
    if isinstance(records, (str, bytes, Mapping, CallRecord)):
        raise TypeError(f"records must be an iterable of CallRecord or a Store; got a "
                        f"{type(records).__name__} (wrap a single record in a list)")
    if not isinstance(records, Iterable):
        reader = getattr(records, "records", None)
        if not callable(reader):
            raise TypeError(f"records must be an iterable of CallRecord or a Store; got "
                            f"{type(records).__name__}")
        records = reader()
    for position, item in enumerate(records):
        if isinstance(item, CallRecord):
            yield item
        elif isinstance(item, Mapping):
            try:
                yield CallRecord.model_validate(item)
            except ValidationError as exc:
                raise InvalidRecordError(f"item {position} is not a valid CallRecord: "
                                         f"{exc}") from exc
        else:
            raise TypeError(f"item {position} of records is a {type(item).__name__}; expected "
                            f"a CallRecord (or a dict of its fields)")


def _task_of(record: CallRecord, tasks: Mapping[str, str] | None, task_key: str) -> str:
    label: Any = None
    if tasks is not None:
        label = tasks.get(record.id)
    if label is None:
        label = record.metadata.get(task_key)
    return UNASSIGNED if label is None else str(label)


def _entity_delta(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in sorted(after) if after[k] > before[k]}
