"""A generated corpus of agent calls with planted personal data, for the scrubbing benchmarks.

Each record is a realistic agent call: one of a handful of long system prompts (1-2 KB, repeated
across thousands of calls) and tool schemas per task, then short variable user, tool and assistant
content written as people and tools write it (free text, JSON tool arguments, JSON tool results).
Values of every entity type are planted with Faker (several locales) and random key formats; the
generator records where each one went, so a benchmark can tell which survived scrubbing. The
templates were written as natural text, not against any recogniser's patterns.

Ordinary words, product names and non-personal identifiers (order and ticket numbers, versions,
amounts) are planted as *controls*: they must survive scrubbing, and the share lost is the
over-scrubbing rate.

    >>> items = generate(3, seed=1)
    >>> all(occurs(p.value, resolve(it.record, p.where)) for it in items for p in it.planted)
    True
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from faker import Faker

from slm_agents.records import CallRecord, Message, ToolCall, Usage

__all__ = [
    "CONTROL_KINDS", "ENTITY_TYPES", "CorpusRecord", "Planted", "generate", "iter_generate",
    "occurs", "record_fields", "resolve",
]

ENTITY_TYPES = (
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS",
    "URL", "LOCATION", "STREET_ADDRESS", "DATE_OF_BIRTH", "MEDICAL_RECORD_NUMBER",
    "INSURANCE_NUMBER", "ACCOUNT_NUMBER", "API_KEY", "JWT", "BEARER_TOKEN", "PRIVATE_KEY",
    "PASSWORD",
)
CONTROL_KINDS = ("product", "word", "tech", "id", "amount")


@dataclass(frozen=True)
class Planted:
    """One planted value: its type, the exact text, and the path of the field that holds it.

    ``where`` is a path into the record (``messages[1].content``, ``output``,
    ``tool_calls[0].arguments.customer.email``). ``fragments`` are parts whose survival alone is
    a partial leak (a surname, a street name, the lines of a key body); ``kind`` says which
    format or provider the value was drawn from.
    """

    entity_type: str
    value: str
    where: str
    fragments: tuple[str, ...] = ()
    kind: str = ""


@dataclass
class CorpusRecord:
    """A generated record with what was planted in it."""

    record: CallRecord
    planted: list[Planted]
    controls: list[Planted]
    task: str


# --------------------------------------------------------------------------- field access
_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def resolve(record: CallRecord, where: str) -> str:
    """The text at ``where`` in ``record`` (a JSON dump when the path ends at a dict or list)."""
    obj: Any = record
    for part in where.split("."):
        m = _PART.fullmatch(part)
        if m is None:
            raise ValueError(f"bad path part {part!r} in {where!r}")
        name, idx = m.group(1), m.group(2)
        obj = obj[name] if isinstance(obj, dict) else getattr(obj, name)
        for i in re.findall(r"\d+", idx):
            obj = obj[int(i)]
    if isinstance(obj, str):
        return obj
    if obj is None:
        return ""
    return json.dumps(obj, ensure_ascii=False)


def record_fields(record: CallRecord) -> dict[str, str]:
    """Every free-text field of a record, by path (tool arguments as one JSON text each).

    Schemas (``tools``), ids, roles and tool names are left out: they hold no planted value.
    """
    out: dict[str, str] = {}

    def calls(prefix: str, tool_calls: list[ToolCall]) -> None:
        for j, tc in enumerate(tool_calls):
            out[f"{prefix}tool_calls[{j}].arguments"] = json.dumps(tc.arguments, ensure_ascii=False)
            if tc.raw_arguments:
                out[f"{prefix}tool_calls[{j}].raw_arguments"] = tc.raw_arguments

    for i, m in enumerate(record.messages):
        if m.content:
            out[f"messages[{i}].content"] = m.content
        calls(f"messages[{i}].", m.tool_calls)
    if record.output:
        out["output"] = record.output
    calls("", record.tool_calls)
    if record.error:
        out["error"] = record.error
    return out


def occurs(value: str, text: str) -> bool:
    """Whether ``value`` is in ``text`` verbatim, also as it reads inside a JSON string."""
    if value in text:
        return True
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    if escaped != value and escaped in text:
        return True
    ascii_escaped = json.dumps(value)[1:-1]
    return ascii_escaped != escaped and ascii_escaped in text


# --------------------------------------------------------------------------- controls
PRODUCTS = [
    "Jira", "Confluence", "Salesforce", "Zendesk", "Kubernetes", "Terraform", "Grafana",
    "Jenkins", "Postgres", "Redis", "Kafka", "Airflow", "Snowflake", "Tableau", "Shopify",
    "HubSpot", "Okta", "Datadog", "Sentry", "Figma", "Notion", "Asana", "Docker", "Ansible",
    "Prometheus", "Elasticsearch", "Kibana", "Heroku", "BigQuery", "Excel", "Outlook", "Zoom",
    "MacBook", "ThinkPad", "Kindle", "Alexa", "Workday", "QuickBooks", "Xero", "Expedia",
    "Lufthansa", "Marriott", "Hilton", "Peloton", "Roomba", "Nespresso", "PlayStation",
    "Chromecast", "Sonos", "Fitbit",
]
WORDS = [
    "invoice", "refund", "shipment", "warranty", "subscription", "dashboard", "deployment",
    "rollback", "latency", "migration", "appointment", "prescription", "allergy", "deductible",
    "copay", "payroll", "onboarding", "benefits", "itinerary", "layover", "upgrade", "checkout",
    "backlog", "quarterly", "forecast", "budget", "receipt", "voucher", "escalation", "outage",
    "throughput", "certificate", "firmware", "thermostat", "headset", "printer", "router",
    "laptop", "keyboard", "vaccination", "cholesterol", "ibuprofen", "physiotherapy",
    "reimbursement", "mortgage", "dividend", "overdraft", "chargeback", "timesheet", "badge",
    "parking", "luggage", "boarding", "cancellation", "discount", "renewal", "contract",
    "webinar", "onsite", "pipeline", "changelog", "staging", "cluster", "replica", "snapshot",
]
TECH = [
    "HTTP 503", "port 8443", "Python 3.11", "TLS 1.3", "v2.14.3", "ISO 8601", "UTF-8",
    "exit code 137", "error 0x80070005", "SKU 4711-0099", "build 20240611", "node 18.19.0",
    "OOMKilled", "ECONNRESET", "p99 latency", "502 Bad Gateway", "CVE-2024-3094", "RFC 7519",
    "SHA-256", "gzip", "us-east-1", "t3.medium", "PR #4821", "commit 9f3c2ab", "cron 0 3 * * *",
]


# --------------------------------------------------------------------------- personas
_LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "nl_NL"]
_LOCALE_WEIGHTS = [55, 20, 10, 5, 5, 5]
_IBAN_LOCALES = ["de_DE", "en_GB", "fr_FR", "nl_NL", "es_ES", "it_IT"]
_ALNUM = string.ascii_letters + string.digits
_URLSAFE = _ALNUM + "-_"
_MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
_NINO_PREFIX = "ABCEGHJKLMNOPRSTWXYZ"
_CARD_GROUPS = {12: (4, 4, 4), 13: (4, 4, 5), 14: (4, 6, 4), 15: (4, 6, 5), 16: (4, 4, 4, 4),
                19: (4, 4, 4, 4, 3)}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


Slot = tuple[str, list[tuple[str, str, tuple[str, ...], str]]]  # text, [(type, value, frags, kind)]


class _Persona:
    """Every personal value one person brings into a conversation, formatted as they write it."""

    def __init__(self, fakers: dict[str, Faker], rng: random.Random) -> None:
        loc = rng.choices(_LOCALES, _LOCALE_WEIGHTS)[0]
        fk = fakers[loc]
        self.locale = loc
        self.first, self.last = fk.first_name(), fk.last_name()
        self.name = f"{self.first} {self.last}"
        ascii_first = re.sub(r"[^a-z]", "", self.first.lower()) or "mail"
        ascii_last = re.sub(r"[^a-z]", "", self.last.lower()) or "box"
        r = rng.random()
        if r < 0.35:
            self.email = fakers["en_US"].free_email()
        elif r < 0.65:
            dom = fakers["en_US"].domain_name()
            self.email = rng.choice([f"{ascii_first}.{ascii_last}@{dom}",
                                     f"{ascii_first[0]}{ascii_last}@{dom}"])
        elif r < 0.8:
            self.email = fakers["en_US"].company_email()
        elif r < 0.9:
            tag = rng.choice(["shop", "travel", "work", "news", "2024"])
            self.email = f"{ascii_first}+{tag}@{rng.choice(['gmail.com', 'outlook.com'])}"
        else:
            self.email = fk.email()
        self.phone = fk.phone_number()
        card_type = rng.choice(["visa", "visa", "mastercard", "mastercard", "amex", "discover",
                                "jcb", "diners", "visa13", "maestro"])
        digits = fakers["en_US"].credit_card_number(card_type)
        self.card_digits = digits
        style = rng.random()
        if style < 0.45:
            self.card = digits
        else:  # grouped as printed on the card
            groups = _CARD_GROUPS.get(len(digits), (4, 4, 4, 4))
            parts, at = [], 0
            for g in groups:
                parts.append(digits[at:at + g])
                at += g
            self.card = (" " if style < 0.85 else "-").join(parts)
        self.card_kind = card_type
        self.exp = fakers["en_US"].credit_card_expire()
        ssn = fakers["en_US"].ssn()
        style = rng.random()
        self.ssn = ssn if style < 0.7 else (ssn.replace("-", " ") if style < 0.85
                                            else ssn.replace("-", ""))
        iban = fakers[rng.choice(_IBAN_LOCALES)].iban()
        self.iban = (" ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
                     if rng.random() < 0.5 else iban)
        self.account = (_rand(rng, string.digits, rng.randint(8, 12)) if rng.random() < 0.6
                        else fakers["en_US"].bban()[4:])
        self.routing = fakers["en_US"].aba()
        self.ip = (fakers["en_US"].ipv4_public() if rng.random() < 0.7 else
                   fakers["en_US"].ipv4_private() if rng.random() < 0.5 else
                   fakers["en_US"].ipv6())
        self.ip2 = fakers["en_US"].ipv4_public()
        slug = f"{ascii_first}-{ascii_last}"
        self.url = rng.choice([
            f"https://www.linkedin.com/in/{slug}-{rng.randint(10, 9999)}",
            f"https://github.com/{ascii_first}{ascii_last[:3]}{rng.randint(1, 99)}",
            f"https://{ascii_last}{ascii_first[0]}.{rng.choice(['dev', 'me', 'io', 'net'])}/",
            f"https://twitter.com/{ascii_first}_{ascii_last}",
        ])
        self.city = fk.city()
        number, street_name = fk.building_number(), fk.street_name()
        if loc in ("de_DE", "nl_NL", "es_ES"):
            self.street = f"{street_name} {number}"
        elif loc == "fr_FR":
            self.street = f"{number}, {street_name}"
        else:
            self.street = f"{number} {street_name}"
            if loc == "en_US" and rng.random() < 0.25:
                self.street += f", {fk.secondary_address()}"
        self.street_name = street_name
        postcode = fk.postcode()
        if loc == "en_US":
            self.address = f"{self.street}, {self.city}, {fk.state_abbr()} {postcode}"
        elif loc == "en_GB":
            self.address = f"{self.street}, {self.city} {postcode}"
        else:
            self.address = f"{self.street}, {postcode} {self.city}"
        dob = fk.date_of_birth(minimum_age=18, maximum_age=90)
        self.dob_iso = dob.isoformat()
        self.dob = rng.choice([
            dob.isoformat(), dob.strftime("%m/%d/%Y"), dob.strftime("%d.%m.%Y"),
            f"{_MONTHS[dob.month - 1]} {dob.day}, {dob.year}",
            f"{dob.day} {_MONTHS[dob.month - 1]} {dob.year}", dob.strftime("%d/%m/%Y")])
        self.mrn, self.mrn_kind = rng.choice([
            (_rand(rng, string.digits, 8), "8-digit"),
            (f"E{_rand(rng, string.digits, 7)}", "E+7"),
            (f"{_rand(rng, string.digits, 3)}-{_rand(rng, string.digits, 3)}-"
             f"{_rand(rng, string.digits, 3)}", "3-3-3"),
            (_rand(rng, string.digits, 10), "10-digit"),
        ])
        mbi = (str(rng.randint(1, 9)) + rng.choice(_MBI_LETTERS)
               + rng.choice(_MBI_LETTERS + string.digits) + str(rng.randint(0, 9))
               + rng.choice(_MBI_LETTERS) + rng.choice(_MBI_LETTERS + string.digits)
               + str(rng.randint(0, 9)) + rng.choice(_MBI_LETTERS) + rng.choice(_MBI_LETTERS)
               + _rand(rng, string.digits, 2))
        self.insurance, self.insurance_kind = rng.choice([
            (_rand(rng, string.ascii_uppercase, 3) + _rand(rng, string.digits, 9), "payer-3+9"),
            ("W" + _rand(rng, string.digits, 9), "W+9"),
            (f"{mbi[:4]}-{mbi[4:7]}-{mbi[7:]}", "medicare-mbi"),
            (f"{rng.choice(_NINO_PREFIX)}{rng.choice(_NINO_PREFIX)} {rng.randint(10, 99)} "
             f"{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.choice('ABCD')}", "uk-nino"),
            (rng.choice(string.ascii_uppercase) + _rand(rng, string.digits, 9), "de-kvnr"),
        ])
        self.api_key, self.api_key_kind = self._api_key(rng)
        self.aws_id = rng.choice(["AKIA", "ASIA"]) + _rand(rng, string.ascii_uppercase + "234567",
                                                           16)
        self.aws_secret = _rand(rng, _ALNUM + "/+", 40)
        header = _b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"})
                         .encode())
        payload = _b64url(json.dumps({
            "sub": _rand(rng, string.hexdigits.lower(), 24), "email": self.email,
            "iat": 1_700_000_000 + rng.randint(0, 10**7), "scope": "read write"}).encode())
        self.jwt = f"{header}.{payload}.{_b64url(rng.randbytes(32))}"
        self.bearer = _rand(rng, _URLSAFE, rng.choice([32, 40, 64]))
        kind = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
        body = base64.b64encode(rng.randbytes(rng.choice([120, 200, 400]))).decode()
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        self.pem_body = "\n".join(lines)
        self.pem_lines = tuple(lines)
        self.pem = (f"-----BEGIN {kind}PRIVATE KEY-----\n{self.pem_body}\n"
                    f"-----END {kind}PRIVATE KEY-----")
        self.password = (fakers["en_US"].password(length=rng.randint(10, 16), special_chars=False)
                         + rng.choice(["!", "-", "_", ".", "*", "~"]) + str(rng.randint(0, 99)))
        user = rng.choice(["app", "svc_orders", "admin", "etl", ascii_first, "readonly"])
        host = rng.choice(["db.internal", "10.0.3.12", "orders-db.prod.svc", "localhost"])
        self.conn, self.conn_kind = rng.choice([
            (f"postgresql://{user}:{self.password}@{host}:5432/orders", "postgres-url"),
            (f"mysql://{user}:{self.password}@{host}:3306/shop", "mysql-url"),
            (f"mongodb+srv://{user}:{self.password}@cluster0.x7k2p.mongodb.net/app", "mongo"),
            (f"redis://:{self.password}@{host}:6379/0", "redis-url"),
            (f"amqp://{user}:{self.password}@rabbit.internal:5672/", "amqp-url"),
            (f"Server=tcp:{host},1433;Database=orders;User Id={user};Password={self.password};",
             "mssql"),
            (f"host={host} port=5432 dbname=orders user={user} password={self.password}",
             "libpq"),
        ])

    @staticmethod
    def _api_key(rng: random.Random) -> tuple[str, str]:
        kind = rng.choices(
            ["openai", "openai-proj", "anthropic", "github", "github-pat", "slack", "google",
             "stripe", "hf", "sendgrid", "generic-hex"],
            [10, 12, 12, 10, 5, 8, 8, 8, 8, 4, 5])[0]
        if kind == "openai":
            key = f"sk-{_rand(rng, _ALNUM, 20)}T3BlbkFJ{_rand(rng, _ALNUM, 20)}"
        elif kind == "openai-proj":
            key = f"sk-proj-{_rand(rng, _URLSAFE, 58)}T3BlbkFJ{_rand(rng, _URLSAFE, 58)}"
        elif kind == "anthropic":
            key = f"sk-ant-api03-{_rand(rng, _URLSAFE, 93)}AA"
        elif kind == "github":
            key = rng.choice(["ghp_", "gho_"]) + _rand(rng, _ALNUM, 36)
        elif kind == "github-pat":
            key = f"github_pat_{_rand(rng, _ALNUM, 22)}_{_rand(rng, _ALNUM, 59)}"
        elif kind == "slack":
            key = (f"{rng.choice(['xoxb', 'xoxp'])}-{_rand(rng, string.digits, 12)}-"
                   f"{_rand(rng, string.digits, 13)}-{_rand(rng, _ALNUM, 24)}")
        elif kind == "google":
            key = "AIza" + _rand(rng, _URLSAFE, 35)
        elif kind == "stripe":
            key = rng.choice(["sk_live_", "rk_live_"]) + _rand(rng, _ALNUM, rng.choice([24, 99]))
        elif kind == "hf":
            key = "hf_" + _rand(rng, string.ascii_letters, 34)
        elif kind == "sendgrid":
            key = f"SG.{_rand(rng, _URLSAFE, 22)}.{_rand(rng, _URLSAFE, 43)}"
        else:
            key = _rand(rng, "0123456789abcdef", 32)
        return key, kind

    def slot(self, name: str) -> Slot:
        """The text for a template slot and what it plants."""
        if name == "name":
            return self.name, [("PERSON", self.name, (self.last,), self.locale)]
        if name == "first":
            return self.first, [("PERSON", self.first, (), "first-name")]
        if name == "address":
            return self.address, [
                ("STREET_ADDRESS", self.street, (self.street_name,), self.locale),
                ("LOCATION", self.city, (), self.locale)]
        if name == "street":
            return self.street, [("STREET_ADDRESS", self.street, (self.street_name,),
                                  self.locale)]
        if name == "pem":
            return self.pem, [("PRIVATE_KEY", self.pem_body, self.pem_lines, "pem")]
        if name == "conn":
            plants = [("PASSWORD", self.password, (), self.conn_kind)]
            if "10.0.3.12" in self.conn:
                plants.append(("IP_ADDRESS", "10.0.3.12", (), "in-conn"))
            return self.conn, plants
        simple = {
            "email": ("EMAIL_ADDRESS", ""), "phone": ("PHONE_NUMBER", self.locale),
            "card": ("CREDIT_CARD", self.card_kind), "card_digits": ("CREDIT_CARD", "digits"),
            "ssn": ("US_SSN", ""), "iban": ("IBAN_CODE", self.iban[:2]),
            "account": ("ACCOUNT_NUMBER", ""), "ip": ("IP_ADDRESS", ""),
            "ip2": ("IP_ADDRESS", ""), "url": ("URL", ""), "city": ("LOCATION", self.locale),
            "dob": ("DATE_OF_BIRTH", "text"), "dob_iso": ("DATE_OF_BIRTH", "iso"),
            "mrn": ("MEDICAL_RECORD_NUMBER", self.mrn_kind),
            "insurance": ("INSURANCE_NUMBER", self.insurance_kind),
            "api_key": ("API_KEY", self.api_key_kind), "aws_id": ("API_KEY", "aws-id"),
            "aws_secret": ("API_KEY", "aws-secret"), "jwt": ("JWT", ""),
            "bearer": ("BEARER_TOKEN", ""), "password": ("PASSWORD", "plain"),
        }
        if name in simple:
            etype, kind = simple[name]
            value = getattr(self, name)
            return value, [(etype, value, (), kind)]
        unplanted = {"exp": self.exp, "routing": self.routing}
        if name in unplanted:
            return unplanted[name], []
        raise KeyError(name)


class _Context:
    """Slots of one record: the main persona, a second person, and control values."""

    def __init__(self, main: _Persona, other: _Persona, rng: random.Random) -> None:
        self.main, self.other, self.rng = main, other, rng
        self.controls: dict[str, tuple[str, str]] = {}

    def slot(self, name: str) -> tuple[str, list[tuple[str, str, tuple[str, ...], str]], str]:
        """(text, plants, control kind or "")."""
        if name.endswith("2") and name[:-1] in ("name", "email", "phone", "address", "first"):
            text, plants = self.other.slot(name[:-1])
            return text, plants, ""
        control = self._control(name)
        if control is not None:
            return control[0], [], control[1]
        text, plants = self.main.slot(name)
        return text, plants, ""

    def _control(self, name: str) -> tuple[str, str] | None:
        if name in self.controls:
            return self.controls[name]
        rng = self.rng
        base = name.rstrip("2")
        if base == "product":
            value = (rng.choice(PRODUCTS), "product")
        elif base == "word":
            value = (rng.choice(WORDS), "word")
        elif base == "tech":
            value = (rng.choice(TECH), "tech")
        elif base == "order":
            value = (f"ORD-{rng.randint(100000, 999999)}", "id")
        elif base == "ticket":
            value = (rng.choice(["INC", "SUP", "TCK"]) + f"-{rng.randint(10000, 99999)}", "id")
        elif base == "cust_id":
            value = (f"CUST-{rng.randint(0, 999999):06d}", "id")
        elif base == "amount":
            cents = f"{rng.randint(5, 2999)}.{rng.randint(0, 99):02d}"
            value = (rng.choice(["$", "€", "£"]) + cents, "amount")
        else:
            return None
        self.controls[name] = value
        return value


_FIELD = re.compile(r"\{([a-z_0-9]+)\}")


class _Filler:
    """Fills templates for one record and keeps what it planted where."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.planted: list[Planted] = []
        self.controls: list[Planted] = []

    def text(self, template: str, where: str) -> str:
        def sub(m: re.Match[str]) -> str:
            text, plants, control_kind = self.ctx.slot(m.group(1))
            for etype, value, frags, kind in plants:
                self.planted.append(Planted(etype, value, where, frags, kind))
            if control_kind:
                self.controls.append(Planted("CONTROL", text, where, (), control_kind))
            return text
        return _FIELD.sub(sub, template)

    def value(self, template: Any, where: str) -> Any:
        """Fill string leaves of a JSON-like template; ``where`` follows the leaf's path."""
        if isinstance(template, str):
            return self.text(template, where)
        if isinstance(template, dict):
            return {k: self.value(v, f"{where}.{k}") for k, v in template.items()}
        if isinstance(template, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(template)]
        return template

    def blob(self, template: Any, where: str) -> Any:
        """Fill a template that ends up inside one text field (a JSON tool result)."""
        if isinstance(template, str):
            return self.text(template, where)
        if isinstance(template, dict):
            return {k: self.blob(v, where) for k, v in template.items()}
        if isinstance(template, list):
            return [self.blob(v, where) for v in template]
        return template


