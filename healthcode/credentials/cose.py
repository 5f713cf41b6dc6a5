"""COSE_Sign1 framing (RFC 9052 §4.2, §4.4) over cbor2, signatures via ``cryptography``.

Only what signed health credentials use: single signer, attached payload,
algorithms ES256 (-7), ES384 (-35), EdDSA (-8, Ed25519) and PS256 (-37).

Accepted framings on decode: an untagged 4-array, tag 18 (COSE_Sign1), and
tag 61 (CWT) around tag 18; anything else is :class:`CoseInvalid`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
)

from healthcode.credentials.errors import CoseInvalid, SignatureInvalid, UnsupportedAlgorithm

HDR_ALG = 1
HDR_KID = 4
TAG_SIGN1 = 18
TAG_CWT = 61
_FRAMINGS = frozenset({(), (TAG_SIGN1,), (TAG_CWT, TAG_SIGN1)})
_FROZENDICT: type = getattr(cbor2, "frozendict", dict)

ALG_ES256 = -7
ALG_ES384 = -35
ALG_EDDSA = -8
ALG_PS256 = -37
ALG_NAMES = {ALG_ES256: "ES256", ALG_ES384: "ES384", ALG_EDDSA: "EdDSA", ALG_PS256: "PS256"}

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_SHA384 = ec.ECDSA(hashes.SHA384())
#: Signing: deterministic ECDSA (RFC 6979) — no random nonce to get wrong, and the same
#: message and key always give the same signature (an e-certificate shown again is the
#: same text). Verifiers cannot tell the difference.
ECDSA_SIGN_SHA256 = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class Sign1:
    """A decoded COSE_Sign1.

    :ivar protected_bytes: the protected header exactly as received (bstr content).
    :ivar protected: decoded protected header map.
    :ivar unprotected: unprotected header map.
    :ivar payload: payload bytes exactly as received.
    :ivar signature: raw signature bytes (r||s for ECDSA).
    :ivar tags: CBOR tags seen around the array, outermost first.
    """

    protected_bytes: bytes
    protected: dict[Any, Any]
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes
    tags: tuple[int, ...]

    @property
    def alg(self) -> int | None:
        value = self.protected.get(HDR_ALG, self.unprotected.get(HDR_ALG))
        # COSE algorithm identifiers are small integers: a bool or a 5,000-digit one is none
        if type(value) is int and -(2**31) <= value < 2**31:
            return value
        return None

    @property
    def kid(self) -> bytes | None:
        """Key ID: protected header first, unprotected only when the protected has none."""
        kid = self.protected.get(HDR_KID)
        if kid is None:
            kid = self.unprotected.get(HDR_KID)
        return bytes(kid) if isinstance(kid, bytes | bytearray) else None

    def to_be_signed(self) -> bytes:
        """Sig_structure ``["Signature1", protected, external_aad=b"", payload]`` (RFC 9052 §4.4),
        in the deterministic CBOR encoding (what ``cbor2.dumps`` of that array gives)."""
        prot, payload = self.protected_bytes, self.payload
        return b"".join(
            (_SIG1_HEAD, _bstr_head(len(prot)), prot, b"\x40", _bstr_head(len(payload)), payload)
        )


_SIG1_HEAD = b"\x84\x6aSignature1"  # array(4), text(10) "Signature1"


def _bstr_head(size: int) -> bytes:
    """CBOR byte-string header for ``size`` bytes, shortest form (RFC 8949 §4.2.1)."""
    if size < 24:
        return bytes((0x40 | size,))
    if size < 0x100:
        return bytes((0x58, size))
    if size < 0x10000:
        return b"\x59" + size.to_bytes(2, "big")
    if size < 0x100000000:
        return b"\x5a" + size.to_bytes(4, "big")
    return b"\x5b" + size.to_bytes(8, "big")


def _refuse_self_described(decoder: Any) -> Any:
    """Tag 55799 (self-described CBOR), which cbor2 drops silently: not a framing we accept."""
    raise cbor2.CBORDecodeError("tag 55799 (self-described CBOR) is not accepted")


def decode_strict(data: bytes, *, max_depth: int = 64) -> Any:
    """Exactly one CBOR item, nothing after it: no duplicate map keys (last-wins would let
    two readers see different values), no tag 55799, bounded depth.

    :raises cbor2.CBORDecodeError: (or another error cbor2 raises on hostile input) when
        the bytes are not such an item; ``ValueError`` for data after the item.
    """
    fp = io.BytesIO(data)
    item = cbor2.CBORDecoder(
        fp,
        max_depth=max_depth,
        allow_duplicate_keys=False,
        semantic_decoders=_STRICT_SEMANTICS,
    ).decode()
    if fp.tell() != len(data):
        raise ValueError("data after the CBOR item")
    return item


_STRICT_SEMANTICS = {55799: _refuse_self_described}


def decode_sign1(data: bytes) -> Sign1:
    """Decode COSE_Sign1 bytes; the whole input must be one CBOR item.

    :raises CoseInvalid: not CBOR, trailing data, duplicate map keys, wrong tags (tag
        55799 included) or array shape, a protected header that is not exactly one map.
    """
    try:
        item = decode_strict(data)
    except Exception as exc:  # cbor2 raises several types on hostile input; data after it
        raise CoseInvalid(f"not one CBOR item: {exc}") from exc
    tags: tuple[int, ...] = ()
    while isinstance(item, cbor2.CBORTag):
        tags = (*tags, item.tag)
        item = item.value
    if tags not in _FRAMINGS:
        raise CoseInvalid(f"unexpected CBOR tags {list(tags)}")
    if (type(item) is not list and not isinstance(item, list | tuple)) or len(item) != 4:
        raise CoseInvalid("COSE_Sign1 must be an array of 4 items")
    prot_b, unprot, payload, sig = item
    # exact type checks first (cbor2 gives bytes and dict); anything else takes the slow path
    if not (
        (type(prot_b) is bytes or isinstance(prot_b, bytes))
        and (type(payload) is bytes or isinstance(payload, bytes))
        and (type(sig) is bytes or isinstance(sig, bytes))
    ):
        raise CoseInvalid("COSE_Sign1 fields have wrong types")
    if type(unprot) is not dict:
        # cbor2 6.x gives a frozendict for a map inside a tag
        if type(unprot) is not _FROZENDICT and not isinstance(unprot, Mapping):
            raise CoseInvalid("unprotected header is not a map")
        unprot = dict(unprot)  # type: ignore[call-overload]  # a Mapping, checked above
    try:
        prot = decode_strict(prot_b) if prot_b else {}
    except Exception as exc:  # not CBOR, bytes after the map, duplicate keys …
        raise CoseInvalid(f"protected header is not one CBOR map: {exc}") from exc
    if not isinstance(prot, dict):
        raise CoseInvalid("protected header is not a map")
    return Sign1(prot_b, prot, unprot, payload, sig, tags)


def encode_sign1(payload: bytes, *, key: PrivateKey, alg: int, kid: bytes) -> bytes:
    """Sign ``payload`` and return tagged (18) COSE_Sign1 bytes (ES256: deterministic, RFC
    6979; Ed25519 is deterministic anyway).

    :param alg: ``ALG_ES256`` (P-256 key) or ``ALG_EDDSA`` (Ed25519 key).
    :raises UnsupportedAlgorithm: alg/key mismatch.
    """
    prot_b = cbor2.dumps({HDR_ALG: alg, HDR_KID: kid})
    tbs = cbor2.dumps(["Signature1", prot_b, b"", payload])
    if alg == ALG_ES256 and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(tbs, ECDSA_SIGN_SHA256))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif alg == ALG_EDDSA and isinstance(key, ed25519.Ed25519PrivateKey):
        sig = key.sign(tbs)
    else:
        raise UnsupportedAlgorithm(f"cannot sign with alg {alg} and {type(key).__name__}")
    return cbor2.dumps(cbor2.CBORTag(TAG_SIGN1, [prot_b, {}, payload, sig]))


def _der_int(value: bytes) -> bytes:
    """DER INTEGER of an unsigned big-endian number (minimal, positive)."""
    value = value.lstrip(b"\0") or b"\0"
    if value[0] & 0x80:
        value = b"\0" + value
    return b"\x02" + bytes((len(value),)) + value


def _der_signature(r: bytes, s: bytes) -> bytes:
    """``Ecdsa-Sig-Value`` DER of raw ``r`` and ``s`` (≤ 48 bytes each, so short lengths);
    the same bytes as ``encode_dss_signature(int(r), int(s))``."""
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes((len(body),)) + body


#: The curve each ECDSA algorithm is defined on (RFC 9053 §2.1): no other curve is accepted.
_ALG_CURVES: dict[int, type] = {ALG_ES256: ec.SECP256R1, ALG_ES384: ec.SECP384R1}
#: Smallest RSA modulus accepted for PS256 (RFC 8230 §2: at least 2048 bits).
MIN_RSA_BITS = 2048

#: Concrete classes seen to be EC public keys (an exact type lookup instead of the ABC check).
_EC_KEY_TYPES: set[type] = set()


def _is_ec_key(key: object) -> TypeGuard[ec.EllipticCurvePublicKey]:
    """``isinstance(key, EllipticCurvePublicKey)``, by exact type once a class was seen."""
    if type(key) in _EC_KEY_TYPES:
        return True
    if isinstance(key, ec.EllipticCurvePublicKey):
        _EC_KEY_TYPES.add(type(key))
        return True
    return False


def verify_signature(sign1: Sign1, key: PublicKey) -> None:
    """Check ``sign1``'s signature with ``key`` over the received bytes.

    :raises UnsupportedAlgorithm: the header's alg is unknown or does not fit the key.
    :raises SignatureInvalid: the signature does not verify.
    """
    alg = sign1.alg
    tbs = sign1.to_be_signed()
    sig = sign1.signature
    try:
        if alg in (ALG_ES256, ALG_ES384) and _is_ec_key(key):
            if type(key.curve) is not _ALG_CURVES[alg]:  # ES384 over P-256, ES256 over secp256k1
                raise UnsupportedAlgorithm(f"alg {alg} does not fit a {key.curve.name} key")
            size = 32 if alg == ALG_ES256 else 48
            if len(sig) != 2 * size:
                raise SignatureInvalid("ECDSA signature has the wrong length")
            der = _der_signature(sig[:size], sig[size:])
            key.verify(der, tbs, _ECDSA_SHA256 if alg == ALG_ES256 else _ECDSA_SHA384)
        elif alg == ALG_EDDSA and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, tbs)
        elif alg == ALG_PS256 and isinstance(key, rsa.RSAPublicKey):
            if key.key_size < MIN_RSA_BITS:
                raise UnsupportedAlgorithm(f"a {key.key_size}-bit RSA key is too weak for PS256")
            key.verify(
                sig,
                tbs,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
        else:
            raise UnsupportedAlgorithm(f"alg {alg} does not fit a {type(key).__name__}")
    except InvalidSignature as exc:
        raise SignatureInvalid("signature does not verify") from exc
