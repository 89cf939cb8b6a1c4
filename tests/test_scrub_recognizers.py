"""Table-driven cases for every recogniser the scrubber adds to Presidio's, positive and negative.

Each row: the entity type, the text, and the exact value that must be detected (``None``: no
value of that type may be detected). One scrubber (spaCy loaded once) serves the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("presidio_analyzer")

from slm_agents.curate.scrubber import PIIScrubber  # noqa: E402
from slm_agents.errors import ConfigError  # noqa: E402


@pytest.fixture(scope="module")
def scrubber() -> Iterator[PIIScrubber]:
    scrubber = PIIScrubber(mode="placeholder")
    scrubber.detect("warm up")
    yield scrubber


def found(scrubber: PIIScrubber, entity: str, text: str) -> list[str]:
    return [s.text for s in scrubber.detect(text) if s.entity_type == entity]


def check_detection(scrubber: PIIScrubber, entity: str, text: str, value: str | None) -> None:
    values = found(scrubber, entity, text)
    if value is None:
        assert values == [], f"{entity} wrongly found in {text!r}: {values}"
    else:
        assert value in values, f"{entity} {value!r} not found in {text!r}: {scrubber.detect(text)}"


API_KEYS = [
    # OpenAI project key in an export line
    ("export OPENAI_API_KEY=sk-proj-4f9Qa7LmZ2xT8vR1cW6yB3nKpQ9dE",
     "sk-proj-4f9Qa7LmZ2xT8vR1cW6yB3nKpQ9dE"),
    # Anthropic key inside a JSON string
    ('{"key": "sk-ant-api03-Zx81kLmQ2w9RtY7uIo0pAs4dFg6hJkL"}',
     "sk-ant-api03-Zx81kLmQ2w9RtY7uIo0pAs4dFg6hJkL"),
    # AWS access key id in prose
    ("the IAM user has AKIAIOSFODNN7EXAMPLE attached", "AKIAIOSFODNN7EXAMPLE"),
    # AWS secret access key after its variable name
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    # GitHub classic token
    ("GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a make release",
     "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    # GitHub fine-grained token
    ("token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF",
     "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF"),
    # Slack bot token
    ("SLACK_BOT_TOKEN: xoxb-2048-4096-AbCdEfGhIjKlMnOpQrSt", "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrSt"),
    # Google API key in a URL query
    ("GOOGLE_MAPS_KEY: AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
     "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"),
    # Stripe live secret and restricted keys
    ("stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("use rk_live_51H8pQeLk2m9XyZ0aBcDeFgH for reports", "rk_live_51H8pQeLk2m9XyZ0aBcDeFgH"),
    # Hugging Face token
    ("HF_TOKEN=hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
    # generic: a long mixed token assigned to a key-like name
    ("client_secret: 9f8Kq2LmX7vB3nQ1", "9f8Kq2LmX7vB3nQ1"),
    # negative: a hyphenated slug that starts like an OpenAI key but has no digit
    ("see the sk-learn-style-guide-for-contributors page", None),
    # negative: a git commit hash (lower-case hex) is not a key
    ("fixed in commit 3f786850e387550fdab836ed7e6dc881de23001b", None),
    # negative: a word about keys with no key in it
    ("rotate the API key every 90 days", None),
]


@pytest.mark.parametrize("text,value", API_KEYS)
def test_api_key_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "API_KEY", text, value)


JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"
JWTS = [
    # a JWT in an Authorization header
    (f"Authorization: Bearer {JWT}", JWT),
    # a JWT in a JSON field
    (f'{{"id_token": "{JWT}"}}', JWT),
    # negative: dotted base64-ish text whose segments are not JWT segments
    ("version abc.def.ghi of the model", None),
]


@pytest.mark.parametrize("text,value", JWTS)
def test_jwt_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "JWT", text, value)


BEARERS = [
    # an opaque bearer token in a curl command
    ("curl -H 'Authorization: Bearer 7f3a9c2e1b4d8f6a0c5e2b9d' https://api",
     "7f3a9c2e1b4d8f6a0c5e2b9d"),
    # HTTP basic credentials
    ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    # negative: "bearer" as an ordinary word
    ("the bearer of this letter is welcome", None),
]


@pytest.mark.parametrize("text,value", BEARERS)
def test_bearer_token_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "BEARER_TOKEN", text, value)


PEM = ("-----BEGIN RSA PRIVATE KEY-----\n"
       "MIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3H\n"
       "ecZ1ezKNabc123XYZ0123456789abcdefABCDEF==\n-----END RSA PRIVATE KEY-----")
PRIVATE_KEYS = [
    # a whole PEM block in a message
    (f"here is the key:\n{PEM}\nthanks", PEM),
    # a PEM block as it reads inside a JSON string (escaped newlines)
    ('{"pem": "' + PEM.replace("\n", "\\n") + '"}', PEM.replace("\n", "\\n")),
    # a block cut short by a truncated log line
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7",
     "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7"),
    # negative: a public key is not a secret
    ("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"
     "-----END PUBLIC KEY-----", None),
]


@pytest.mark.parametrize("text,value", PRIVATE_KEYS)
def test_private_key_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "PRIVATE_KEY", text, value)


PASSWORDS = [
    # password=... in a config line
    ("db_host=10.0.0.5 password=hunter22 port=5432", "hunter22"),
    # ADO.NET connection string
    ("Server=db;User Id=sa;Password=Pa55w0rd;", "Pa55w0rd"),
    # a sentence, with words between "password" and "is"
    ("the admin password for the dashboard is Tr0ub4dor&3.", "Tr0ub4dor&3"),
    # a query string: the next parameter is not part of the password
    ("login?user=bob&password=x1y2z3&next=/home", "x1y2z3"),
    # negative: an ordinary sentence about passwords
    ("The password is wrong, please use the password reset link", None),
    # negative: "pass" followed by a plain word
    ("pass 3 arguments to the function", None),
]


@pytest.mark.parametrize("text,value", PASSWORDS)
def test_password_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "PASSWORD", text, value)


def test_credentials_inside_a_url_do_not_survive(scrubber: PIIScrubber) -> None:
    # The whole URL, or the credential in it, is replaced: the secret never survives.
    for url in ("postgres://admin:S3cretPass@db.internal.example.com:5432/prod",
                "redis://:9fAAZqbKpgKNl*88@10.62.144.35:6379/0",
                "https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/x/y"):
        secret = url.split("@")[0].rsplit(":", 1)[1].lstrip("/")
        assert secret not in scrubber.scrub(f"connect with {url} please")


ADDRESSES = [
    # US address with city, state and ZIP
    ("Ship it to 742 Evergreen Terrace, Springfield, IL 62704 please",
     "742 Evergreen Terrace, Springfield, IL 62704"),
    # unit number after the street
    ("office at 1600 Amphitheatre Parkway Suite 200 today", "1600 Amphitheatre Parkway Suite 200"),
    # UK street type in the plural
    ("Moved to 853 Roberts Roads last year", "853 Roberts Roads"),
    # German layout: name, number, postcode and city
    ("Adresse: Hauptstraße 5, 10115 Berlin", "Hauptstraße 5, 10115 Berlin"),
    # French layout
    ("J'habite au 12 rue de la Paix", "12 rue de la Paix"),
    # PO box
    ("mail it to PO Box 4521", "PO Box 4521"),
    # negative: an HTTP status line ("Gateway" is a street type only with a city or unit after)
    ("the proxy returned 502 Bad Gateway again", None),
    # negative: a count followed by capitalised words
    ("We shipped 3 Large Boxes yesterday", None),
]


@pytest.mark.parametrize("text,value", ADDRESSES)
def test_street_address_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "STREET_ADDRESS", text, value)


DATES_OF_BIRTH = [
    # DOB label, US layout
    ("Patient DOB: 03/14/1985, allergies none", "03/14/1985"),
    # "born on" with a month name
    ("She was born on March 3, 1961 in Ohio", "March 3, 1961"),
    # "date of birth" with an ISO date
    ("date of birth 1985-06-19", "1985-06-19"),
    # European layout with dots
    ("born 01.02.1953, widowed", "01.02.1953"),
    # negative: a date with no birth context is an ordinary date
    ("The invoice is due on 2024-05-01.", None),
    # negative: a meeting date
    ("Let's meet on March 3, 2025 at noon", None),
]


@pytest.mark.parametrize("text,value", DATES_OF_BIRTH)
def test_date_of_birth_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "DATE_OF_BIRTH", text, value)


def test_date_of_birth_under_a_dob_key_needs_no_words(scrubber: PIIScrubber) -> None:
    # A bare date is a birth date when the JSON key it sits under says so.
    from slm_agents.records import CallRecord, Message

    result = '{"patient": {"dob": "1944-09-05", "visit": "2024-01-02"}}'
    record = CallRecord(messages=[Message(role="tool", content=result, tool_call_id="c1")])
    content = scrubber.scrub_record(record).messages[0].content or ""
    assert "1944-09-05" not in content and "2024-01-02" in content
    assert scrubber.scrub("visit on 1944-09-05") == "visit on 1944-09-05"  # no context: kept


MRNS = [
    # MRN label with a colon
    ("Patient MRN: 00482913, admitted", "00482913"),
    # prefixed form
    ("see chart MRN-2047719 for details", "MRN-2047719"),
    # "medical record number" spelled out
    ("medical record number 245-635-747", "245-635-747"),
    # negative: MRN mentioned without a number
    ("Ask for the MRN at the front desk", None),
    # negative: a short number after MRN is not an MRN
    ("MRN 12 was a typo", None),
]


@pytest.mark.parametrize("text,value", MRNS)
def test_medical_record_number_recognizer(scrubber: PIIScrubber, text: str,
                                          value: str | None) -> None:
    check_detection(scrubber, "MEDICAL_RECORD_NUMBER", text, value)


INSURANCE = [
    # member ID label
    ("Insurance member ID: XYZ123456789", "XYZ123456789"),
    # a UK-style number written with spaces
    ("Her Medicare number is MH 80 43 51 C.", "MH 80 43 51 C"),
    # policy number
    ("policy number PLC-88301726 renews in May", "PLC-88301726"),
    # negative: the words after the number are not part of it
    ("Coverage for member B026211125 is active", "B026211125"),
    # negative: "member" without an identifier
    ("Every member of the team agreed", None),
]


@pytest.mark.parametrize("text,value", INSURANCE)
def test_insurance_number_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "INSURANCE_NUMBER", text, value)
    if value:
        assert not [v for v in found(scrubber, "INSURANCE_NUMBER", text) if v != value]


ACCOUNTS = [
    # account number label
    ("Account number: 12345678901", "12345678901"),
    # digits after a banking word
    ("Set up a standing order from 74135899466306 to the savings", "74135899466306"),
    # a masked account number still identifies the last digits
    ("charged to account ****4821", "****4821"),
    # negative: a label fused into a longer word is no label
    ("accountant12345 joined", None),
    # negative: an order number with no banking word nearby
    ("Order 74135899466306 shipped", None),
]


@pytest.mark.parametrize("text,value", ACCOUNTS)
def test_account_number_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "ACCOUNT_NUMBER", text, value)


IBANS = [
    # German IBAN with spaces
    ("IBAN DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00"),
    # compact IBAN
    ("transfer to GB82WEST12345698765432", "GB82WEST12345698765432"),
    # negative: wrong checksum
    ("IBAN DE00 3704 0044 0532 0130 00", None),
]


@pytest.mark.parametrize("text,value", IBANS)
def test_iban_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "IBAN_CODE", text, value)


IPS = [
    # IPv4 in a log line
    ("connection from 203.0.113.42 refused", "203.0.113.42"),
    # IPv6
    ("client 2001:db8:85a3::8a2e:370:7334 timed out", "2001:db8:85a3::8a2e:370:7334"),
    # negative: a three-part version number
    ("upgrade to 1.2.3 first", None),
]


@pytest.mark.parametrize("text,value", IPS)
def test_ip_recognizer(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "IP_ADDRESS", text, value)


CARDS = [
    # Visa test number with spaces
    ("card 4111 1111 1111 1111 exp 09/27", "4111 1111 1111 1111"),
    # 2-series Mastercard (Presidio's own pattern misses it)
    ("Please charge 2223003122003222 today", "2223003122003222"),
    # negative: 16 digits that fail the Luhn check
    ("tracking 4111111111111112 in transit", None),
]


@pytest.mark.parametrize("text,value", CARDS)
def test_card_recognizers(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "CREDIT_CARD", text, value)


PHONES = [
    # US number with parentheses
    ("Call me at (415) 555-2671 tomorrow", "(415) 555-2671"),
    # international prefix from the US, with an extension
    ("reach me at 001-968-336-4447x415", "001-968-336-4447x415"),
    # compact international number
    ("Noted: Dalia asked for a call at +441632960571 after 3pm.", "+441632960571"),
    # negative: the digits of an order id
    ("order CUST-091445 was created", None),
]


@pytest.mark.parametrize("text,value", PHONES)
def test_phone_recognizers(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "PHONE_NUMBER", text, value)


PERSONS = [
    # NER on a full name in a sentence
    ("Hi, I'm John Smith and I need help.", "John Smith"),
    # honorific
    ("Please refer this to Dr. Okonkwo next week", "Okonkwo"),
    # a first name after a greeting
    ("Hi Adrian, thanks for your time today.", "Adrian"),
    # negative: a version string is not a person
    ("we run node 18.19.0 in production", None),
    # negative: a greeting to a team is not a person
    ("Hi Team, the build is green.", None),
]


@pytest.mark.parametrize("text,value", PERSONS)
def test_person_recognizers(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "PERSON", text, value)


LOCATIONS = [
    # NER on a well-known city
    ("I flew from Boston yesterday", "Boston"),
    # an invented town after "moved to"
    ("She moved to Eleanorport last spring", "Eleanorport"),
    # negative: an ID that NER may take for a place
    ("see TCK-30799 for details", None),
]


@pytest.mark.parametrize("text,value", LOCATIONS)
def test_location_recognizers(scrubber: PIIScrubber, text: str, value: str | None) -> None:
    check_detection(scrubber, "LOCATION", text, value)


EMAILS_AND_URLS = [
    # e-mail validated against the offline public-suffix list
    ("EMAIL_ADDRESS", "write to jane.doe@acme-corp.co.uk today", "jane.doe@acme-corp.co.uk"),
    # negative: no public suffix
    ("EMAIL_ADDRESS", "user@localhost is local", None),
    # URL with a scheme
    ("URL", "open https://portal.acme.com/users/8812 now", "https://portal.acme.com/users/8812"),
    # negative: a file name whose extension is also a country code
    ("URL", "edit setup.py and README.md", None),
]


@pytest.mark.parametrize("entity,text,value", EMAILS_AND_URLS)
def test_offline_email_and_url_recognizers(scrubber: PIIScrubber, entity: str, text: str,
                                           value: str | None) -> None:
    check_detection(scrubber, entity, text, value)


def test_recognizers_can_be_disabled_by_name() -> None:
    scrubber = PIIScrubber(mode="placeholder", disable=["ApiKeyRecognizer"])
    assert "API_KEY" not in scrubber.supported_entities
    enabled = PIIScrubber(mode="placeholder", recognizers=["UuidRecognizer"])
    assert "UUID" in enabled.supported_entities


def test_when_recognizer_name_is_unknown_then_config_error_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match="ApiKeyRecognizer"):
        _ = PIIScrubber(recognizers=["NoSuchRecognizer"]).supported_entities
    with pytest.raises(ConfigError, match="valid names"):
        _ = PIIScrubber(disable=["Typo"]).supported_entities


def test_a_presidio_recognizer_instance_can_be_added() -> None:
    from presidio_analyzer import Pattern, PatternRecognizer

    employee = PatternRecognizer(supported_entity="EMPLOYEE_ID", name="EmployeeIdRecognizer",
                                 patterns=[Pattern("emp", r"\bEMP-\d{5}\b", 0.9)])
    scrubber = PIIScrubber(mode="placeholder", recognizers=[employee],
                           disable=["SpacyRecognizer"])
    assert scrubber.scrub("badge EMP-12345 lost") == "badge <EMPLOYEE_ID> lost"