# --------------------------------------------------------------------------- templates
_PRIVACY = (
    "Privacy: you handle personal data on behalf of the company. Ask only for the fields the next "
    "tool call needs, never read back a full card number, account number or government identifier "
    "to the user, and never copy personal details into free-text notes unless the user asks you "
    "to. If a user shares credentials, secrets or keys by mistake, tell them to rotate the secret "
    "and do not repeat it. Treat anything returned by a tool as confidential: summarise it, do not "
    "paste raw records into the conversation. "
)
_TOOL_USE = (
    "Tool use: call at most one tool per turn and wait for its result before answering. Pass "
    "arguments exactly as the user gave them (do not reformat identifiers, spell names as "
    "written, keep the user's e-mail in lower case). If a required argument is missing, ask one "
    "short clarifying question instead of guessing. When a tool returns an error, explain it in "
    "plain words and offer the next step; never retry the same call more than twice. Never "
    "invent tool names or arguments that are not in the schema. "
)
_STYLE = (
    "Style: reply in the user's language, in at most four short sentences, friendly but not "
    "chatty. Use the customer's first name once at most. Prefer concrete next steps over "
    "apologies. Do not use emojis, markdown tables or headings in chat replies. When you confirm "
    "an action, say what was done, what happens next and when the user will hear back. "
)
_FORMAT = (
    "Formats: dates in tool arguments are ISO 8601 (YYYY-MM-DD); amounts are decimal strings with "
    "a currency code (\"129.00 EUR\"); phone numbers are passed as typed by the user; country "
    "codes are ISO 3166 alpha-2. Times are in the user's time zone unless a tool says otherwise. "
)
_ESCALATE = (
    "Escalation: hand over to a human (tool transfer_to_human when offered, otherwise say that a "
    "colleague will follow up) when the user is upset after two attempts, mentions legal action, "
    "a safety issue, a data-protection request or a bereavement, or when a tool fails three "
    "times in a row. Summarise the case in one paragraph for the human agent. "
)


