"""Recognisers for secrets in agent logs: API keys, JWTs, bearer tokens, PEM keys, passwords."""

from __future__ import annotations

import base64
import binascii
import json

import regex
from presidio_analyzer import PatternRecognizer

from ._patterns import CASE, SEP, FastPatterns, pattern, recognizer

__all__ = ["JwtRecognizer", "api_key_recognizer", "bearer_token_recognizer",
           "password_recognizer", "private_key_recognizer"]


class JwtRecognizer(FastPatterns):
    """JSON Web Tokens: three base64url segments whose first decodes to a JSON header."""

    gate = regex.compile("eyJ")

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="JWT", name="JwtRecognizer", supported_language=supported_language,
            patterns=[pattern("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"
                                      r"\.[A-Za-z0-9_-]*", 0.9)],
            context=["jwt", "token", "bearer", "authorization"], global_regex_flags=CASE)

    def validate_result(self, pattern_text: str) -> bool | None:
        head = pattern_text.split(".", 1)[0]
        try:
            decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
            return isinstance(json.loads(decoded), dict) or None
        except (binascii.Error, ValueError):
            return None  # a truncated header: keep the pattern's score


def api_key_recognizer(language: str = "en") -> PatternRecognizer:
    """API keys and tokens in providers' formats, and values assigned to key-like names."""
    tail = r"(?![A-Za-z0-9_-])"
    patterns = [
        # OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-api03-): 20+ key characters,
        # at least one digit, so a hyphenated slug ("sk-learn-style-guide...") is not a key.
        pattern("openai/anthropic", r"\bsk-(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,}" + tail, 0.9),
        pattern("aws access key id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", 0.9),
        pattern("aws secret key",
                 r"(?<=(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)" + SEP + r")"
                 r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])", 0.9),
        pattern("github", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b", 0.95),
        pattern("github fine-grained", r"\bgithub_pat_[A-Za-z0-9_]{30,}\b", 0.95),
        pattern("slack", r"\bxox[abposre]-[A-Za-z0-9-]{10,}" + tail, 0.9),
        pattern("google", r"\bAIza[0-9A-Za-z_-]{35}" + tail, 0.9),
        pattern("stripe", r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b", 0.95),
        pattern("hugging face", r"\bhf_[A-Za-z0-9]{30,}\b", 0.9),
        pattern("gitlab", r"\bglpat-[A-Za-z0-9_-]{20,}" + tail, 0.9),
        pattern("npm", r"\bnpm_[A-Za-z0-9]{36}\b", 0.9),
        pattern("sendgrid", r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}" + tail, 0.9),
        pattern("twilio", r"\b(?:SK|AC)[0-9a-f]{32}\b", 0.6),
        # 40 base64 characters mixing cases and digits: the shape of an AWS secret access key
        # (git hashes are lower-case hex, so they do not match).
        pattern("aws secret shape", r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]*[0-9])"
                                     r"(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])"
                                     r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", 0.5),
        # "api_key=...", "X-Api-Key: ...", "client_secret": "..." — 16+ characters, letters and
        # digits mixed, behind a key-like name.
        pattern("assigned",
                 r"(?<=(?i:(?<![a-z0-9])(?:api[_-]?key|apikey|x-api-key|secret[_-]?key|access[_-]?key|"
                 r"client[_-]?secret|auth[_-]?token|access[_-]?token|refresh[_-]?token|"
                 r"private[_-]?token|api[_-]?token|secret|token|key))" + SEP + r")"
                 r"(?=[A-Za-z0-9_\-./+=]*[0-9])(?=[A-Za-z0-9_\-./+=]*[A-Za-z])"
                 r"[A-Za-z0-9_\-./+=]{16,}", 0.6),
        # 32-64 hex digits (an MD5-shaped key): a key only next to a word like "key".
        pattern("hex token", r"(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{32,64}"
                             r"(?![0-9A-Za-z])", 0.1),
        # A bare 32+ character token mixing cases and digits is a secret more often than not.
        pattern("bare token", r"(?<![A-Za-z0-9_\-])(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[a-z])"
                               r"(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])", 0.4),
    ]
    return recognizer("API_KEY", "ApiKeyRecognizer", patterns,
                       ["key", "apikey", "api", "secret", "token", "credential"], language, CASE)


