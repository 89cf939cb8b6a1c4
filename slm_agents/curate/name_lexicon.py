"""Person names found by a lexicon of real first names and surnames, not by the NER model alone.

spaCy's small English model misses many names in agent logs: names in short, formulaic sentences
("logged for Ivy Hak."), names it labels as organisations ("Kimberly Murphy's profile"), and
non-English names. This recogniser adds names that a lexicon vouches for:

- two to four capitalised words whose first word is a known first name ("Chelsea Oneal",
  "Marie-Theres Pergande", "Linde van 't Conor");
- the same, when the first name is also an ordinary English word ("Crystal", "May", "Will"),
  only if the last word is a known surname ("Crystal Moore", not "May Release");
- a lone known first name that is not an ordinary word ("Samantha here again"), at a lower
  score.

The lexicon is the US Census Bureau's 1990 name frequency lists (public domain: 5,163 first names,
88,799 surnames) as shipped by the MIT-licensed ``names`` package, loaded once from disk; nothing
is downloaded. Being American, it is weaker on names from elsewhere, which NER and the context
recognisers still cover.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult

from ..errors import MissingDependencyError

__all__ = ["NameLexiconRecognizer", "first_names", "surnames"]

# First names from the census lists that are also everyday English words, months, places or
# titles: alone they are not evidence of a person, so they need a known surname after them.
_ORDINARY_WORDS = frozenset("""
An In My So See Man Many Long Young Love King Queen Prince Major Noble Royal Golden May June April
August Autumn Summer Winter Spring Season Easter Will Bill Mark Grant Hope Joy Faith Grace
Patience Destiny Trinity Chance Chase Art Guy Rich Frank Sterling Page Lane Hunter Porter Walker
Parker Ward Forest Forrest Brook Brooks Clay Cliff Dale Glen Heath Reed Lance Star Sunny Sunshine
Tiny Merry Honey Candy Cherry Berry Penny Crystal Diamond Emerald Jewel Ruby Pearl Amber Jade Coral
Ebony Iris Ivy Holly Lily Daisy Rose Violet Fern Hazel Heather Olive Laurel Willow Blossom Sage
Echo Dawn Eve Buck Bud Buddy Buster Dusty Rusty Misty Rocky Sandy Bell Bee Dot Kit Mac Mack Pa Ma
Son Pat Sue Don Gay Ray Rod Rob Max Miles Van Jack Bob Carol Nick Jay Sol Ty Val Shad Dean Earl
Gene Cruz Mercedes Paris France Florida Virginia Dallas Denver Houston Lincoln Madison Jordan Eden
Roma Chi Lin Ling Hong Wan Yong Mai Lee Angel Melody Signe Marina Norma Otis Royce Tanner Wade
Warren Troy Tory Kent Irving Fletcher Harley Shelby Savannah Sherry Misty Rosemary Dixie Moses
Oscar Norman Morgan Mason Marshall Carter Cameron Bailey Avery Alpha Angle Brain Aide Carry
Chanel Basil Barney Archie Booker Camila Candice Cecil Jean Louise Joan Lacy Lavern Mae Gale Gail
Fay Forest Golden Honey Lou Ola Pia Stan Ted Tim Tom Todd Wes Willy Marc Neal Ned Nell Pete Reid
Rex Rico Sam Shea Sol Tad Jan Jim Joe Ken Kay Kirk Kasey Mitch Nan Pam Randy Lynn Colby Cole Corey
Evan Ellis Glenn Grady Hollis Iona Leon Mabel Mariam Nelly Patience Season Shanda Wilber Wynona
""".split())

_DETERMINERS = frozenset({"the", "a", "an", "our", "your", "my", "their", "this", "that", "its",
                          "his", "her"})

# Capitalised words, joined by single spaces or by name particles ("van 't", "de la").
_UP, _LOW = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
_CAP = (rf"[{_UP}](?:['’][{_UP}])?[{_LOW}]+(?:[{_UP}][{_LOW}]+)?(?:['’][{_LOW}]+)?"
        rf"(?:-[{_UP}]?[{_LOW}]+)*")
_PARTICLE = r"(?:van|von|de|der|den|del|della|da|di|dos|das|du|la|le|y|bin|ibn|'t|ten|ter|zu)"
_RUN = re.compile(
    rf"(?<![\w@./\\#$%&*+=<>-]){_CAP}(?:\s(?:{_PARTICLE}\s){{0,2}}{_CAP}){{0,2}}"
    rf"(?![\w@/\\#$%&*+=<>]|-\w|\.\w)")
_WORD = re.compile(_CAP)


def _census_lines(name: str) -> list[str]:
    try:
        data = importlib.resources.files("names")
    except ModuleNotFoundError as exc:  # pragma: no cover - the pii extra installs it
        raise MissingDependencyError("names", "pii", "the name lexicon recogniser") from exc
    return (data / name).read_text(encoding="ascii").splitlines()


@functools.lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Known first names, capitalised (``"Chelsea"``)."""
    found = set()
    for source in ("dist.female.first", "dist.male.first"):
        found.update(line.split()[0].capitalize() for line in _census_lines(source) if line)
    return frozenset(found)


