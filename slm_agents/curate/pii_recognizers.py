"""Recognisers for personal and health data that Presidio's defaults miss or cover thinly.

Street addresses (US, UK and European layouts), dates of birth, medical record, insurance and
account numbers, card numbers by Luhn checksum, phone numbers by layout, and names and places
after a phrase that introduces them. Identifiers behind a label ("MRN: ...") score high; a bare
value counts only with a context word nearby or in the JSON key it sits under.
"""

from __future__ import annotations

import ipaddress

from presidio_analyzer import PatternRecognizer

from ._patterns import CASE, SEP, FastPatterns, IdRecognizer, pattern, recognizer

__all__ = ["CardNumberRecognizer", "DATE_REGEX", "account_number_recognizer",
           "date_of_birth_recognizer", "insurance_number_recognizer", "ipv6_recognizer",
           "location_cue_recognizer",
           "medical_record_number_recognizer", "person_title_recognizer",
           "phone_format_recognizer", "street_address_recognizer"]


_STREET_TYPES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Terrace|Ter|"
    "Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Crescent|Cres|Close|Alley|Plaza|"
    "Pike|Mews|Gardens|Hill|Hills|Ridge|Crossing|Xing|Expressway|Expy|Freeway|Fwy|Turnpike|Tpke|"
    "Landing|Manor|Meadow|Meadows|Mill|Mills|Orchard|Prairie|Ranch|Rapids|Shore|Shores|Springs|"
    "Stream|Summit|Trace|Valley|Vista|Village|Ville|Wells|Estate|Estates|Fields|Forest|Forge|"
    "Forks|Garden|Glen|Grove|Harbor|Harbour|Haven|Heights|Island|Isle|Knoll|Lake|Lakes|Motorway|"
    "Mount|Mountain|Overpass|Skyway|Stravenue|Throughway|Underpass|Bypass|Canyon|Causeway|Cliff|"
    "Cove|Creek|Crest|Dale|Divide|Falls|Ferry|Flats|Ford|Bridge|Brook|Bluff|Bend|Beach|Arcade|"
    "Wynd|Gate|Rise|Parade|Esplanade|Quay|Wharf|Walk|Row|Green|Park|View")
_AMBIGUOUS_TYPES = (
    "Way|Loop|Path|Run|Point|Pt|Pass|Port|Ports|Rest|Spring|Station|Track|Union|Wall|Well|Fork|"
    "Gateway|Light|Lights|Lock|Locks|Mission|Neck|Oval|Radial|Ramp|Route|Spur|Tunnel|Burg|Camp|"
    "Cape|Center|Centre|Club|Common|Corner|Corners|Course|Curve|Dam|Extension|Flat|Fort|Branch|"
    "Junction|Jct|Square")
_NAME_WORDS = (r"(?:(?:[NSEW]\.?|North|South|East|West|[A-Z][\w'\-]+|\d+(?:st|nd|rd|th))"
               r"\s{1,2}){1,4}")
_UNIT = (r"(?:,?\s{1,3}(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Floor|Fl\.?|Room|Rm\.?|Flat|#)"
         r"\s{0,2}#?[A-Za-z0-9-]{1,6})")
_CITY_STATE_ZIP = (r"(?:,?\s{1,3}(?:[A-Z][\w'\-]+\.?\s){0,2}[A-Z][\w'\-]+,?\s{1,3}"
                   r"(?:[A-Z]{2}\s{1,2}\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}))")
# ", 34604 Schweinfurt" after a European street
_POSTCODE_CITY = (r"(?:,?\s{1,3}(?:[A-Z]{1,2}-)?\d{4,5}\s{1,2}[A-ZÀ-Ý][\w'\-]+"
                  r"(?:\s[A-ZÀ-Ý][\w'\-]+)?)?")
_EU_STREET_WORDS = (r"(?:stra(?:ß|ss)e|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|"
                    r"steeg|straat|laan|gracht|plein|kade|singel|dreef|hof|markt|gatan|vägen|vej)")
# French, Spanish, Italian and Portuguese street types. English words among them ("place",
# "route", "plaza") count only after a number ("12 place Bellecour"), and the types that
# lead ("Calle Mayor 5") only capitalised.
_ROMANCE_TYPES = (r"(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|cours|route|"
                  r"calle|c/|avenida|avda\.|paseo|pasaje|pasadizo|plaza|camino|carrer|ronda|rambla|"
                  r"alameda|cuesta|glorieta|callejón|urbanización|vía|via|viale|piazza|corso|"
                  r"largo|vicolo|rua|travessa)")
