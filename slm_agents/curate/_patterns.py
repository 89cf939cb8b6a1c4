"""Shared helpers for the pattern recognisers: flags, the label/value separator, builders."""

from __future__ import annotations

import os
from typing import Any

import regex
from presidio_analyzer import (
    AnalysisExplanation,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)

__all__ = ["CASE", "NOCASE", "SEP", "FastPatterns", "IdRecognizer", "fast", "pattern",
           "recognizer"]

_TIMEOUT = float(os.environ.get("REGEX_TIMEOUT_SECONDS", 60))
_DATE = regex.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")

CASE = regex.DOTALL | regex.MULTILINE  # secrets and names are case-sensitive formats
NOCASE = CASE | regex.IGNORECASE
# Between a label and its value: "label: value", "label = value", "label #value",
# "label is value", "label value", with optional quotes; never nothing ("accountant1234").
SEP = r"""["']?(?:\s{0,3}[:=#]\s{0,3}|\s{1,3}(?:(?:is|was)\s{1,3})?)["']?"""


class FastPatterns(PatternRecognizer):  # type: ignore[misc]
    """``PatternRecognizer.analyze`` without its per-pattern timing, logging and text building.

    Same results (validation, invalidation, scores, explanations, duplicates removed); on the
    short texts of agent logs Presidio's bookkeeping cost three times the matching itself.
    """

    #: A cheap pattern that any match needs somewhere in the text ("@" for e-mail); texts
    #: without it skip the recogniser's patterns altogether.
    gate: regex.Pattern[str] | None = None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None,
                regex_flags: int | None = None) -> list[RecognizerResult]:
        if self.gate is not None and self.gate.search(text) is None:
            return []
        flags: int = regex_flags or self.global_regex_flags or 0
        entity = self.supported_entities[0]
        name: str = self.name  # type: ignore[has-type]
        results: list[RecognizerResult] = []
        for item in self.patterns:  # type: ignore[has-type]
            if item.compiled_regex is None or item.compiled_with_flags != flags:
                item.compiled_with_flags = flags
                item.compiled_regex = regex.compile(item.regex, flags=flags)
            try:
                matches = list(item.compiled_regex.finditer(text, timeout=_TIMEOUT))
            except TimeoutError:
                continue
            for match in matches:
                start, end = match.span()
                if start == end:
                    continue
                value = text[start:end]
                score = item.score
                validation = self.validate_result(value)
                if validation is not None:
                    score = EntityRecognizer.MAX_SCORE if validation else EntityRecognizer.MIN_SCORE
                if self.invalidate_result(value):
                    score = EntityRecognizer.MIN_SCORE
                if score <= EntityRecognizer.MIN_SCORE:
                    continue
                explanation = AnalysisExplanation(
                    recognizer=name, original_score=item.score, pattern_name=item.name,
                    pattern=item.regex, validation_result=validation,  # type: ignore[arg-type]
                    regex_flags=flags)
                explanation.score = score
                results.append(RecognizerResult(
                    entity_type=entity, start=start, end=end, score=score,
                    analysis_explanation=explanation,
                    recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: name,
                                          RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
        return EntityRecognizer.remove_duplicates(results)  # type: ignore[no-any-return]


_FAST: dict[type, type] = {}


def fast(cls: type) -> type:
    """``cls`` with :class:`FastPatterns`' ``analyze``, when it uses PatternRecognizer's own."""
    if not issubclass(cls, PatternRecognizer) or cls.analyze is not PatternRecognizer.analyze:
        return cls
    if cls not in _FAST:
        _FAST[cls] = type(cls.__name__, (FastPatterns, cls), {"__module__": cls.__module__})
    return _FAST[cls]


def pattern(name: str, regex_text: str, score: float) -> Pattern:
    return Pattern(name=name, regex=regex_text, score=score)


def recognizer(entity: str, name: str, patterns: list[Pattern], context: list[str] | None,
               language: str, flags: int = NOCASE, gate: str | None = None) -> PatternRecognizer:
    built = FastPatterns(supported_entity=entity, name=name, patterns=patterns,
                         context=context or [], supported_language=language,
                         global_regex_flags=flags)
    built.gate = regex.compile(gate) if gate else None
    return built


class IdRecognizer(FastPatterns):
    """A pattern recogniser for identifiers: a match needs ``min_digits`` digits in it."""

    def __init__(self, entity: str, name: str, patterns: list[Pattern], context: list[str],
                 language: str, min_digits: int, flags: int = NOCASE) -> None:
        super().__init__(supported_entity=entity, name=name, patterns=patterns, context=context,
                         supported_language=language, global_regex_flags=flags)
        self.min_digits = min_digits

    def validate_result(self, pattern_text: str) -> bool | None:
        return None if sum(c.isdigit() for c in pattern_text) >= self.min_digits else False

    def invalidate_result(self, pattern_text: str) -> bool:
        return _DATE.fullmatch(pattern_text) is not None  # a date is not an identifier
