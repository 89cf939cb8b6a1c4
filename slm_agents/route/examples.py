"""Logged calls as the router sees them: input messages, tools, and the LLM's answer.

Calibration and the offline replay read logged calls in three forms: :class:`~slm_agents.CallRecord`
s (as captured), OpenAI chat examples whose last turn is the LLM's answer, or a
:class:`~slm_agents.Dataset` (whose ``meta`` names each example's agent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ..errors import ConfigError
from ..records import CallRecord
from ..train.generation import Generation, example_reference

__all__ = ["logged_calls", "record_reference"]


def record_reference(record: CallRecord,
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, Generation]:
    """Split a logged call into (input messages, tools, the LLM's answer), as the router sees
    a call: OpenAI-style dicts that keep what the record knows (a tool turn's ``name`` too,
    which the clusterer reads and a fine-tuning example would drop).

    Examples:
        >>> from slm_agents.records import Message
        >>> msgs, tools, ref = record_reference(CallRecord(
        ...     messages=[Message(role="user", content="2+2")], output="4"))
        >>> msgs, tools, ref.text
        ([{'role': 'user', 'content': '2+2'}], None, '4')
    """
    messages = []
    for message in record.messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.tool_calls:
            item["tool_calls"] = [
                {"id": call.id, "type": "function",
                 "function": {"name": call.name, "arguments": (
                     call.raw_arguments if call.error is not None and call.raw_arguments
                     else orjson.dumps(call.arguments).decode())}}
                for call in message.tool_calls]
        if message.tool_call_id is not None:
            item["tool_call_id"] = message.tool_call_id
        if message.name is not None:
            item["name"] = message.name
        messages.append(item)
    reference = Generation(text=record.output, tool_calls=list(record.tool_calls),
                           raw=record.output or "")
    return messages, [dict(t) for t in record.tools] or None, reference


#: (input messages, tools, the LLM's answer, agent, record id)
LoggedCall = tuple[list[dict[str, Any]], list[dict[str, Any]] | None, Generation, str | None,
                   str | None]


def logged_calls(examples: Any) -> list[LoggedCall]:
    """One :data:`LoggedCall` per usable example (calls without an LLM answer are skipped).

    Raises:
        TypeError: ``examples`` is a single item or holds items of no accepted form.
        ConfigError: an example does not end with the LLM's answer, or none is usable.
    """
    if isinstance(examples, (str, bytes, Mapping, CallRecord)):
        raise TypeError("examples must be a sequence of logged calls, not a single item")
    metas: Iterable[Any] = getattr(examples, "meta", None) or ()
    items = list(getattr(examples, "examples", examples))
    metas = list(metas) or [None] * len(items)
    out: list[LoggedCall] = []
    for i, (item, meta) in enumerate(zip(items, metas, strict=False)):
        agent = call_id = None
        if isinstance(item, CallRecord):
            if item.error is not None or (item.output is None and not item.tool_calls):
                continue  # no LLM answer to compare with
            out.append((*record_reference(item), item.agent, item.id))
            continue
        if not isinstance(item, Mapping):
            raise TypeError(f"examples[{i}] is a {type(item).__name__}; accepted: CallRecords, "
                            "OpenAI chat examples {'messages': [...], 'tools': [...]} ending "
                            "with the LLM's assistant turn, or a slm_agents.Dataset")
        if isinstance(meta, Mapping):
            agent = meta.get("agent") or agent
        try:
            messages, tools, reference = example_reference(item)
        except ValueError as exc:
            raise ConfigError(f"examples[{i}]: {exc}") from exc
        out.append((messages, tools, reference, agent, call_id))
    if not out:
        raise ConfigError("no usable examples: each needs the LLM's answer as its last turn")
    return out
