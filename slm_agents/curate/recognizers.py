"""The recognisers agent logs need, beyond Presidio's defaults, and the registry that names them.

Every recogniser has a registry name (its class name, as in Presidio's own registry), so a
:class:`~slm_agents.curate.scrubber.PIIScrubber` can turn one off (``disable=[...]``) or turn on
one that is off by default (``recognizers=[...]``). The secret and PHI recognisers are Presidio
``PatternRecognizer``s: a strong pattern for values behind a label ("MRN: ...", "password=...")
and, where a bare value is ambiguous, a weak pattern that only passes the score threshold with a
context word nearby or in the JSON key the value sits under.

The recognisers themselves live in :mod:`.secret_recognizers` and :mod:`.pii_recognizers`. These
modules import Presidio at import time; a scrubber imports them only when it builds its engine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, Pattern, RecognizerResult
from presidio_analyzer import predefined_recognizers as presidio_recognizers
from presidio_analyzer.predefined_recognizers import (
    EmailRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
)

from ._patterns import FastPatterns, fast
from .name_lexicon import NameLexiconRecognizer
from .pii_recognizers import (
    CardNumberRecognizer,
    account_number_recognizer,
    date_of_birth_recognizer,
    insurance_number_recognizer,
    ipv6_recognizer,
    location_cue_recognizer,
    medical_record_number_recognizer,
    person_title_recognizer,
    phone_format_recognizer,
    street_address_recognizer,
)
from .secret_recognizers import (
    JwtRecognizer,
    api_key_recognizer,
    bearer_token_recognizer,
    password_recognizer,
    private_key_recognizer,
)

__all__ = [
    "OfflineEmailRecognizer",
    "OfflineUrlRecognizer",
    "PhoneNumbersRecognizer",
    "RECOGNIZERS",
    "RecognizerSpec",
    "make_recognizer",
    "offline_tld_extractor",
]


@functools.lru_cache(maxsize=1)
def offline_tld_extractor() -> Any:
    """A ``tldextract.TLDExtract`` that never fetches: it reads the snapshot shipped with it."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(FastPatterns, EmailRecognizer):  # type: ignore[misc]
    """Presidio's e-mail recogniser, validating domains against the bundled public-suffix list.

    Presidio's own validation calls ``tldextract.extract``, whose first call downloads the
    public-suffix list; this one never opens a socket.
    """

    gate = regex.compile("@")

    def validate_result(self, pattern_text: str) -> bool:
        return bool(offline_tld_extractor()(pattern_text).fqdn)


# File names that the URL pattern takes for domains (".py" is Paraguay, ".md" Moldova...).
_FILE_SUFFIXES = frozenset({"py", "md", "rs", "sh", "pl", "so", "ps", "cc", "ml", "mk", "sc", "st",
                            "medium", "large", "small", "micro", "nano", "xlarge", "zip", "exe",
                            "in", "am", "ai", "do", "sql", "lock", "cfg", "txt"})


class OfflineUrlRecognizer(FastPatterns, UrlRecognizer):  # type: ignore[misc]
    """Presidio's URL recogniser with an offline public-suffix check on schemeless matches.

    A match with a scheme (``https://...``) is kept as found. A bare ``name.tld`` must end in a
    public suffix, and a single-dot name ending in a common file extension (``setup.py``,
    ``README.md``) is taken for a file, not a URL. Presidio's "quoted" patterns are left out
    (they find the same URLs with their quotes), and text with no ``name.tld`` shape skips the
    (costly) patterns altogether.
    """

    gate = regex.compile(r"[A-Za-z0-9\-]\.[A-Za-z]{2}")

    def __init__(self, supported_language: str = "en") -> None:
        base = UrlRecognizer.BASE_URL_REGEX
        # Presidio's patterns end anywhere: "t3.medium" gave the URL "t3.me". A URL here ends
        # where the word does.
        patterns = [Pattern("Standard Url", r"(?i)(?:https?://)" + base + r"(?![\w\-])", 0.6),
                    Pattern("Non schema URL", r"(?i)(?<![\w\-.])" + base + r"(?![\w\-])", 0.5)]
        super().__init__(patterns=patterns, supported_language=supported_language)

    def validate_result(self, pattern_text: str) -> bool | None:
        text = pattern_text.strip("\"'")
        if "://" in text:
            return None
        host = text.split("/", 1)[0]
        parts = offline_tld_extractor()(host)
        if not parts.suffix or not parts.domain:
            return False
        if host.count(".") == 1 and "/" not in text and parts.suffix.lower() in _FILE_SUFFIXES:
            return False
        return None


_DIGIT = regex.compile(r"\d")


# Regions whose numbering plans ``phonenumbers`` checks (each one costs a pass over the text);
# the layout recogniser covers numbers written in other countries' formats.
_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN")


