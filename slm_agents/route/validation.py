"""The agent's contract, checked on a specialist's answer before anyone sees it.

A specialist's answer is served only when it parses, calls only the tools that were offered, gives
each call arguments that satisfy the tool's JSON schema, and passes the user's validators. Each
failure has a short reason code (the router's ``fallback_reason``) and a message (the feedback a
retry sends back to the specialist):

=====================  ==========================================================
``parse_error``        the raw output is not a valid answer (bad JSON in a call...)
``unknown_tool``       a call names a tool that was not offered
``schema_violation``   a call's arguments do not satisfy the tool's JSON schema
``empty``              no text and no tool call
``validator``          a user validator rejected the answer
=====================  ==========================================================

Schemas are compiled once into plain closures and cached per tool list (keyed by the list's
canonical JSON), so checking an answer costs microseconds. The compiler covers the JSON Schema
keywords tool specs use (``type``, ``properties``, ``required``, ``additionalProperties``,
``items``/``prefixItems``, ``enum``, ``const``, numeric and length bounds, ``pattern``,
``anyOf``/``oneOf``/``allOf``/``not``, local ``$ref``); keywords it does not know (``format``...)
are ignored, so it never rejects an answer a full validator would accept for them. It reads
schemas as :mod:`slm_agents.evaluate` does (``"nullable": true`` admits ``null``; ``float``,
``dict``... mean ``number``, ``object``...), so an answer the evaluation counts as schema-valid is
not escalated here; that validator interprets a schema per call, this one compiles it once for
the hot path.

Agreement with the LLM (shadow mode, calibration) is scored as the evaluation scores it
(:func:`answers_agree`); the self-consistency vote groups answers by :func:`canonical_answer`.

Examples:
    >>> check = compile_schema({"type": "object", "required": ["city"],
    ...                         "properties": {"city": {"type": "string"}}})
    >>> check({"city": "Oslo"}) is None, check({"city": 3})
    (True, '$.city: expected string, got int')
"""

from __future__ import annotations

import math
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import orjson

from ..train.generation import Generation

__all__ = [
    "ToolContract",
    "answers_agree",
    "canonical_answer",
    "check_generation",
    "compile_schema",
    "contract_for",
    "vote",
]

#: A compiled check: the value -> ``None`` when valid, else the first error found.
Check = Callable[[Any], "str | None"]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, (list, tuple)),
    "null": lambda v: v is None,
    "any": lambda v: True,
}
# Python-ish type names some tool specs use (as slm_agents.evaluate reads them too).
_TYPE_ALIASES = {"float": "number", "dict": "object", "tuple": "array", "list": "array",
                 "int": "integer", "bool": "boolean", "str": "string"}


def _ok(value: Any) -> None:
    return None