_LEADING_TYPES = (r"(?:Calle|C/|C\.|Avenida|Avda\.|Paseo|Pasaje|Pasadizo|Camino|Carrer|Ronda|"
                  r"Rambla|Alameda|Cuesta|Glorieta|Callejón|Urbanización|Acceso|Vía|Via|Viale|"
                  r"Piazza|Corso|Largo|Vicolo|Rua|Travessa)")


def street_address_recognizer(language: str = "en") -> PatternRecognizer:
    """Street addresses: number, street name and type, unit, and city/state/ZIP when present."""
    number = r"\b\d{1,6}[A-Za-z]?(?:-\d{1,4})?\s{1,2}"
    patterns = [
        pattern("street", number + _NAME_WORDS + r"(?:" + _STREET_TYPES + r")s?\b\.?" + _UNIT
                 + r"?" + _CITY_STATE_ZIP + r"?", 0.7),
        pattern("street with unit or city", number + _NAME_WORDS + r"(?:" + _AMBIGUOUS_TYPES
                 + r")s?\b\.?(?:" + _UNIT + _CITY_STATE_ZIP + r"?|" + _CITY_STATE_ZIP + r")", 0.7),
        pattern("number, words, city, state zip",
                 number + r"(?:[A-Z][\w'\-]+\s{1,2}){1,4}?[A-Z][\w'\-]+" + _UNIT
                 + r"?,?\s{1,3}(?:[A-Z][\w'\-]+\s){0,2}[A-Z][\w'\-]+,\s{1,3}[A-Z]{2}\s{1,2}\d{5}"
                 r"(?:-\d{4})?\b", 0.75),
        # Hauptstraße 5, Ester-Dörschner-Allee 6/3, Yasminesteeg 3 (name first, number after)
        pattern("name then number",
                 r"\b[A-ZÄÖÜ][\w\-]*(?i:" + _EU_STREET_WORDS + r")\s{1,2}\d{1,4}[a-z]?(?:/\d{1,4})?"
                 r"\b" + _POSTCODE_CITY, 0.7),
        # 12 rue de la Paix; 96, boulevard de X; Calle Mayor 5; C. Xavier Milla 226; Via Roma 3
        pattern("number then romance type",
                 r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s{1,2}(?i:" + _ROMANCE_TYPES + r")\s"
                 r"(?:(?:de|del|la|le|les|du|des|di|da|dos|das)\s){0,2}"
                 r"[A-ZÀ-Ý][\w'\-]+(?:\s[A-ZÀ-Ý][\w'\-]+){0,3}" + _POSTCODE_CITY, 0.6),
        pattern("romance type then number",
                 r"(?<![\w.])" + _LEADING_TYPES + r"\s(?:[\w'\-]+\s){0,4}?\d{1,4}\b"
                 + _POSTCODE_CITY, 0.6),
        pattern("ambiguous type after a cue",
                r"(?<=\b(?i:at|address(?:\s+is)?|addr|to|ship\s+to|deliver\s+to)[:\s]{1,3})"
                + number + _NAME_WORDS + r"(?:" + _AMBIGUOUS_TYPES + r")s?\b", 0.6),
        # ", 34604 Schweinfurt", ", 7640 UX Noordhorn" after a street the patterns above missed
        pattern("postcode and city", r"(?<=,\s{1,2})(?:\d{4}\s?[A-Z]{2}|\d{4,5})\s{1,2}"
                                     r"[A-ZÀ-Ý][\w'\-]+(?:\s[A-ZÀ-Ý][\w'\-]+)?\b", 0.5),
        pattern("po box", r"\bP\.?\s?O\.?\s?Box\s{1,2}\d{1,7}\b", 0.7),
    ]
    return recognizer("STREET_ADDRESS", "StreetAddressRecognizer", patterns,
                       ["address", "street", "addr", "lives", "ship", "mail"], language, CASE)


_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
DATE_REGEX = (r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})"
              r"|" + _MONTH + r"\.?\s\d{1,2}(?:st|nd|rd|th)?,?\s\d{4}"
              r"|\d{1,2}(?:st|nd|rd|th)?\s(?:of\s)?" + _MONTH + r"\.?,?\s\d{4})(?!\d)")


