"""Key IDs, key generation and (de)serialisation — pure helpers on ``cryptography`` keys.

kid = first 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER (the EU DCC
convention, eHN "Technical Specifications for Digital Green Certificates" vol. 1 §3.3.1).
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from healthcode.credentials.cose import ALG_EDDSA, ALG_ES256, PrivateKey, PublicKey

ALGS = {"ES256": ALG_ES256, "EdDSA": ALG_EDDSA}


def generate_private_key(alg: str = "ES256") -> PrivateKey:
    """A new private key: ``ES256`` → ECDSA P-256, ``EdDSA`` → Ed25519.

    :raises ValueError: unknown ``alg``.
    """
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported algorithm {alg!r} (ES256 or EdDSA)")


def public_der(key: PublicKey) -> bytes:
    """SubjectPublicKeyInfo DER of a public key."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def kid_for(key: PublicKey) -> bytes:
    """8-byte key ID of a public key."""
    return hashlib.sha256(public_der(key)).digest()[:8]


def private_der(key: PrivateKey) -> bytes:
    """PKCS#8 DER, unencrypted (callers seal it, see :mod:`healthcode.protect`)."""
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_der(data: bytes) -> PrivateKey:
    """Inverse of :func:`private_der`.

    :raises ValueError: not a P-256 or Ed25519 key.
    """
    key = serialization.load_der_private_key(data, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        return key
    raise ValueError("unsupported private key type")


def load_public_der(data: bytes) -> PublicKey:
    """Public key from SubjectPublicKeyInfo DER.

    :raises ValueError: malformed or unsupported key.
    """
    key = serialization.load_der_public_key(data)
    if isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        return key
    raise ValueError("unsupported public key type")
