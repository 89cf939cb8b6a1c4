"""A small JSON-schema validator for the subset that tool (function) schemas use.

Tool specs offered to a model describe their arguments with a JSON schema: an ``object`` with
``properties``, ``required`` and sometimes ``additionalProperties: false``; values typed
``string``/``integer``/``number``/``boolean``/``array``/``object``/``null``, with ``enum``,
``const``, bounds, ``items``, ``anyOf``/``oneOf``/``allOf`` and local ``$ref``s (pydantic and
LangChain emit ``$defs``). This module checks exactly that subset, with no dependency, so the
schema-valid rate is the same on every install. Keywords outside it (``format``, ``if``...) are
ignored, as a validator must ignore annotations it does not know.

Two leniencies follow what tool-calling models are graded on: ``"nullable": true`` (OpenAPI)
admits ``null``, and the Berkeley Function Calling Leaderboard's non-standard type names
(``float``, ``dict``, ``tuple``, ``any``) mean ``number``, ``object``, ``array`` and any value.

Examples:
    >>> schema = {"type": "object", "properties": {"n": {"type": "integer"}},
    ...           "required": ["n"], "additionalProperties": False}
    >>> validate({"n": 3}, schema)
    []
    >>> validate({"n": "3", "x": 1}, schema)
    ['$.n: expected integer, got string', "$: unexpected key 'x'"]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["find_tool", "tool_name", "tool_parameters", "validate"]

# BFCL's tool specs use Python-ish type names; JSON Schema's names map to themselves.
_TYPE_ALIASES = {"float": "number", "dict": "object", "tuple": "array", "list": "array",
                 "int": "integer", "bool": "boolean", "str": "string", "any": "any"}
_MAX_DEPTH = 64  # a self-referencing $ref must not recurse forever


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _has_type(value: Any, expected: str) -> bool:
    expected = _TYPE_ALIASES.get(expected, expected)
    actual = _type_name(value)
    if expected == "any" or actual == expected:
        return True
    if expected == "number":
        return actual == "integer"
    # JSON Schema: an integer is any number with a zero fractional part (1.0 is an integer).
    if expected == "integer":
        return actual == "number" and math.isfinite(value) and float(value).is_integer()
    return False


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if not ref.startswith("#"):
        return None  # remote references are out of scope: treated as "anything goes"
    node: Any = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node if isinstance(node, Mapping) else None


def validate(value: Any, schema: Mapping[str, Any] | bool | None,
             root: Mapping[str, Any] | None = None, path: str = "$",
             _depth: int = 0) -> list[str]:
    """The reasons ``value`` does not satisfy ``schema`` (an empty list when it does).

    Args:
        value: The JSON value (parsed tool arguments, usually a dict).
        schema: A JSON schema; ``None``, ``{}`` and ``True`` accept anything, ``False`` nothing.
        root: The document that local ``$ref``s point into (defaults to ``schema``).
        path: Where ``value`` sits, for the messages (``$.user.name``).
    """
    if schema is None or schema is True:
        return []
    if schema is False:
        return [f"{path}: no value is allowed here"]
    if not isinstance(schema, Mapping):
        return []
    root = schema if root is None else root
    if _depth > _MAX_DEPTH:
        return []
    if "$ref" in schema and isinstance(schema["$ref"], str):
        target = _resolve(schema["$ref"], root)
        errors = [] if target is None else validate(value, target, root, path, _depth + 1)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return errors + (validate(value, rest, root, path, _depth + 1) if rest else [])
    if value is None and schema.get("nullable") is True:
        return []
    errors = _check_type(value, schema, path)
    if errors:
        return errors  # bounds and members mean nothing for a value of the wrong type
    if "enum" in schema and isinstance(schema["enum"], list) and not any(
            _json_equal(value, option) for option in schema["enum"]):
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and not _json_equal(value, schema["const"]):
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    errors += _check_combinators(value, schema, root, path, _depth)
    if isinstance(value, Mapping):
        errors += _check_object(value, schema, root, path, _depth)
    elif isinstance(value, (list, tuple)):
        errors += _check_array(value, schema, root, path, _depth)
    elif isinstance(value, str):
        errors += _check_string(value, schema, path)
    elif _type_name(value) in ("integer", "number"):
        errors += _check_number(value, schema, path)
    return errors


def _check_type(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    expected = schema.get("type")
    if expected is None:
        return []
    options = [expected] if isinstance(expected, str) else list(expected)
    if schema.get("nullable") is True:
        options.append("null")
    if any(isinstance(t, str) and _has_type(value, t) for t in options):
        return []
    wanted = " or ".join(str(t) for t in options)
    return [f"{path}: expected {wanted}, got {_type_name(value)}"]


def _check_combinators(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any],
                       path: str, depth: int) -> list[str]:
    errors: list[str] = []
    for sub in schema.get("allOf") or ():
        errors += validate(value, sub, root, path, depth + 1)
    any_of = schema.get("anyOf")
    if any_of and all(validate(value, sub, root, path, depth + 1) for sub in any_of):
        errors.append(f"{path}: {value!r} matches none of the anyOf alternatives")
    one_of = schema.get("oneOf")
    if one_of:
        matches = sum(not validate(value, sub, root, path, depth + 1) for sub in one_of)
        if matches != 1:
            errors.append(f"{path}: {value!r} matches {matches} oneOf alternatives, not 1")
    if "not" in schema and not validate(value, schema["not"], root, path, depth + 1):
        errors.append(f"{path}: {value!r} matches a schema it must not match")
    return errors


def _check_object(value: Mapping[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any],
                  path: str, depth: int) -> list[str]:
    errors: list[str] = []
    properties = schema.get("properties") or {}
    for key in schema.get("required") or ():
        if key not in value:
            errors.append(f"{path}: missing required key {key!r}")
    patterns = schema.get("patternProperties") or {}
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        where = f"{path}.{key}"
        matched = False
        if key in properties:
            errors += validate(item, properties[key], root, where, depth + 1)
            matched = True
        for pattern, sub in patterns.items():
            if re.search(pattern, str(key)):
                errors += validate(item, sub, root, where, depth + 1)
                matched = True
        if matched:
            continue
        if extra is False:
            errors.append(f"{path}: unexpected key {key!r}")
        elif isinstance(extra, Mapping):
            errors += validate(item, extra, root, where, depth + 1)
    for bound, test in (("minProperties", len(value) < schema.get("minProperties", 0)),
                        ("maxProperties", len(value) > schema.get("maxProperties", math.inf))):
        if test:
            errors.append(f"{path}: {len(value)} keys violates {bound}={schema[bound]}")
    return errors


def _check_array(value: Sequence[Any], schema: Mapping[str, Any], root: Mapping[str, Any],
                 path: str, depth: int) -> list[str]:
    errors: list[str] = []
    prefix = schema.get("prefixItems")
    items = schema.get("items")
    if isinstance(items, list):  # draft 4-7 tuple form
        prefix, items = items, schema.get("additionalItems", True)
    start = 0
    if isinstance(prefix, list):
        for index, (item, sub) in enumerate(zip(value, prefix, strict=False)):
            errors += validate(item, sub, root, f"{path}[{index}]", depth + 1)
        start = len(prefix)
    if items is not None and items is not True:
        for index in range(start, len(value)):
            errors += validate(value[index], items, root, f"{path}[{index}]", depth + 1)
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{path}: {len(value)} items, fewer than minItems={schema['minItems']}")
    if len(value) > schema.get("maxItems", math.inf):
        errors.append(f"{path}: {len(value)} items, more than maxItems={schema['maxItems']}")
    if schema.get("uniqueItems") is True:
        seen: list[Any] = []
        for item in value:
            if any(_json_equal(item, other) for other in seen):
                errors.append(f"{path}: items are not unique ({item!r} repeats)")
                break
            seen.append(item)
    return errors


def _check_string(value: str, schema: Mapping[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    if len(value) < schema.get("minLength", 0):
        errors.append(f"{path}: shorter than minLength={schema['minLength']}")
    if len(value) > schema.get("maxLength", math.inf):
        errors.append(f"{path}: longer than maxLength={schema['maxLength']}")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            if re.search(pattern, value) is None:
                errors.append(f"{path}: {value!r} does not match pattern {pattern!r}")
        except re.error:
            pass  # an ECMA-only pattern Python cannot compile: not the model's fault
    return errors


def _check_number(value: float, schema: Mapping[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    checks = (("minimum", lambda b: value < b), ("maximum", lambda b: value > b),
              ("exclusiveMinimum", lambda b: value <= b),
              ("exclusiveMaximum", lambda b: value >= b))
    for keyword, fails in checks:
        bound = schema.get(keyword)
        # Draft 4 wrote exclusiveMinimum as a boolean next to minimum; those carry no bound.
        if isinstance(bound, (int, float)) and not isinstance(bound, bool) and fails(bound):
            errors.append(f"{path}: {value!r} violates {keyword}={bound}")
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0:
        quotient = value / step
        if not math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9):
            errors.append(f"{path}: {value!r} is not a multiple of {step}")
    return errors


def _json_equal(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0, but True is not 1 (Python's == would say it is).
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if type(a) in (int, float) and type(b) in (int, float):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def tool_name(spec: Mapping[str, Any]) -> str | None:
    """The name of a tool spec, nested (OpenAI ``{"function": {...}}``) or flat."""
    function = spec.get("function")
    source = function if isinstance(function, Mapping) else spec
    name = source.get("name")
    return name if isinstance(name, str) else None


def tool_parameters(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON schema of a tool's arguments (``parameters``, or Anthropic's ``input_schema``)."""
    function = spec.get("function")
    source = function if isinstance(function, Mapping) else spec
    schema = source.get("parameters", source.get("input_schema"))
    return schema if isinstance(schema, Mapping) else None


def find_tool(name: str, tools: Sequence[Mapping[str, Any]] | None) -> Mapping[str, Any] | None:
    """The spec among ``tools`` whose name is ``name`` (``None`` when none is)."""
    for spec in tools or ():
        if isinstance(spec, Mapping) and tool_name(spec) == name:
            return spec
    return None