@functools.lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """Known surnames, capitalised (``"Oneal"``)."""
    return frozenset(line.split()[0].capitalize() for line in _census_lines("dist.all.last")
                     if line)


def _is_surname(word: str, known: frozenset[str]) -> bool:
    word = word.removesuffix("'s").removesuffix("’s")
    return word.capitalize() in known or any(part.capitalize() in known
                                             for part in word.split("-") if part)


class NameLexiconRecognizer(EntityRecognizer):  # type: ignore[misc]
    """PERSON spans vouched for by the census name lexicon (see the module docstring).

    Args:
        supported_language: Presidio language code.
        pair_score: Score of a first name followed by more capitalised words.
        single_score: Score of a lone first name that is not an ordinary word (above the
            scrubber's default threshold of 0.4: in agent logs such a word is a person).
    """

    def __init__(self, supported_language: str = "en", pair_score: float = 0.7,
                 single_score: float = 0.5) -> None:
        self.pair_score = pair_score
        self.single_score = single_score
        super().__init__(supported_entities=["PERSON"], name="NameLexiconRecognizer",
                         supported_language=supported_language)

    def load(self) -> None:
        self._first = first_names()
        self._last = surnames()

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        results = []
        for match in _RUN.finditer(text):
            found = self._name_in(match.group(), text[max(0, match.start() - 6):match.start()])
            if found is None:
                continue
            start, end, score = found
            results.append(RecognizerResult(
                "PERSON", match.start() + start, match.start() + end, score,
                recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                      RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
        return results

    def _name_in(self, run: str, before: str) -> tuple[int, int, float] | None:
        """The name inside a run of capitalised words: ``(start, end, score)`` or ``None``.

        The name starts at the first known first name ("Patient Chelsea Oneal" -> "Chelsea
        Oneal") and takes at most the two words after it.
        """
        words = list(_WORD.finditer(run))
        starts = [i for i, w in enumerate(words) if w.group().split("-")[0] in self._first]
        if not starts:
            return None
        i = starts[0]
        word = words[i]
        first = word.group()
        given = first.split("-")[0]
        rest = words[i + 1:i + 3]
        end = (rest[-1] if rest else word).end()
        if run[end - 2:end] in ("'s", "’s"):
            end -= 2
        if not rest:
            preceding = (run[:word.start()] or before).split()
            if given in _ORDINARY_WORDS or (preceding and preceding[-1].lower() in _DETERMINERS):
                return None  # "Hope", or "the Hilton": a word or a thing, not a person
            return word.start(), end, self.single_score
        if given in _ORDINARY_WORDS or first in _ORDINARY_WORDS:
            # "Crystal Moore" is a person; "May Release Notes" is not.
            if not _is_surname(rest[0].group(), self._last):
                return None
            return word.start(), rest[0].end(), self.pair_score
        return word.start(), end, self.pair_score
