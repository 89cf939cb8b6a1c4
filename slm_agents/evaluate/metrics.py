"""Metric functions for one predicted answer against its reference: tool calls and text.

Tool calls are scored the way the Berkeley Function Calling Leaderboard's AST checker scores
them, adapted to a single logged reference call instead of BFCL's lists of accepted values:

- **Names** must be equal (case-sensitive: tool names are identifiers).
- **Strings** are compared after BFCL's ``standardize_string``: spaces and ``, . / - _ * ^``
  removed, lower-cased, ``'`` read as ``"`` (``"April 1, 2024"`` matches ``"april 1 2024"``).
- **Numbers** compare by value: ``1`` matches ``1.0`` (BFCL's int-to-float conversion), and,
  more leniently than BFCL, a numeric string matches the number (``"3"`` matches ``3``) and
  ``"true"``/``"false"`` match booleans; two numeric strings compare as numbers (BFCL's
  stripping of ``.`` would make ``"1.5"`` match ``"15"``). A wrong type is reported by the
  schema check instead, so one mistake is not counted twice. ``True`` never matches ``1``.
- **Objects** match key by key, whatever the key order.
- **Lists** match element by element in order, as BFCL's ``list_checker`` does, except where the
  parameter's schema says ``"uniqueItems": true`` (a set) or the caller passes
  ``unordered_lists=True``: then any order matches.
- **Optional arguments**: a key present on one side only matches when its value is the schema's
  ``default`` for that key or ``null`` (BFCL's "optional parameter may be omitted").
- **Several calls** are paired order-insensitively (BFCL's ``parallel_function_checker_no_order``):
  each reference call takes the unpaired prediction that scores best against it, exact matches
  first.

Text is scored with whitespace-normalised exact match and SQuAD's token F1.

Examples:
    >>> from slm_agents.records import ToolCall
    >>> score = score_tool_calls([ToolCall(name="add", arguments={"a": "3", "b": 1.0})],
    ...                          [ToolCall(name="add", arguments={"b": 1, "a": 3})])
    >>> score.name_accuracy, score.argument_match, score.exact
    (1.0, 1.0, True)
    >>> round(token_f1("The cat sat.", "a cat sat down"), 3)
    0.8
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..records import ToolCall
from ._schema import find_tool, tool_parameters, validate

__all__ = [
    "CallPair",
    "ToolCallScore",
    "argument_match",
    "as_tool_call",
    "exact_match",
    "normalize_text",
    "schema_errors",
    "score_tool_calls",
    "standardize_string",
    "token_f1",
    "values_match",
]

_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_MISSING = object()
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


# ---------------------------------------------------------------- values


def standardize_string(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ``,./-_*^``, lower-case, ``'`` → ``"``.

    Examples:
        >>> standardize_string("April 1, 2024") == standardize_string("april 1 2024")
        True
    """
    return _BFCL_STRIP.sub("", text).lower().replace("'", '"')


