"""SMART Health Cards (``shc:/``) verification.

Chain (one report stage each; see :mod:`healthcode.credentials.pipeline`)::

    prefix (``shc:/`` scheme, case-insensitive; chunks ``shc:/i/n/…`` in any order)
    → numeric (digit pairs 00–77 → characters ``-`` … ``z``)
    → jws (compact JWS; header alg ES256, zip DEF, kid)
    → compression (raw DEFLATE, bounded, nothing after the stream)
    → payload (JSON: iss as https URL, nbf, vc.type with the health-card type)
    → signer (key set of ``iss``; key with the header's kid) → signature (ES256, raw r||s)
    → expiry (nbf ≤ clock, clock < exp; values in milliseconds are flagged)
    → fhir (the bundle's shape) → revocation (``vc.rid`` against the issuer's CRL)

A bare JWS (no ``shc:/``) skips ``prefix``/``numeric`` (left null). Keys are only
ever looked up by ``iss``: a card signed by a trusted key but naming another
issuer is refused. Everything here is pure; key sets and CRLs are parsed from
bytes given by :mod:`.trustload`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from healthcode.credentials.errors import (
    ChunksInvalid,
    CredentialError,
    DecompressionFailed,
    Expired,
    FhirInvalid,
    IssuerKeysInvalid,
    JwsInvalid,
    NotYetValid,
    NumericInvalid,
    PayloadInvalid,
    PayloadTooLarge,
    PrefixInvalid,
    RevocationListInvalid,
    Revoked,
    SignatureInvalid,
    UnknownIssuer,
    UnknownSigner,
)
from healthcode.credentials.report import VerificationReport
from healthcode.credentials.trust import TrustStore

if TYPE_CHECKING:
    from healthcode.credentials.pipeline import VerifyOptions

STAGES = (
    "picture",
    "prefix",
    "numeric",
    "jws",
    "signer",
    "signature",
    "compression",
    "payload",
    "expiry",
    "fhir",
    "revocation",
)

#: Longest JWS that fits one version-22 QR in numeric mode, in characters (spec).
MAX_SINGLE_JWS = 1195
#: Longest JWS part of one chunk of a (deprecated) multi-chunk card, in characters.
MAX_CHUNK_JWS = 1191
#: Largest inflated payload accepted, in bytes.
MAX_PAYLOAD_BYTES = 256 * 1024
#: Most chunks accepted in one card.
MAX_CHUNKS = 16
#: Most cards a ``.smart-health-card`` file may hold (each is verified: bound the work).
MAX_FILE_CARDS = 100
#: ``nbf``/``exp`` above this are taken as milliseconds (year 5138 in seconds).
MS_THRESHOLD = 100_000_000_000

HEALTH_CARD = "https://smarthealth.cards#health-card"
KNOWN_VC_TYPES = frozenset(
    {
        HEALTH_CARD,
        "https://smarthealth.cards#immunization",
        "https://smarthealth.cards#laboratory",
        "https://smarthealth.cards#covid19",
        "VerifiableCredential",
    }
)
IAL_SYSTEM = "https://smarthealth.cards/ial"
IAL_CODES = frozenset({"IAL1", "IAL1.2", "IAL1.4", "IAL2", "IAL3"})
#: Highest QR version a card may use (spec: version 22 holds 1195 JWS characters).
MAX_QR_VERSION = 22
#: Marker prefix of a refused CRL in ``TrustStore.revoked_shc[kid]``.
CRL_INVALID = "!crl-invalid:"

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_RID = re.compile(r"^[A-Za-z0-9_-]{1,24}$")
_CHUNKED = re.compile(r"^shc:/(\d+)/(\d+)/(.*)$", re.IGNORECASE | re.DOTALL)
_SINGLE = re.compile(r"^shc:/(.*)$", re.IGNORECASE | re.DOTALL)
_LOOPBACK_HTTP = re.compile(
    r"^http://(?:127(?:\.\d{1,3}){3}|localhost|\[::1\])(?::\d{1,5})?(?:/|$)"
)


# --- helpers ---------------------------------------------------------------------
def b64url_decode(text: str) -> bytes:
    """Unpadded base64url (RFC 7515 §2) → bytes.

    :raises JwsInvalid: characters outside the alphabet, padding, or a bad length.
    """
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise JwsInvalid("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JwsInvalid(f"not base64url: {exc}") from exc


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def numeric_to_jws(digits: str) -> str:
    """``shc:/`` numeric body → JWS text: each pair ``nn`` is ``chr(nn + 45)``.

    :raises NumericInvalid: a non-digit, an odd count, or a pair above 77.
    """
    if not digits.isascii() or not digits.isdigit():
        raise NumericInvalid("numeric QR body holds characters other than digits")
    if len(digits) % 2:
        raise NumericInvalid("odd number of digits")
    pairs = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    if any(p > 77 for p in pairs):
        raise NumericInvalid("digit pair above 77")
    return "".join(chr(p + 45) for p in pairs)


def jws_to_numeric(jws: str) -> str:
    """Inverse of :func:`numeric_to_jws` (``shc:/`` not included)."""
    return "".join(f"{ord(c) - 45:02d}" for c in jws)


def inflate(data: bytes, *, limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """Raw DEFLATE (RFC 1951, zlib wbits -15), completely, at most ``limit`` bytes out.

    :raises DecompressionFailed: not DEFLATE, truncated, too large, or data after the stream.
    """
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise DecompressionFailed(f"not raw DEFLATE: {exc}") from exc
    if inflater.unconsumed_tail:
        raise DecompressionFailed(f"inflated payload exceeds {limit} bytes")
    if not inflater.eof:
        raise DecompressionFailed("DEFLATE stream is truncated")
    if inflater.unused_data:
        raise DecompressionFailed("data after the DEFLATE stream")
    return out


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) of a public JWK (jwcrypto).

    :raises IssuerKeysInvalid: not a JWK jwcrypto can read.
    """
    from jwcrypto import jwk as jose_jwk
    from jwcrypto.common import JWException

    try:
        return str(jose_jwk.JWK(**dict(jwk)).thumbprint())
    except (JWException, ValueError, TypeError, KeyError) as exc:
        raise IssuerKeysInvalid(f"cannot compute the key's thumbprint: {exc}") from exc


