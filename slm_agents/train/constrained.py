"""Constrained decoding: force output to be tool calls to the offered tools, as valid JSON.

:class:`ToolCallConstraint` is a ``transformers`` logits processor that lets the model choose
only among continuations that keep the output inside this grammar::

    <tool_call>\\n{"name": "<an offered name>", "arguments": <JSON object>}\\n</tool_call>
    (\\n<tool_call>...</tool_call>)*  EOS

What it guarantees, for any model, even a random one (greedy or sampled):

- every call names one of the offered tools (the name and the text around it are chosen from a
  token trie of the offered names, tokenised the way training saw them);
- every call's arguments parse as a JSON object;
- when the tool's schema declares ``properties``, the argument keys are among them (no
  duplicates, no extras unless ``additionalProperties`` is ``true``), and the keys it lists as
  ``required`` are all present;
- the output ends (with EOS) within ``max_new_tokens``: when the budget runs low, the open
  strings and objects are closed for it (missing required keys get ``null``).

What it does not check: the types and formats of argument values (a string where the schema
says integer stays a string), and string keys with escape sequences (refused, to keep the key
check exact). The model cannot answer in free text while constrained: use it for calls that
always call a tool. Greedy decoding picks the model's most likely valid token at every step.

Examples:
    >>> m = JsonArguments(allowed_keys=None, required=())
    >>> all(m.step(c) for c in '{"a": [1, 2.5e3, "x"]}'), m.finished
    (True, False)
    >>> all(m.step(c) for c in '}\\n</tool_call>'), m.finished
    (True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from string import hexdigits
from typing import Any

from .generation import TOOL_CALL_CLOSE, TOOL_CALL_OPEN

__all__ = ["JsonArguments", "ToolCallConstraint", "token_texts", "tool_call_prefix"]

_LEAF = -1  # trie key marking a complete path (token ids are never negative)
_EXACT_LIMIT = 2048
_SCAN_LIMIT = 4096
_WS = " \t\n\r"
_TAIL = "}\n" + TOOL_CALL_CLOSE
_NUMBER = {  # (state, character class) -> next state, for JSON numbers
    ("sign", "0"): "zero", ("sign", "d"): "int",
    ("zero", "."): "dot", ("zero", "e"): "exp",
    ("int", "0"): "int", ("int", "d"): "int", ("int", "."): "dot", ("int", "e"): "exp",
    ("dot", "0"): "frac", ("dot", "d"): "frac",
    ("frac", "0"): "frac", ("frac", "d"): "frac", ("frac", "e"): "exp",
    ("exp", "+"): "esign", ("exp", "-"): "esign", ("exp", "0"): "edig", ("exp", "d"): "edig",
    ("esign", "0"): "edig", ("esign", "d"): "edig",
    ("edig", "0"): "edig", ("edig", "d"): "edig",
}
_NUMBER_END = {"zero", "int", "frac", "edig"}
_LITERALS = {"t": "rue", "f": "alse", "n": "ull"}


def _char_class(ch: str) -> str:
    if ch == "0":
        return "0"
    if "1" <= ch <= "9":
        return "d"
    if ch in "eE":
        return "e"
    return ch


def tool_call_prefix(name: str) -> str:
    """The text of a call up to its arguments: ``<tool_call>\\n{"name": "NAME", "arguments":``."""
    return f'{TOOL_CALL_OPEN}\n{{"name": "{name}", "arguments":'


class JsonArguments:
    """A character-level recogniser of one JSON object (the arguments) and the call's tail.

    After the object closes it expects ``}\\n</tool_call>`` (the end of the call); ``finished``
    is then true. Keys of the top-level object are checked against ``allowed_keys`` (when not
    ``None``) and the object cannot close before every key in ``required`` is present.
    """

    __slots__ = ("allowed", "count", "hexleft", "key", "literal", "number", "required",
                 "stack", "state", "tail", "used")

    def __init__(self, allowed_keys: Sequence[str] | None, required: Sequence[str]) -> None:
        self.allowed = frozenset(allowed_keys) if allowed_keys is not None else None
        self.required = frozenset(required)
        self.stack: list[str] = []
        self.count: list[int] = []
        self.state = "top"
        self.key = ""
        self.used: set[str] = set()
        self.literal = ""
        self.number = ""
        self.hexleft = 0
        self.tail = _TAIL

    def copy(self) -> JsonArguments:
        """An independent copy (to try a candidate token without committing)."""
        other = object.__new__(JsonArguments)
        for name in self.__slots__:
            setattr(other, name, getattr(self, name))
        other.stack = list(self.stack)
        other.count = list(self.count)
        other.used = set(self.used)
        return other

    @property
    def finished(self) -> bool:
        """Whether the arguments object and the call's closing text are complete."""
        return self.state == "end"

    def _top_level(self) -> bool:
        return len(self.stack) == 1

    def _free_keys(self) -> set[str] | None:
        return None if self.allowed is None else set(self.allowed - self.used)

    def _start_value(self, ch: str) -> bool:
        if ch == "{":
            self.stack.append("o")
            self.count.append(0)
            self.state = "obj_first"
        elif ch == "[":
            self.stack.append("a")
            self.count.append(0)
            self.state = "arr_first"
        elif ch == '"':
            self.state = "str"
        elif ch == "-":
            self.state, self.number = "num", "sign"
        elif ch in "0123456789":
            self.state, self.number = "num", "zero" if ch == "0" else "int"
        elif ch in _LITERALS:
            self.state, self.literal = "lit", _LITERALS[ch]
        else:
            return False
        return True

    def _close(self, ch: str) -> bool:
        kind = "o" if ch == "}" else "a"
        if not self.stack or self.stack[-1] != kind:
            return False
        if kind == "o" and self._top_level() and not self.required <= self.used:
            return False
        self.stack.pop()
        self.count.pop()
        self.state = "after" if self.stack else "tail"
        return True

    def _start_key(self) -> bool:
        if self._top_level() and self.allowed is not None and not self._free_keys():
            return False
        self.count[-1] += 1
        self.state, self.key = "key", ""
        return True

    def step(self, ch: str) -> bool:  # noqa: C901 - one branch per grammar state reads best
        """Consume one character; ``False`` (state unspecified) when it breaks the grammar."""
        state = self.state
        if state == "tail":
            if not self.tail.startswith(ch):
                return False
            self.tail = self.tail[1:]
            if not self.tail:
                self.state = "end"
            return True
        if state == "end":
            return False
        if state == "str":
            if ch == '"':
                self.state = "after"
            elif ch == "\\":
                self.state = "str_esc"
            elif ord(ch) < 0x20:
                return False
            return True
        if state == "str_esc":
            if ch in '"\\/bfnrt':
                self.state = "str"
            elif ch == "u":
                self.state, self.hexleft = "str_u", 4
            else:
                return False
            return True
        if state == "str_u":
            if ch not in hexdigits:
                return False
            self.hexleft -= 1
            if self.hexleft == 0:
                self.state = "str"
            return True
        if state == "key":
            if ch == '"':
                if self._top_level():
                    if self.key in self.used:
                        return False
                    if self.allowed is not None and self.key not in self.allowed:
                        return False
                    self.used.add(self.key)
                self.state = "colon"
                return True
            if ch == "\\" or ord(ch) < 0x20:
                return False
            if self._top_level():
                free = self._free_keys()
                if free is not None and not any(k.startswith(self.key + ch) for k in free):
                    return False
                self.key += ch
            return True
        if state == "num":
            following = _NUMBER.get((self.number, _char_class(ch)))
            if following is not None:
                self.number = following
                return True
            if self.number not in _NUMBER_END:
                return False
            self.state = "after"
            return self.step(ch)
        if state == "lit":
            if not self.literal.startswith(ch):
                return False
            self.literal = self.literal[1:]
            if not self.literal:
                self.state = "after"
            return True
        if ch in _WS:
            return True
        if state == "top":
            return ch == "{" and self._start_value(ch)
        if state == "colon":
            if ch != ":":
                return False
            self.state = "value"
            return True
        if state == "value":
            return self._start_value(ch)
        if state == "arr_first":
            if ch == "]":
                return self._close(ch)
            self.count[-1] += 1
            return self._start_value(ch)
        if state in ("obj_first", "obj_key"):
            if ch == '"':
                return self._start_key()
            return state == "obj_first" and ch == "}" and self._close(ch)
        if state == "after":
            if ch in "}]":
                return self._close(ch)
            if ch != ",":
                return False
            if self.stack[-1] == "a":
                self.count[-1] += 1
                self.state = "value"
                return True
            if self._top_level() and self.allowed is not None and not self._free_keys():
                return False
            self.state = "obj_key"
            return True
        return False

    def closing(self) -> str:
        """The shortest text this module writes to complete the call validly from here."""
        out = ""
        state = self.state
        if state == "end":
            return ""
        if state == "tail":
            return self.tail
        if state == "top":
            out = "{"
            trial = self.copy()
            trial.step("{")
            return out + trial.closing()
        if state == "str_u":
            out += "0" * self.hexleft + '"'
        elif state == "str_esc":
            out += 'n"'
        elif state == "str":
            out += '"'
        elif state == "key":
            free = self._free_keys() if self._top_level() else None
            if free is not None:
                out += sorted(k for k in free if k.startswith(self.key))[0][len(self.key):]
            out += '": null'
        elif state == "colon":
            out += ": null"
        elif state == "value":
            out += "null"
        elif state == "lit":
            out += self.literal
        elif state == "num" and self.number not in _NUMBER_END:
            out += "0"
        elif state == "obj_key":
            free = self._free_keys() if self._top_level() else None
            out += f'"{sorted(free)[0] if free else "_"}": null'
        trial = self.copy()
        for ch in out:
            trial.step(ch)
        # Close the open containers, adding the top level's missing required keys.
        for depth in range(len(trial.stack) - 1, -1, -1):
            if trial.stack[depth] == "a":
                out += "]"
                continue
            if depth == 0:
                for key in sorted(trial.required - trial.used):
                    out += (", " if trial.count[0] else "") + f'"{key}": null'
                    trial.count[0] += 1
            out += "}"
        return out + _TAIL


