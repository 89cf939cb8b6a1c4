"""The census name lexicon finds the names spaCy's small model misses, and leaves words alone."""

from __future__ import annotations

import pytest

pytest.importorskip("presidio_analyzer")

from slm_agents.curate.name_lexicon import NameLexiconRecognizer, first_names, surnames


@pytest.fixture(scope="module")
def recognizer() -> NameLexiconRecognizer:
    found = NameLexiconRecognizer()
    found.load()
    return found


CASES = [
    # (text, the names it should report)
    ("Patient Chelsea Oneal (MRN D5178121) is allergic",  # a capitalised label before the name
     ["Chelsea Oneal"]),
    ("Update the CRM: Kimberly Murphy's profile is here",  # possessive left out of the span
     ["Kimberly Murphy"]),
    ("Marie-Theres Pergande called", ["Marie-Theres Pergande"]),  # hyphenated, foreign surname
    ("Amanda here again.", ["Amanda"]),  # a lone, unambiguous first name
    ("Crystal Moore called", ["Crystal Moore"]),  # an ordinary-word first name + a surname
    ("Mark McDonald approved it", ["Mark McDonald"]),  # camel-case surname
    ("May Release Notes", []),  # an ordinary word in a title, no surname after it
    ("Will you book it?", []),  # a verb at the start of a sentence
    ("Grant access to Grafana and Kibana", []),  # product names are not first names
    ("Stay at the Hilton tonight", []),  # "the" before it: a thing, not a person
    ("mail amanda.jones@example.org", []),  # lower case inside an address
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_lexicon_reports_exactly_the_names_it_can_vouch_for(
        recognizer: NameLexiconRecognizer, text: str, expected: list[str]) -> None:
    found = [text[r.start:r.end] for r in recognizer.analyze(text, ["PERSON"])]
    assert found == expected


def test_lexicon_reports_nothing_when_person_is_not_asked_for(
        recognizer: NameLexiconRecognizer) -> None:
    assert recognizer.analyze("Chelsea Oneal", ["EMAIL_ADDRESS"]) == []


def test_census_lists_load_offline_with_their_full_size() -> None:
    assert len(first_names()) > 5000 and "Chelsea" in first_names()
    assert len(surnames()) > 88000 and "Oneal" in surnames()


def test_the_scrubber_uses_the_lexicon_by_default() -> None:
    from slm_agents.curate.scrubber import PIIScrubber

    out = PIIScrubber(mode="placeholder", n_process=1).scrub(
        "Done. The request is logged for Megan Jones.")
    assert out == "Done. The request is logged for <PERSON>."
