"""Surrogates, overlap resolution and record structure: the parts of scrubbing with no NLP model."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime

import pytest

from slm_agents.curate.pseudonyms import EXAMPLE_DOMAINS, Pseudonymizer, luhn_valid, placeholder
from slm_agents.curate.spans import Span, resolve_overlaps
from slm_agents.curate.structure import key_context, map_json_text, map_record
from slm_agents.records import CallRecord, Message, ToolCall

KEY = b"k" * 32


@pytest.fixture
def pseudo() -> Pseudonymizer:
    return Pseudonymizer(KEY)


def _iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "")
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


# (entity type, original value, check on the surrogate) — one row per format rule.
FORMATS = [
    # an e-mail stays a valid e-mail on a reserved example domain
    ("EMAIL_ADDRESS", "jane.doe@acme.io",
     lambda s: re.fullmatch(r"[a-z]+\.[a-z]+@example\.(com|org|net)", s) is not None),
    # digits in the local part stay digits
    ("EMAIL_ADDRESS", "jsmith84@gmail.com",
     lambda s: re.fullmatch(r"[a-z]+\d\d@example\.(com|org|net)", s) is not None),
    # a phone number keeps its layout and its country code
    ("PHONE_NUMBER", "+1 (415) 555-2671",
     lambda s: re.fullmatch(r"\+1 \(\d{3}\) \d{3}-\d{4}", s) is not None),
    # a card keeps length, separators and first digit, and passes Luhn
    ("CREDIT_CARD", "4111 1111 1111 1111",
     lambda s: re.fullmatch(r"4\d{3} \d{4} \d{4} \d{4}", s) is not None and luhn_valid(s)),
    # an SSN keeps its layout and a valid area number
    ("US_SSN", "536-22-8741",
     lambda s: re.fullmatch(r"\d{3}-\d{2}-\d{4}", s) is not None and s[:3] not in ("000", "666")),
    # an IBAN keeps its country, length and spacing, with a valid checksum
    ("IBAN_CODE", "DE89 3704 0044 0532 0130 00",
     lambda s: s.startswith("DE") and len(s) == 27 and _iban_valid(s)),
    # a private IPv4 stays a private IPv4
    ("IP_ADDRESS", "192.168.1.20", lambda s: ipaddress.ip_address(s).is_private),
    # an IPv6 stays an IPv6
    ("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334",
     lambda s: isinstance(ipaddress.ip_address(s), ipaddress.IPv6Address)),
    # a date stays a valid date in the same layout
    ("DATE_OF_BIRTH", "1985-03-14",
     lambda s: datetime.strptime(s, "%Y-%m-%d").year < 2010),
    ("DATE_OF_BIRTH", "03/14/1985", lambda s: bool(datetime.strptime(s, "%m/%d/%Y"))),
    ("DATE_OF_BIRTH", "March 14, 1985", lambda s: bool(datetime.strptime(s, "%B %d, %Y"))),
    ("DATE_OF_BIRTH", "14 Mar 1985", lambda s: bool(datetime.strptime(s, "%d %b %Y"))),
    # a name becomes a name with as many words, in the same case
    ("PERSON", "John Smith", lambda s: re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", s) is not None),
    ("PERSON", "ADA LOVELACE", lambda s: s.isupper() and len(s.split()) == 2),
    # an API key keeps its provider prefix and length
    ("API_KEY", "sk-proj-4f9Qa7LmZ2xT8vR1cW6yB3nKpQ9",
     lambda s: s.startswith("sk-proj-") and len(s) == 35),
    ("API_KEY", "AKIAIOSFODNN7EXAMPLE", lambda s: s.startswith("AKIA") and len(s) == 20),
    # a JWT keeps three segments and its eyJ markers
    ("JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
     lambda s: s.count(".") == 2 and s.startswith("eyJ") and ".eyJ" in s),
    # a PEM block keeps its header and footer lines
    ("PRIVATE_KEY",
     "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c7\n-----END RSA PRIVATE KEY-----",
     lambda s: s.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
     and s.endswith("\n-----END RSA PRIVATE KEY-----")),
    # a URL keeps its scheme and stays a URL
    ("URL", "https://portal.acme.com/users/8812",
     lambda s: re.fullmatch(r"https://[a-z]+\d+\.com/[a-z]+/\d{4}", s) is not None),
    # an identifier keeps its label prefix and character classes
    ("MEDICAL_RECORD_NUMBER", "MRN-2047719", lambda s: re.fullmatch(r"MRN-\d{7}", s) is not None),
    # an address keeps its number of digits and its street type
    ("STREET_ADDRESS", "742 Evergreen Terrace, Springfield, IL 62704",
     lambda s: re.fullmatch(r"[1-9]\d\d [A-Z][a-z]+ Terrace, [A-Z][a-z]+, [A-Z]{2} \d{5}", s)
     is not None),
]


@pytest.mark.parametrize("entity,value,ok", FORMATS)
def test_surrogate_keeps_type_and_format(pseudo: Pseudonymizer, entity: str, value: str,
                                         ok: object) -> None:
    surrogate = pseudo(entity, value)
    assert surrogate != value
    assert ok(surrogate), surrogate  # type: ignore[operator]


@pytest.mark.parametrize("entity,value", [(e, v) for e, v, _ in FORMATS])
def test_surrogate_never_equals_the_original(entity: str, value: str) -> None:
    for n in range(30):
        assert Pseudonymizer(bytes([n]) * 32)(entity, value) != value


def test_same_value_same_surrogate_across_instances_with_the_same_key() -> None:
    a, b = Pseudonymizer(KEY), Pseudonymizer(KEY)
    for entity, value, _ in FORMATS:
        assert a(entity, value) == b(entity, value) == a(entity, value)


def test_different_keys_give_different_surrogates() -> None:
    a, b = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    differing = sum(a(e, v) != b(e, v) for e, v, _ in FORMATS)
    assert differing >= len(FORMATS) - 1  # a small choice space may collide once


def test_name_words_map_consistently(pseudo: Pseudonymizer) -> None:
    # "Smith" alone and in "John Smith" agree; the e-mail reuses the same names.
    full = pseudo("PERSON", "John Smith")
    assert pseudo("PERSON", "Jane Smith").split()[1] == full.split()[1]
    assert pseudo("PERSON", "John").split()[0] == full.split()[0]
    first, last = full.lower().split()
    assert pseudo("EMAIL_ADDRESS", "john.smith@acme.com").startswith(f"{first}.{last}@")


def test_different_values_get_different_surrogates(pseudo: Pseudonymizer) -> None:
    emails = {pseudo("EMAIL_ADDRESS", f"user{i}@acme.com") for i in range(200)}
    assert len(emails) >= 196  # format-preserving: a few collisions are possible
    assert all(e.rsplit("@", 1)[1] in EXAMPLE_DOMAINS for e in emails)


def test_placeholder_is_the_type_in_angle_brackets() -> None:
    assert placeholder("EMAIL_ADDRESS") == "<EMAIL_ADDRESS>"


# --------------------------------------------------------------------------- overlaps
def span(start: int, end: int, entity: str, score: float) -> Span:
    return Span(start, end, entity, score, "x" * (end - start), entity.title())


OVERLAPS = [
    # disjoint spans are all kept, sorted by start
    ([span(10, 12, "A", 0.5), span(0, 5, "B", 0.9)], [(0, 5, "B"), (10, 12, "A")]),
    # the span covering the others wins even with a lower score (nothing inside it survives)
    ([span(0, 30, "URL", 0.6), span(10, 17, "PASSWORD", 0.9)], [(0, 30, "URL")]),
    # same extent: the higher score wins
    ([span(0, 10, "PERSON", 0.85), span(0, 10, "LOCATION", 0.5)], [(0, 10, "PERSON")]),
    # same extent and score: the more specific type wins
    ([span(0, 10, "BEARER_TOKEN", 1.0), span(0, 10, "JWT", 1.0)], [(0, 10, "JWT")]),
    # partial overlap: the higher score wins and takes the union, so no fragment is left
    ([span(0, 10, "A", 0.9), span(5, 15, "B", 0.6)], [(0, 15, "A")]),
    # a chain of overlaps is one group
    ([span(0, 4, "A", 0.5), span(3, 8, "B", 0.9), span(7, 12, "C", 0.5)], [(0, 12, "B")]),
    # adjacent spans do not overlap
    ([span(0, 5, "A", 0.5), span(5, 9, "B", 0.5)], [(0, 5, "A"), (5, 9, "B")]),
]


@pytest.mark.parametrize("spans,expected", OVERLAPS)
def test_overlapping_spans_resolve_to_one(spans: list[Span],
                                          expected: list[tuple[int, int, str]]) -> None:
    resolved = resolve_overlaps(spans, "y" * 40)
    assert [(s.start, s.end, s.entity_type) for s in resolved] == expected


# --------------------------------------------------------------------------- structure
def upper(text: str, context: tuple[str, ...]) -> str:
    return text.upper()


def test_map_record_touches_values_never_keys_names_ids_roles_or_tools() -> None:
    tools = [{"type": "function", "function": {"name": "lookup_customer", "description":
              "Find customer by email", "parameters": {"type": "object", "properties": {
                  "email": {"type": "string"}}}}}]
    record = CallRecord(
        id="rec-1", trace_id="trace-1", agent="support", tools=tools,
        messages=[
            Message(role="system", content="you help"),
            Message(role="user", content="mail bob", name="bob"),
            Message(role="assistant", tool_calls=[ToolCall(
                name="lookup_customer", id="call_1", arguments={"email": "bob@x.io",
                                                               "filters": {"city": "paris"}})]),
            Message(role="tool", name="lookup_customer", tool_call_id="call_1",
                    content='{"name": "bob", "orders": [{"id": "o1", "city": "paris"}]}'),
        ],
        output="done", error="failed for bob",
        tool_calls=[ToolCall(name="send_mail", raw_arguments="{bad json bob", error="bad bob")],
        metadata={"user": "bob"})
    out = map_record(record, upper)
    assert out.tools == tools and out.tool_names == ["lookup_customer"]
    assert [m.role for m in out.messages] == ["system", "user", "assistant", "tool"]
    assert out.messages[1].name == "BOB" and out.messages[3].name == "lookup_customer"
    call = out.messages[2].tool_calls[0]
    assert (call.name, call.id) == ("lookup_customer", "call_1")
    assert call.arguments == {"email": "BOB@X.IO", "filters": {"city": "PARIS"}}
    assert json.loads(out.messages[3].content or "") == {
        "name": "BOB", "orders": [{"id": "O1", "city": "PARIS"}]}
    assert out.messages[3].tool_call_id == "call_1"
    assert (out.output, out.error) == ("DONE", "FAILED FOR BOB")
    assert out.tool_calls[0].raw_arguments == "{BAD JSON BOB"
    assert out.tool_calls[0].error == "BAD BOB"
    assert (out.id, out.trace_id, out.agent, out.metadata) == ("rec-1", "trace-1", "support",
                                                               {"user": "bob"})
    # the input record is unchanged
    assert record.messages[1].content == "mail bob" and record.output == "done"


@pytest.mark.parametrize("text", [
    '{"a": "x", "b": [1, "y"]}',                  # spaced separators
    '{"a":"x","b":[1,"y"]}',                      # compact
    '{\n    "a": "x",\n    "b": [\n        1\n    ]\n}',  # indented by four
    '  [{"a": "caf\\u00e9"}]\n',                  # surrounding whitespace, ascii escapes
])
def test_json_text_keeps_its_layout_and_stays_valid(text: str) -> None:
    assert map_json_text(text, lambda t, c: t) == text  # nothing replaced: byte for byte
    out = map_json_text(text, lambda t, c: t + "!")
    assert json.loads(out) == json.loads(text.replace('"x"', '"x!"').replace('"y"', '"y!"')
                                          .replace('caf\\u00e9', 'caf\\u00e9!'))
    assert out.startswith(text[:len(text) - len(text.lstrip())])
    assert out.endswith(text[len(text.rstrip()):])
    assert ("\n" in out.strip()) == ("\n" in text.strip())
    if "\\u" in text:
        assert "\\u00e9!" in out


def test_json_leaves_get_their_key_and_parent_key_as_context() -> None:
    seen: dict[str, tuple[str, ...]] = {}

    def record(text: str, context: tuple[str, ...]) -> str:
        seen[text] = context
        return text

    map_json_text('{"account": {"number": "1234", "holderName": "Ann"}}', record)
    assert {"number", "account"} <= set(seen["1234"])
    assert {"holdername", "holder", "name", "account"} <= set(seen["Ann"])
    assert key_context("date_of_birth") == ("date_of_birth", "date", "of", "birth")


def test_long_integers_in_json_are_scrubbed_and_stay_numbers() -> None:
    out = map_json_text('{"phone": 4155552671, "qty": 3}',
                        lambda t, c: "9999999999" if t == "4155552671" else t)
    assert json.loads(out) == {"phone": 9999999999, "qty": 3}
    placeholder_out = map_json_text('{"phone": 4155552671}', lambda t, c: "<PHONE_NUMBER>")
    assert json.loads(placeholder_out) == {"phone": "<PHONE_NUMBER>"}


def test_json_encoded_inside_a_json_string_is_scrubbed_too() -> None:
    inner = json.dumps({"email": "bob@x.io"})
    out = map_json_text(json.dumps({"payload": inner}), upper)
    assert json.loads(json.loads(out)["payload"]) == {"email": "BOB@X.IO"}