def _schema(spec: Mapping[str, Any]) -> tuple[list[str] | None, list[str]]:
    """(allowed keys or None, required keys) from a tool spec's JSON schema."""
    function: Mapping[str, Any] = (spec["function"] if isinstance(spec.get("function"), Mapping)
                                   else spec)
    parameters = function.get("parameters", function.get("input_schema"))
    if not isinstance(parameters, Mapping):
        return None, []
    properties = parameters.get("properties")
    extra = parameters.get("additionalProperties")
    if not isinstance(properties, Mapping) or extra is True or isinstance(extra, Mapping):
        return None, []
    required = [k for k in parameters.get("required", ()) if k in properties]
    return list(properties), required


class ToolCallConstraint:
    """A ``transformers`` logits processor restricting output to calls of the offered tools.

    Args:
        tokenizer: The model's tokenizer.
        tools: The offered tool specs (OpenAI nested or flat).
        prompt_length: Length of the prompt in tokens (generation starts after it).
        max_new_tokens: The generation budget (the output is closed before it runs out).
        token_strings: Decoded text of every token id (computed when not given; pass it to
            reuse across calls).
        candidates: How many of the highest-scoring valid tokens to keep per step while writing
            arguments (1 is enough for greedy decoding; more keeps sampling meaningful).

    Raises:
        ValueError: no tools, or a budget too small to write even the shortest call.
    """

    def __init__(self, tokenizer: Any, tools: Sequence[Mapping[str, Any]], prompt_length: int,
                 max_new_tokens: int, token_strings: Sequence[str] | None = None,
                 candidates: int = 8) -> None:
        from .generation import tool_names

        names = tool_names(tools)
        if not names:
            raise ValueError("constrained decoding needs at least one offered tool with a name")
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.max_new_tokens = max_new_tokens
        self.candidates = max(1, candidates)
        self.eos = int(tokenizer.eos_token_id)
        self.strings = list(token_strings) if token_strings is not None else token_texts(tokenizer)
        self.special = set(getattr(tokenizer, "all_special_ids", ()))
        self._index_first_characters()
        self.schemas = {tool_names([t])[0]: _schema(t) for t in tools if tool_names([t])}
        self.first = self._trie(names, "")
        self.more = self._trie(names, "\n")
        self.more[self.eos] = {}
        self.shortest = min(len(self._encode(tool_call_prefix(n) + " {" + _TAIL)) for n in names)
        if max_new_tokens < self.shortest + 1:
            raise ValueError(f"max_new_tokens={max_new_tokens} is too small for a constrained "
                             f"tool call (at least {self.shortest + 1} tokens are needed)")
        self.node: dict[int, Any] | None = self.first
        self.json: JsonArguments | None = None
        self.forced: list[int] = []
        self.consumed = 0

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _trie(self, names: Sequence[str], lead: str) -> dict[int, Any]:
        root: dict[int, Any] = {}
        for name in names:
            node = root
            ids = self._encode(lead + tool_call_prefix(name))
            for token in ids:
                node = node.setdefault(token, {})
            node[_LEAF] = name  # the name that this path spells
        return root

    def _advance(self, token: int) -> None:
        if self.forced:
            self.forced.pop(0)  # the closing text: fed to the recogniser below like any token
        if self.node is not None:
            self.node = self.node.get(token, {})
            name = self.node.get(_LEAF)
            if name is not None:
                allowed, required = self.schemas.get(name, (None, []))
                self.node, self.json = None, JsonArguments(allowed, required)
            return
        if self.json is not None:
            for ch in self.strings[token]:
                self.json.step(ch)
            if self.json.finished:
                self.node, self.json = self.more, None

    def _valid(self, token: int) -> bool:
        assert self.json is not None
        if token in self.special or token >= len(self.strings) or not self.strings[token]:
            return False
        trial = self.json.copy()
        return all(trial.step(ch) for ch in self.strings[token])

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if input_ids.shape[0] != 1:
            raise ValueError("ToolCallConstraint handles one sequence at a time")
        generated = input_ids.shape[1] - self.prompt_length
        while self.consumed < generated:
            self._advance(int(input_ids[0, self.prompt_length + self.consumed]))
            self.consumed += 1
        remaining = self.max_new_tokens - generated
        allowed = self._allowed(scores[0], remaining)
        mask = torch.full_like(scores, -math.inf)
        mask[0, allowed] = 0.0
        return scores + mask

    def _allowed(self, scores: Any, remaining: int) -> list[int]:
        import torch

        if self.forced:
            return [self.forced[0]]
        if self.node is not None:
            if self.node is self.more and remaining <= self.shortest + 2:
                return [self.eos]  # no room for another call
            return [t for t in self.node if t != _LEAF] or [self.eos]
        assert self.json is not None
        closing = self._encode(self.json.closing())
        if remaining <= len(closing) + 1:
            self.forced = closing
            return [closing[0]]
        # Tokens whose first character cannot come next are ruled out at once (a few hundred
        # distinct first characters, checked once per step); the rest are checked in full.
        first_ok = [self._char_ok(ch) for ch in self.first_chars] + [False]
        possible = torch.tensor(first_ok)[self.token_first].nonzero().flatten()
        if len(possible) <= _EXACT_LIMIT:
            # Few candidates (between JSON values): the exact set of valid tokens.
            valid = [t for t in possible.tolist() if self._valid(t)]
        else:
            # Inside strings nearly everything is valid: the best-scoring valid tokens suffice.
            ranked = possible[scores[possible].argsort(descending=True)].tolist()
            valid = []
            for token in ranked[:_SCAN_LIMIT]:
                if self._valid(token):
                    valid.append(token)
                    if len(valid) >= self.candidates:
                        break
        return valid or [closing[0]]

    def _index_first_characters(self) -> None:
        import torch

        firsts = sorted({text[0] for text in self.strings if text})
        position = {ch: i for i, ch in enumerate(firsts)}
        blocked = len(firsts)  # the index of the trailing False: specials and empty tokens
        self.first_chars = firsts
        self.token_first = torch.tensor([
            blocked if (i in self.special or not text) else position[text[0]]
            for i, text in enumerate(self.strings)])

    def _char_ok(self, ch: str) -> bool:
        assert self.json is not None
        return self.json.copy().step(ch)


def token_texts(tokenizer: Any) -> list[str]:
    """The decoded text of every token id (SentencePiece's word-start marker as a space)."""
    ids = range(len(tokenizer))
    texts = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    pieces = tokenizer.convert_ids_to_tokens(list(ids))
    return [(" " + t if isinstance(p, str) and p.startswith("\u2581") and not t.startswith(" ")
             else t) for t, p in zip(texts, pieces, strict=True)]
