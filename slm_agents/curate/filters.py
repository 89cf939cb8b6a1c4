"""Quality filters: why a record cannot become a training example, one reason per record.

Each check is a small pure function over a :class:`~slm_agents.CallRecord` (or the example made
from it); :func:`drop_reason` runs the record-level ones in a fixed order and returns the first
reason that applies, so every dropped record is counted under exactly one reason. The reasons are
the strings in :data:`DROP_REASONS`, in pipeline order. :class:`TokenCounter` decides
``too_long``, and :func:`scrub_batch` runs the injected scrubber, turning a record it cannot
scrub into ``None`` (``scrub_failed``) rather than letting it through raw.

Examples:
    >>> from slm_agents.records import CallRecord, Message
    >>> ok = CallRecord(messages=[Message(role="user", content="hi")], output="hello")
    >>> drop_reason(ok, FilterOptions()) is None
    True
    >>> drop_reason(ok.model_copy(update={"error": "timeout"}), FilterOptions())
    'error'
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..capture.sanitize import truncation_marker
from ..errors import ConfigError, MissingDependencyError
from ..records import CallRecord, ToolCall
from .chat_format import example_text, template_messages

__all__ = [
    "DROP_REASONS",
    "FilterOptions",
    "TokenCounter",
    "drop_reason",
    "entity_counts",
    "has_invalid_tool_json",
    "has_unknown_tool",
    "is_empty",
    "is_truncated",
    "scrub_batch",
]

logger = logging.getLogger("slm_agents.curate")

DROP_REASONS: tuple[str, ...] = (
    "error",
    "human_facing",
    "empty_output",
    "truncated_output",
    "invalid_tool_json",
    "unknown_tool",
    "scrub_failed",
    "too_long",
    "duplicate_exact",
    "duplicate_near",
    "sampled_out",
)

# Finish reasons meaning "stopped at the token limit": OpenAI/LangChain say "length", Anthropic and
# Bedrock say "max_tokens".
TRUNCATED_FINISH_REASONS = frozenset({"length", "max_tokens", "max_output_tokens"})

# Capture cuts over-long text and appends truncation_marker(n); match any n.
_MARKER_PREFIX = truncation_marker(0).split(" 0 ")[0]
_MARKER = re.compile(re.escape(_MARKER_PREFIX) + r" \d+ chars\]")


@dataclass(frozen=True)
class FilterOptions:
    """Which record-level filters apply (the curator builds one from its parameters)."""

    drop_errors: bool = True
    include_human_facing: bool = False
    drop_empty: bool = True
    drop_truncated: bool = True
    validate_tool_calls: bool = True


def is_empty(record: CallRecord) -> bool:
    """No output text (``None`` or only whitespace) and no tool calls."""
    return not record.tool_calls and not (record.output or "").strip()


def is_truncated(record: CallRecord) -> bool:
    """Generation hit the token limit, or capture cut the output (its truncation marker)."""
    if (record.finish_reason or "").lower() in TRUNCATED_FINISH_REASONS:
        return True
    if record.output and _MARKER.search(record.output):
        return True
    for call in record.tool_calls:
        if call.raw_arguments and _MARKER.search(call.raw_arguments):
            return True
        if call.arguments and _MARKER.search(str(call.arguments)):
            return True
    return False


def _bad_json(call: ToolCall) -> bool:
    return call.error is not None or call.raw_arguments is not None


def has_invalid_tool_json(record: CallRecord) -> bool:
    """A tool call in the output, or in an earlier assistant turn, whose arguments did not parse.

    Earlier turns count too: fine-tuning formats train on every assistant turn by default.
    """
    if any(_bad_json(call) for call in record.tool_calls):
        return True
    return any(_bad_json(call) for message in record.messages for call in message.tool_calls)


def has_unknown_tool(record: CallRecord) -> bool:
    """An output tool call names a tool that was not offered (only checked when tools were)."""
    if not record.tool_calls or not record.tools:
        return False
    offered = set(record.tool_names)
    if not offered:
        return False
    return any(call.name not in offered for call in record.tool_calls)


def drop_reason(record: CallRecord, options: FilterOptions) -> str | None:
    """The first record-level reason to drop ``record``, or ``None`` to keep it.

    Order: ``error``, ``human_facing``, ``empty_output``, ``truncated_output``,
    ``invalid_tool_json``, ``unknown_tool``. (``too_long`` needs the scrubbed example and is
    checked later by :class:`TokenCounter`.)
    """
    if options.drop_errors and record.error is not None:
        return "error"
    if not options.include_human_facing and record.human_facing:
        return "human_facing"
    if options.drop_empty and is_empty(record):
        return "empty_output"
    if options.drop_truncated and is_truncated(record):
        return "truncated_output"
    if options.validate_tool_calls:
        if has_invalid_tool_json(record):
            return "invalid_tool_json"
        if has_unknown_tool(record):
            return "unknown_tool"
    return None


def _count_of(result: Any) -> int:
    """Token count from what a tokenizer returned: an int, ids, or an encoding with input_ids."""
    if isinstance(result, bool):
        raise TypeError("a token count must be an int, not a bool")
    if isinstance(result, int):
        return result
    ids = result.get("input_ids") if isinstance(result, Mapping) else getattr(
        result, "input_ids", None)
    if ids is None:
        ids = getattr(result, "ids", None)  # tokenizers.Encoding
    if ids is None:
        ids = result
    if ids and isinstance(ids, list) and isinstance(ids[0], list):  # a batch of one
        ids = ids[0]
    return len(ids)


class TokenCounter:
    """Counts an example's tokens with the target tokenizer.

    * A Hugging Face tokenizer (``apply_chat_template`` and a ``chat_template``): the example
      rendered by its chat template, tools included. Without a chat template, or for an example
      the template rejects, the tokenized plain rendering.
    * An object with ``encode`` (``tiktoken.Encoding``, ``tokenizers.Tokenizer``) or a callable
      ``str -> int`` (or ``str -> ids``): applied to the plain rendering
      (:func:`~slm_agents.curate.chat_format.example_text`).
    * ``None``: an estimate of one token per four characters of the plain rendering.
    """

    def __init__(self, tokenizer: Any = None) -> None:
        if tokenizer is not None and not (
            hasattr(tokenizer, "apply_chat_template") or hasattr(tokenizer, "encode")
            or callable(tokenizer)
        ):
            raise ConfigError(
                f"tokenizer must be None, a Hugging Face tokenizer, an object with .encode(text), "
                f"or a callable str -> int; got {type(tokenizer).__name__}"
            )
        self.tokenizer = tokenizer
        self._use_template = (hasattr(tokenizer, "apply_chat_template")
                              and getattr(tokenizer, "chat_template", None) is not None)

    def __call__(self, example: Mapping[str, Any]) -> int:
        tokenizer = self.tokenizer
        if tokenizer is None:
            return math.ceil(len(example_text(example)) / 4)
        if self._use_template:
            try:
                return _count_of(tokenizer.apply_chat_template(
                    template_messages(example), tools=example.get("tools") or None,
                    tokenize=True))
            except Exception as exc:
                # A template that rejects this conversation (say, roles that do not alternate)
                # should not stop curation: count the plain rendering for this example.
                logger.debug("chat template failed (%s); counting plain text", exc)
        text = example_text(example)
        counter: Callable[[str], Any] = tokenizer if callable(tokenizer) else tokenizer.encode
        return _count_of(counter(text))


# ---------------------------------------------------------------------- scrubbing ("scrub_failed")
def entity_counts(scrubber: Any) -> Counter[str]:
    """A copy of the scrubber's ``entity_counts`` (empty when it keeps none)."""
    counts = getattr(scrubber, "entity_counts", None) if scrubber is not None else None
    return Counter(dict(counts)) if isinstance(counts, Mapping) else Counter()