def ec_public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """P-256 public key of a JWK.

    :raises IssuerKeysInvalid: not a P-256 point.
    """
    try:
        x = int.from_bytes(b64url_decode(str(jwk["x"])), "big")
        y = int.from_bytes(b64url_decode(str(jwk["y"])), "big")
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except (KeyError, ValueError, JwsInvalid) as exc:
        raise IssuerKeysInvalid(f"not a P-256 public key: {exc}") from exc


# --- encoding ------------------------------------------------------------------------
class EncodedCard(NamedTuple):
    """A signed card: the compact JWS and its single-chunk ``shc:/`` QR text."""

    jws: str
    qr_text: str


def jwk_thumbprint_ec(x: str, y: str) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) of a P-256 key given its ``x``/``y`` members."""
    canonical = json.dumps(
        {"crv": "P-256", "kty": "EC", "x": x, "y": y}, separators=(",", ":"), sort_keys=True
    )
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The issuer key-set entry of a P-256 public key (``kid`` = RFC 7638 thumbprint).

    :raises ValueError: not a P-256 key.
    """
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("SMART Health Cards are signed with P-256 keys")
    numbers = key.public_numbers()
    x = b64url_encode(numbers.x.to_bytes(32, "big"))
    y = b64url_encode(numbers.y.to_bytes(32, "big"))
    return {
        "kty": "EC",
        "kid": jwk_thumbprint_ec(x, y),
        "use": "sig",
        "alg": "ES256",
        "crv": "P-256",
        "x": x,
        "y": y,
    }


def encode_jws(
    payload: Mapping[str, Any], *, key: ec.EllipticCurvePrivateKey, kid: str | None = None
) -> str:
    """Sign a card payload as a compact JWS: header ``{"alg": "ES256", "zip": "DEF", "kid"}``,
    payload minified UTF-8 JSON compressed with raw DEFLATE, signature raw ``r || s``.

    :param kid: default the RFC 7638 thumbprint of ``key``'s public key.
    """
    kid = kid or public_jwk(key.public_key())["kid"]
    header = json.dumps({"alg": "ES256", "zip": "DEF", "kid": kid}, separators=(",", ":"))
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressed = deflater.compress(body) + deflater.flush()
    signing_input = f"{b64url_encode(header.encode('ascii'))}.{b64url_encode(compressed)}"
    # deterministic ECDSA (RFC 6979): the same card and key give the same JWS
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), algorithm))
    return f"{signing_input}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def encode(
    vc: Mapping[str, Any],
    *,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issued_at: datetime,
    expires_at: datetime | None = None,
    kid: str | None = None,
) -> EncodedCard:
    """Sign a SMART Health Card and return its JWS and single-chunk ``shc:/`` QR text.

    The payload is ``{"iss", "nbf", ["exp"], "vc"}`` (``nbf``/``exp`` whole seconds since
    the epoch); the QR text is ``shc:/`` followed by two digits per JWS character
    (``ord(c) - 45``), to be drawn as a byte segment plus a numeric segment (see
    :func:`healthcode.credentials.qr.encode_png`), which fits QR version 22 at level L.
    Pure: key, issuer and times are parameters.

    :param vc: the ``vc`` claim (``type`` and ``credentialSubject`` with the FHIR bundle).
    :param issuer: ``iss``, the issuer's base URL (no trailing slash); its key set is at
        ``{iss}/.well-known/jwks.json``.
    :raises ValueError: naive times, or ``expires_at`` not after ``issued_at``.
    :raises PayloadTooLarge: the JWS is longer than :data:`MAX_SINGLE_JWS` characters (one
        version-22 QR symbol; chunking is deprecated, so there is no fallback).
    """
    if issued_at.tzinfo is None or (expires_at is not None and expires_at.tzinfo is None):
        raise ValueError("issued_at and expires_at must be timezone-aware")
    payload: dict[str, Any] = {"iss": issuer, "nbf": int(issued_at.timestamp())}
    if expires_at is not None:
        if expires_at <= issued_at:
            raise ValueError("expires_at must be after issued_at")
        payload["exp"] = int(expires_at.timestamp())
    payload["vc"] = dict(vc)
    jws = encode_jws(payload, key=key, kid=kid)
    if len(jws) > MAX_SINGLE_JWS:
        raise PayloadTooLarge(
            f"the card's JWS has {len(jws)} characters; one QR symbol holds {MAX_SINGLE_JWS}"
        )
    return EncodedCard(jws, "shc:/" + jws_to_numeric(jws))