def date_of_birth_recognizer(language: str = "en") -> PatternRecognizer:
    """Dates next to "born", "DOB", "date of birth" or "birthday"."""
    label = (r"(?:\bborn(?:\s+on)?|\bDOB|\bD\.O\.B\.?|date\s+of\s+birth|birth\s*date|birthday"
             r"|\bgeboren(?:\s+am)?|\bnée?\s+le)")
    patterns = [
        pattern("labelled date", r"(?<=" + label + r"[\s:=\-\"',(]{0,4}(?:(?:is|was|on)\s+){0,2})"
                                  + DATE_REGEX, 0.85),
        # A date alone needs a context word (or a JSON key like "dob") to count as a birth date.
        pattern("date", r"\b" + DATE_REGEX, 0.1),
    ]
    return recognizer("DATE_OF_BIRTH", "DateOfBirthRecognizer", patterns,
                       ["dob", "birth", "birthday", "birthdate", "born"], language)


def _labelled_id(label: str) -> str:
    """An identifier of 6-25 characters right after ``label`` (its digits are checked later).

    Letters, digits, dashes, and single spaces before a digit or a lone capital letter
    ("MH 80 43 51 C"), so the words after the value are not taken into it.
    """
    return (r"(?<=" + label + SEP + r")(?=[A-Za-z]{0,5}[\s\-]?\d)" + _ID_BODY + r"{5,24}\b")


_ID_BODY = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])|\s(?=\d|[A-Z]\b))"
# A whole JSON value that looks like an identifier; it needs a context word (its key) to count.
_BARE_ID = r"\A" + _ID_BODY + r"{3,24}\Z"


def medical_record_number_recognizer(language: str = "en") -> PatternRecognizer:
    """Medical record numbers (MRN) and patient/chart numbers."""
    label = (r"(?:\bMRN|medical\s+record(?:\s+(?:number|no\.?|num|#|id))?|patient\s+(?:id|number"
             r"|no\.?|#)|chart\s+(?:number|no\.?|#))")
    patterns = [
        pattern("labelled", _labelled_id(label), 0.85),
        pattern("prefixed", r"\bMRN[-_:]?\d{5,12}\b", 0.85),
        pattern("bare value", _BARE_ID, 0.05),
    ]
    return IdRecognizer("MEDICAL_RECORD_NUMBER", "MedicalRecordNumberRecognizer", patterns,
                        ["mrn", "medical", "chart", "patient_id", "patientid", "patient_number"],
                        language, min_digits=4)


def insurance_number_recognizer(language: str = "en") -> PatternRecognizer:
    """Health-insurance member, subscriber, policy and group numbers, and Medicare MBIs."""
    label = (r"(?:\b(?i:insurance|member|subscriber|policy|group|medicaid|medicare|beneficiary|"
             r"health\s+plan|plan\s+member|insurance\s+member)(?:\s+(?i:id|number|no\.?|num|#))?)")
    mbi = "[AC-HJKMNP-RT-Y]"
    patterns = [
        pattern("labelled", _labelled_id(label), 0.8),
        pattern("medicare mbi",
                rf"\b[1-9]{mbi}[AC-HJKMNP-RT-Y0-9]\d-?{mbi}[AC-HJKMNP-RT-Y0-9]\d-?{mbi}{{2}}\d{{2}}\b",
                0.5),
        pattern("bare value", _BARE_ID, 0.05),
    ]
    return IdRecognizer("INSURANCE_NUMBER", "InsuranceNumberRecognizer", patterns,
                        ["insurance", "member", "subscriber", "policy", "medicare", "medicaid",
                         "mbi", "beneficiary", "insured", "coverage"], language, min_digits=3,
                        flags=CASE)