def _json_equal(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0, but True is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


_NUMBER_BOUNDS = (("minimum", operator.lt), ("maximum", operator.gt),
                  ("exclusiveMinimum", operator.le), ("exclusiveMaximum", operator.ge))
_LENGTH_BOUNDS = (("minLength", operator.lt), ("maxLength", operator.gt))


def _number_bound(path: str, key: str, bound: float,
                  fails: Callable[[Any, Any], bool]) -> Check:
    number = _TYPES["number"]

    def check(value: Any) -> str | None:
        return f"{path}: {value} violates {key} {bound}" if number(value) and fails(
            value, bound) else None

    return check


def _length_bound(path: str, key: str, bound: int, fails: Callable[[Any, Any], bool]) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and fails(len(value), bound):
            return f"{path}: length {len(value)} violates {key} {bound}"
        return None

    return check


class _Compiler:
    """Compiles one schema document; ``$ref`` targets are compiled once, lazily (recursion)."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, pointer: str) -> Check:
        if pointer in self.refs:
            return self.refs[pointer]
        holder: list[Check] = []

        def lazy(value: Any) -> str | None:
            return holder[0](value)

        self.refs[pointer] = lazy
        target: Any = self.root
        if pointer.startswith("#"):
            for part in (p for p in pointer[1:].split("/") if p):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, Mapping) else None
        else:
            target = None  # remote references are not fetched: accept
        holder.append(self.compile(target, "$") if target is not None else _ok)
        return lazy

    def compile(self, schema: Any, path: str = "$") -> Check:
        if schema is True or schema is None or (isinstance(schema, Mapping) and not schema):
            return _ok
        if schema is False:
            return lambda v: f"{path}: no value is allowed here"
        if not isinstance(schema, Mapping):
            return _ok
        checks: list[Check] = []
        if isinstance(schema.get("$ref"), str):
            checks.append(self.ref(schema["$ref"]))
        self._type(schema, path, checks)
        self._values(schema, path, checks)
        self._object(schema, path, checks)
        self._array(schema, path, checks)
        self._combinators(schema, path, checks)
        if not checks:
            return _ok
        if len(checks) == 1:
            return checks[0]

        def all_of(value: Any) -> str | None:
            for check in checks:
                error = check(value)
                if error is not None:
                    return error
            return None

        return all_of

    def _type(self, schema: Mapping[str, Any], path: str, checks: list[Check]) -> None:
        kind = schema.get("type")
        names = [kind] if isinstance(kind, str) else list(kind) if isinstance(kind, list) else []
        names = [_TYPE_ALIASES.get(n, n) for n in names if isinstance(n, str)]
        if names and schema.get("nullable") is True:  # OpenAPI's spelling of "or null"
            names.append("null")
        tests = [_TYPES[n] for n in names if n in _TYPES]
        if not tests:
            return
        wanted = " or ".join(names)

        def type_check(value: Any) -> str | None:
            for test in tests:
                if test(value):
                    return None
            return f"{path}: expected {wanted}, got {type(value).__name__}"

        checks.append(type_check)

    def _values(self, schema: Mapping[str, Any], path: str, checks: list[Check]) -> None:
        if isinstance(schema.get("enum"), list):
            allowed = schema["enum"]
            checks.append(lambda v: None if any(_json_equal(v, a) for a in allowed)
                          else f"{path}: {v!r:.60} is not one of {allowed!r:.120}")
        if "const" in schema:
            const = schema["const"]
            checks.append(lambda v: None if _json_equal(v, const)
                          else f"{path}: expected {const!r:.60}")
        number = _TYPES["number"]
        for key, fails in _NUMBER_BOUNDS:
            bound: Any = schema.get(key)
            if number(bound):
                checks.append(_number_bound(path, key, bound, fails))
        step: Any = schema.get("multipleOf")
        if number(step) and step > 0:
            checks.append(lambda v: f"{path}: {v} is not a multiple of {step}" if number(v) and
                          not math.isclose(v / step, round(v / step), abs_tol=1e-9) else None)
        for key, fails in _LENGTH_BOUNDS:
            bound = schema.get(key)
            if isinstance(bound, int):
                checks.append(_length_bound(path, key, bound, fails))
        if isinstance(schema.get("pattern"), str):
            try:
                regex = re.compile(schema["pattern"])
            except re.error:
                return  # a pattern Python cannot read is ignored, not held against the answer
            checks.append(lambda v: f"{path}: {v!r:.60} does not match {regex.pattern!r}"
                          if isinstance(v, str) and not regex.search(v) else None)

    def _object(self, schema: Mapping[str, Any], path: str, checks: list[Check]) -> None:
        properties = schema.get("properties")
        props = {str(k): self.compile(s, f"{path}.{k}")
                 for k, s in properties.items()} if isinstance(properties, Mapping) else {}
        required = [r for r in schema.get("required") or () if isinstance(r, str)]
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is True else self.compile(extra, f"{path}.*")
        patterns = [(re.compile(p), self.compile(s, f"{path}.*"))
                    for p, s in (schema.get("patternProperties") or {}).items()]
        low, high = schema.get("minProperties"), schema.get("maxProperties")
        if not (props or required or extra_check or patterns or low or high is not None):
            return

        def object_check(value: Any) -> str | None:
            if not isinstance(value, Mapping):
                return None
            for name in required:
                if name not in value:
                    return f"{path}: missing required property {name!r}"
            if isinstance(low, int) and len(value) < low:
                return f"{path}: fewer than {low} properties"
            if isinstance(high, int) and len(value) > high:
                return f"{path}: more than {high} properties"
            for name, item in value.items():
                check = props.get(name)
                if check is not None:
                    error = check(item)
                    if error is not None:
                        return error
                    continue
                matched = False
                for regex, pattern_check in patterns:
                    if regex.search(name):
                        matched = True
                        error = pattern_check(item)
                        if error is not None:
                            return error
                if not matched and extra_check is not None:
                    if extra is False:
                        return f"{path}: unexpected property {name!r}"
                    error = extra_check(item)
                    if error is not None:
                        return error
            return None

        checks.append(object_check)

    def _array(self, schema: Mapping[str, Any], path: str, checks: list[Check]) -> None:
        items, prefix = schema.get("items"), schema.get("prefixItems")
        if isinstance(items, list):  # draft-04 tuple validation
            prefix, items = items, schema.get("additionalItems", True)
        prefix_checks = [self.compile(s, f"{path}[{i}]") for i, s in enumerate(prefix or ())]
        rest = None if items is None or items is True else self.compile(items, f"{path}[]")
        low, high = schema.get("minItems"), schema.get("maxItems")
        if not (prefix_checks or rest or isinstance(low, int) or isinstance(high, int)):
            return

        def array_check(value: Any) -> str | None:
            if not isinstance(value, (list, tuple)):
                return None
            if isinstance(low, int) and len(value) < low:
                return f"{path}: fewer than {low} items"
            if isinstance(high, int) and len(value) > high:
                return f"{path}: more than {high} items"
            for i, item in enumerate(value):
                check = prefix_checks[i] if i < len(prefix_checks) else rest
                if check is not None:
                    error = check(item)
                    if error is not None:
                        return error
            return None

        checks.append(array_check)

    def _combinators(self, schema: Mapping[str, Any], path: str, checks: list[Check]) -> None:
        for sub in schema.get("allOf") or ():
            checks.append(self.compile(sub, path))
        for key in ("anyOf", "oneOf"):
            options = [self.compile(s, path) for s in schema.get(key) or ()]
            if not options:
                continue
            exactly_one = key == "oneOf"

            def combined(value: Any, options: list[Check] = options,
                         exactly_one: bool = exactly_one) -> str | None:
                errors = [check(value) for check in options]
                passed = sum(e is None for e in errors)
                if passed == 0:
                    return next(e for e in errors if e is not None)
                if exactly_one and passed > 1:
                    return f"{path}: matches more than one oneOf option"
                return None

            checks.append(combined)
        if "not" in schema:
            negated = self.compile(schema["not"], path)
            checks.append(lambda v: f"{path}: must not match the 'not' schema"
                          if negated(v) is None else None)


def compile_schema(schema: Any) -> Check:
    """Compile a JSON schema into a function ``value -> None | error message``.

    Examples:
        >>> compile_schema({"type": "integer", "minimum": 1})(0)
        '$: 0 violates minimum 1'
    """
    return _Compiler(schema).compile(schema, "$")


def _function_of(spec: Any) -> Mapping[str, Any] | None:
    if not isinstance(spec, Mapping):
        return None
    function = spec.get("function")
    return function if isinstance(function, Mapping) else spec


class ToolContract:
    """The tools offered on a call, compiled: their names and an argument check per tool."""

    __slots__ = ("checks", "names")

    def __init__(self, tools: Sequence[Mapping[str, Any]]) -> None:
        self.checks: dict[str, Check] = {}
        for spec in tools:
            function = _function_of(spec)
            name = function.get("name") if function is not None else None
            if not isinstance(name, str):
                continue
            schema = function.get("parameters", function.get("input_schema"))  # type: ignore[union-attr]
            self.checks[name] = compile_schema(schema) if schema is not None else _ok
        self.names = frozenset(self.checks)


_CONTRACTS: OrderedDict[bytes, ToolContract] = OrderedDict()
_CONTRACTS_LOCK = threading.Lock()
_MAX_CONTRACTS = 256


def contract_for(tools: Sequence[Mapping[str, Any]] | None) -> ToolContract | None:
    """The compiled contract of a tool list (cached by its canonical JSON); None without tools."""
    if not tools:
        return None
    try:
        key = orjson.dumps(tools, option=orjson.OPT_SORT_KEYS, default=repr)
    except (TypeError, orjson.JSONEncodeError):
        return ToolContract(tools)
    with _CONTRACTS_LOCK:
        contract = _CONTRACTS.get(key)
        if contract is not None:
            _CONTRACTS.move_to_end(key)
            return contract
    contract = ToolContract(tools)
    with _CONTRACTS_LOCK:
        _CONTRACTS[key] = contract
        while len(_CONTRACTS) > _MAX_CONTRACTS:
            _CONTRACTS.popitem(last=False)
    return contract


#: A user validator: ``(generation, call) -> None`` (or True) when fine, else an error message.
Validator = Callable[[Generation, Any], Any]


def check_generation(generation: Generation, contract: ToolContract | None,
                     validators: Sequence[Validator] = (), call: Any = None,
                     ) -> tuple[str, str] | None:
    """Check an answer against the call's contract: ``None``, or ``(reason, message)``.

    Examples:
        >>> from slm_agents.records import ToolCall
        >>> contract = contract_for([{"type": "function", "function": {"name": "f"}}])
        >>> check_generation(Generation(tool_calls=[ToolCall(name="g")]), contract)
        ('unknown_tool', "tool 'g' was not offered (offered: f)")
    """
    calls = generation.tool_calls
    for tool_call in calls:
        if contract is None or tool_call.name not in contract.names:
            offered = ", ".join(sorted(contract.names)) if contract is not None else "none"
            return "unknown_tool", f"tool {tool_call.name!r} was not offered (offered: {offered})"
    if not calls and not (generation.text and generation.text.strip()) and not (
            generation.raw.strip() and generation.parse_error):
        return "empty", "the answer is empty: give a text answer or call a tool"
    if generation.parse_error:
        return "parse_error", generation.parse_error
    for tool_call in calls:
        if tool_call.error:
            return "parse_error", f"arguments of {tool_call.name!r}: {tool_call.error}"
        error = contract.checks[tool_call.name](tool_call.arguments)  # type: ignore[union-attr]
        if error is not None:
            return "schema_violation", f"arguments of {tool_call.name!r}: {error}"
    for validator in validators:
        try:
            verdict = validator(generation, call)
        except Exception as exc:  # a validator that raises rejects the answer
            return "validator", f"{type(exc).__name__}: {exc}"
        if verdict is None or verdict is True:
            continue
        return "validator", verdict if isinstance(verdict, str) else "rejected by a validator"
    return None


def _canonical_value(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v) for v in value]
    return value


def canonical_answer(generation: Generation) -> Hashable:
    """What an answer *says*, for comparing answers: tool calls or normalised text.

    Tool calls compare by name and arguments (key order, ``1`` vs ``1.0`` and surrounding
    whitespace in strings ignored; the order of several calls ignored). A text answer compares
    with whitespace collapsed and case folded.

    Examples:
        >>> canonical_answer(Generation(text=" The  answer is 4 ")) == canonical_answer(
        ...     Generation(text="the answer is 4"))
        True
    """
    if generation.tool_calls:
        return ("tools", tuple(sorted(
            (c.name, orjson.dumps(_canonical_value(c.arguments), option=orjson.OPT_SORT_KEYS))
            for c in generation.tool_calls)))
    return ("text", " ".join((generation.text or "").split()).casefold())


def answers_agree(answer: Generation, reference: Generation,
                  tools: Sequence[Mapping[str, Any]] | None = None) -> bool:
    """Whether an answer agrees with the reference (the LLM's), as
    :func:`slm_agents.evaluate.score_example` scores agreement: tool calls must match exactly
    (names and type-normalised arguments, in any order); a text answer must call no tool and
    match the text exactly or reach a token F1 of 0.8.

    Examples:
        >>> answers_agree(Generation(text="It is 4."), Generation(text="it is 4"))
        True
    """
    from ..evaluate import score_example

    return bool(score_example(answer, reference, tools).agreement)


def vote(generations: Sequence[Generation]) -> tuple[int, float]:
    """Self-consistency: the index of the most common answer and the share that gave it.

    Ties go to the answer seen first.

    Examples:
        >>> vote([Generation(text="a"), Generation(text="b"), Generation(text="b")])
        (1, 0.6666666666666666)
    """
    if not generations:
        raise ValueError("no answers to vote on")
    counts: dict[Hashable, list[int]] = {}
    for i, generation in enumerate(generations):
        counts.setdefault(canonical_answer(generation), []).append(i)
    best = max(counts.values(), key=len)  # max keeps the first of equals: insertion order
    return best[0], len(best) / len(generations)
