"""The Presidio analyser behind :class:`~slm_agents.curate.scrubber.PIIScrubber`, built offline.

Everything Presidio- and spaCy-specific lives here: the spaCy NLP engine (loaded from an
installed package, never downloaded, parser left out because NER does not need it), the
recogniser registry, and batched analysis (``nlp.pipe`` over many texts, then each text's
recognisers). The module is imported only when a scrubber first needs its engine.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MissingDependencyError
from .spans import Span

try:
    import spacy
    from presidio_analyzer import (
        AnalyzerEngine,
        EntityRecognizer,
        RecognizerRegistry,
        RecognizerResult,
    )
    from presidio_analyzer.context_aware_enhancers import (
        ContextAwareEnhancer,
        LemmaContextAwareEnhancer,
    )
    from presidio_analyzer.nlp_engine import (
        NerModelConfiguration,
        NlpArtifacts,
        NlpEngine,
        SpacyNlpEngine,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("presidio_analyzer", "pii", "PII scrubbing") from exc

from .recognizers import RECOGNIZERS, make_recognizer

__all__ = ["AnalysisEngine", "OfflineSpacyNlpEngine", "ner_configuration"]

logger = logging.getLogger("slm_agents.curate")

# spaCy refuses texts over nlp.max_length (1M chars); long tool results are analysed in pieces.
MAX_CHUNK_CHARS = 100_000
_HAS_LETTER = re.compile(r"[^\W\d_]")
_HAS_CAPITAL = re.compile(r"[A-ZÀ-ÖØ-Þ]")
# One "word" with a digit or an @ / : = in it (an id, e-mail, URL, key): nothing for NER.
_NOT_PROSE = re.compile(r"\A\S*[\d@/:=\\]\S*\Z")
_DIGIT = re.compile(r"\d")


def ner_configuration() -> NerModelConfiguration:
    """spaCy labels to Presidio entities; labels that are never personal data are ignored."""
    return NerModelConfiguration(
        model_to_presidio_entity_mapping={
            "PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION",
            "LOC": "LOCATION", "GPE": "LOCATION", "LOCATION": "LOCATION",
            "ORG": "ORGANIZATION", "ORGANIZATION": "ORGANIZATION",
            "DATE": "DATE_TIME", "TIME": "DATE_TIME",
        },
        labels_to_ignore=["CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT",
                          "PRODUCT", "QUANTITY", "WORK_OF_ART"],
    )


# Only NER matters here: context words are matched as substrings of lower-cased tokens, which
# does what lemmas did ("cards" contains "card") at a fraction of the cost.
_NOT_NEEDED = ("parser", "tagger", "attribute_ruler", "lemmatizer", "morphologizer", "senter")


class OfflineSpacyNlpEngine(SpacyNlpEngine):  # type: ignore[misc]
    """Presidio's spaCy engine that never downloads a model and runs only what NER needs.

    Presidio's own engine calls ``spacy.cli.download`` for a model that is not installed; this
    one raises :class:`~slm_agents.errors.MissingDependencyError` instead. The parser, tagger
    and lemmatizer are left out (NER does not use them); tokens stand in for lemmas.
    """

    def __init__(self, model: str, language: str = "en",
                 exclude: Sequence[str] = _NOT_NEEDED) -> None:
        super().__init__(models=[{"lang_code": language, "model_name": model}],
                         ner_model_configuration=ner_configuration())
        self.exclude = list(exclude)

    def load(self) -> None:
        loaded: dict[str, Any] = {}
        for model in self.models:
            name = model["model_name"]
            if not (spacy.util.is_package(name) or Path(name).exists()):
                raise MissingDependencyError(name, "pii", f"the spaCy model {name!r}")
            loaded[model["lang_code"]] = spacy.load(name, exclude=self.exclude)
        self.nlp = loaded  # type: ignore[assignment]  # Presidio declares it None

    def _doc_to_nlp_artifact(self, doc: Any, language: str) -> NlpArtifacts:
        artifacts: NlpArtifacts = super()._doc_to_nlp_artifact(doc, language)
        if "lemmatizer" not in self.get_nlp(language).pipe_names:
            artifacts.lemmas = [token.lower_ for token in doc]
            artifacts.keywords = NlpArtifacts.set_keywords(self, artifacts.lemmas, language)
        return artifacts


class InPlaceContextEnhancer(LemmaContextAwareEnhancer):  # type: ignore[misc]
    """Presidio's context enhancer without its deep copy of every result.

    The analyser creates the results for this one call, so raising their scores in place is safe;
    the copy was a tenth of the analysis time on short texts.
    """

    def enhance_using_context(self, text: str, raw_results: list[Any], nlp_artifacts: Any,
                              recognizers: list[Any],
                              context: list[str] | None = None) -> list[Any]:
        if not raw_results or nlp_artifacts is None:
            return raw_results
        extra = [word.lower() for word in context] if context else []
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        for result in raw_results:
            metadata = result.recognition_metadata or {}
            recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if (recognizer is None or not recognizer.context
                    or metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY)):
                continue
            words = self._extract_surrounding_words(
                nlp_artifacts=nlp_artifacts, word=text[result.start:result.end],
                start=result.start)
            words.extend(extra)
            supportive = self._find_supportive_word_in_context(
                words, recognizer.context, self.context_matching_mode)
            if supportive:
                score = max(result.score + self.context_similarity_factor,
                            self.min_score_with_context_similarity)
                result.score = min(score, ContextAwareEnhancer.MAX_SCORE)
                result.analysis_explanation.set_supportive_context_word(supportive)
                result.analysis_explanation.set_improved_score(result.score)
        return raw_results


class _FrozenRegistry(RecognizerRegistry):  # type: ignore[misc]
    """A registry that answers ``get_recognizers`` from a memo (it is filled once, then read on
    every analysed text; Presidio rebuilds the list each time)."""

    def __init__(self, language: str) -> None:
        super().__init__(supported_languages=[language])
        self._memo: dict[tuple[str, tuple[str, ...], bool], list[Any]] = {}

    def add_recognizer(self, recognizer: Any) -> None:
        self._memo.clear()
        super().add_recognizer(recognizer)

    def add_nlp_recognizer(self, nlp_engine: Any) -> None:
        self._memo.clear()
        super().add_nlp_recognizer(nlp_engine)

    def get_recognizers(self, language: str, entities: list[str] | None = None,
                        all_fields: bool = False,
                        ad_hoc_recognizers: list[Any] | None = None) -> list[Any]:
        if ad_hoc_recognizers:
            return super().get_recognizers(language, entities, all_fields,  # type: ignore[no-any-return]
                                           ad_hoc_recognizers)
        key = (language, tuple(entities or ()), all_fields)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = super().get_recognizers(language, entities, all_fields)
        return found


class AnalysisEngine:
    """A Presidio ``AnalyzerEngine`` with the chosen recognisers, analysing texts in batches.

    Args:
        recognizer_names: Registry names to use (see :data:`~.recognizers.RECOGNIZERS`).
        extra: Recogniser instances to add (any Presidio ``EntityRecognizer``).
        entities: Entity types to report.
        nlp_model: spaCy model package (or path) when ``nlp_engine`` is None.
        nlp_engine: A Presidio ``NlpEngine`` to use instead.
        language: Language code of the texts.
    """

    def __init__(self, *, recognizer_names: Sequence[str], extra: Sequence[Any],
                 entities: Sequence[str], nlp_model: str, nlp_engine: Any,
                 language: str) -> None:
        self.language = language
        self.entities = list(entities)
        self._wanted = frozenset(entities)
        engine: NlpEngine = nlp_engine if nlp_engine is not None else OfflineSpacyNlpEngine(
            nlp_model, language)
        if not isinstance(engine, NlpEngine):
            raise ConfigError("nlp_engine must be a presidio_analyzer NlpEngine (e.g. "
                              f"SpacyNlpEngine or TransformersNlpEngine); got {type(engine)!r}")
        if not engine.is_loaded():
            engine.load()
        self.nlp_engine = engine
        # Two analysers over one NLP engine: texts without a digit skip the recognisers that
        # need one (phone, card, SSN, IBAN, IP, address, dates, record numbers...).
        full = _FrozenRegistry(language)
        plain = _FrozenRegistry(language)
        for name in recognizer_names:
            if name == "SpacyRecognizer":
                full.add_nlp_recognizer(nlp_engine=engine)
                plain.add_nlp_recognizer(nlp_engine=engine)
                continue
            built = make_recognizer(name, language)
            full.add_recognizer(built)
            spec = RECOGNIZERS.get(name)
            if spec is None or not spec.needs_digits:
                plain.add_recognizer(built)
        for recognizer in extra:
            full.add_recognizer(recognizer)
            plain.add_recognizer(recognizer)
        self.uses_ner = "SpacyRecognizer" in recognizer_names
        enhancer = InPlaceContextEnhancer()
        self.analyzer = AnalyzerEngine(registry=full, nlp_engine=engine,
                                       supported_languages=[language],
                                       context_aware_enhancer=enhancer)
        self._plain_analyzer = AnalyzerEngine(registry=plain, nlp_engine=engine,
                                              supported_languages=[language],
                                              context_aware_enhancer=enhancer)
        self._plain_entities = [e for e in self.entities
                                if any(e in r.supported_entities for r in plain.recognizers)]
        # NER can be skipped for texts without a capital letter when the only NER entities
        # wanted are names and places (lower-case detections are dropped as implausible).
        self._ner_needs_capital = not (set(entities) & {"ORGANIZATION", "NRP", "DATE_TIME"})
        # The tokenizer alone gives context words for texts that NER can skip.
        self._spacy = engine.get_nlp(language) if isinstance(engine, SpacyNlpEngine) else None

    def analyze(self, items: Sequence[tuple[str, tuple[str, ...]]], *, score_threshold: float,
                allow_list: Sequence[str], batch_size: int = 64) -> list[list[Span]]:
        """Detect spans in each ``(text, context_words)`` item, running NER in batches.

        Texts with no letter (no capital, when only names and places are wanted from NER), and
        single words with a digit or an ``@ / : =`` in them, skip NER: no name or place can be
        in them. Texts with no digit skip the recognisers that need
        one. Texts longer than :data:`MAX_CHUNK_CHARS` are analysed in pieces cut at line or
        word breaks.
        """
        pieces: list[tuple[int, int, str, tuple[str, ...]]] = []  # (item, offset, text, context)
        for index, (text, context) in enumerate(items):
            for offset, piece in _chunks(text):
                pieces.append((index, offset, piece, context))
        needs = _HAS_CAPITAL if self._ner_needs_capital else _HAS_LETTER
        ner_positions = [i for i, p in enumerate(pieces)
                         if self.uses_ner and needs.search(p[2]) is not None
                         and _NOT_PROSE.match(p[2]) is None]
        artifacts: list[NlpArtifacts | None] = [None] * len(pieces)
        if ner_positions:
            texts = [pieces[i][2] for i in ner_positions]
            batch = self.nlp_engine.process_batch(texts, self.language, batch_size=batch_size)
            for position, (_, artifact) in zip(ner_positions, batch, strict=True):
                artifacts[position] = artifact
        results: list[list[Span]] = [[] for _ in items]
        allow = [value for value in allow_list if value]
        for (index, offset, piece, context), found_artifact in zip(pieces, artifacts, strict=True):
            artifact = found_artifact or self._light_artifacts(piece)
            if _DIGIT.search(piece):
                analyzer, entities = self.analyzer, self.entities
            else:
                analyzer, entities = self._plain_analyzer, self._plain_entities
            if not entities:
                continue
            found = analyzer.analyze(
                piece, self.language, entities=entities, nlp_artifacts=artifact,
                score_threshold=score_threshold, context=list(context) or None)
            allowed = _occurrences(piece, allow) if allow else []
            for r in found:
                value = piece[r.start:r.end]
                if any(a <= r.start and r.end <= b for a, b in allowed):
                    continue  # an allowed value, or a part of one (the domain of an e-mail)
                name = _recognizer_name(r)
                if r.entity_type in self._wanted and _plausible(r.entity_type, value, name):
                    results[index].append(Span(r.start + offset, r.end + offset, r.entity_type,
                                               float(r.score), value, name))
        return results

    def _light_artifacts(self, text: str) -> NlpArtifacts:
        if self._spacy is None:
            return self.nlp_engine.process_text(text, self.language)
        doc = self._spacy.make_doc(text)
        return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[t.idx for t in doc],
                            lemmas=[t.lower_ for t in doc], nlp_engine=self.nlp_engine,
                            language=self.language, scores=[])


_CAMEL_WORD = re.compile(r"(?!(?:Mc|Mac|O'|D'|De|Di|Da|La|Le|Van|Von)[A-Z])[A-Z][a-z]+[A-Z]")


def _plausible(entity_type: str, value: str, recognizer: str) -> bool:
    """Drop detections that cannot be what they claim (cheap checks after Presidio's)."""
    if entity_type in ("PERSON", "LOCATION"):
        # NER takes "node 18.19.0" or "CUST-091445" for names and places; real ones have no
        # digits and start with a capital somewhere ("cholesterol follow-up" is not a person).
        if _DIGIT.search(value) is not None or not any(c.isupper() for c in value):
            return False
        if recognizer == "SpacyRecognizer" and " " not in value.strip():
            # One word in capitals ("ECONNRESET") or with a capital inside ("HubSpot",
            # "BigQuery") is a code or a product; "McDonald" and "DeShawn" are names.
            word = value.strip()
            if (len(word) > 3 and word.isupper()) or _CAMEL_WORD.match(word):
                return False
        return True
    if entity_type == "PHONE_NUMBER":
        return len(_DIGIT.findall(value)) >= 7
    return True


def _occurrences(text: str, values: Sequence[str]) -> list[tuple[int, int]]:
    found = []
    for value in values:
        start = text.find(value)
        while start >= 0:
            found.append((start, start + len(value)))
            start = text.find(value, start + 1)
    return found


def _recognizer_name(result: Any) -> str:
    metadata = result.recognition_metadata or {}
    return str(metadata.get("recognizer_name", ""))


def _chunks(text: str) -> list[tuple[int, str]]:
    if len(text) <= MAX_CHUNK_CHARS:
        return [(0, text)]
    out: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(start + MAX_CHUNK_CHARS, len(text))
        if end < len(text):
            cut = max(text.rfind("\n", start + MAX_CHUNK_CHARS // 2, end),
                      text.rfind(" ", start + MAX_CHUNK_CHARS // 2, end))
            end = cut + 1 if cut > start else end
        out.append((start, text[start:end]))
        start = end
    return out


def entities_of(names: Sequence[str], extra: Sequence[Any]) -> set[str]:
    """Entity types the named recognisers and the extra instances can report."""
    found: set[str] = set()
    for name in names:
        spec = RECOGNIZERS.get(name)
        if spec is not None:
            found.update(spec.entities)
        else:
            found.update(make_recognizer(name, "en").supported_entities)
    for recognizer in extra:
        if isinstance(recognizer, EntityRecognizer):
            found.update(recognizer.supported_entities)
    return found
