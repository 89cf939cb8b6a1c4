"""Exact and near-duplicate removal over chat examples.

* **Exact**: a 128-bit BLAKE2 hash of the normalised example — every turn's role, text with runs of
  whitespace collapsed, tool calls as name plus canonical (key-sorted) arguments, and the tool
  schemas. Tool-call ids are left out, so two captures of the same exchange match.
* **Near**: MinHash signatures (``datasketch``) of the word 3-shingles of the *variable* content —
  user and tool turns plus the final output (text and tool calls), lower-cased — indexed in a
  ``MinHashLSH`` at the given Jaccard threshold. The system prompt and tool schemas are left out:
  they repeat across thousands of calls and would make every pair look alike. An LSH hit is
  confirmed by the signatures' estimated Jaccard similarity, and the *outputs* must be as similar
  on their own: a long tool result (a catalogue, a policy page) repeated under different
  questions with different answers would otherwise make distinct examples look alike.

:class:`Deduplicator` is fed examples best-first (the curator orders them by its ``keep`` rule),
so the first copy seen is the one kept and every later copy is reported as a duplicate.

Examples:
    >>> d = Deduplicator("exact")
    >>> ex = {"messages": [{"role": "user", "content": "hi"},
    ...                    {"role": "assistant", "content": "hello"}]}
    >>> d.check(ex), d.check(ex)
    (None, 'duplicate_exact')
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import ConfigError, MissingDependencyError

__all__ = ["DEDUPE_MODES", "NUM_PERM", "Deduplicator", "exact_key", "output_text", "shingles",
           "variable_text"]

DEDUPE_MODES = ("none", "exact", "near")
# 128 permutations: a standard error of about 0.03 on a Jaccard estimate near 0.85, at ~0.1 ms per
# signature with numpy (64 would give 0.045, and miss or invent about one pair in eight near the
# threshold).
NUM_PERM = 128
# MinHashLSH picks bands and rows to balance false positives against false negatives (0.5, 0.5);
# that finds under half of the pairs at the threshold. Every candidate is checked against its
# signature anyway, so a false positive only costs a comparison: favour recall (with 128
# permutations this gives 11 bands of 11 rows, finding ~87% of pairs at J = 0.85 and ~98% at 0.9).
_LSH_WEIGHTS = (0.1, 0.9)
_SHINGLE = 3
_MINHASH_SEED = 1


def _canonical_arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return arguments
    return arguments


def exact_key(example: Mapping[str, Any]) -> bytes:
    """A 16-byte hash identifying the example up to whitespace and tool-call ids."""
    turns = []
    for message in example.get("messages", ()):
        content = message.get("content")
        calls = [
            [call.get("function", {}).get("name"),
             _canonical_arguments(call.get("function", {}).get("arguments"))]
            for call in message.get("tool_calls", ())
        ]
        turns.append([message.get("role"),
                      None if content is None else " ".join(content.split()), calls])
    payload = orjson.dumps([turns, example.get("tools", [])], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=16).digest()


def output_text(example: Mapping[str, Any]) -> str:
    """The final assistant turn: its text, then each tool call's name and arguments."""
    messages = example.get("messages", ())
    if not messages:
        return ""
    last = messages[-1]
    parts = [last.get("content") or ""]
    for call in last.get("tool_calls", ()):
        function = call.get("function", {})
        parts.append(str(function.get("name", "")))
        parts.append(str(function.get("arguments", "")))
    return "\n".join(parts)


def variable_text(example: Mapping[str, Any]) -> str:
    """The content that varies between calls: user and tool turns, and the final output."""
    parts = [message.get("content") or "" for message in example.get("messages", ())[:-1]
             if message.get("role") in ("user", "tool")]
    parts.append(output_text(example))
    return "\n".join(parts)


def shingles(text: str, size: int = _SHINGLE) -> set[bytes]:
    """The distinct lower-cased word ``size``-shingles of ``text`` (one shingle if shorter)."""
    words = text.lower().split()
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def _datasketch() -> Any:
    # Imported on first use: "exact" and "none" need neither datasketch nor numpy.
    try:
        import datasketch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("datasketch", "curate", "near-duplicate removal") from exc
    return datasketch


class Deduplicator:
    """Remembers the examples kept so far and says whether a new one duplicates one of them.

    Args:
        mode: ``"none"`` (keep everything), ``"exact"`` or ``"near"`` (exact, then near).
        threshold: Estimated Jaccard similarity at or above which two examples are
            near-duplicates (of the variable content, and of the outputs alone).
        num_perm: MinHash permutations.
    """

    def __init__(self, mode: str = "near", threshold: float = 0.85,
                 num_perm: int = NUM_PERM) -> None:
        if mode not in DEDUPE_MODES:
            raise ConfigError(f"dedupe must be one of {', '.join(DEDUPE_MODES)}; got {mode!r}")
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"near_threshold must be in (0, 1]; got {threshold!r}")
        self.mode = mode
        self.threshold = threshold
        self.num_perm = num_perm
        self._seen: set[bytes] = set()
        self._signatures: list[Any] = []  # numpy arrays of uint32
        self._kept: list[Mapping[str, Any]] = []
        self._output_signatures: dict[int, Any] = {}  # computed when first compared
        self._count_nonzero: Any = None
        self._lsh: Any = None
        self._template: Any = None
        if mode == "near":
            datasketch = _datasketch()
            import numpy  # a dependency of datasketch

            self._count_nonzero = numpy.count_nonzero
            self._lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=num_perm,
                                               weights=_LSH_WEIGHTS)
            # crc32 is a C-speed 32-bit hash; datasketch's affine32 scheme mixes it (murmur3
            # finaliser) before permuting, so its weak avalanche does not bias the signatures.
            self._template = datasketch.MinHash(num_perm=num_perm, seed=_MINHASH_SEED,
                                                hashfunc=zlib.crc32)

    def check(self, example: Mapping[str, Any]) -> str | None:
        """``None`` if ``example`` is new (it is remembered), else the drop reason."""
        if self.mode == "none":
            return None
        key = exact_key(example)
        if key in self._seen:
            return "duplicate_exact"
        self._seen.add(key)
        if self.mode == "near":
            minhash = self._minhash(variable_text(example))
            signature = minhash.hashvalues
            output_signature = None
            for candidate in self._lsh.query(minhash):
                if not self._similar(self._signatures[candidate], signature):
                    continue
                if output_signature is None:
                    output_signature = self._minhash(output_text(example)).hashvalues
                if self._similar(self._output_signature(candidate), output_signature):
                    return "duplicate_near"
            self._lsh.insert(len(self._signatures), minhash, check_duplication=False)
            self._signatures.append(signature)
            self._kept.append(example)
        return None

    def _minhash(self, text: str) -> Any:
        minhash = self._template.copy()
        minhash.update_batch(shingles(text))
        return minhash

    def _similar(self, a: Any, b: Any) -> bool:
        return bool(self._count_nonzero(a == b) >= self.threshold * self.num_perm)

    def _output_signature(self, index: int) -> Any:
        signature = self._output_signatures.get(index)
        if signature is None:
            signature = self._minhash(output_text(self._kept[index])).hashvalues
            self._output_signatures[index] = signature
        return signature
