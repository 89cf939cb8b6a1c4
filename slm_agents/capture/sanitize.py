"""Turn whatever a host application hands us into JSON-safe, bounded values, without raising.

Capture sees bytes, non-UTF-8 text (lone surrogates), cyclic structures, arbitrary objects in
metadata, ``None`` content and 10 MB prompts. Every function here returns something a
:class:`~slm_agents.CallRecord` can hold and never raises: the value is kept faithfully where it can
be, and marked where it cannot (a truncation marker, a ``repr``, a cycle marker).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from ..records import ToolCall

__all__ = [
    "DEFAULT_MAX_CHARS",
    "clean_text",
    "json_safe",
    "parse_arguments",
    "split_content",
    "tool_call_from_parts",
    "truncation_marker",
]

# 1 MiB of text per field: a 10 MB prompt is kept in part and marked, never dropped or raised on.
DEFAULT_MAX_CHARS = 1_000_000
_MAX_DEPTH = 32


def truncation_marker(dropped: int) -> str:
    """The marker appended to text cut at the size limit (says how much was dropped)."""
    return f"…[slm_agents: truncated {dropped} chars]"


def clean_text(value: Any, max_chars: int = DEFAULT_MAX_CHARS) -> str | None:
    """Return ``value`` as valid UTF-8 text of at most ``max_chars`` characters (plus a marker).

    ``None`` stays ``None``. Bytes are decoded as UTF-8 (invalid bytes become ``\\xNN`` escapes);
    lone surrogates in ``str`` become ``\\udXXX`` escapes so the text is faithful and encodable.
    """
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("utf-8", errors="backslashreplace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except Exception as exc:  # a broken __str__ must not break capture
            text = f"<unprintable {type(value).__name__}: {exc!r}>"
    if len(text) > max_chars:
        text = text[:max_chars] + truncation_marker(len(text) - max_chars)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text


def json_safe(value: Any, max_chars: int = DEFAULT_MAX_CHARS, _depth: int = 0,
              _seen: set[int] | None = None) -> Any:
    """Return a JSON-serialisable copy of ``value`` (dicts, lists, str, int, float, bool, None).

    Cycles become ``"<cycle>"``; objects nested deeper than 32 levels become their ``repr``; bytes
    that are not UTF-8 become ``{"__bytes_b64__": ...}``; pydantic models and dataclass-like objects
    are dumped; anything else becomes its ``repr`` (cut at ``max_chars``).
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return clean_text(value, max_chars)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return clean_text(raw.decode("utf-8"), max_chars)
        except UnicodeDecodeError:
            return {"__bytes_b64__": base64.b64encode(raw[:max_chars]).decode("ascii")}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, Enum)):
        return str(value.value if isinstance(value, Enum) else value)
    if _depth >= _MAX_DEPTH:
        return clean_text(_safe_repr(value), max_chars)
    seen = _seen if _seen is not None else set()
    marker = id(value)
    if marker in seen:
        return "<cycle>"
    if isinstance(value, Mapping):
        seen.add(marker)
        try:
            return {
                clean_text(k if isinstance(k, str) else _safe_repr(k), 10_000) or "":
                json_safe(v, max_chars, _depth + 1, seen)
                for k, v in list(value.items())
            }
        finally:
            seen.discard(marker)
    if isinstance(value, (list, tuple, set, frozenset)):
        seen.add(marker)
        try:
            return [json_safe(v, max_chars, _depth + 1, seen) for v in list(value)]
        finally:
            seen.discard(marker)
    dump = getattr(value, "model_dump", None)  # pydantic v2 models (framework messages, configs)
    if callable(dump):
        seen.add(marker)
        try:
            return json_safe(dump(), max_chars, _depth + 1, seen)
        except Exception:
            return clean_text(_safe_repr(value), max_chars)
        finally:
            seen.discard(marker)
    return clean_text(_safe_repr(value), max_chars)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__name__}: {exc!r}>"


def parse_arguments(raw: Any) -> tuple[dict[str, Any], str | None, str | None]:
    """Parse tool-call arguments into ``(arguments, raw_arguments, error)``.

    A dict is kept as it is. Text that parses as a JSON object becomes that object. Anything else
    (malformed JSON, a JSON list, a number) gives ``{}`` plus the original text and the reason,
    so nothing the model produced is lost.
    """
    if raw is None or raw == "":
        return {}, None, None
    if isinstance(raw, Mapping):
        return json_safe(dict(raw)), None, None
    text = clean_text(raw) or ""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return {}, text, f"arguments are not valid JSON: {exc}"
    if not isinstance(parsed, dict):
        return {}, text, f"arguments are JSON but not an object (got {type(parsed).__name__})"
    return parsed, None, None


def tool_call_from_parts(name: Any, arguments: Any, call_id: Any = None,
                         error: str | None = None) -> ToolCall:
    """Build a :class:`ToolCall` from loosely typed parts, keeping malformed arguments verbatim."""
    args, raw, parse_error = parse_arguments(arguments)
    return ToolCall.model_construct(
        name=clean_text(name, 10_000) or "",
        arguments=args,
        id=None if call_id is None else clean_text(call_id, 10_000),
        raw_arguments=raw,
        error=error or parse_error,
    )


def split_content(content: Any, max_chars: int = DEFAULT_MAX_CHARS) -> tuple[str | None, list[Any]]:
    """Text of a message's content, plus its non-text parts (multimodal blocks).

    Content may be text, bytes, ``None`` or a list of blocks (strings and ``{"type": "text"}``
    dicts are joined into the text; image, audio and other blocks are returned JSON-safe).
    """
    if content is None or isinstance(content, (str, bytes, bytearray, memoryview)):
        return clean_text(content, max_chars), []
    if isinstance(content, list):
        texts: list[str] = []
        parts: list[Any] = []
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif isinstance(block, Mapping) and block.get("type") == "text":
                text = block.get("text")
                texts.append(text if isinstance(text, str) else clean_text(text, max_chars) or "")
            else:
                parts.append(json_safe(block, max_chars))
        # Cut once, after joining, so the marker counts every dropped character.
        return (clean_text("".join(texts), max_chars) if texts else None), parts
    return clean_text(content, max_chars), []
