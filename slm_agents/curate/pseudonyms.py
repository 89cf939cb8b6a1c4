"""Consistent, format-preserving surrogates for detected values (keyed HMAC-SHA256).

The surrogate of a value depends only on the key, the entity type and the value: the same value
gets the same surrogate in every record and in every scrubber holding the same key, and the
mapping cannot be reversed or recomputed without the key. Surrogates keep the type and format, so
tool arguments stay learnable and text stays natural: an e-mail stays a valid e-mail (on a
reserved ``example.*`` domain), a date stays a date in the same layout, a phone number keeps its
digit layout, a card number passes Luhn, an IBAN keeps its country and a valid checksum, an IP
stays an IP, names come from a built-in list. A surrogate never equals its original.

Examples:
    >>> p = Pseudonymizer(b"k" * 32)
    >>> p("EMAIL_ADDRESS", "jane.doe@acme.io") == p("EMAIL_ADDRESS", "jane.doe@acme.io")
    True
    >>> p("EMAIL_ADDRESS", "jane.doe@acme.io").rsplit("@", 1)[1] in EXAMPLE_DOMAINS
    True
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import string
from collections.abc import Callable, Sequence

from ._wordlists import CITIES, FIRST_NAMES, LAST_NAMES, STREET_KEEP, STREET_WORDS, US_STATES

__all__ = ["EXAMPLE_DOMAINS", "Pseudonymizer", "luhn_valid", "placeholder"]

EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")
_MEMO_LIMIT = 100_000
_HEX = frozenset(string.hexdigits)
_HONORIFICS = frozenset({"mr", "mrs", "ms", "mx", "miss", "dr", "prof", "sir", "dame", "sr", "sra",
                         "mme", "herr", "frau", "mr.", "mrs.", "ms.", "dr.", "prof."})
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_KEY_PREFIXES = sorted((
    "sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-api03-", "sk-ant-admin01-", "sk-ant-", "sk-",
    "sk_live_", "sk_test_", "rk_live_", "rk_test_", "github_pat_", "ghp_", "gho_", "ghu_", "ghs_",
    "ghr_", "xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "AKIA", "ASIA", "ABIA",
    "ACCA", "AIza", "hf_"), key=len, reverse=True)
_ID_PREFIX = re.compile(r"^[A-Za-z]{2,6}[-_:#]")


def placeholder(entity_type: str) -> str:
    """The typed placeholder for an entity type: ``<EMAIL_ADDRESS>``."""
    return f"<{entity_type}>"


def luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` pass the Luhn check (credit-card checksum)."""
    digits = [int(c) for c in number if c.isdigit()]
    return bool(digits) and _luhn_sum(digits) % 10 == 0


def _luhn_sum(digits: Sequence[int]) -> int:
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return total


class _Draw:
    """A deterministic stream of choices from a seed (SHA-256 in counter mode)."""

    __slots__ = ("_seed", "_buf", "_pos", "_block")

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._buf = b""
        self._pos = 0
        self._block = 0

    def below(self, n: int) -> int:
        if self._pos + 4 > len(self._buf):
            self._buf = hashlib.sha256(self._seed + self._block.to_bytes(4, "big")).digest()
            self._block += 1
            self._pos = 0
        value = int.from_bytes(self._buf[self._pos:self._pos + 4], "big")
        self._pos += 4
        return value % n

    def choice(self, options: Sequence[str]) -> str:
        return options[self.below(len(options))]

    def digit(self, low: int = 0) -> str:
        return str(low + self.below(10 - low))


