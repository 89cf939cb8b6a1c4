"""Key texts, the roles they grant, and the key pairs derived from them.

A store has one admin secret. From it, HKDF-SHA256 derives two X25519 key pairs: the *admin* pair
(opens everything, including the unscrubbed "raw" form of records) and the *curator* pair (opens
the scrubbed "view" form only). Three kinds of key text hand out those powers::

    slm-admin-1-<32-byte admin secret>                 admin: read all, rotate, delete, issue keys
    slm-curator-1-<32-byte curator X25519 private key> curator: read views, issue writer keys
    slm-writer-1-<curator public key || admin public key> writer: add records, read nothing

The bytes are base64url without padding. The roles are enforced by what each text can decrypt,
not by checks in the API alone: a writer text holds no private key at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import InvalidKeyError

__all__ = ["Role", "StoreKey", "fingerprint", "generate_key", "parse_key"]

Role = Literal["admin", "curator", "writer"]

_PREFIXES: dict[Role, str] = {
    "admin": "slm-admin-1-",
    "curator": "slm-curator-1-",
    "writer": "slm-writer-1-",
}
_LENGTHS: dict[Role, int] = {"admin": 32, "curator": 32, "writer": 64}
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")

# Distinct HKDF labels so the two derived keys are independent; changing them breaks every store.
_ADMIN_INFO = b"slm_agents/store/v1/admin-x25519"
_CURATOR_INFO = b"slm_agents/store/v1/curator-x25519"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.match(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: bytes, info: bytes) -> X25519PrivateKey:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
    return X25519PrivateKey.from_private_bytes(raw)


def public_bytes(key: X25519PublicKey | X25519PrivateKey) -> bytes:
    """The 32 raw bytes of an X25519 public key (of a private key's public half)."""
    pub = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_bytes(key: X25519PrivateKey) -> bytes:
    """The 32 raw bytes of an X25519 private key."""
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def fingerprint(public: bytes) -> str:
    """First 16 hex digits of SHA-256 of a public key: names a key in the audit log, safely."""
    return hashlib.sha256(public).hexdigest()[:16]


@dataclass(frozen=True, repr=False)
class StoreKey:
    """A parsed key text: its role, the public keys it names and the private keys it holds.

    ``repr`` shows only the role and fingerprint, so a key never leaks into logs or tracebacks.
    """

    role: Role
    curator_public: bytes | None
    admin_public: bytes | None
    curator_private: X25519PrivateKey | None = field(default=None, compare=False)
    admin_private: X25519PrivateKey | None = field(default=None, compare=False)
    secret: bytes | None = field(default=None, compare=False)

    @property
    def own_public(self) -> bytes:
        """The public key that identifies this role (a writer's is both public keys together)."""
        if self.role == "admin":
            assert self.admin_public is not None
            return self.admin_public
        if self.role == "curator":
            assert self.curator_public is not None
            return self.curator_public
        assert self.curator_public is not None and self.admin_public is not None
        return self.curator_public + self.admin_public

    @property
    def fingerprint(self) -> str:
        """Audit-log name of this key (see :func:`fingerprint`)."""
        return fingerprint(self.own_public)

    def text(self) -> str:
        """The key text this key was parsed from (admin and curator texts hold secrets)."""
        if self.role == "admin":
            assert self.secret is not None
            return _PREFIXES["admin"] + _b64encode(self.secret)
        if self.role == "curator":
            assert self.curator_private is not None
            return _PREFIXES["curator"] + _b64encode(private_bytes(self.curator_private))
        return _PREFIXES["writer"] + _b64encode(self.own_public)

    def with_admin_public(self, admin_public: bytes) -> StoreKey:
        """A curator key that also knows the store's admin public key (read from ``meta``)."""
        return StoreKey(
            role=self.role,
            curator_public=self.curator_public,
            admin_public=admin_public,
            curator_private=self.curator_private,
            admin_private=self.admin_private,
            secret=self.secret,
        )

    def __repr__(self) -> str:
        return f"StoreKey(role={self.role!r}, fingerprint={self.fingerprint!r})"


def admin_key_from_secret(secret: bytes) -> StoreKey:
    """Derive the admin and curator key pairs from a 32-byte admin secret."""
    admin = _derive(secret, _ADMIN_INFO)
    curator = _derive(secret, _CURATOR_INFO)
    return StoreKey(
        role="admin",
        curator_public=public_bytes(curator),
        admin_public=public_bytes(admin),
        curator_private=curator,
        admin_private=admin,
        secret=secret,
    )


def curator_key(private: X25519PrivateKey, admin_public: bytes | None = None) -> StoreKey:
    """A curator key from its private key (the admin public key comes from the store's meta)."""
    return StoreKey(
        role="curator",
        curator_public=public_bytes(private),
        admin_public=admin_public,
        curator_private=private,
    )


def writer_key(curator_public: bytes, admin_public: bytes) -> StoreKey:
    """A writer key: the two public keys new batches are sealed to."""
    return StoreKey(role="writer", curator_public=curator_public, admin_public=admin_public)


def generate_key() -> str:
    """Create a new admin key text for a new store.

    Keep it secret: it opens every record, raw forms included. Hand out narrower keys with
    :meth:`Store.issue_key`.

    Returns:
        The key text, ``slm-admin-1-`` followed by 43 base64url characters.

    Examples:
        >>> generate_key().startswith("slm-admin-1-")
        True
    """
    return admin_key_from_secret(os.urandom(32)).text()


def parse_key(key: object) -> StoreKey:
    """Parse a key text into a :class:`StoreKey`.

    Args:
        key: Text from :func:`generate_key` or :meth:`Store.issue_key` (surrounding whitespace,
            such as a trailing newline from a file, is ignored).

    Raises:
        InvalidKeyError: the text is not a key. The message never repeats the key.
    """
    if isinstance(key, bytes):
        try:
            key = key.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidKeyError(
                "the key is not ASCII text; pass the text from generate_key()"
            ) from None
    if not isinstance(key, str):
        raise InvalidKeyError(
            f"the key must be text from slm_agents.generate_key() or Store.issue_key(), "
            f"got {type(key).__name__}"
        )
    text = key.strip()
    role = next((r for r, p in _PREFIXES.items() if text.startswith(p)), None)
    if role is None:
        raise InvalidKeyError(
            "the key does not start with 'slm-admin-1-', 'slm-curator-1-' or 'slm-writer-1-'; "
            "pass the text from slm_agents.generate_key() or Store.issue_key()"
        )
    try:
        data = _b64decode(text[len(_PREFIXES[role]) :])
    except (ValueError, binascii.Error):
        data = b""
    if len(data) != _LENGTHS[role]:
        raise InvalidKeyError(
            f"the {role} key is damaged (its body is not {_LENGTHS[role]} bytes of base64url); "
            "copy the whole key text again"
        )
    if role == "admin":
        return admin_key_from_secret(data)
    if role == "curator":
        return curator_key(X25519PrivateKey.from_private_bytes(data))
    return writer_key(data[:32], data[32:])
