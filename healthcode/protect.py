"""Protection of data at rest: envelope encryption, crypto-shredding, blind indexes.

- Every holder has a random 256-bit *data key* (DEK); their personal data is
  sealed with AES-256-GCM under it. The DEK is stored wrapped (AES-GCM) under a
  key derived from the master key. Deleting the wrapped DEK destroys the data
  (crypto-shredding) even where copies of the ciphertext survive in backups.
- Issuer private keys are sealed under another derived key.
- Lookups by ID number or phone use a keyed *blind index* (HMAC-SHA-256 under a
  derived key), never plaintext.

Keys are derived from the master key with HKDF-SHA-256 (RFC 5869), one ``info``
label per purpose, so a leak of one derived key does not expose the others.
Blob layout: ``b"\\x01" + 12-byte nonce + ciphertext||tag``.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from healthcode.errors import HealthCodeError

_VERSION = b"\x01"


class DecryptionFailed(HealthCodeError):
    code = "decryption-failed"
    status = 500


def derive_key(master: bytes, purpose: str) -> bytes:
    """32-byte key for ``purpose`` (e.g. ``"holder-dek-wrap"``) from the master key (HKDF)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"healthcode/v1", info=purpose.encode()
    ).derive(master)


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    """Encrypt with AES-256-GCM; ``aad`` binds the blob to its record (e.g. holder id)."""
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, *, aad: bytes = b"") -> bytes:
    """Decrypt a blob from :func:`seal`.

    :raises DecryptionFailed: wrong key, wrong ``aad``, or tampered/short blob.
    """
    if len(blob) < 29 or blob[:1] != _VERSION:
        raise DecryptionFailed("not a sealed blob")
    try:
        return AESGCM(key).decrypt(blob[1:13], blob[13:], aad)
    except InvalidTag as exc:
        raise DecryptionFailed("cannot decrypt (wrong key or tampered data)") from exc


def blind_index(key: bytes, value: str) -> str:
    """Keyed index of ``value`` (hex, 32 characters); ``key`` from :func:`derive_key`."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