def account_number_recognizer(language: str = "en") -> PatternRecognizer:
    """Bank and customer account numbers (IBANs are Presidio's ``IbanRecognizer``)."""
    label = (r"(?:\b(?:account|acct|a/c|acc)\.?\s*(?:number|no\.?|num|#|id)?"
             r"|\brouting\s+(?:number|no\.?)?|\bsort\s+code|\bbsb)")
    patterns = [
        pattern("labelled", _labelled_id(label), 0.8),
        pattern("labelled digits", r"(?<=" + label + SEP + r")\d{2,6}(?:[ -]\d{2,8}){1,4}\b", 0.8),
        pattern("masked", r"(?<![\w*])[*xX•]{4,12}[ -]?\d{4}\b", 0.5),
        # 8-17 digits need a banking word before them ("standing order from 1234567890").
        pattern("digits", r"(?<![\w\-.])\d{8,17}(?![\w\-]|\.\d)", 0.1),
        pattern("bare value", _BARE_ID, 0.05),
    ]
    return IdRecognizer("ACCOUNT_NUMBER", "AccountNumberRecognizer", patterns,
                        ["account", "acct", "iban", "routing", "bank", "transfer", "wire",
                         "debit", "deposit", "payee", "standing", "sort"], language, min_digits=4)


class CardNumberRecognizer(FastPatterns):
    """Payment card numbers of 12-19 digits (all networks, 2-series Mastercard and 13-digit Visa
    included) whose Luhn checksum holds; Presidio's recogniser misses some of these layouts."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="CREDIT_CARD", name="CardNumberRecognizer",
            supported_language=supported_language,
            patterns=[pattern("luhn digits", r"(?<![\w\-.])[2-6]\d{2,3}(?:[ -]?\d{2,6}){2,5}"
                                              r"(?![\w\-]|\.\d)", 0.3)],
            context=["card", "credit", "debit", "visa", "mastercard", "amex", "charge", "pan"],
            global_regex_flags=CASE)

    def validate_result(self, pattern_text: str) -> bool:
        digits = [int(c) for c in pattern_text if c.isdigit()]
        if not 12 <= len(digits) <= 19:
            return False
        total = 0
        for i, d in enumerate(reversed(digits)):
            if i % 2 == 1:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        return total % 10 == 0


def phone_format_recognizer(language: str = "en") -> PatternRecognizer:
    """Phone numbers by layout, for numbers ``phonenumbers`` rejects (unassigned area codes)."""
    ext = r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?"
    patterns = [
        pattern("nanp", r"(?<![\w+\-./])(?:(?:\+|00)?1[\s.\-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.\-])"
                         r"\d{3}[\s.\-]\d{4}" + ext + r"(?![\w\-/])", 0.45),
        pattern("international", r"(?<![\w+])\+\d{1,3}[\s.\-]?(?:\(\d{1,4}\)[\s.\-]?)?"
                                  r"\d{1,12}(?:[\s.\-]\d{1,8}){0,4}" + ext + r"(?![\w\-/])", 0.45),
        pattern("international compact", r"(?<![\w+])\+\d{10,14}(?![\w\-/])", 0.5),
        # (0526) 448 8371, 00978 66560, (009)-4783591: a leading 0 and a group after it
        pattern("trunk prefix", r"(?<![\w+\-./])\(?0\d{2,4}\)?[\s/\-]{1,2}\d{3,4}[\s\-]?\d{2,4}"
                                 r"(?![\w\-/])", 0.4),
        pattern("digits", r"(?<![\w+\-])\d{10,11}(?![\w\-])", 0.1),
    ]
    return recognizer("PHONE_NUMBER", "PhoneFormatRecognizer", patterns,
                       ["phone", "tel", "telephone", "mobile", "cell", "call", "fax", "sms",
                        "text", "reach", "number", "contact", "whatsapp"], language)


# A capitalised (or upper-case) word of letters: "Ana", "O'Neil", "Jean-Luc", "GARCIA", "J."
_WORD = r"[A-ZÀ-Ý](?:[a-zà-ÿ']+(?:-[A-ZÀ-Ý]?[a-zà-ÿ']+)*|[A-ZÀ-Ý'\-]+|\.)"
_NAME = r"[A-ZÀ-Ý][\w'\-]+(?:\s[A-Z]\.)?(?:\s(?:[A-ZÀ-Ý][\w'\-]+)){0,2}"
_PERSON_KEYS = ["name", "holder", "beneficiary", "contact", "customer", "patient", "passenger",
                "guest", "employee", "recipient", "sender", "subscriber", "owner", "manager",
                "assignee", "author", "attendee", "client", "person", "signer", "applicant",
                "physician", "doctor", "nurse", "tenant", "candidate", "contractor", "caller",
                "requester", "reporter", "traveler", "traveller", "payee", "lead"]


def person_title_recognizer(language: str = "en") -> PatternRecognizer:
    """Names after an honorific or a phrase that introduces a person ("Dr. Chen", "Dear Ana"),
    and whole JSON values under person-like keys (``"passenger_name": "Ana Hodges"``)."""
    cue = (r"(?i:my\s+name\s+is|name\s*:|patient\s*:|customer\s*:|dear|signed,|regards,|"
           r"sincerely,|thanks,|cheers,|this\s+is|i\s+am|i'm|beneficiary|contact|subscriber|"
           r"holder|contractor|colleague|manager|passenger|employee|tenant|physician|"
           r"attn\.?:?|c/o|cc:?|guest(?:\s+is)?|(?:reserved|booked|registered|listed)\s+under)")
    greeting = r"(?i:hi|hello|hey|dear|thanks|thank\s+you|met|it's|it\s+is|this\s+is|i'm|i\s+am)"
    patterns = [
        pattern("honorific", r"(?<=\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sr|Sra|Mme|Herr|Frau)\.?\s)"
                              + _NAME, 0.6),
        # Two capitalised words after a cue ("contact Dalia Kaur", "Hi, this is Ana Silva").
        pattern("cue", r"(?<=\b" + cue + r"\s{1,3})[A-ZÀ-Ý][\w'\-]+(?:\s[A-Z]\.)?"
                        r"(?:\s[A-ZÀ-Ý][\w'\-]+){1,2}\b", 0.5),
        # One capitalised word after a greeting ("Hi Adrian,", "Met Kyle at", "it's Holly").
        pattern("greeting", r"(?<=\b" + greeting + r",?\s{1,3})(?!(?:All|Team|Everyone|There|"
                            r"Folks|Guys|Support|Sir|Madam|Again|So|For|The|A|An|I)\b)"
                            r"[A-ZÀ-Ý][a-zà-ÿ'\-]+(?:\s[A-ZÀ-Ý][a-zà-ÿ'\-]+)?\b", 0.5),
        # A whole value of one to four capitalised words: a name only under a person-like key.
        pattern("bare value", r"\A" + _WORD + r"(?:\s" + _WORD + r"){0,3}\Z", 0.1),
    ]
    return recognizer("PERSON", "PersonTitleRecognizer", patterns, _PERSON_KEYS, language, CASE,
                      gate="[A-ZÀ-Ý]")


def location_cue_recognizer(language: str = "en") -> PatternRecognizer:
    """Places after a phrase that introduces where someone is ("moved to", "lives in")."""
    cue = (r"(?i:moved\s+to|relocat(?:ed|ing)\s+to|lives\s+in|living\s+in|based\s+in|resides\s+in|"
           r"resident\s+of|born\s+in|located\s+in|hometown\s+(?:is|of)|city\s*:)")
    patterns = [
        pattern("cue", r"(?<=\b" + cue + r"\s{1,3})[A-ZÀ-Ý][\w'\-]+(?:\s[A-ZÀ-Ý][\w'\-]+){0,2}\b",
                 0.5),
        pattern("bare value", r"\A" + _WORD + r"(?:\s" + _WORD + r"){0,2}\Z", 0.1),
    ]
    return recognizer("LOCATION", "LocationCueRecognizer", patterns,
                       ["city", "town", "hometown", "birthplace", "location", "region", "county"],
                       language, CASE, gate="[A-ZÀ-Ý]")


class _Ipv6Recognizer(FastPatterns):
    """Full-form IPv6 addresses wherever they sit ("client:2001:db8:...": Presidio's pattern
    needs a word boundary before the address)."""

    def validate_result(self, pattern_text: str) -> bool | None:
        try:
            ipaddress.IPv6Address(pattern_text)
        except ValueError:
            return False
        return None


def ipv6_recognizer(language: str = "en") -> PatternRecognizer:
    hexes = r"[0-9A-Fa-f]{1,4}"
    built = _Ipv6Recognizer(
        supported_entity="IP_ADDRESS", name="Ipv6Recognizer", supported_language=language,
        patterns=[pattern("ipv6 full form", r"(?<![0-9A-Za-z])(?:" + hexes + r":){7}" + hexes
                                            + r"(?![0-9A-Za-z:])", 0.7)],
        context=["ip", "ipv6", "client", "address", "host"], global_regex_flags=CASE)
    return built