def _tool(name: str, desc: str, props: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": name, "description": desc,
        "parameters": {"type": "object", "properties": {
            k: ({"type": "string", "description": v} if not v.startswith("int:")
                else {"type": "integer", "description": v[4:]}) for k, v in props.items()},
            "required": required}}}


DOMAINS: list[dict[str, Any]] = [
    {
        "task": "support", "agent": "support-agent",
        "prompts": [
            "You are the customer support assistant for Northwind Home Electronics, a retailer "
            "of smart-home devices, audio equipment and small kitchen appliances. You help "
            "customers with orders, deliveries, returns, warranty claims and account changes. "
            "Look up the customer before changing anything, confirm the order number for every "
            "return, and check the warranty end date in the order record rather than trusting "
            "the customer's memory. Refunds above 500.00 EUR need a supervisor: open a ticket "
            "with priority high instead of refunding. " + _TOOL_USE + _PRIVACY + _STYLE,
            "You are the returns and warranty specialist of Northwind Home Electronics. You only "
            "handle returns, exchanges and warranty repairs; route anything else to the general "
            "support queue by opening a ticket. Items can be returned within 30 days if unused; "
            "defective items are covered for two years. Always create a ticket before issuing a "
            "refund, and include the product and the fault description in the ticket summary. "
            + _TOOL_USE + _FORMAT + _ESCALATE,
        ],
        "tools": [
            _tool("lookup_customer", "Find a customer by e-mail or phone.",
                  {"email": "Customer e-mail", "phone": "Customer phone"}, []),
            _tool("create_ticket", "Open a support ticket.",
                  {"customer_name": "Full name", "email": "Contact e-mail",
                   "summary": "What happened", "priority": "low, normal or high"},
                  ["summary"]),
            _tool("issue_refund", "Refund an order to the original payment method.",
                  {"order_id": "Order number", "amount": "Amount with currency",
                   "reason": "Why"}, ["order_id", "amount"]),
            _tool("update_contact", "Change a customer's contact details.",
                  {"customer_id": "Customer id", "email": "New e-mail", "phone": "New phone",
                   "address": "New postal address"}, ["customer_id"]),
        ],
        "users": [
            "Hi, this is {name}. My {product} stopped charging two days after the {word} arrived. "
            "You can reach me at {phone} or {email}.",
            "hello?? order {order} never showed up. I'm {name}, shipping address is {address}. "
            "please sort it out, I've been waiting since last week",
            "I need to change the email on my account from {email} to {email2}, the old one "
            "belongs to my previous employer.",
            "Can someone call me back? {phone}. It's about ticket {ticket}, the {product} keeps "
            "rebooting every few minutes.",
            "My name is {name} and I was charged twice for the {word}. The card was {card}, "
            "please refund one of the charges ({amount}).",
            "Please update my delivery address to {address}. Phone for the courier: {phone}.",
            "I moved! New place is {street} in {city}. Also my number changed to {phone}.",
            "{first} here again. Still no reply on {ticket}. Honestly about to cancel the {word}.",
            "My husband {name2} ordered a {product} on my account ({email}) and it arrived "
            "broken. Can we return it?",
        ],
        "calls": [
            ("lookup_customer", {"email": "{email}"}),
            ("lookup_customer", {"phone": "{phone}"}),
            ("create_ticket", {"customer_name": "{name}", "email": "{email}",
                               "summary": "{product} fault reported, order {order}",
                               "priority": "normal"}),
            ("issue_refund", {"order_id": "{order}", "amount": "{amount}",
                              "reason": "duplicate charge on the {word}"}),
            ("update_contact", {"customer_id": "{cust_id}", "email": "{email}",
                                "phone": "{phone}", "address": "{address}"}),
        ],
        "results": {
            "lookup_customer": [
                {"customer": {"id": "{cust_id}", "name": "{name}", "email": "{email}",
                              "phone": "{phone}", "address": "{address}"},
                 "orders": [{"id": "{order}", "item": "{product}", "status": "delivered"}]},
                {"matches": 0, "hint": "no customer with that e-mail or phone"}],
            "create_ticket": [{"ticket": "{ticket}", "status": "open", "assignee": "queue-2",
                               "customer_email": "{email}"}],
            "issue_refund": [{"refund": {"order_id": "{order}", "amount": "{amount}",
                                         "status": "pending", "card_last4": "on file"}}],
            "update_contact": [{"customer": {"id": "{cust_id}", "name": "{name}",
                                             "email": "{email}", "phone": "{phone}",
                                             "address": "{address}"}, "updated": True}],
        },
        "answers": [
            "Thanks {first}, I found your account under {email}. I've opened ticket {ticket} for "
            "the {product} and a colleague will call you at {phone} within one business day.",
            "Done: the refund of {amount} for order {order} is on its way and should show on "
            "your statement in 3-5 days.",
            "I've updated the delivery address to {address}; the courier will text {phone} "
            "before arriving.",
            "Sorry about the {word}. Could you tell me the order number so I can check it?",
        ],
        "asks": [
            "Thanks! Could you confirm the e-mail address on the account?",
            "I can help with that. What's the best phone number to reach you on, {first}?",
            "Which order is this about? The number starts with ORD.",
        ],
        "followups": [
            "it's {email}", "Sure, {phone}, afternoons are best.", "Order {order}, thanks.",
            "Oh and my backup email is {email2} in case the first one bounces.",
            "Please use my work number instead: {phone2}.",
        ],
    },
    {
        "task": "booking", "agent": "travel-agent",
        "prompts": [
            "You are the booking assistant of Bluewave Travel. You search and book flights, "
            "hotels and rail tickets for leisure and business travellers, and you change or cancel "
            "existing bookings. Always repeat the travel dates and the passenger names back "
            "before booking. Economy is the default cabin unless the traveller's company policy "
            "says otherwise; never book non-refundable fares without explicit confirmation. "
            "Loyalty numbers are optional. Prices must come from the search tool, never from "
            "memory. " + _TOOL_USE + _FORMAT + _STYLE,
            "You are the trip-change desk of Bluewave Travel. You handle cancellations, missed "
            "connections, seat changes and refunds for existing bookings only. Look the booking "
            "up first. Rebook on the next available flight with seats in the same cabin, and "
            "offer a hotel voucher when the next departure is after 22:00. " + _PRIVACY
            + _ESCALATE + _FORMAT,
        ],
        "tools": [
            _tool("search_flights", "Search flights.",
                  {"origin": "IATA code", "destination": "IATA code", "date": "YYYY-MM-DD",
                   "passengers": "int:Number of passengers"}, ["origin", "destination", "date"]),
            _tool("book_hotel", "Book a hotel room.",
                  {"guest_name": "Name on the booking", "email": "Confirmation e-mail",
                   "city": "City", "check_in": "YYYY-MM-DD", "nights": "int:Nights"},
                  ["guest_name", "city", "check_in"]),
            _tool("create_reservation", "Reserve a flight for a passenger.",
                  {"passenger_name": "As in passport", "date_of_birth": "YYYY-MM-DD",
                   "phone": "Mobile", "email": "E-mail"}, ["passenger_name"]),
            _tool("pay_booking", "Charge a card for a booking.",
                  {"card_number": "Card number", "expiry": "MM/YY", "holder": "Card holder"},
                  ["card_number"]),
        ],
        "users": [
            "I'd like to book a flight from Boston to Lisbon on 14 June for me and my wife. "
            "Passenger names: {name} and {name2}. Contact email {email}.",
            "Please reserve a double room for two nights under the name {name}. My mobile is "
            "{phone} if the hotel needs to reach me.",
            "Passport holder {name}, born {dob}, flying out of Frankfurt next Tuesday. Please add "
            "the {word} to the booking.",
            "Can you put the hotel on my card {card}, exp {exp}? The guest is {name}.",
            "Send the itinerary to {email} and cc my assistant at {email2} please",
            "We're a group of four, lead passenger {name}, {phone}. Window seats if possible, and "
            "one vegetarian meal.",
            "My layover in Munich got cancelled and I'm stuck at the gate. Call me at {phone}, "
            "this is {first}.",
            "Booking for my colleague {name2}: date of birth {dob}, she prefers the {product} "
            "lounge if there's one.",
        ],
        "calls": [
            ("search_flights", {"origin": "BOS", "destination": "LIS", "date": "2025-06-14",
                                "passengers": 2}),
            ("book_hotel", {"guest_name": "{name}", "email": "{email}", "city": "Lisbon",
                            "check_in": "2025-06-14", "nights": 2}),
            ("create_reservation", {"passenger_name": "{name}", "date_of_birth": "{dob_iso}",
                                    "phone": "{phone}", "email": "{email}"}),
            ("pay_booking", {"card_number": "{card_digits}", "expiry": "{exp}",
                             "holder": "{name}"}),
        ],
        "results": {
            "search_flights": [{"flights": [{"id": "TP218", "dep": "18:05", "price": "{amount}"},
                                            {"id": "LH423", "dep": "21:40",
                                             "price": "612.00 EUR"}]}],
            "create_reservation": [{"reservation": {
                "pnr": "Q7XK2M", "passenger": "{name}", "dob": "{dob_iso}",
                "contact": {"email": "{email}", "phone": "{phone}"}}}],
            "book_hotel": [{"hotel": {"name": "{product} Suites", "guest": "{name}",
                                      "confirmation_sent_to": "{email}", "nights": 2}}],
            "pay_booking": [{"payment": {"status": "authorised", "holder": "{name}",
                                         "card": "{card_digits}", "amount": "{amount}"}},
                            {"payment": {"status": "declined", "reason": "{tech}"}}],
        },
        "answers": [
            "You're booked, {first}: confirmation Q7XK2M was sent to {email}. Check-in opens "
            "24 hours before departure.",
            "I found two options; the 18:05 flight costs {amount}. Shall I reserve it for {name}?",
            "The room is reserved under {name}. The hotel will text {phone} if anything changes.",
            "I've rebooked you on the next flight and added a voucher for the {word}.",
        ],
        "asks": [
            "Happy to help. What is the passenger's date of birth as in the passport?",
            "Which e-mail should the confirmation go to?",
            "Could you confirm the full name as it appears in the passport?",
        ],
        "followups": [
            "{dob}", "Send it to {email} please.", "It's {name}, exactly like that.",
            "Use the card ending... actually here's the full number: {card}",
            "My wife's number is {phone2} if mine is off.",
        ],
    },
    {
        "task": "hr", "agent": "hr-assistant",
        "prompts": [
            "You are the HR operations assistant of Kestrel Logistics, a company of 4,000 "
            "employees across nine countries. You onboard new hires, update employee records, "
            "set up payroll and benefits, and schedule interviews for recruiters. Every change to "
            "pay or bank details must go through setup_payroll, never through free-text notes. "
            "Contractors are onboarded without benefits. Hiring managers may ask on behalf of a "
            "candidate; employees may only change their own records. " + _PRIVACY + _TOOL_USE
            + _FORMAT,
        ],
        "tools": [
            _tool("create_employee", "Create an employee record.",
                  {"full_name": "Legal name", "personal_email": "E-mail", "phone": "Mobile",
                   "home_address": "Postal address", "ssn": "Tax id",
                   "date_of_birth": "YYYY-MM-DD", "start_date": "YYYY-MM-DD"},
                  ["full_name", "start_date"]),
            _tool("setup_payroll", "Set salary bank details.",
                  {"employee_id": "Employee id", "iban": "IBAN", "routing_number": "ABA routing",
                   "account_number": "Account number"}, ["employee_id"]),
            _tool("schedule_interview", "Schedule an interview.",
                  {"candidate_name": "Name", "email": "E-mail", "slot": "ISO datetime"},
                  ["candidate_name", "slot"]),
        ],
        "users": [
            "Please onboard our new hire {name}, starting on the 3rd. Personal email {email}, "
            "mobile {phone}, home address {address}.",
            "For payroll: {name}'s SSN is {ssn} and the salary goes to IBAN {iban}.",
            "Employee {name} (DOB {dob}) wants to switch her benefits plan to the one with the "
            "lower deductible.",
            "Can you schedule a second interview with {name}? She prefers mornings; email {email}.",
            "Update direct deposit for {name}: routing {routing}, account {account}.",
            "hey, it's {first} from accounting, can you resend my W-2 to {email}? my ssn is {ssn} "
            "if you need it",
            "New contractor {name}, tax ID {ssn}, lives at {street}, {city}. Put him on the "
            "{word} checklist.",
            "Reference check for {name}: former manager {name2} is reachable at {phone2}.",
        ],
        "calls": [
            ("create_employee", {"full_name": "{name}", "personal_email": "{email}",
                                 "phone": "{phone}", "home_address": "{address}", "ssn": "{ssn}",
                                 "date_of_birth": "{dob_iso}", "start_date": "2025-04-03"}),
            ("setup_payroll", {"employee_id": "{cust_id}", "iban": "{iban}"}),
            ("setup_payroll", {"employee_id": "{cust_id}", "routing_number": "{routing}",
                               "account_number": "{account}"}),
            ("schedule_interview", {"candidate_name": "{name}", "email": "{email}",
                                    "slot": "2025-04-08T09:30"}),
        ],
        "results": {
            "create_employee": [{"employee": {"id": "{cust_id}", "name": "{name}", "ssn": "{ssn}",
                                              "dob": "{dob_iso}", "address": "{address}"},
                                 "status": "created"}],
            "setup_payroll": [{"payroll": {"employee_id": "{cust_id}", "iban": "{iban}",
                                           "effective": "next run"}},
                              {"payroll": {"employee_id": "{cust_id}", "account": "{account}",
                                           "status": "pending verification"}}],
            "schedule_interview": [{"interview": {"candidate": "{name}",
                                                  "invite_sent_to": "{email}",
                                                  "room": "{product} room 2"}}],
        },
        "answers": [
            "{name} is set up; the welcome pack goes to {email} and payroll starts next run.",
            "The bank details for {name} are updated (IBAN {iban}); the change applies from the "
            "next payroll.",
            "Interview booked for {first} on Tuesday at 09:30, invite sent to {email}.",
            "Done. The {word} request is logged for {name}.",
        ],
        "asks": [
            "Sure. What is the new hire's date of birth?",
            "Which bank account should the salary go to?",
            "Could you share the candidate's e-mail so I can send the invite?",
        ],
        "followups": [
            "{dob}", "IBAN {iban}", "{email}, thanks", "Her address is {address}.",
            "SSN {ssn}, sorry I forgot that earlier",
        ],
    },
    {
        "task": "medical", "agent": "clinic-intake",
        "prompts": [
            "You are the intake assistant of Riverside Family Clinic. You register new patients, "
            "book and move appointments, verify insurance coverage and route clinical questions "
            "to the nurse line. You never give medical advice: if a patient describes chest pain, "
            "trouble breathing or thoughts of self-harm, tell them to call emergency services "
            "immediately. Identify patients by name plus date of birth, or by medical record "
            "number, before reading anything from the chart. " + _PRIVACY + _TOOL_USE + _STYLE,
            "You are the insurance verification assistant of Riverside Family Clinic. You check "
            "eligibility, copays and deductibles with payers before visits, and you explain "
            "coverage to patients in plain words. Never guess a copay: use verify_insurance. "
            + _FORMAT + _ESCALATE + _PRIVACY,
        ],
        "tools": [
            _tool("register_patient", "Register a new patient.",
                  {"name": "Full name", "date_of_birth": "YYYY-MM-DD", "phone": "Phone",
                   "address": "Address", "insurance_id": "Member id"}, ["name", "date_of_birth"]),
            _tool("lookup_patient", "Find a chart.", {"mrn": "Medical record number"}, ["mrn"]),
            _tool("schedule_appointment", "Book an appointment.",
                  {"patient_name": "Name", "date_of_birth": "YYYY-MM-DD", "reason": "Reason"},
                  ["patient_name"]),
            _tool("verify_insurance", "Check coverage.",
                  {"member_id": "Member id", "subscriber": "Subscriber name"}, ["member_id"]),
        ],
        "users": [
            "New patient intake: {name}, date of birth {dob}, insurance member ID {insurance}. "
            "Callback number {phone}.",
            "Pull up the chart for MRN {mrn}, patient says the {word} isn't helping.",
            "I'm calling for my mother {name}, born {dob}. Her Medicare number is {insurance}. "
            "She needs a refill of her prescription.",
            "Patient {name} (MRN {mrn}) is allergic to penicillin, please add that and book a "
            "follow-up appointment.",
            "Hi, can I move my physiotherapy appointment? My name's {name}, DOB {dob}, you can "
            "text me at {phone}.",
            "Please verify coverage: member {insurance}, subscriber {name}, address on file "
            "{address}.",
            "Send the lab results for medical record number {mrn} to {email}.",
            "Front desk: {name} checked in, date of birth {dob}, insurance {insurance}, copay paid "
            "with card {card}.",
        ],
        "calls": [
            ("register_patient", {"name": "{name}", "date_of_birth": "{dob_iso}",
                                  "phone": "{phone}", "address": "{address}",
                                  "insurance_id": "{insurance}"}),
            ("lookup_patient", {"mrn": "{mrn}"}),
            ("schedule_appointment", {"patient_name": "{name}", "date_of_birth": "{dob_iso}",
                                      "reason": "{word} follow-up"}),
            ("verify_insurance", {"member_id": "{insurance}", "subscriber": "{name}"}),
        ],
        "results": {
            "register_patient": [{"patient": {"mrn": "{mrn}", "name": "{name}",
                                              "dob": "{dob_iso}", "status": "registered"}}],
            "lookup_patient": [{"patient": {"mrn": "{mrn}", "name": "{name}", "dob": "{dob_iso}",
                                            "phone": "{phone}", "allergies": ["penicillin"]}}],
            "verify_insurance": [{"coverage": {"member_id": "{insurance}", "subscriber": "{name}",
                                               "active": True, "copay": "{amount}"}}],
            "schedule_appointment": [{"appointment": {"patient": "{name}", "mrn": "{mrn}",
                                                      "slot": "2025-04-09T10:15", "room": "3B"}}],
        },
        "answers": [
            "Thanks, {first}. You're registered (MRN {mrn}) and we'll call {phone} to confirm.",
            "Coverage for member {insurance} is active; the copay for this visit is {amount}.",
            "I've moved the appointment for {name} to Wednesday at 10:15.",
            "I've added the allergy to the chart and booked the {word} follow-up.",
        ],
        "asks": [
            "To find the chart, could you give me the patient's date of birth?",
            "What's the member ID on the insurance card?",
            "Which phone number should the clinic use?",
        ],
        "followups": [
            "born {dob}", "Member ID {insurance}", "{phone}", "MRN is {mrn}",
            "It's for my son {name2}, same insurance.",
        ],
    },
    {
        "task": "devops", "agent": "sre-copilot",
        "prompts": [
            "You are the on-call SRE copilot for the platform team. You help engineers debug "
            "deployments, rotate credentials, read logs and change configuration through the "
            "tools below. Prefer read-only tools first. Never print secrets back: when a user "
            "pastes a credential, rotate it with rotate_secret and tell them it is compromised. "
            "Production changes need a change ticket id; staging changes do not. Explain root "
            "causes briefly and link the runbook section when you know it. " + _TOOL_USE
            + _ESCALATE,
            "You are the CI/CD assistant. You read build logs, re-run pipelines and manage "
            "repository secrets. A failing build is usually a flaky test, a missing secret or an "
            "expired token: check those in that order. Keep answers short and technical; quote "
            "the failing line of the log. " + _TOOL_USE + _PRIVACY,
        ],
        "tools": [
            _tool("query_logs", "Search service logs.",
                  {"service": "Service name", "query": "Search terms", "since": "ISO time"},
                  ["service"]),
            _tool("rotate_secret", "Revoke and replace a secret.",
                  {"name": "Secret name", "value": "The leaked value"}, ["name"]),
            _tool("set_secret", "Store a repository or environment secret.",
                  {"name": "Secret name", "value": "Secret value", "env": "Environment"},
                  ["name", "value"]),
            _tool("block_ip", "Block an address at the edge.",
                  {"ip": "IP address", "reason": "Why"}, ["ip"]),
        ],
        "users": [
            "Deploy failing with 401. Here's the env: OPENAI_API_KEY={api_key}, is the key "
            "revoked?",
            "Connection refused when the worker connects to {conn}. Can you check if the db host "
            "is up?",
            "Rotate this key, it leaked into a public channel: {api_key}",
            "The request from {ip} got a 403. Header was `Authorization: Bearer {bearer}`. Why?",
            "Decode this token for me and tell me when it expires: {jwt}",
            "Add this deploy key to the repo secrets:\n{pem}",
            "AWS creds showed up in the CI logs: aws_access_key_id={aws_id} "
            "aws_secret_access_key={aws_secret}. How bad is this?",
            "{product} alert: spike in 5xx from {ip} and {ip2}. Should we block them?",
            "Set up the staging config; DATABASE_URL should be {conn} and the admin password for "
            "the dashboard is {password}.",
            "curl -H 'Authorization: Bearer {bearer}' https://api.internal/v1/jobs returns "
            "{tech}, what am I missing?",
            "Our webhook signs requests with this JWT and the receiver says it's malformed: {jwt}",
            "Here's the private key from the bastion host, is the format right?\n\n{pem}\n\n"
            "It was generated on the old {product} box.",
            "The {product} integration uses token {api_key} and the scopes look wrong.",
            "kubectl create secret generic db-creds --from-literal=password={password}  <- is it "
            "fine to run this from my laptop?",
            "Logged request:\nGET /api/v2/users HTTP/1.1\nHost: api.internal\nAuthorization: "
            "Bearer {bearer}\nX-Forwarded-For: {ip}\nWhy did this get through the WAF?",
        ],
        "calls": [
            ("query_logs", {"service": "api-gateway", "query": "status:403 client:{ip}",
                            "since": "2025-03-01T00:00:00Z"}),
            ("rotate_secret", {"name": "OPENAI_API_KEY", "value": "{api_key}"}),
            ("set_secret", {"name": "DATABASE_URL", "value": "{conn}", "env": "staging"}),
            ("set_secret", {"name": "DEPLOY_KEY", "value": "{pem}", "env": "ci"}),
            ("block_ip", {"ip": "{ip}", "reason": "5xx spike, {tech}"}),
            ("rotate_secret", {"name": "AWS_SECRET_ACCESS_KEY", "value": "{aws_secret}"}),
        ],
        "results": {
            "query_logs": [{"lines": ["{ip} - - \"GET /v1/jobs\" 403 token_expired",
                                      "auth: rejected bearer {bearer}"], "count": 2},
                           {"lines": ["worker: connect failed dsn={conn}", "{tech}"],
                            "count": 2}],
            "rotate_secret": [{"rotated": True, "old_value": "{api_key}",
                               "new_secret": "stored in vault"},
                              {"rotated": True, "old_value": "{aws_secret}",
                               "key_id": "{aws_id}"}],
            "set_secret": [{"error": "connection refused", "dsn": "{conn}", "hint": "{tech}"},
                           {"stored": True, "env": "staging", "version": 4}],
            "block_ip": [{"blocked": "{ip}", "rule_id": "{ticket}"}],
        },
        "answers": [
            "The key is revoked; I rotated it and stored the new one in the vault. Update "
            "the {product} pipeline to read it from there.",
            "The 403s from {ip} come from an expired token; re-authenticate and retry.",
            "The database host refuses connections on 5432 ({tech}); the replica is up, so "
            "point the worker at it for now.",
            "Blocked {ip} at the edge under rule {ticket}.",
        ],
        "asks": [
            "Which environment is this, staging or production?",
            "Can you paste the exact error line from the log?",
            "Which service is the request hitting?",
        ],
        "followups": [
            "production, change ticket {ticket}", "the token is {jwt}",
            "this is the key it uses:\n{pem}", "Authorization: Bearer {bearer}",
            "staging. password is {password} if you need to log in",
            "it also fails with the old key {api_key}",
            "Here's the full line: {ip} - - 403 auth failed",
        ],
    },
    {
        "task": "finance", "agent": "banking-assistant",
        "prompts": [
            "You are the digital banking assistant of Harbour Bank. You help personal customers "
            "with transfers, card payments, standing orders, disputes and identity checks. "
            "Transfers above 10,000.00 EUR and every new beneficiary need a second factor, which "
            "the tool requests by itself. Never confirm a transfer before the tool returns "
            "'executed'. Suspected fraud goes to the fraud team at once: freeze the card first, "
            "then explain. " + _PRIVACY + _TOOL_USE + _FORMAT,
            "You are the payments operations assistant. You reconcile card payments, chargebacks "
            "and refunds for merchants, and you answer questions about settlement dates and fees. "
            + _TOOL_USE + _STYLE + _ESCALATE,
        ],
        "tools": [
            _tool("initiate_transfer", "Send money.",
                  {"from_account": "Account number", "to_iban": "Beneficiary IBAN",
                   "beneficiary_name": "Name", "amount": "Amount", "reference": "Reference"},
                  ["to_iban", "amount"]),
            _tool("charge_card", "Charge a card.",
                  {"card_number": "PAN", "expiry": "MM/YY", "amount": "Amount",
                   "receipt_email": "E-mail"}, ["card_number", "amount"]),
            _tool("verify_identity", "KYC check.",
                  {"name": "Name", "ssn": "SSN", "date_of_birth": "YYYY-MM-DD",
                   "address": "Address"}, ["name"]),
            _tool("get_account", "Account balance and status.",
                  {"account_number": "Account number"}, ["account_number"]),
        ],
        "users": [
            "Transfer 2,400.00 EUR to {name2}, IBAN {iban}, reference 'rent March'.",
            "Please charge {amount} to card {card} (exp {exp}) and email the receipt to {email}.",
            "Verify identity: {name}, SSN {ssn}, born {dob}, current address {address}.",
            "Why was my account {account} overdrawn? I'm {name}, nothing big went out.",
            "Set up a standing order from {account} to {iban} every month for the {word}.",
            "My card {card} was declined at checkout, can you check? Phone on file is {phone}.",
            "Dispute a chargeback for {name}, card number {card}, amount {amount}.",
            "Need a wire: beneficiary {name2}, bank account {iban}. My contact is {email}.",
        ],
        "calls": [
            ("initiate_transfer", {"from_account": "{account}", "to_iban": "{iban}",
                                   "beneficiary_name": "{name2}", "amount": "2400.00 EUR",
                                   "reference": "rent March"}),
            ("charge_card", {"card_number": "{card_digits}", "expiry": "{exp}",
                             "amount": "{amount}", "receipt_email": "{email}"}),
            ("verify_identity", {"name": "{name}", "ssn": "{ssn}", "date_of_birth": "{dob_iso}",
                                 "address": "{address}"}),
            ("get_account", {"account_number": "{account}"}),
        ],
        "results": {
            "get_account": [{"account": {"number": "{account}", "holder": "{name}",
                                         "balance": "-{amount}", "overdraft_limit": "500.00 EUR"}}],
            "initiate_transfer": [{"transfer": {"status": "executed", "to": "{iban}",
                                                "beneficiary": "{name2}"}}],
            "verify_identity": [{"kyc": {"name": "{name}", "ssn_match": True, "dob": "{dob_iso}",
                                         "result": "pass"}}],
            "charge_card": [{"charge": {"status": "declined", "card": "{card_digits}",
                                        "code": "{tech}"}},
                            {"charge": {"status": "captured", "amount": "{amount}",
                                        "receipt_sent_to": "{email}"}}],
        },
        "answers": [
            "The transfer to {name2} is executed; it should arrive tomorrow.",
            "Your account {account} went below zero after the {word} payment of {amount}.",
            "Identity verified for {name}. You can now add a new beneficiary.",
            "The card was declined by the issuer; we sent a text to {phone} to confirm it's you.",
        ],
        "asks": [
            "Which account should the money come from?",
            "Could you confirm the beneficiary's IBAN?",
            "For the identity check I need your date of birth.",
        ],
        "followups": [
            "from {account}", "IBAN {iban}", "{dob}", "Use card {card} instead.",
            "Send the receipt to {email} too.",
        ],
    },
    {
        "task": "sales", "agent": "crm-assistant",
        "prompts": [
            "You are the CRM assistant of the sales team at Brightline Software. You log leads, "
            "update contacts and opportunities, draft follow-up e-mails and prepare call notes. "
            "Every new lead needs a source and a product interest. E-mails you draft are reviewed "
            "by the account executive before sending: keep them under 120 words, plain text, no "
            "attachments. Do not add people to marketing lists without their consent. "
            + _TOOL_USE + _STYLE + _FORMAT,
        ],
        "tools": [
            _tool("create_lead", "Create a lead.",
                  {"name": "Full name", "email": "E-mail", "phone": "Phone",
                   "company": "Company", "source": "Where we met", "profile_url": "URL"},
                  ["name"]),
            _tool("log_note", "Add a note to a contact.",
                  {"contact": "Contact name", "note": "Text"}, ["contact", "note"]),
            _tool("send_email", "Queue an e-mail for review.",
                  {"to": "Recipient", "cc": "Cc", "subject": "Subject", "body": "Body"},
                  ["to", "subject", "body"]),
        ],
        "users": [
            "Log a new lead: {name}, {email}, {phone}, met at the {product} summit, interested in "
            "the connector.",
            "Find me the profile of {name}, I think it's {url}.",
            "Draft a follow-up email to {email} about the quarterly {word}; cc {email2}.",
            "{name} from the demo asked us to call {phone} after 3pm.",
            "Add a note to contact {name}: moved to {city}, new office at {street}.",
            "Update the CRM: {name}'s profile is {url}, and the direct line is {phone}.",
            "Please send invoice {order} to {name} at {email}, billing address {address}.",
            "Met {first} at the booth, card says {email} / {phone}. Hot lead for {product}.",
        ],
        "calls": [
            ("create_lead", {"name": "{name}", "email": "{email}", "phone": "{phone}",
                             "company": "Acme GmbH", "source": "{product} summit",
                             "profile_url": "{url}"}),
            ("log_note", {"contact": "{name}", "note": "Moved to {city}; office at {street}. "
                                                        "Call {phone} after 3pm."}),
            ("send_email", {"to": "{email}", "cc": "{email2}", "subject": "Your {word}",
                            "body": "Hi {first},\n\nthanks for your time today. Invoice {order} "
                                    "is attached.\n\nBest"}),
        ],
        "results": {
            "create_lead": [{"lead": {"id": "{cust_id}", "name": "{name}", "email": "{email}",
                                      "owner": "ae-7"}}],
            "log_note": [{"contact": {"name": "{name}", "profile_url": "{url}", "phone": "{phone}",
                                      "city": "{city}"}, "note_added": True}],
            "send_email": [{"email": {"status": "queued for review", "to": "{email}"}}],
        },
        "answers": [
            "Lead created for {name} ({email}); I set the source to the {product} summit.",
            "Draft ready for {email}, waiting for your review.",
            "Noted: {first} asked for a call at {phone} after 3pm.",
            "I updated the contact; the profile link is {url}.",
        ],
        "asks": [
            "Which company is {first} with?", "Should I cc anyone?",
            "What's the best number for the call?",
        ],
        "followups": [
            "Acme, and her email is {email}", "cc {email2}", "{phone}",
            "Her colleague {name2} should be on it too.",
        ],
    },
]