def scrub_batch(scrubber: Any, records: list[CallRecord],
                discarded: Counter[str]) -> list[CallRecord | None]:
    """The records scrubbed, ``None`` where scrubbing failed (drop those as ``scrub_failed``).

    Tries ``scrubber.scrub_records(records)`` first; when it raises, the records are scrubbed
    one by one (``scrub_record``, else ``scrub_records([record])``) to isolate the bad ones —
    unless its error names them (``record_ids``) and carries the others scrubbed (``scrubbed``),
    as :class:`slm_agents.PIIScrubber`'s does. A record is never returned unscrubbed.
    Configuration errors (:class:`ConfigError`, :class:`MissingDependencyError`) are raised:
    they mean a broken setup, and dropping every record would hide it.

    Entities the scrubber counted for a batch whose result was thrown away are added to
    ``discarded``, so that a report does not count them twice.
    """
    if scrubber is None or not records:
        return list(records)
    batch_scrub: Any = getattr(scrubber, "scrub_records", None)
    if callable(batch_scrub):
        before = entity_counts(scrubber)
        try:
            out = list(batch_scrub(records))
        except (ConfigError, MissingDependencyError):
            raise
        except Exception as exc:
            partial = _partial_result(exc, records)
            if partial is not None:
                return partial
            discarded.update(entity_counts(scrubber) - before)
            logger.warning("scrubbing a batch of %d records failed (%s); retrying one by one "
                           "to isolate the bad record", len(records), type(exc).__name__)
        else:
            if len(out) == len(records) and all(isinstance(r, CallRecord) for r in out):
                return out
            discarded.update(entity_counts(scrubber) - before)
            logger.warning("scrub_records returned %d items for %d records; retrying one by "
                           "one", len(out), len(records))
    single: Any = getattr(scrubber, "scrub_record", None)
    if not callable(single):
        def single(record: CallRecord) -> Any:
            return batch_scrub([record])[0]
    result: list[CallRecord | None] = []
    for record in records:
        try:
            scrubbed = single(record)
        except (ConfigError, MissingDependencyError):
            raise
        except Exception as exc:
            # Only the error type is logged: its message may quote the text that failed.
            logger.warning("record %s could not be scrubbed (%s); dropped", record.id,
                           type(exc).__name__)
            scrubbed = None
        result.append(scrubbed if isinstance(scrubbed, CallRecord) else None)
    return result


def _partial_result(exc: Exception, records: list[CallRecord]) -> list[CallRecord | None] | None:
    """The batch result carried by an error that names the failed records, if it lines up."""
    failed, done = getattr(exc, "record_ids", None), getattr(exc, "scrubbed", None)
    if not isinstance(failed, list) or not isinstance(done, list):
        return None
    failed_ids = set(failed)
    expected = [r.id for r in records if r.id not in failed_ids]
    if not failed_ids or [getattr(r, "id", None) for r in done] != expected or not all(
            isinstance(r, CallRecord) for r in done):
        return None
    scrubbed = iter(done)
    logger.warning("%d record(s) of a batch could not be scrubbed (%s); dropped",
                   len(records) - len(done), type(exc).__name__)
    return [None if r.id in failed_ids else next(scrubbed) for r in records]