# --- key sets and CRLs -------------------------------------------------------------
def parse_keyset(data: bytes) -> dict[str, Any]:
    """JWKS bytes → dict.

    :raises IssuerKeysInvalid: not a JSON object with a ``keys`` array.
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise IssuerKeysInvalid("key set is not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise IssuerKeysInvalid("key set has no keys array")
    return doc


def keyset_issuer(keyset: Mapping[str, Any]) -> str | None:
    """The ``iss`` a key set names itself: a top-level ``iss``, else an x5c leaf's URI SAN.

    :raises IssuerKeysInvalid: an ``x5c`` holds an entry that is not a string (the set is
        refused with that reason, whatever else it holds).
    """
    iss = keyset.get("iss")
    if isinstance(iss, str):
        return iss
    keys = keyset.get("keys")
    for jwk in keys if isinstance(keys, list) else []:
        chain = jwk.get("x5c") if isinstance(jwk, Mapping) else None
        if isinstance(chain, list) and chain:
            if not all(isinstance(c, str) for c in chain):
                raise IssuerKeysInvalid(
                    f"key {jwk.get('kid')}: x5c holds an entry that is not a base64 string"
                )
            try:
                leaf = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
                uris = leaf.extensions.get_extension_for_class(
                    x509.SubjectAlternativeName
                ).value.get_values_for_type(x509.UniformResourceIdentifier)
            except (ValueError, x509.ExtensionNotFound, binascii.Error):
                continue
            if uris:
                return str(uris[0])
    return None


def _check_x5c(jwk: Mapping[str, Any], expected_san: str | None) -> None:
    chain = jwk.get("x5c")
    if not isinstance(chain, list) or not chain:
        raise IssuerKeysInvalid("x5c is not a non-empty array")
    if not all(isinstance(c, str) for c in chain):
        raise IssuerKeysInvalid("x5c holds an entry that is not a base64 string")
    try:
        certs = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in chain]
    except (ValueError, binascii.Error, TypeError) as exc:
        raise IssuerKeysInvalid(f"x5c holds an unreadable certificate: {exc}") from exc
    try:
        leaf_key = certs[0].public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise IssuerKeysInvalid(
            f"x5c leaf certificate has an unsupported or unreadable key: {str(exc)[:80]}"
        ) from exc
    if not isinstance(leaf_key, ec.EllipticCurvePublicKey) or leaf_key.public_numbers() != (
        ec_public_key(jwk).public_numbers()
    ):
        raise IssuerKeysInvalid("x5c leaf certificate does not hold the JWK's key")
    for child, parent in zip(certs, certs[1:], strict=False):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
            raise IssuerKeysInvalid("x5c chain is broken") from exc
    try:
        san = certs[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise IssuerKeysInvalid("x5c leaf certificate has no subject alternative name") from exc
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    if not uris:
        raise IssuerKeysInvalid("x5c leaf certificate names no issuer URI")
    if expected_san is not None and expected_san not in uris:
        raise IssuerKeysInvalid(f"x5c leaf certificate is for {uris[0]}, not {expected_san}")


def validate_keyset(
    keyset: Mapping[str, Any], *, iss: str | None, expected_san: str | None = None
) -> list[dict[str, Any]]:
    """The key set's keys when every key is a valid SHC signing key.

    Each key: ``kty`` EC, ``crv`` P-256, ``alg`` ES256, ``use`` sig, no private
    part, ``kid`` = RFC 7638 thumbprint, ``crlVersion`` (when present) a non-negative
    JSON integer; an ``x5c`` chain (base64 strings) must hold the key, chain correctly
    and name ``expected_san`` (default ``iss``) as URI SAN.

    :raises IssuerKeysInvalid: the first problem found (the whole set is refused).
    """
    keys = keyset.get("keys")
    if not isinstance(keys, list) or not keys:
        raise IssuerKeysInvalid("key set has no keys")
    out: list[dict[str, Any]] = []
    for jwk in keys:
        if not isinstance(jwk, dict):
            raise IssuerKeysInvalid("a key is not a JSON object")
        kid = jwk.get("kid")
        if jwk.get("kty") != "EC":
            raise IssuerKeysInvalid(f"key {kid}: kty must be EC")
        if "d" in jwk:
            raise IssuerKeysInvalid(f"key {kid}: a private key is published")
        if jwk.get("crv") != "P-256":
            raise IssuerKeysInvalid(f"key {kid}: crv must be P-256")
        if jwk.get("alg") != "ES256":
            raise IssuerKeysInvalid(f"key {kid}: alg must be ES256")
        if jwk.get("use") != "sig":
            raise IssuerKeysInvalid(f"key {kid}: use must be sig")
        ec_public_key(jwk)
        if kid != jwk_thumbprint(jwk):
            raise IssuerKeysInvalid(f"key {kid}: kid is not the key's RFC 7638 thumbprint")
        version = jwk.get("crlVersion", 0)
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise IssuerKeysInvalid(f"key {kid}: crlVersion is not a non-negative JSON integer")
        if "x5c" in jwk:
            _check_x5c(jwk, expected_san if expected_san is not None else iss)
        out.append(jwk)
    return out


def crl_kid(data: bytes) -> str | None:
    """The ``kid`` a CRL names, if it can be read at all."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    kid = doc.get("kid") if isinstance(doc, dict) else None
    return kid if isinstance(kid, str) else None


