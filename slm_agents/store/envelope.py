"""Envelope encryption: payloads under per-batch data keys, data keys sealed to public keys.

Each ``add_many`` call draws a fresh 32-byte data key (DEK), encrypts every payload of the batch
with AES-256-GCM under it, then wraps the DEK to its recipients with ECIES (one ephemeral X25519
key, X25519 agreement with each recipient, HKDF-SHA256, AES-256-GCM). That costs one key
generation per batch rather than per record, which is what lets a writer ingest thousands of
records a second; the writer then forgets the DEK and, holding no private key, cannot read back
what it wrote.

Every ciphertext is bound to its place by the AES-GCM associated data: a payload to its record id,
kind ("view" or "raw") and batch; a wrapped DEK to its batch, kind and recipient. Bytes copied
between rows, kinds or batches fail authentication instead of decrypting to the wrong record.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .keys import public_bytes

__all__ = ["DecryptionError", "DataKey", "new_data_key", "payload_aad", "unwrap", "wrap"]

_WRAP_VERSION = b"\x01"
_WRAP_INFO = b"slm_agents/store/v1/wrap"
_NONCE = 12
_PUB = 32
_WRAPPED_LEN = 1 + _PUB + _NONCE + 32 + 16


class DecryptionError(Exception):
    """Internal: a ciphertext or wrapped key failed authentication (callers turn it into
    :class:`~slm_agents.errors.TamperedRecordError` with the record id)."""


def payload_aad(record_id: str, kind: str, batch_id: str) -> bytes:
    """Associated data binding a payload ciphertext to its row."""
    return f"{record_id}|{kind}|{batch_id}".encode()


def _wrap_aad(batch_id: str, kind: str, recipient: str) -> bytes:
    return f"dek|{batch_id}|{kind}|{recipient}".encode()


def _kek(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> AESGCM:
    # Salting with both public keys ties the key-encryption key to this exact exchange.
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + recipient_public,
        info=_WRAP_INFO,
    ).derive(shared)
    return AESGCM(key)


def wrap(
    dek: bytes, recipients: dict[str, bytes], batch_id: str, kind: str
) -> dict[str, bytes]:
    """Seal a data key to each recipient public key.

    Args:
        dek: The 32-byte data key.
        recipients: Recipient name (``"admin"``, ``"curator"``) to its raw X25519 public key.
        batch_id: The batch the key encrypts (bound into the associated data).
        kind: ``"view"`` or ``"raw"`` (bound into the associated data).

    Returns:
        Recipient name to its wrapped key: version, ephemeral public key, nonce, ciphertext.
    """
    ephemeral = X25519PrivateKey.generate()
    eph_pub = public_bytes(ephemeral)
    out: dict[str, bytes] = {}
    for name, pub in recipients.items():
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(pub))
        nonce = os.urandom(_NONCE)
        sealed = _kek(shared, eph_pub, pub).encrypt(nonce, dek, _wrap_aad(batch_id, kind, name))
        out[name] = _WRAP_VERSION + eph_pub + nonce + sealed
    return out


def unwrap(
    wrapped: bytes, private: X25519PrivateKey, recipient: str, batch_id: str, kind: str
) -> bytes:
    """Open a data key sealed by :func:`wrap`.

    Raises:
        DecryptionError: the wrapped key is malformed, altered, moved, or not sealed to ``private``.
    """
    if len(wrapped) != _WRAPPED_LEN or wrapped[:1] != _WRAP_VERSION:
        raise DecryptionError("wrapped data key has the wrong length or version")
    eph_pub = wrapped[1 : 1 + _PUB]
    nonce = wrapped[1 + _PUB : 1 + _PUB + _NONCE]
    sealed = wrapped[1 + _PUB + _NONCE :]
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(eph_pub))
        kek = _kek(shared, eph_pub, public_bytes(private))
        return kek.decrypt(nonce, sealed, _wrap_aad(batch_id, kind, recipient))
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("wrapped data key failed authentication") from exc


class DataKey:
    """One batch's data key, ready to seal and open payloads.

    Args:
        dek: The 32-byte data key.
        batch_id: The batch it belongs to.
        kind: ``"view"`` or ``"raw"``.
    """

    __slots__ = ("_aead", "batch_id", "kind")

    def __init__(self, dek: bytes, batch_id: str, kind: str) -> None:
        self._aead = AESGCM(dek)
        self.batch_id = batch_id
        self.kind = kind

    def seal(self, record_id: str, plaintext: bytes) -> bytes:
        """Encrypt one payload: a random nonce followed by the AES-GCM ciphertext and tag."""
        nonce = os.urandom(_NONCE)
        aad = payload_aad(record_id, self.kind, self.batch_id)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, record_id: str, sealed: bytes) -> bytes:
        """Decrypt one payload sealed by :meth:`seal` for the same record id.

        Raises:
            DecryptionError: the bytes were altered, truncated, or belong to another row.
        """
        if not isinstance(sealed, bytes) or len(sealed) < _NONCE + 16:
            raise DecryptionError("ciphertext is truncated")
        aad = payload_aad(record_id, self.kind, self.batch_id)
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
        except InvalidTag as exc:
            raise DecryptionError("ciphertext failed authentication") from exc


def new_data_key() -> bytes:
    """A fresh random 32-byte data key."""
    return AESGCM.generate_key(bit_length=256)