def _match_case(template: str, word: str) -> str:
    letters = [c for c in template if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return word.upper()
    if letters and all(c.islower() for c in letters):
        return word.lower()
    return word


def _reshape(value: str, draw: _Draw) -> str:
    """Same length and character classes (hex stays hex); punctuation and spaces are kept."""
    hexish = len(value) >= 8 and all(c in _HEX or not c.isalnum() for c in value)
    out = []
    for ch in value:
        if ch.isdigit():
            out.append(draw.digit())
        elif ch.isalpha():
            letters = "abcdef" if hexish else string.ascii_lowercase
            letter = draw.choice(letters)
            out.append(letter.upper() if ch.isupper() else letter)
        else:
            out.append(ch)
    return "".join(out)


class Pseudonymizer:
    """Maps ``(entity_type, value)`` to a surrogate of the same type and format.

    Args:
        key: The HMAC key (bytes). Keep it secret: with it, surrogates can be recomputed.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._memo: dict[tuple[str, str], str] = {}
        self._generators: dict[str, Callable[[str, _Draw], str]] = {
            "PERSON": self._person, "EMAIL_ADDRESS": self._email, "PHONE_NUMBER": self._phone,
            "CREDIT_CARD": self._card, "US_SSN": self._ssn, "IBAN_CODE": self._iban,
            "IP_ADDRESS": self._ip, "URL": self._url, "LOCATION": self._location,
            "STREET_ADDRESS": self._address, "DATE_OF_BIRTH": self._date,
            "DATE_TIME": self._date, "API_KEY": self._api_key, "JWT": self._jwt,
            "PRIVATE_KEY": self._private_key, "ORGANIZATION": self._words, "NRP": self._words,
        }

    def __call__(self, entity_type: str, value: str) -> str:
        memo_key = (entity_type, value)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        generate = self._generators.get(entity_type, self._identifier)
        normal = " ".join(value.casefold().split())
        surrogate = value
        for attempt in range(16):
            surrogate = generate(value, self._draw(entity_type, normal, attempt))
            if surrogate.casefold() != value.casefold():
                break
        else:  # pragma: no cover - practically unreachable; never return the original
            surrogate = placeholder(entity_type)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[memo_key] = surrogate
        return surrogate

    def _draw(self, kind: str, normal: str, attempt: int = 0) -> _Draw:
        message = f"{kind}\x1f{normal}\x1f{attempt}".encode()
        return _Draw(hmac.new(self._key, message, hashlib.sha256).digest())

    # -- names and places --------------------------------------------------------------------
    def _name_token(self, token: str, role: str, key: str | None = None) -> str:
        """One name word, mapped on its own so "Smith" alone and in "Jane Smith" agree
        (``key``, when given, is hashed instead of the word)."""
        core = token.strip(".,;:'\"()")
        if not core:
            return token
        if len(core) == 1 or (len(core) == 2 and token.endswith(".")):  # an initial
            letter = self._draw("INITIAL", core.casefold()).choice(string.ascii_uppercase)
            letter = letter if letter != core.upper() else chr((ord(letter) - 64) % 26 + 65)
            return token.replace(core, letter, 1)
        names = FIRST_NAMES if role == "first" else LAST_NAMES
        draw = self._draw(f"NAME_{role}", key if key is not None else core.casefold())
        name = draw.choice(names)
        if name.casefold() == core.casefold():
            name = names[(names.index(name) + 1) % len(names)]
        return token.replace(core, _match_case(core, name), 1)

    def _person(self, value: str, draw: _Draw) -> str:
        parts = re.split(r"(\s+)", value)
        words = [i for i, p in enumerate(parts)
                 if p and not p.isspace() and p.casefold() not in _HONORIFICS]
        out = list(parts)
        for n, i in enumerate(words):
            role = "last" if len(words) >= 2 and n == len(words) - 1 else "first"
            out[i] = self._name_token(parts[i], role)
        return "".join(out)

    def _location(self, value: str, draw: _Draw) -> str:
        return _match_case(value, draw.choice(CITIES))

    def _words(self, value: str, draw: _Draw) -> str:
        return re.sub(r"[^\W\d_]+", lambda m: _match_case(m.group(), draw.choice(LAST_NAMES)),
                      value)

    def _address(self, value: str, draw: _Draw) -> str:
        def token(match: re.Match[str]) -> str:
            word = match.group()
            if word.isdigit():
                first = draw.digit(1) if word[0] != "0" else "0"
                return first + "".join(draw.digit() for _ in word[1:])
            if word.casefold() in STREET_KEEP:
                return word
            if len(word) == 2 and word.isupper():
                return draw.choice(US_STATES)
            if any(c.isdigit() for c in word):  # postcodes, unit numbers
                return _reshape(word, draw)
            german = re.match(r"(?i)^(.+?)(straße|strasse|str\.?|weg|gasse|platz|allee|ring|damm)$",
                              word)
            if german:
                return draw.choice(STREET_WORDS) + german.group(2)
            return _match_case(word, draw.choice(STREET_WORDS))
        return re.sub(r"[^\W_]+", token, value)

    # -- contact details -----------------------------------------------------------------------
    def _email(self, value: str, draw: _Draw) -> str:
        local, at, domain = value.rpartition("@")
        if not at:
            return _reshape(value, draw)
        pieces = re.split(r"([._+\-]|\d+)", local)
        alpha = [i for i, p in enumerate(pieces) if p.isalpha()]
        # "jane.doe" maps word by word (as the name "Jane Doe" does); in "user42" the word is
        # not a name, so the whole local part picks it and user41, user42... stay apart.
        whole = local.casefold() if len(alpha) == 1 and any(p.isdigit() for p in pieces) else None
        for n, i in enumerate(alpha):
            role = "last" if len(alpha) >= 2 and n == len(alpha) - 1 else "first"
            pieces[i] = self._name_token(pieces[i], role, whole).lower()
        for i, piece in enumerate(pieces):
            if piece.isdigit():
                pieces[i] = "".join(draw.digit() for _ in piece)
            elif piece and not piece.isalpha() and piece not in "._+-":
                pieces[i] = _reshape(piece, draw)
        new_domain = EXAMPLE_DOMAINS[self._draw("DOMAIN", domain.casefold()).below(3)]
        return "".join(pieces) + "@" + new_domain

    def _phone(self, value: str, draw: _Draw) -> str:
        keep = 0
        country = re.match(r"^\+(\d{1,3})(?=[\s.\-(])", value)
        if country:
            keep = country.end()
        out = [value[:keep]]
        first = True
        for ch in value[keep:]:
            if ch.isdigit():
                out.append(("0" if ch == "0" else draw.digit(2)) if first else draw.digit())
                first = False
            else:
                out.append(ch)
        return "".join(out)

    def _url(self, value: str, draw: _Draw) -> str:
        match = re.match(r"(?i)^(?P<pre>[\"']?(?:[a-z][a-z0-9+.\-]*://)?)(?P<user>[^@/\s]*@)?"
                         r"(?P<host>[^/:?#\s\"']+)(?P<port>:\d+)?(?P<rest>.*)$", value, re.S)
        if not match:
            return _reshape(value, draw)
        host = match.group("host")
        try:
            ipaddress.ip_address(host)
            new_host = self._ip(host, draw)
        except ValueError:
            labels = host.split(".")
            www = "www." if labels[0].lower() == "www" else ""
            tld = labels[-1] if len(labels) > 1 else "com"
            word = self._draw("HOST", host.casefold()).choice(STREET_WORDS).lower()
            new_host = f"{www}{word}{draw.below(1000)}.{tld}"
        user = match.group("user") or ""
        return (match.group("pre") + (_reshape(user[:-1], draw) + "@" if user else "") + new_host
                + (match.group("port") or "") + _reshape(match.group("rest"), draw))

    def _ip(self, value: str, draw: _Draw) -> str:
        address, slash, prefix = value.partition("/")
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return _reshape(value, draw)
        if isinstance(ip, ipaddress.IPv4Address):
            first = int(address.split(".")[0])
            if first == 10 or first == 127:
                head = [first, draw.below(256)]
            elif first == 172 and ip.is_private:
                head = [172, 16 + draw.below(16)]
            elif first == 192 and ip.is_private:
                head = [192, 168]
            else:
                head = [(11, 23, 34, 45, 52, 64, 81, 91, 103, 134, 151, 185, 203)[draw.below(13)],
                        draw.below(256)]
            new = ".".join(str(o) for o in [*head, draw.below(256), 1 + draw.below(254)])
        else:
            top = int(ip) >> 112
            rest = int.from_bytes(hashlib.sha256(repr(draw.below(2**31)).encode()).digest()[:14],
                                  "big")
            new6 = ipaddress.IPv6Address((top << 112) | rest)
            new = new6.compressed if "::" in address else new6.exploded
            new = new.upper() if address.isupper() else new
        return new + slash + prefix

    # -- numbers with checksums and layouts ----------------------------------------------------
    @staticmethod
    def _layout(value: str, digits: Sequence[str]) -> str:
        it = iter(digits)
        return "".join(next(it) if c.isdigit() else c for c in value)

    def _card(self, value: str, draw: _Draw) -> str:
        original = [c for c in value if c.isdigit()]
        if len(original) < 2:
            return _reshape(value, draw)
        body = [original[0]] + [draw.digit() for _ in original[1:-1]]
        check = (10 - _luhn_sum([int(d) for d in body] + [0]) % 10) % 10
        return self._layout(value, [*body, str(check)])

    def _ssn(self, value: str, draw: _Draw) -> str:
        if sum(c.isdigit() for c in value) != 9:
            return _reshape(value, draw)
        area = 1 + draw.below(899)
        area = area + 1 if area == 666 else area
        digits = f"{area:03d}{1 + draw.below(99):02d}{1 + draw.below(9999):04d}"
        return self._layout(value, list(digits))

    def _iban(self, value: str, draw: _Draw) -> str:
        compact = re.sub(r"[\s-]", "", value).upper()
        if len(compact) < 5 or not compact[:2].isalpha():
            return _reshape(value, draw)
        country, bban = compact[:2], _reshape(compact[4:], draw).upper()
        numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
        new = f"{country}{98 - int(numeric) % 97:02d}{bban}"
        it = iter(new)
        out = "".join(c if c in " -" else next(it) for c in value)
        return out if value.isupper() or not value[:2].islower() else out.lower()

    # -- dates ---------------------------------------------------------------------------------
    def _date(self, value: str, draw: _Draw) -> str:
        tokens = re.split(r"(\d+|[^\W\d_]+)", value)
        numbers = [i for i, t in enumerate(tokens) if t.isdigit()]
        year = next((i for i in numbers if len(tokens[i]) == 4), None)
        if year is None and len(numbers) == 3:
            year = numbers[-1]
        out = list(tokens)
        for i in numbers:
            token = tokens[i]
            if i == year:
                new = (1940 + draw.below(66)) if len(token) == 4 else draw.below(100)
                out[i] = str(new).zfill(len(token))
            else:  # 1-12 is a valid day and a valid month, whatever the order
                new = 1 + draw.below(12)
                out[i] = str(new).zfill(len(token)) if len(token) == 2 else str(new)
        for i, token in enumerate(tokens):
            lower = token.casefold()
            month = next((m for m in _MONTHS if len(lower) >= 3 and m.startswith(lower)), None)
            if month is not None:
                new_month = _MONTHS[draw.below(12)]
                new_month = new_month if len(token) >= len(month) else new_month[:len(token)]
                out[i] = _match_case(token, new_month.capitalize())
            elif lower in ("st", "nd", "rd", "th") and i >= 2 and out[i - 1].isdigit():
                n = int(out[i - 1])
                out[i] = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(
                    n % 10, "th")
        return "".join(out)

    # -- secrets and identifiers ---------------------------------------------------------------
    def _api_key(self, value: str, draw: _Draw) -> str:
        prefix = next((p for p in _KEY_PREFIXES if value.startswith(p)), "")
        return prefix + _reshape(value[len(prefix):], draw)

    def _jwt(self, value: str, draw: _Draw) -> str:
        def segment(seg: str) -> str:
            return "eyJ" + _reshape(seg[3:], draw) if seg.startswith("eyJ") else _reshape(seg, draw)
        return ".".join(segment(s) for s in value.split("."))

    def _private_key(self, value: str, draw: _Draw) -> str:
        parts = re.split(r"(-----[A-Z0-9 ]+-----|\\[nr]|\s+)", value)
        return "".join(p if i % 2 else _reshape(p, draw) for i, p in enumerate(parts))

    def _identifier(self, value: str, draw: _Draw) -> str:
        prefix = _ID_PREFIX.match(value)
        keep = prefix.end() if prefix else 0
        return value[:keep] + _reshape(value[keep:], draw)