def parse_crl(data: bytes, *, keys: Iterable[Mapping[str, Any]] = ()) -> tuple[str, set[str]]:
    """A SHC revocation list → ``(kid, entries)`` (``rid`` or ``rid.timestamp``).

    :param keys: known JWKs; the CRL's ``ctr`` must equal its key's ``crlVersion``.
    :raises RevocationListInvalid: bad JSON, method other than ``rid``, a rid that is not
        base64url of at most 24 characters, a rid listed twice, or a version mismatch.
    """
    kid = crl_kid(data)
    if kid is None:
        raise RevocationListInvalid("CRL is not JSON with a kid")
    doc = json.loads(data.decode("utf-8"))
    if doc.get("method") != "rid":
        raise RevocationListInvalid(f"CRL method {doc.get('method')!r} is not rid")
    rids = doc.get("rids")
    if not isinstance(rids, list):
        raise RevocationListInvalid("CRL has no rids array")
    seen: set[str] = set()
    for entry in rids:
        if not isinstance(entry, str):
            raise RevocationListInvalid("CRL entry is not a string")
        rid, _, stamp = entry.partition(".")
        if not _RID.match(rid) or (stamp and not stamp.isdigit()):
            raise RevocationListInvalid(f"CRL entry {entry[:40]!r} is not rid[.timestamp]")
        if rid in seen:
            raise RevocationListInvalid(f"CRL lists rid {rid} twice")
        seen.add(rid)
    ctr = doc.get("ctr")
    for jwk in keys:
        if jwk.get("kid") == kid and "crlVersion" in jwk and jwk.get("crlVersion") != ctr:
            raise RevocationListInvalid(
                f"CRL version {ctr} differs from the key's crlVersion {jwk.get('crlVersion')}"
            )
    return kid, set(rids)


# --- decoding stages ----------------------------------------------------------------
def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity, -Infinity: json.loads' extension


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise ValueError("a member name given twice")  # last-wins: readers would disagree
    return doc


def strict_json(text: str) -> Any:
    """RFC 8259 JSON only: no ``NaN``/``Infinity``, no member name twice in an object.

    :raises ValueError: anything else (``RecursionError`` for absurd nesting).
    """
    return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_pairs)