def bearer_token_recognizer(language: str = "en") -> PatternRecognizer:
    """Tokens in ``Authorization: Bearer ...`` (and ``Basic ...``) headers."""
    patterns = [
        pattern("bearer", r"(?<=\b(?i:bearer)\s{1,3})[A-Za-z0-9\-._~+/]{12,}=*", 0.85),
        pattern("basic", r"(?<=(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:basic)\s{1,3})"
                          r"[A-Za-z0-9+/]{8,}={0,2}", 0.85),
    ]
    return recognizer("BEARER_TOKEN", "BearerTokenRecognizer", patterns,
                       ["bearer", "authorization"], language, CASE, gate=r"(?i)bearer|basic")


def private_key_recognizer(language: str = "en") -> PatternRecognizer:
    """PEM private keys, whole, cut short, or missing their first line (truncated logs)."""
    label = r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    end = r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    # base64 lines and "Proc-Type: 4,ENCRYPTED" header lines, with real or escaped newlines
    body = r"(?:(?:\s|\\[nr])+(?:[A-Za-z0-9+/=]{8,}|[A-Za-z\-]+:[^\n\\]*))"
    patterns = [
        pattern("pem block", label + r"[\s\S]*?" + end, 1.0),
        pattern("pem head", label + body + r"+", 0.9),
        pattern("pem tail", r"(?:[A-Za-z0-9+/=]{16,}(?:\s|\\[nr])*)+" + end, 0.9),
    ]
    return recognizer("PRIVATE_KEY", "PrivateKeyRecognizer", patterns, None, language, CASE,
                      gate="-----")


def password_recognizer(language: str = "en") -> PatternRecognizer:
    """Passwords inside URLs and connection strings, after ``password=``, and under JSON keys."""
    # Up to a quote, space, comma or semicolon ("&" only where a query parameter follows), not
    # ending in sentence punctuation.
    value = r"""(?:[^\s"',;&<>]|&(?!\w+=))*[^\s"',;&<>.!?)\]}]"""
    strong = r"\b(?:password|passwd|passphrase|passcode)"
    patterns = [
        # scheme://user:password@host
        pattern("url userinfo", r"(?<=\b[a-z][a-z0-9+.\-]{1,20}://[^\s:/@]{0,64}:)[^\s/@]{1,128}"
                                 r"(?=@)", 0.9),
        # password=..., "password": "...", Password=...; (ADO.NET connection strings)
        pattern("assigned", r"(?<=" + strong + r"[\"']?\s{0,3}[:=]\s{0,3}[\"']?)(?=\S{3})" + value,
                 0.75),
        pattern("short name assigned",
                 r"(?<=\b(?:pwd|pass|db_pass|user_pass|pass_word)[\"']?\s{0,3}[:=]\s{0,3}[\"']?)"
                 r"(?=\S{3})" + value, 0.6),
        # "my password is Tr0ub4dor&3" (with a digit or symbol: "the password is wrong" is not)
        pattern("sentence", r"(?<=" + strong + r"(?:\s{1,3}[\w']+){0,4}?\s{1,3}(?:is|was|:)"
                             r"\s{1,3}[\"']?)"
                             r"(?=[^\s]*[\d!@#$%^&*?~+=])(?=\S{4})" + value, 0.7),
        # A whole short value under a JSON key named like a password (context from the key).
        pattern("bare value", r"\A\S{4,64}\Z", 0.05),
    ]
    return recognizer("PASSWORD", "PasswordRecognizer", patterns,
                       ["password", "passwd", "pwd", "passphrase", "passcode"], language)


# Street types that follow a street name. The ambiguous ones ("502 Bad Gateway", "3 Way
# Merge") count only with a unit or a city/state/ZIP after them.