FILLERS = [
    "We're on the {product} plan, if that matters.", "This started right after the {product} "
    "update.", "It's about the {word}.", "Reference: ticket {ticket}.", "The {word} was {amount}.",
    "Sorry for the long message.", "Thanks in advance!", "The logs mention {tech}.",
    "Not sure if related, but the {word} also failed.", "FYI order {order}.",
    "My colleague set this up in {product}.", "Please prioritise, this blocks the {word}.",
    "We already tried restarting the {product}.", "Our {word2} is due on Friday.",
    "Last time it was fixed by support under {ticket}.", "cheers",
]


# --------------------------------------------------------------------------- generation
# Devops calls carry the secrets (keys, tokens, PEM blocks); they get two slots of eight so that
# every secret type has enough samples for a per-type leak rate.
_SCHEDULE = [0, 1, 2, 3, 4, 5, 6, 4]


def _build_record(i: int, seed: int, rng: random.Random, main: _Persona, other: _Persona,
                  start: datetime) -> CorpusRecord:
    domain = DOMAINS[_SCHEDULE[i % len(_SCHEDULE)]]
    ctx = _Context(main, other, rng)
    fill = _Filler(ctx)
    system = rng.choice(domain["prompts"])
    messages = [Message(role="system", content=system)]
    user_tpl = rng.choice(domain["users"])
    for _ in range(rng.choices([0, 1, 2], [30, 50, 20])[0]):
        user_tpl += " " + rng.choice(FILLERS)
    messages.append(Message(role="user", content=fill.text(user_tpl, "messages[1].content")))
    flow = rng.choices(["call", "answer", "followup"], [40, 40, 20])[0]
    tool_calls: list[ToolCall] = []
    output: str | None = None
    finish = "stop"

    def make_call(prefix: str, k: int) -> ToolCall:
        name, args = rng.choice(domain["calls"])
        return ToolCall(name=name, id=f"call_{seed}_{i}_{k}",
                        arguments=fill.value(args, f"{prefix}tool_calls[0].arguments"))

    if flow == "answer":
        idx = len(messages)
        call = make_call(f"messages[{idx}].", 0)
        messages.append(Message(role="assistant", tool_calls=[call]))
        result = fill.blob(rng.choice(domain["results"][call.name]),
                           f"messages[{idx + 1}].content")
        indent = 2 if rng.random() < 0.3 else None
        messages.append(Message(role="tool", tool_call_id=call.id, name=call.name,
                                content=json.dumps(result, indent=indent)))
        output = fill.text(rng.choice(domain["answers"]), "output")
    else:
        if flow == "followup":
            ask = fill.text(rng.choice(domain["asks"]), f"messages[{len(messages)}].content")
            messages.append(Message(role="assistant", content=ask))
            idx = len(messages)
            messages.append(Message(role="user", content=fill.text(
                rng.choice(domain["followups"]), f"messages[{idx}].content")))
        if flow == "call" or rng.random() < 0.5:
            tool_calls = [make_call("", 1)]
            finish = "tool_calls"
        else:
            output = fill.text(rng.choice(domain["answers"]), "output")
    chars = sum(len(m.content or "") for m in messages)
    record = CallRecord(
        id=f"rec-{seed}-{i}", trace_id=f"trace-{seed}-{i // 3}", agent=domain["agent"],
        model=rng.choice(["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"]),
        provider="openai", messages=messages, tools=domain["tools"], output=output,
        tool_calls=tool_calls, finish_reason=finish,
        usage=Usage(input_tokens=chars // 4, output_tokens=len(output or "") // 4 + 12),
        latency_ms=round(rng.uniform(300, 4000), 1),
        started_at=start + timedelta(seconds=i * 7 + rng.randint(0, 6)),
        metadata={"task": domain["task"]}, source="langchain")
    return CorpusRecord(record, fill.planted, fill.controls, domain["task"])


@dataclass
class _Pools:
    fakers: dict[str, Faker]
    rng: random.Random
    size: int | None
    personas: list[_Persona] = field(default_factory=list)

    def persona(self) -> _Persona:
        if self.size is None:
            return _Persona(self.fakers, self.rng)
        if len(self.personas) < self.size:
            self.personas.append(_Persona(self.fakers, self.rng))
            return self.personas[-1]
        return self.rng.choice(self.personas)


def iter_generate(n: int, seed: int = 0, *, pool_size: int | None = None
                  ) -> Iterator[CorpusRecord]:
    """Yield ``n`` generated records, deterministic for ``seed``.

    Args:
        n: How many records.
        seed: Seeds Faker and every random choice: the same seed gives the same records.
        pool_size: ``None`` draws fresh people for every record (for leak measurement); a number
            draws them from that many pre-made people (fast, for large curation runs).
    """
    fakers = {}
    for k, loc in enumerate(_LOCALES + ["it_IT"]):
        fakers[loc] = Faker(loc)
        fakers[loc].seed_instance(seed * 1000 + k)
    rng = random.Random(seed)
    pools = _Pools(fakers, random.Random(seed + 1), pool_size)
    start = datetime(2025, 3, 1, tzinfo=timezone.utc)
    for i in range(n):
        yield _build_record(i, seed, rng, pools.persona(), pools.persona(), start)


def generate(n: int, seed: int = 0, *, pool_size: int | None = None) -> list[CorpusRecord]:
    """``n`` generated records (see :func:`iter_generate`)."""
    return list(iter_generate(n, seed, pool_size=pool_size))
