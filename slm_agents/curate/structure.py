"""Where the text to scrub sits in a :class:`~slm_agents.records.CallRecord`, and only there.

Scrubbed: message contents, the output, the error text, tool-call argument *values* (string
leaves of the arguments object, and unparsed ``raw_arguments``), and the ``name`` of user
messages. Text that is a JSON object or array (a tool result, a structured output) is parsed, its
string leaves are scrubbed with the key they sit under as context, and it is dumped back in the
same layout, so it stays valid JSON with the same keys. Never touched: JSON keys, ``tools``
(schemas), tool names, ids, roles, usage, timings, request parameters and metadata.

Examples:
    >>> from slm_agents.records import CallRecord, Message
    >>> rec = CallRecord(messages=[Message(role="tool", content='{"email": "a@b.io", "n": 1}')])
    >>> out = map_record(rec, lambda text, context: text.upper() if "email" in context else text)
    >>> out.messages[0].content
    '{"email": "A@B.IO", "n": 1}'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..records import CallRecord, Message, ToolCall

__all__ = ["TextFunction", "key_context", "map_json_text", "map_record"]

TextFunction = Callable[[str, tuple[str, ...]], str]
"""``(text, context_words) -> replacement``; context words come from the enclosing JSON key."""

_MAX_DEPTH = 4  # JSON encoded inside JSON strings, at most this deep
# Integers this long may be phone, account or card numbers written without quotes.
_MIN_NUMBER = 100_000
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[^A-Za-z0-9]+")
_INDENT = re.compile(r"\n( +|\t)\S")


def key_context(key: str) -> tuple[str, ...]:
    """Context words from a JSON key: ``"patientMRN"`` → ``("patientmrn", "patient", "mrn")``."""
    words = [w.lower() for w in _CAMEL.split(key) if w]
    whole = key.lower()
    return tuple(dict.fromkeys([whole, *words]))[:6]


def map_record(record: CallRecord, fn: TextFunction) -> CallRecord:
    """A copy of ``record`` with ``fn`` applied to every scrubbable text (the input is unchanged).

    Built with ``model_copy`` (no re-validation): every value put back is of the type it was.
    """
    messages = [_map_message(m, fn) for m in record.messages]
    update: dict[str, Any] = {
        "messages": messages,
        "tool_calls": [_map_tool_call(c, fn) for c in record.tool_calls],
    }
    if record.output is not None:
        update["output"] = map_json_text(record.output, fn)
    if record.error is not None:
        update["error"] = fn(record.error, ())
    return record.model_copy(update=update)


def _map_message(message: Message, fn: TextFunction) -> Message:
    update: dict[str, Any] = {"tool_calls": [_map_tool_call(c, fn) for c in message.tool_calls]}
    if message.content is not None:
        update["content"] = map_json_text(message.content, fn)
    if message.name is not None and message.role == "user":
        update["name"] = fn(message.name, ("name",))
    return message.model_copy(update=update)


def _map_tool_call(call: ToolCall, fn: TextFunction) -> ToolCall:
    update: dict[str, Any] = {"arguments": _map_value(call.arguments, fn, (), 0)}
    if call.raw_arguments is not None:
        update["raw_arguments"] = map_json_text(call.raw_arguments, fn)
    if call.error is not None:
        update["error"] = fn(call.error, ())
    return call.model_copy(update=update)


def map_json_text(text: str, fn: TextFunction, context: tuple[str, ...] = (),
                  depth: int = 0) -> str:
    """Apply ``fn`` to ``text``, or to the string leaves of it when it is a JSON object/array."""
    stripped = text.strip()
    if depth < _MAX_DEPTH and stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            mapped = _map_value(parsed, fn, context, depth + 1)
            if mapped == parsed:
                return text  # nothing replaced: keep the text byte for byte
            lead = text[:len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()):]
            return lead + _dumps(mapped, stripped) + trail
    return fn(text, context)


def _map_value(value: Any, fn: TextFunction, context: tuple[str, ...], depth: int) -> Any:
    if isinstance(value, str):
        return map_json_text(value, fn, context, depth) if value else value
    if isinstance(value, dict):
        # A leaf's context: its own key, the enclosing key ({"account": {"number": ...}}), and
        # the name of a name/value pair ({"name": "OPENAI_API_KEY", "value": ...}).
        label = _pair_label(value)
        return {k: _map_value(v, fn, (*key_context(str(k)), *context[:3], *label), depth)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_map_value(v, fn, context, depth) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _MIN_NUMBER:
        text = str(value)
        new = fn(text, context)
        if new == text:
            return value
        # A format-preserving surrogate stays a number; a placeholder becomes a string.
        return int(new) if re.fullmatch(r"-?[1-9]\d*", new) else new
    return value


_LABEL_KEYS = ("name", "key", "field", "variable", "var", "label", "type", "kind")
_LABEL_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,47}")


def _pair_label(value: dict[str, Any]) -> tuple[str, ...]:
    for key in _LABEL_KEYS:
        label = value.get(key)
        if isinstance(label, str) and _LABEL_VALUE.fullmatch(label):
            return key_context(label)[:4]
    return ()


def _dumps(value: Any, original: str) -> str:
    """Dump in the layout of ``original``: indented, spaced (``", "``) or compact."""
    ensure_ascii = "\\u" in original and original.isascii()
    if "\n" in original:
        indent_match = _INDENT.search(original)
        indent: int | str = 2
        if indent_match:
            unit = indent_match.group(1)
            indent = "\t" if unit == "\t" else len(unit)
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)
    spaced = re.search(r'"\s*:\s', original) is not None or re.search(r",\s", original) is not None
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(value, ensure_ascii=ensure_ascii, separators=separators)