def _finite(value: Any) -> bool:
    """A JSON number usable as a time: int or float (never bool), finite as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # 1 followed by 400 zeros
        return False


#: Most chunk digits read for ``i``/``n`` of ``shc:/i/n/…`` (MAX_CHUNKS has 2).
_CHUNK_NUMBER_DIGITS = 4


def join_chunks(texts: Sequence[str], report: VerificationReport) -> list[str]:
    """``shc:/`` texts → numeric bodies in chunk order (warnings go to ``report``).

    :raises PrefixInvalid: a text without the ``shc:/`` scheme.
    :raises ChunksInvalid: chunks duplicated, missing, out of range, or mixed with whole cards.
    """
    if not texts:
        raise PrefixInvalid("no input")
    if len(texts) > MAX_CHUNKS:
        raise ChunksInvalid(f"more than {MAX_CHUNKS} chunks")
    parsed: list[tuple[int, int, str]] = []
    for text in texts:
        chunked = _CHUNKED.match(text)
        if chunked:
            if max(len(chunked[1]), len(chunked[2])) > _CHUNK_NUMBER_DIGITS:
                raise ChunksInvalid("chunk number out of range")
            index, count = int(chunked[1]), int(chunked[2])
            if not 1 <= index <= count:  # shc:/0/1/…, shc:/7/1/…, shc:/0/0/…
                raise ChunksInvalid("chunk index out of range")
            parsed.append((index, count, chunked[3]))
            continue
        single = _SINGLE.match(text)
        if not single:
            raise PrefixInvalid("not an shc:/ text")
        parsed.append((0, 0, single[1]))
    if len(parsed) == 1 and parsed[0][:2] == (0, 0):
        return [parsed[0][2]]
    if any(total == 0 for _, total, _ in parsed):
        raise ChunksInvalid("a whole card mixed with chunks")
    totals = {total for _, total, _ in parsed}
    if len(totals) != 1:
        raise ChunksInvalid("chunks disagree on the number of chunks")
    total = totals.pop()
    if total == 1 and len(parsed) == 1:
        report.warn("chunk-header-single")  # shc:/1/1/… — legal but unusual
        return [parsed[0][2]]
    need = -(-sum(len(body) // 2 for _, _, body in parsed) // MAX_CHUNK_JWS)
    if total > max(need, 1):
        raise ChunksInvalid(f"{total} chunks where {need} hold the card (chunks too small)")
    indexes = [index for index, _, _ in parsed]
    if any(not 1 <= i <= total for i in indexes) or total > MAX_CHUNKS:
        raise ChunksInvalid("chunk index out of range")
    if len(set(indexes)) != len(indexes):
        raise ChunksInvalid("chunk given twice")
    if len(indexes) != total:
        raise ChunksInvalid(f"{total - len(indexes)} of {total} chunks missing")
    report.warn("qr-chunking-deprecated")
    return [body for _, _, body in sorted(parsed)]


def split_jws(jws: str) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """Compact JWS → (header, payload bytes, signature bytes, signing input).

    :raises JwsInvalid: not three base64url parts, or a header that is not ES256 + DEF + kid.
    """
    parts = jws.split(".")
    if len(parts) != 3:
        raise JwsInvalid("a compact JWS has three parts")
    head_b, body_b, sig_b = (b64url_decode(p) for p in parts)
    try:
        header = strict_json(head_b.decode("utf-8"))  # {"alg": "none", "alg": "ES256"}: refused
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise JwsInvalid("JWS header is not JSON (or names a member twice)") from exc
    if not isinstance(header, dict):
        raise JwsInvalid("JWS header is not an object")
    if header.get("alg") != "ES256":
        raise JwsInvalid(f"JWS alg {header.get('alg')!r} is not ES256")
    if header.get("zip") != "DEF":
        raise JwsInvalid("JWS header lacks zip: DEF")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise JwsInvalid("JWS header has no kid")
    return header, body_b, sig_b, f"{parts[0]}.{parts[1]}".encode("ascii")


def parse_payload(data: bytes, *, allow_loopback_http: bool = False) -> dict[str, Any]:
    """Inflated JWS payload → JSON object with a usable ``iss``, ``nbf`` and ``vc``.

    :param allow_loopback_http: also accept an ``http://`` ``iss`` on a loopback host
        (``127.x.x.x``, ``localhost``, ``[::1]``): a development deployment on this very
        machine (``HEALTHCODE_PUBLIC_URL`` default). The caller reports it as a warning;
        no verifier fetches keys from there, they come from a trust list or a key-set file.
    :raises PayloadInvalid: not UTF-8 JSON (a BOM or other leading/trailing characters
        included), or ``iss``/``nbf``/``vc`` missing or of the wrong type.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadInvalid("payload is not UTF-8") from exc
    if text != text.strip() or text.startswith("\ufeff"):
        raise PayloadInvalid("characters before or after the payload JSON")
    try:
        doc = strict_json(text)
    except (ValueError, RecursionError) as exc:
        raise PayloadInvalid("payload is not JSON (NaN, a member twice …)") from exc
    if not isinstance(doc, dict):
        raise PayloadInvalid("payload is not a JSON object")
    iss = doc.get("iss")
    if not isinstance(iss, str) or not iss:
        raise PayloadInvalid("payload has no iss")
    secure = iss.startswith("https://") or (allow_loopback_http and _LOOPBACK_HTTP.match(iss))
    if not secure or iss.endswith("/"):
        raise PayloadInvalid("iss must be an https URL without a trailing slash")
    if not _finite(doc.get("nbf")):
        raise PayloadInvalid("payload has no numeric nbf (a finite number)")
    exp = doc.get("exp")
    if exp is not None and not _finite(exp):
        raise PayloadInvalid("exp is not a finite number")
    vc = doc.get("vc")
    if not isinstance(vc, dict) or not isinstance(vc.get("credentialSubject"), dict):
        raise PayloadInvalid("payload has no vc.credentialSubject")
    types = vc.get("type")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise PayloadInvalid("vc.type is not an array of strings")
    if HEALTH_CARD not in types:
        raise PayloadInvalid(f"vc.type lacks {HEALTH_CARD}")
    return doc