class PhoneNumbersRecognizer(PhoneRecognizer):
    """Presidio's ``phonenumbers`` recogniser, skipped on texts with fewer than 7 digits (its
    matcher parses every digit run once per region, the costliest recogniser by far)."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if len(_DIGIT.findall(text)) < 7:
            return []
        return super().analyze(text, entities, nlp_artifacts)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RecognizerSpec:
    """A named recogniser in the registry.

    Attributes:
        name: Registry name (used in ``recognizers=`` and ``disable=``).
        entities: Entity types it reports.
        default: Whether a scrubber uses it unless told otherwise.
        factory: ``language -> EntityRecognizer``; ``None`` for the NER recogniser, which the
            engine builds from its NLP engine.
        needs_digits: It can only match text with a digit in it, so texts without one skip it.
    """

    name: str
    entities: tuple[str, ...]
    default: bool
    factory: Callable[[str], EntityRecognizer] | None
    needs_digits: bool = False


def _presidio(cls_name: str, **kwargs: Any) -> Callable[[str], EntityRecognizer]:
    def build(language: str) -> EntityRecognizer:
        cls = fast(getattr(presidio_recognizers, cls_name))
        return cls(supported_language=language, **kwargs)  # type: ignore[no-any-return]
    return build


def _spec(name: str, entities: tuple[str, ...], default: bool,
          factory: Callable[[str], EntityRecognizer] | None,
          needs_digits: bool = False) -> tuple[str, RecognizerSpec]:
    return name, RecognizerSpec(name, entities, default, factory, needs_digits)


def _digits(name: str, entity: str, factory: Callable[[str], EntityRecognizer] | None = None,
            default: bool = True) -> tuple[str, RecognizerSpec]:
    return _spec(name, (entity,), default, factory or _presidio(name), needs_digits=True)


RECOGNIZERS: dict[str, RecognizerSpec] = dict([
    # NER (PERSON, LOCATION; ORGANIZATION, NRP and DATE_TIME only when asked for by entity).
    _spec("SpacyRecognizer", ("PERSON", "LOCATION", "ORGANIZATION", "NRP", "DATE_TIME"), True,
          None),
    _spec("PersonTitleRecognizer", ("PERSON",), True, person_title_recognizer),
    _spec("NameLexiconRecognizer", ("PERSON",), True,
          lambda lang: NameLexiconRecognizer(supported_language=lang)),
    _spec("LocationCueRecognizer", ("LOCATION",), True, location_cue_recognizer),
    # Presidio's structured identifiers (e-mail and URL validated offline).
    _spec("EmailRecognizer", ("EMAIL_ADDRESS",), True,
          lambda lang: OfflineEmailRecognizer(supported_language=lang)),
    _spec("UrlRecognizer", ("URL",), True, OfflineUrlRecognizer),
    _digits("PhoneRecognizer", "PHONE_NUMBER",
            lambda lang: PhoneNumbersRecognizer(supported_language=lang,
                                                supported_regions=_PHONE_REGIONS)),
    _digits("PhoneFormatRecognizer", "PHONE_NUMBER", phone_format_recognizer),
    _digits("CreditCardRecognizer", "CREDIT_CARD"),
    _digits("CardNumberRecognizer", "CREDIT_CARD",
            lambda lang: CardNumberRecognizer(supported_language=lang)),
    _digits("UsSsnRecognizer", "US_SSN", _presidio(
        "UsSsnRecognizer", context=["social", "security", "ssn", "ssns", "ssid", "tax", "tin",
                                    "taxpayer"])),
    _digits("IbanRecognizer", "IBAN_CODE"),
    _digits("IpRecognizer", "IP_ADDRESS"),
    _spec("Ipv6Recognizer", ("IP_ADDRESS",), True, ipv6_recognizer),
    _spec("MacAddressRecognizer", ("MAC_ADDRESS",), True, _presidio("MacAddressRecognizer")),
    _spec("CryptoRecognizer", ("CRYPTO",), True, _presidio("CryptoRecognizer")),
    _digits("UsPassportRecognizer", "US_PASSPORT"),
    _digits("UsItinRecognizer", "US_ITIN"),
    _digits("UsBankRecognizer", "US_BANK_NUMBER"),
    _digits("UsLicenseRecognizer", "US_DRIVER_LICENSE"),
    _digits("NhsRecognizer", "UK_NHS"),
    _digits("MedicalLicenseRecognizer", "MEDICAL_LICENSE"),
    # Secrets.
    _spec("ApiKeyRecognizer", ("API_KEY",), True, api_key_recognizer),
    _spec("JwtRecognizer", ("JWT",), True, lambda lang: JwtRecognizer(supported_language=lang)),
    _spec("BearerTokenRecognizer", ("BEARER_TOKEN",), True, bearer_token_recognizer),
    _spec("PrivateKeyRecognizer", ("PRIVATE_KEY",), True, private_key_recognizer),
    _spec("PasswordRecognizer", ("PASSWORD",), True, password_recognizer),
    # Addresses and PHI.
    _digits("StreetAddressRecognizer", "STREET_ADDRESS", street_address_recognizer),
    _digits("DateOfBirthRecognizer", "DATE_OF_BIRTH", date_of_birth_recognizer),
    _digits("MedicalRecordNumberRecognizer", "MEDICAL_RECORD_NUMBER",
            medical_record_number_recognizer),
    _digits("InsuranceNumberRecognizer", "INSURANCE_NUMBER", insurance_number_recognizer),
    _digits("AccountNumberRecognizer", "ACCOUNT_NUMBER", account_number_recognizer),
    # Off by default: every date and every UUID is rarely personal in agent logs.
    _digits("DateRecognizer", "DATE_TIME", default=False),
    _spec("UuidRecognizer", ("UUID",), False, _presidio("UuidRecognizer")),
])


def make_recognizer(name: str, language: str) -> EntityRecognizer:
    """Build the registry's recogniser ``name``, or any Presidio predefined recogniser by class.

    Raises:
        KeyError: no recogniser has that name.
    """
    spec = RECOGNIZERS.get(name)
    if spec is not None and spec.factory is not None:
        return spec.factory(language)
    if spec is None and isinstance(getattr(presidio_recognizers, name, None), type):
        return _presidio(name)(language)
    raise KeyError(name)
