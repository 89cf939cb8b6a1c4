"""Detected values as plain data: a :class:`Span` per value, and how overlapping ones resolve.

Detection and replacement stay apart (as in Presidio): the scrubber first finds spans, resolves
overlaps between them, then replaces each remaining span. Spans can be audited and tested.

Examples:
    >>> a = Span(0, 10, "URL", 0.6, "x" * 10, "UrlRecognizer")
    >>> b = Span(4, 8, "PASSWORD", 0.9, "x" * 4, "PasswordRecognizer")
    >>> [s.entity_type for s in resolve_overlaps([a, b])]  # the span that covers both wins
    ['URL']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Span", "resolve_overlaps"]


@dataclass(frozen=True)
class Span:
    """One detected value in a text.

    Attributes:
        start: Offset of the first character (``text[start:end]`` is the value).
        end: Offset just past the last character.
        entity_type: What the value is (``"EMAIL_ADDRESS"``, ``"PERSON"``, ``"API_KEY"``...).
        score: Detection confidence in [0, 1].
        text: The detected value itself.
        recognizer: Name of the recogniser that found it.
    """

    start: int
    end: int
    entity_type: str
    score: float
    text: str
    recognizer: str

    def __len__(self) -> int:
        return self.end - self.start


# Ties between spans of equal score and extent go to the more specific type (a JWT after
# "Bearer" is a JWT; a key after "token:" is an API key before it is a bearer token).
_SPECIFICITY = {
    "PRIVATE_KEY": 6, "JWT": 5, "API_KEY": 4, "CREDIT_CARD": 4, "IBAN_CODE": 4, "US_SSN": 4,
    "EMAIL_ADDRESS": 4, "BEARER_TOKEN": 3, "PASSWORD": 3, "IP_ADDRESS": 3, "PHONE_NUMBER": 3,
    "DATE_OF_BIRTH": 3, "MEDICAL_RECORD_NUMBER": 3, "INSURANCE_NUMBER": 3, "ACCOUNT_NUMBER": 2,
    "STREET_ADDRESS": 2, "URL": 2, "PERSON": 1, "LOCATION": 1,
}


def _rank(span: Span) -> tuple[float, int, int, int]:
    return (span.score, len(span), _SPECIFICITY.get(span.entity_type, 0), -span.start)


def resolve_overlaps(spans: Iterable[Span], text: str | None = None) -> list[Span]:
    """Keep one span per group of overlapping spans, sorted by start.

    Spans that overlap (directly or through a chain) form a group. When one span of the group
    covers all the others it is kept (an e-mail address beats the name inside it; the whole
    connection string beats the password inside it), the highest-scoring such span if several do.
    Otherwise the highest-scoring span wins (the longer one on a tie) and is widened to the
    group's extent, so no fragment of a losing span is left in the text.

    Args:
        spans: Detected spans, in any order.
        text: The analysed text; needed to fill ``Span.text`` when a winner is widened.

    Returns:
        Non-overlapping spans sorted by start.
    """
    ordered = sorted((s for s in spans if s.end > s.start), key=lambda s: (s.start, -s.end))
    resolved: list[Span] = []
    group: list[Span] = []
    group_end = -1
    for span in ordered:
        if group and span.start >= group_end:
            resolved.append(_winner(group, text))
            group = []
        group.append(span)
        group_end = max(group_end, span.end) if len(group) > 1 else span.end
    if group:
        resolved.append(_winner(group, text))
    return resolved


def _winner(group: list[Span], text: str | None) -> Span:
    if len(group) == 1:
        return group[0]
    start = min(s.start for s in group)
    end = max(s.end for s in group)
    covering = [s for s in group if s.start == start and s.end == end]
    if covering:
        return max(covering, key=_rank)
    best = max(group, key=_rank)
    widened = text[start:end] if text is not None else best.text
    return Span(start, end, best.entity_type, best.score, widened, best.recognizer)
