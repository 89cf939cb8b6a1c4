"""The total functions capture uses to make host values JSON-safe and bounded."""

from __future__ import annotations

import math

import pytest

from slm_agents.capture.sanitize import (
    clean_text,
    json_safe,
    parse_arguments,
    split_content,
    tool_call_from_parts,
    truncation_marker,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),                              # None stays None
        ("plain", "plain"),                        # text passes through
        ("é".encode(), "é"),                       # UTF-8 bytes are decoded
        (b"\xff", "\\xff"),                        # invalid bytes become escapes
        ("a\udc80b", "a\\udc80b"),                 # a lone surrogate becomes an escape
        (12, "12"),                                # other objects become their str
        ("x" * 1500, "x" * 1000 + truncation_marker(500)),  # cut at the limit, with a marker
    ],
)
def test_clean_text_returns_bounded_encodable_text(value: object, expected: str | None) -> None:
    assert clean_text(value, max_chars=1000) == expected


def test_json_safe_handles_cycles_odd_objects_and_non_finite_numbers() -> None:
    cyclic: list = [1]
    cyclic.append(cyclic)
    out = json_safe({"c": cyclic, "nan": math.nan, "set": {3}, 4: b"\xff", "t": (1, 2)})
    assert out == {"c": [1, "<cycle>"], "nan": "nan", "set": [3], "4": {"__bytes_b64__": "/w=="},
                   "t": [1, 2]}


@pytest.mark.parametrize(
    ("raw", "arguments", "raw_kept", "has_error"),
    [
        ('{"a": 1}', {"a": 1}, None, False),       # a JSON object parses
        ({"a": 1}, {"a": 1}, None, False),         # a dict is kept
        ("", {}, None, False),                     # nothing means no arguments
        ("{oops", {}, "{oops", True),              # malformed JSON is kept verbatim with a reason
        ("[1, 2]", {}, "[1, 2]", True),            # JSON that is not an object is kept too
    ],
)
def test_parse_arguments_never_loses_what_the_model_wrote(
        raw: object, arguments: dict, raw_kept: str | None, has_error: bool) -> None:
    parsed, kept, error = parse_arguments(raw)
    assert (parsed, kept, error is not None) == (arguments, raw_kept, has_error)
    call = tool_call_from_parts("f", raw, "id1")
    assert (call.name, call.arguments, call.raw_arguments, call.id) == ("f", arguments, raw_kept,
                                                                        "id1")


def test_split_content_joins_text_blocks_and_keeps_other_parts() -> None:
    blocks = ["Hello ", {"type": "text", "text": "world"},
              {"type": "image_url", "image_url": {"url": "data:..."}}]
    assert split_content(blocks) == ("Hello world",
                                     [{"type": "image_url", "image_url": {"url": "data:..."}}])
    assert split_content(None) == (None, [])
    assert split_content([{"type": "image"}]) == (None, [{"type": "image"}])