def _as_number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and _NUMBER.match(value):
        try:
            return int(value)
        except ValueError:
            return float(value)
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _sub_schema(schema: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    if not isinstance(schema, Mapping):
        return None
    properties = schema.get("properties")
    sub = properties.get(key) if isinstance(properties, Mapping) else None
    return sub if isinstance(sub, Mapping) else None


def values_match(predicted: Any, reference: Any, schema: Mapping[str, Any] | None = None, *,
                 unordered_lists: bool = False) -> bool:
    """Whether two argument values match under the type normalisation described above.

    Args:
        predicted: The value the model gave.
        reference: The value the reference (the LLM) gave.
        schema: The JSON schema of this value, when known (for ``default``s of nested keys,
            ``items`` and ``uniqueItems``).
        unordered_lists: Compare every list as a multiset.

    Examples:
        >>> values_match("3", 3), values_match(1.0, 1), values_match(True, 1)
        (True, True, False)
        >>> values_match(["b", "a"], ["a", "b"], {"type": "array", "uniqueItems": True})
        True
    """
    if isinstance(predicted, bool) or isinstance(reference, bool):
        return _as_bool(predicted) is not None and _as_bool(predicted) == _as_bool(reference)
    number_p, number_r = _as_number(predicted), _as_number(reference)
    if isinstance(predicted, (int, float)) or isinstance(reference, (int, float)):
        if number_p is None or number_r is None:
            return False
        return bool(number_p == number_r) or (math.isnan(number_p) and math.isnan(number_r))
    if isinstance(predicted, str) and isinstance(reference, str):
        if number_p is not None and number_r is not None:
            return bool(number_p == number_r)  # "1.5" vs "15" must not match after stripping "."
        return standardize_string(predicted) == standardize_string(reference)
    if predicted is None or reference is None:
        return predicted is None and reference is None
    if isinstance(predicted, Mapping) and isinstance(reference, Mapping):
        return _object_score(predicted, reference, schema, unordered_lists)[0] == 1.0
    if isinstance(predicted, (list, tuple)) and isinstance(reference, (list, tuple)):
        return _lists_match(predicted, reference, schema, unordered_lists)
    return bool(predicted == reference)


def _lists_match(predicted: Sequence[Any], reference: Sequence[Any],
                 schema: Mapping[str, Any] | None, unordered: bool) -> bool:
    if len(predicted) != len(reference):
        return False
    items = schema.get("items") if isinstance(schema, Mapping) else None
    items = items if isinstance(items, Mapping) else None
    if not (unordered or (isinstance(schema, Mapping) and schema.get("uniqueItems") is True)):
        return all(values_match(p, r, items, unordered_lists=unordered)
                   for p, r in zip(predicted, reference, strict=True))
    remaining = list(predicted)
    for ref_item in reference:
        for index, pred_item in enumerate(remaining):
            if values_match(pred_item, ref_item, items, unordered_lists=unordered):
                del remaining[index]
                break
        else:
            return False
    return True


def _absent_ok(value: Any, schema: Mapping[str, Any] | None) -> bool:
    """Whether a key given on one side only matches its absence on the other."""
    if value is None:
        return True
    if isinstance(schema, Mapping) and "default" in schema:
        return values_match(value, schema["default"], schema)
    return False


def _object_score(predicted: Mapping[str, Any], reference: Mapping[str, Any],
                  schema: Mapping[str, Any] | None,
                  unordered: bool) -> tuple[float, list[str]]:
    keys = list(reference) + [k for k in predicted if k not in reference]
    if not keys:
        return 1.0, []
    wrong: list[str] = []
    for key in keys:
        sub = _sub_schema(schema, key)
        p, r = predicted.get(key, _MISSING), reference.get(key, _MISSING)
        if p is _MISSING:
            ok = _absent_ok(r, sub)
        elif r is _MISSING:
            ok = _absent_ok(p, sub)
        else:
            ok = values_match(p, r, sub, unordered_lists=unordered)
        if not ok:
            wrong.append(str(key))
    return (len(keys) - len(wrong)) / len(keys), wrong


def argument_match(predicted: Mapping[str, Any], reference: Mapping[str, Any],
                   schema: Mapping[str, Any] | None = None, *,
                   unordered_lists: bool = False) -> float:
    """The share of argument keys (either side's) whose values match, in ``[0, 1]``.

    Keys given on one side only count as matching when the value is the schema's default or
    ``null``. Two empty argument objects match fully.

    Examples:
        >>> argument_match({"city": "oslo", "days": 3}, {"city": "Oslo", "days": 5})
        0.5
        >>> schema = {"properties": {"unit": {"type": "string", "default": "celsius"}}}
        >>> argument_match({"city": "Oslo", "unit": "celsius"}, {"city": "Oslo"}, schema)
        1.0
    """
    return _object_score(predicted, reference, schema, unordered_lists)[0]


# ---------------------------------------------------------------- tool calls


def as_tool_call(call: ToolCall | Mapping[str, Any]) -> ToolCall:
    """A :class:`~slm_agents.records.ToolCall` from a ToolCall, ``{"name", "arguments"}`` or an
    OpenAI wire dict (``{"function": {"name", "arguments": "<json>"}}``).

    Arguments that are not a JSON object give a call with empty ``arguments`` and ``error`` set.
    """
    if isinstance(call, ToolCall):
        return call
    nested = call.get("function")
    function: Mapping[str, Any] = nested if isinstance(nested, Mapping) else call
    name = str(function.get("name") or "")
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError as exc:
            return ToolCall(name=name, raw_arguments=arguments, error=str(exc))
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        return ToolCall(name=name, raw_arguments=str(arguments), error="not a JSON object")
    return ToolCall(name=name, arguments=dict(arguments), id=call.get("id"))


def schema_errors(call: ToolCall | Mapping[str, Any],
                  tools: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """Why a call is not valid for the offered tools (an empty list when it is valid).

    A call is valid when it names an offered tool, its arguments parsed as a JSON object, and
    they validate against that tool's parameter schema (required keys, types, enums, bounds, no
    unknown keys where ``additionalProperties`` is false). A tool offered without a schema
    accepts any arguments.

    Examples:
        >>> tools = [{"type": "function", "function": {"name": "f", "parameters": {
        ...     "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}]
        >>> schema_errors({"name": "f", "arguments": {"n": 2}}, tools)
        []
        >>> schema_errors({"name": "f", "arguments": {}}, tools)
        ["f: $: missing required key 'n'"]
    """
    call = as_tool_call(call)
    spec = find_tool(call.name, tools)
    if spec is None:
        return [f"{call.name}: not an offered tool"]
    if call.error is not None:
        return [f"{call.name}: arguments are not a JSON object ({call.error})"]
    return [f"{call.name}: {error}" for error in validate(call.arguments, tool_parameters(spec))]


@dataclass(frozen=True)
class CallPair:
    """A reference call and the predicted call paired with it (by index into each list)."""

    reference: int
    predicted: int
    name_match: bool
    argument_match: float
    exact: bool
    wrong_arguments: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolCallScore:
    """How a list of predicted calls scores against the reference calls of one example.

    Attributes:
        name_accuracy: Reference calls whose name is matched by a distinct predicted call,
            divided by the larger of the two counts (extra or missing calls cost).
        argument_match: Sum of the paired calls' argument scores (0 when names differ),
            divided by the larger count.
        exact: Same number of calls and every reference call paired with an exact match
            (same name, every argument matching).
        pairs: The pairing, reference order.
    """

    name_accuracy: float
    argument_match: float
    exact: bool
    pairs: tuple[CallPair, ...] = field(default_factory=tuple)


def _pair_score(pred: ToolCall, ref: ToolCall, schema: Mapping[str, Any] | None,
                unordered: bool) -> tuple[float, list[str]]:
    if pred.name != ref.name:
        return 0.0, []
    if pred.error is not None or ref.error is not None:
        return 0.0, ["<unparsed arguments>"]
    return _object_score(pred.arguments, ref.arguments, schema, unordered)


def score_tool_calls(predicted: Sequence[ToolCall | Mapping[str, Any]],
                     reference: Sequence[ToolCall | Mapping[str, Any]],
                     tools: Sequence[Mapping[str, Any]] | None = None, *,
                     unordered_lists: bool = False) -> ToolCallScore:
    """Score predicted tool calls against the reference calls, pairing them in any order.

    Each reference call, in order, is paired with the still unpaired predicted call that scores
    best against it (same name first, then the argument score; ties go to the earlier
    prediction). Both empty is a perfect score (nothing to call, nothing called).

    Args:
        predicted: The model's calls.
        reference: The reference (LLM's) calls.
        tools: The offered tool specs, whose parameter schemas supply ``default``s, ``items``
            and ``uniqueItems`` for the argument comparison.
        unordered_lists: Compare every list argument as a multiset.

    Examples:
        >>> score = score_tool_calls([{"name": "b", "arguments": {}}, {"name": "a",
        ...                            "arguments": {"x": 1}}],
        ...                          [{"name": "a", "arguments": {"x": 1}}, {"name": "b"}])
        >>> score.exact, [(p.reference, p.predicted) for p in score.pairs]
        (True, [(0, 1), (1, 0)])
    """
    preds = [as_tool_call(c) for c in predicted]
    refs = [as_tool_call(c) for c in reference]
    if not preds and not refs:
        return ToolCallScore(1.0, 1.0, True)
    scores = {}
    for r_index, ref in enumerate(refs):
        spec = find_tool(ref.name, tools)
        schema = tool_parameters(spec) if spec is not None else None
        for p_index, pred in enumerate(preds):
            scores[r_index, p_index] = _pair_score(pred, ref, schema, unordered_lists)
    # Greedy on the best pairs overall: exact pairs are taken first, so a perfect pairing is
    # found whenever one exists (matching under normalisation is transitive).
    order = sorted(scores, key=lambda rp: (-(preds[rp[1]].name == refs[rp[0]].name),
                                           -scores[rp][0], rp[0], rp[1]))
    pairs: list[CallPair] = []
    used_r: set[int] = set()
    used_p: set[int] = set()
    for r_index, p_index in order:
        if r_index in used_r or p_index in used_p:
            continue
        score, wrong = scores[r_index, p_index]
        name_match = preds[p_index].name == refs[r_index].name
        pairs.append(CallPair(r_index, p_index, name_match, score,
                              name_match and score == 1.0, tuple(wrong)))
        used_r.add(r_index)
        used_p.add(p_index)
    pairs.sort(key=lambda p: p.reference)
    denominator = max(len(preds), len(refs))
    names = sum(p.name_match for p in pairs) / denominator
    arguments = sum(p.argument_match for p in pairs) / denominator
    exact = len(preds) == len(refs) and all(p.exact for p in pairs)
    return ToolCallScore(names, arguments, exact, tuple(pairs))


# ---------------------------------------------------------------- text


def normalize_text(text: str | None) -> str:
    """Whitespace runs collapsed to one space, ends stripped (``None`` reads as ``""``)."""
    return " ".join((text or "").split())


def exact_match(predicted: str | None, reference: str | None) -> bool:
    """Whether the texts are equal after whitespace normalisation (case and punctuation count).

    Examples:
        >>> exact_match(" Paris\\n is  nice", "Paris is nice"), exact_match("paris", "Paris")
        (True, False)
    """
    return normalize_text(predicted) == normalize_text(reference)


def _squad_tokens(text: str | None) -> list[str]:
    # SQuAD v1.1's normalize_answer: lower, drop punctuation and articles, split on whitespace.
    lowered = (text or "").lower().translate(_PUNCTUATION)
    return _ARTICLES.sub(" ", lowered).split()


def token_f1(predicted: str | None, reference: str | None) -> float:
    """SQuAD's token F1 between two texts, in ``[0, 1]``.

    Both texts are lower-cased, stripped of punctuation and of the articles a/an/the, and split
    on whitespace; F1 is the harmonic mean of the overlap's precision and recall (counting
    repeated tokens). When either side has no tokens, F1 is 1 if both have none, else 0.

    Examples:
        >>> token_f1("the Eiffel Tower", "Eiffel tower!"), token_f1("", "x")
        (1.0, 0.0)
    """
    pred, ref = _squad_tokens(predicted), _squad_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)