def verify_es256(jws: str, signature: bytes, jwk: Mapping[str, Any]) -> None:
    """ES256 signature of a compact JWS with a JWK (jwcrypto); raw ``r || s`` only.

    :raises SignatureInvalid: a DER or wrong-length signature, or one that does not verify.
    """
    from jwcrypto import jwk as jose_jwk
    from jwcrypto import jws as jose_jws
    from jwcrypto.common import JWException

    if len(signature) != 64:
        raise SignatureInvalid("ES256 signature must be 64 bytes r||s (not DER)")
    try:
        key = jose_jwk.JWK(**{k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")})
        token = jose_jws.JWS()
        token.deserialize(jws)
        token.verify(key, alg="ES256")
    except (JWException, ValueError, TypeError) as exc:
        raise SignatureInvalid("signature does not verify") from exc


def _is_empty(value: Any) -> bool:
    return value in ("", [], {}) or value is None


def check_fhir(subject: Mapping[str, Any], report: VerificationReport) -> None:
    """The FHIR bundle's shape: errors raise, data-minimisation slips are warnings.

    :raises FhirInvalid: no Bundle of type collection, entries without ``resource:N``
        URLs or resources, empty values, wrong ``meta.security``, or an Immunization
        not ``completed``.
    """
    bundle = subject.get("fhirBundle")
    if not isinstance(subject.get("fhirVersion"), str):
        report.warn("fhir-version-missing")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirInvalid("credentialSubject.fhirBundle is not a Bundle")
    if bundle.get("type") != "collection":
        raise FhirInvalid("bundle type is not collection")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise FhirInvalid("bundle has no entries")

    def walk(value: Any, depth: int = 0) -> None:
        if depth > 40:
            raise FhirInvalid("bundle nested too deeply")
        if isinstance(value, dict):
            for item in value.values():
                if _is_empty(item):
                    raise FhirInvalid("FHIR forbids empty values")
                walk(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                if _is_empty(item):
                    raise FhirInvalid("FHIR forbids empty values")
                walk(item, depth + 1)

    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise FhirInvalid(f"entry {i} is not an object")
        if not re.fullmatch(r"resource:\d+", str(entry.get("fullUrl", ""))):
            raise FhirInvalid(f"entry {i}: fullUrl must be resource:N")
        resource = entry.get("resource")
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise FhirInvalid(f"entry {i} has no resource")
        walk(resource)
        if "id" in resource or "text" in resource:
            report.warn("fhir-not-minimised")
        meta = resource.get("meta")
        if meta is not None:
            if not isinstance(meta, dict):
                raise FhirInvalid(f"entry {i}: meta is not an object")
            if set(meta) - {"security"}:
                report.warn("fhir-meta-not-minimised")
            for label in meta.get("security") or []:
                if (
                    not isinstance(label, dict)
                    or set(label) - {"system", "code", "display", "version"}
                    or label.get("system", IAL_SYSTEM) != IAL_SYSTEM
                    or label.get("code") not in IAL_CODES
                ):
                    raise FhirInvalid(f"entry {i}: meta.security is not an SHC IAL label")
        if resource.get("resourceType") == "Immunization" and resource.get("status") != "completed":
            raise FhirInvalid(f"entry {i}: Immunization status is not completed")


def _holder(subject: Mapping[str, Any]) -> dict[str, Any]:
    bundle = subject.get("fhirBundle")
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            names = resource.get("name")
            name = (
                names[0] if isinstance(names, list) and names and isinstance(names[0], dict) else {}
            )
            givens = name.get("given")
            given = (
                " ".join(g for g in givens if isinstance(g, str)) or None
                if isinstance(givens, list)
                else None
            )
            family = name.get("family") if isinstance(name.get("family"), str) else None
            birth = resource.get("birthDate")
            return {
                "name": " ".join(p for p in (given, family) if p) or None,
                "family_name": family,
                "given_name": given,
                "birth_date": birth if isinstance(birth, str) else None,
            }
    return {}


def _coding(concept: Any) -> dict[str, str]:
    """``system``, ``code`` and ``display`` of a CodeableConcept's first coding (and its
    ``text``), strings only."""
    out: dict[str, str] = {}
    if not isinstance(concept, dict):
        return out
    codings = concept.get("coding")
    first = codings[0] if isinstance(codings, list) and codings else None
    if isinstance(first, dict):
        for key in ("system", "code", "display"):
            if isinstance(first.get(key), str):
                out[key] = first[key]
    if isinstance(concept.get("text"), str):
        out["text"] = concept["text"]
    return out


def _performer(resource: Mapping[str, Any]) -> str | None:
    performers = resource.get("performer")
    first = performers[0] if isinstance(performers, list) and performers else None
    if not isinstance(first, dict):
        return None
    actor = first.get("actor")
    display = (actor if isinstance(actor, dict) else first).get("display")
    return display if isinstance(display, str) else None


#: Most records a report lists (a card holds a few; a hostile one may hold many).
MAX_RECORDS = 20


def describe_bundle(subject: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The card's immunizations and lab results, for display (never raises).

    Each record is ``{"type": "immunization", "vaccine": coding, "date", "lot",
    "performer"}`` or ``{"type": "observation", "test": coding, "result": coding,
    "value", "date", "performer"}``, where a coding is ``{"system", "code",
    "display", "text"}`` (whatever the card has; a verifier names known codes itself)
    and ``value`` is a ``valueString``; members the card lacks are left out. At most
    :data:`MAX_RECORDS`, in bundle order.
    """
    bundle = subject.get("fhirBundle")
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    out: list[dict[str, Any]] = []
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        record: dict[str, Any]
        if kind == "Immunization":
            record = {"type": "immunization", "vaccine": _coding(resource.get("vaccineCode"))}
            date, lot = resource.get("occurrenceDateTime"), resource.get("lotNumber")
            if isinstance(lot, str):
                record["lot"] = lot
        elif kind == "Observation":
            record = {"type": "observation", "test": _coding(resource.get("code"))}
            result = _coding(resource.get("valueCodeableConcept"))
            if result:
                record["result"] = result
            if isinstance(resource.get("valueString"), str):
                record["value"] = resource["valueString"]
            date = resource.get("effectiveDateTime")
        else:
            continue
        if isinstance(date, str):
            record["date"] = date
        performer = _performer(resource)
        if performer:
            record["performer"] = performer
        out.append(record)
        if len(out) >= MAX_RECORDS:
            break
    return out


def _card_type(types: Sequence[Any]) -> str:
    if "https://smarthealth.cards#immunization" in types:
        return "vaccination"
    if "https://smarthealth.cards#laboratory" in types:
        return "test"
    return "health-card"


def _seconds(value: float, name: str, report: VerificationReport) -> float:
    if value > MS_THRESHOLD:
        report.warn(f"{name}-milliseconds")
        return value / 1000
    return value


def _instant(seconds: float) -> str | None:
    """ISO 8601 UTC of epoch seconds (None when out of range), for the report's plain words."""
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _revocation(trust: TrustStore, kid: str, payload: Mapping[str, Any], nbf: float) -> bool | None:
    """None: no list for this key; True: not revoked. Raises when revoked or list unusable."""
    entries = trust.revoked_shc.get(kid)
    if entries is None:
        return None
    bad = [e for e in entries if e.startswith(CRL_INVALID)]
    if bad:
        raise RevocationListInvalid(bad[0][len(CRL_INVALID) :])
    rid = payload.get("vc", {}).get("rid")
    if not isinstance(rid, str):
        return True
    for entry in entries:
        listed, _, stamp = entry.partition(".")
        if listed == rid and (not stamp or nbf < int(stamp)):
            raise Revoked(f"rid {rid} is revoked")
    return True


# --- the verifier ---------------------------------------------------------------------
def verify_into(
    texts: Sequence[str],
    *,
    trust: TrustStore,
    at: datetime,
    options: VerifyOptions | None = None,
) -> VerificationReport:
    """Verify one SMART Health Card: ``shc:/`` text(s) (chunks in any order) or a bare JWS.

    :param texts: the QR texts of one card, or one compact JWS.
    :param trust: issuer key sets by ``iss`` (``trust.shc``), refused sets
        (``trust.shc_errors``) and CRL entries by kid (``trust.revoked_shc``).
    :param at: the validation clock, aware.
    :returns: a :class:`VerificationReport` with format ``shc`` (never raises for bad input).
    """
    del options  # no SHC options yet
    report = VerificationReport.start("shc", STAGES)
    if at.tzinfo is None:
        raise ValueError("the validation clock must be timezone-aware")
    now = at.astimezone(UTC).timestamp()
    texts = [t.rstrip("\r\n") for t in texts]
    first = texts[0] if texts else ""

    if first[:5].lower() == "shc:/":
        bodies = report.run("prefix", lambda: join_chunks(texts, report))
        if bodies is None:
            return report

        def numeric() -> str:
            parts = [numeric_to_jws(b) for b in bodies]
            if len(parts) > 1 and any(len(p) > MAX_CHUNK_JWS for p in parts):
                raise NumericInvalid(f"a chunk holds more than {MAX_CHUNK_JWS} JWS characters")
            return "".join(parts)

        jws_text = report.run("numeric", numeric)
        if jws_text is None:
            return report
    elif len(texts) == 1:
        jws_text = first
    else:
        report.fail("prefix", PrefixInvalid.code)
        return report

    if len(jws_text) > MAX_SINGLE_JWS:
        report.warn("jws-too-long")
    split = report.run("jws", lambda: split_jws(jws_text))
    if split is None:
        return report
    header, body, signature, _signing_input = split
    kid = str(header["kid"])
    report.details["kid"] = kid

    inflated = report.run("compression", lambda: inflate(body))
    if inflated is None:
        return report
    payload = report.run(
        "payload", lambda: parse_payload(inflated, allow_loopback_http=not trust.production)
    )
    if payload is None:
        return report
    iss = str(payload["iss"])
    if not iss.startswith("https://"):
        report.warn("iss-not-https")  # a loopback development issuer (never in production)
    report.details["iss"] = iss
    vc = payload["vc"]
    if isinstance(vc.get("rid"), str):
        report.details["rid"] = vc["rid"]  # the card's revocation identifier
    types = vc.get("type") or []
    unknown = [t for t in types if t not in KNOWN_VC_TYPES]
    if unknown:
        report.warn("vc-type-unknown")
        report.details["unknown_vc_types"] = unknown
    report.type = _card_type(types)
    subject = vc["credentialSubject"]
    report.holder = _holder(subject)
    records = describe_bundle(subject)
    if records:
        report.details["records"] = records
    report.claims = {"iss": iss, "nbf": payload.get("nbf"), "exp": payload.get("exp")}

    # signer: only the key set of this iss, then the key with the header's kid
    def signer() -> dict[str, Any]:
        if iss in trust.shc_errors:
            raise IssuerKeysInvalid(f"the key set of {iss} was refused: {trust.shc_errors[iss]}")
        keys = trust.shc.get(iss)
        if not keys:
            raise UnknownIssuer(f"no trusted key set for {iss}")
        for jwk in keys:
            if jwk.get("kid") == kid:
                return jwk
        raise UnknownSigner(f"{iss} has no key {kid}")

    jwk = report.run("signer", signer)
    if jwk is not None:
        report.run("signature", lambda: verify_es256(jws_text, signature, jwk))
        if report.stages["signature"] and kid in trust.demo_shc:
            report.warn("demo")  # signed by one of our DEMO e-certificate keys

    nbf = _seconds(float(payload["nbf"]), "nbf", report)
    exp_raw = payload.get("exp")
    exp = _seconds(float(exp_raw), "exp", report) if exp_raw is not None else None
    if exp is not None:
        report.details["expires_at"] = _instant(exp)  # shown for a valid card: "valid until"

    def expiry() -> None:
        if now < nbf:
            report.details["valid_from"] = _instant(nbf)  # shown: "valid from …"
            raise NotYetValid("nbf is after the validation clock — check the device clock")
        if exp is not None and now >= exp:
            report.details["valid_until"] = _instant(exp)  # shown: "validity ended on …"
            raise Expired("exp has passed")

    report.run("expiry", expiry)
    report.run("fhir", lambda: check_fhir(subject, report))

    def revocation() -> bool | None:
        return _revocation(trust, kid, payload, nbf)

    outcome = report.run("revocation", revocation)
    if outcome is None and report.stages["revocation"] is True:
        report.stages["revocation"] = None
        if jwk is not None and "crlVersion" in jwk:
            # the issuer revokes cards of this key, but no list of it was loaded
            report.warn("revocation-not-checked")
    return report


def texts_from_file(data: bytes, *, name: str = "") -> tuple[list[str], list[str]]:
    """A ``.smart-health-card`` file → (JWS texts, warnings), strictly.

    The file is ``{"verifiableCredential": ["<JWS>", …]}``; nothing may come before or
    after the JSON (no BOM, no whitespace), as the SHC validator requires.

    :raises PayloadInvalid: not such a file.
    """
    warnings: list[str] = []
    if name and not name.endswith(".smart-health-card"):
        warnings.append("file-extension-unexpected")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadInvalid("file is not UTF-8") from exc
    if text != text.strip() or text.startswith("\ufeff"):
        raise PayloadInvalid("characters before or after the file's JSON")
    try:
        doc = strict_json(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: [[[[…]]]]
        raise PayloadInvalid("file is not JSON") from exc
    vcs = doc.get("verifiableCredential") if isinstance(doc, dict) else None
    if isinstance(vcs, list) and len(vcs) > MAX_FILE_CARDS:
        raise PayloadTooLarge(f"file holds {len(vcs)} cards, more than {MAX_FILE_CARDS}")
    if not isinstance(vcs, list) or not vcs or not all(isinstance(v, str) for v in vcs):
        raise PayloadInvalid("file has no verifiableCredential array of JWS texts")
    return list(vcs), warnings


def verify_file(
    data: bytes, *, name: str = "", trust: TrustStore, at: datetime
) -> list[VerificationReport]:
    """Verify every card of a ``.smart-health-card`` file (one report per JWS).

    A file that cannot be read gives one report whose ``prefix`` stage failed.
    """
    try:
        jws_texts, warnings = texts_from_file(data, name=name)
    except CredentialError as exc:
        report = VerificationReport.start("shc", STAGES)
        report.fail("prefix", exc.code)
        return [report]
    reports = []
    for jws in jws_texts:
        report = verify_into([jws], trust=trust, at=at)
        for code in warnings:
            report.warn(code)
        reports.append(report)
    return reports


def texts_from_parameters(data: bytes) -> list[str]:
    """JWS texts of a FHIR ``$health-cards-issue`` response (a ``Parameters`` resource).

    :raises PayloadInvalid: not a Parameters resource with ``verifiableCredential`` values.
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadInvalid("not JSON") from exc
    if not isinstance(doc, dict) or doc.get("resourceType") != "Parameters":
        raise PayloadInvalid("not a FHIR Parameters resource")
    texts = [
        p["valueString"]
        for p in doc.get("parameter") or []
        if isinstance(p, dict)
        and p.get("name") == "verifiableCredential"
        and isinstance(p.get("valueString"), str)
    ]
    if not texts:
        raise PayloadInvalid("no verifiableCredential parameter")
    return texts


def check_qr_symbols(images: Sequence[bytes]) -> None:
    """Refuse QR symbols above version 22 (the SHC limit) in already-decoded card images.

    Call after :func:`healthcode.credentials.qr.decode_image` accepted the images
    (it bounds their size); symbols whose version cannot be read pass.

    :raises PictureUnreadable: a symbol above version :data:`MAX_QR_VERSION`.
    """
    import io

    import zxingcpp
    from PIL import Image

    from healthcode.credentials.errors import PictureUnreadable

    for data in images:
        with Image.open(io.BytesIO(data)) as image:
            symbols = zxingcpp.read_barcodes(
                image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            )
        for symbol in symbols:
            extra: Any = symbol.extra
            version = str(extra.get("Version", "")) if isinstance(extra, dict) else ""
            if version.isdigit() and int(version) > MAX_QR_VERSION:
                raise PictureUnreadable(f"QR version {version} is above {MAX_QR_VERSION}")
