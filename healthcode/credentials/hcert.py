"""EU Digital COVID Certificate / WHO GDHCN ``HC1:`` verification.

Chain (one report stage each; see :mod:`healthcode.credentials.pipeline`)::

    prefix "HC1:" → base45 (strict) → compression (zlib, bounded, nothing after the stream)
    → cose (COSE_Sign1: untagged, tag 18, or tag 61 around 18)
    → signer (kid → trusted DSC; certificate not expired at the clock)
    → signature (ES256 / ES384 / PS256 / EdDSA over the received bytes)
    → cbor (CWT claims: iss, iat, exp, hcert -260 → 1 → payload)
    → expiry (iat ≤ clock ≤ exp, as the EU suite expects) → schema (soft: deviations are warnings)
    → key_usage (DSC extended key usage vs certificate type) → revocation → rules

The decoding stages stop what depends on them; once the COSE structure and the
CWT decode, ``signer``/``signature``, ``expiry``, ``schema``, ``key_usage``,
``revocation`` and ``rules`` each run and report whatever the others gave.

Everything here is pure: trust, the validation clock, JSON schemas, value sets
and business rules are parameters (load them with :mod:`.trustload` and
:mod:`.valuesets`).
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import functools
import hashlib
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import cbor2
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as CryptoUnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization

from healthcode.credentials import cose
from healthcode.credentials.base45 import b45decode, b45encode
from healthcode.credentials.errors import (
    CborInvalid,
    ClaimsInvalid,
    CredentialError,
    DecompressionFailed,
    Expired,
    KeyUsageMismatch,
    NotYetValid,
    PayloadTooLarge,
    PrefixInvalid,
    Revoked,
    SignatureInvalid,
    SignerCertificateExpired,
    UnknownSigner,
    UnsupportedAlgorithm,
)
from healthcode.credentials.pipeline import VerifyOptions
from healthcode.credentials.report import VerificationReport
from healthcode.credentials.trust import TrustStore

PREFIX = "HC1:"
STAGES = (
    "picture",
    "prefix",
    "base45",
    "compression",
    "cose",
    "signer",
    "signature",
    "cbor",
    "expiry",
    "schema",
    "key_usage",
    "revocation",
    "rules",
)
SOFT_STAGES = frozenset({"schema"})

#: Largest decompressed COSE accepted, in bytes (a full QR holds < 3 KiB compressed).
MAX_COSE_BYTES = 64 * 1024
#: Deepest CBOR nesting accepted in the CWT payload.
MAX_CBOR_DEPTH = 32
#: Entries per group (``v``, ``t``, ``r``) of a DCC payload. The eu-dcc-schema (1.3.x,
#: ``DCC.combined-schema.json``) gives each group ``"maxItems": 1``; a few more are a
#: schema deviation (a warning), but hundreds only cost schema-validation time (~0.3 ms
#: each) whether or not the signature is trusted: beyond this the payload is refused.
MAX_ENTRIES = 10

CWT_ISS = 1
CWT_EXP = 4
CWT_IAT = 6
CWT_HCERT = -260
HCERT_EU_DCC = 1

#: Extended key usage OIDs restricting a DSC to certificate types. Both spellings
#: occur in production (the ``.0.`` one from an early version of the specification).
EKU_TYPES: dict[str, str] = {
    "1.3.6.1.4.1.1847.2021.1.1": "t",
    "1.3.6.1.4.1.1847.2021.1.2": "v",
    "1.3.6.1.4.1.1847.2021.1.3": "r",
    "1.3.6.1.4.1.0.1847.2021.1.1": "t",
    "1.3.6.1.4.1.0.1847.2021.1.2": "v",
    "1.3.6.1.4.1.0.1847.2021.1.3": "r",
}
TYPE_NAMES = {"v": "vaccination", "t": "test", "r": "recovery"}

_CONTEXT_PREFIX = re.compile(r"^[A-Z]{2}\d+:")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


# --- small pure helpers ----------------------------------------------------------
def certificate_kid(cert: x509.Certificate) -> bytes:
    """DCC key identifier: the first 8 bytes of SHA-256 over the certificate's DER."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()[:8]


def unprefix(text: str, *, lenient: bool = False) -> tuple[str, bool]:
    """Strip ``HC1:``; return ``(base45_text, had_prefix)``.

    :param lenient: accept text with no context prefix at all (never another prefix).
    :raises PrefixInvalid: another context prefix (``HC2:`` …) or none while strict.
    """
    if text.startswith(PREFIX):
        return text[len(PREFIX) :], True
    if _CONTEXT_PREFIX.match(text):
        raise PrefixInvalid(f"unsupported context prefix {text.split(':', 1)[0]!r}")
    if lenient:
        return text, False
    raise PrefixInvalid("no HC1: context prefix")


def decompress(data: bytes, *, limit: int = MAX_COSE_BYTES) -> bytes:
    """zlib-inflate ``data`` completely, refusing output over ``limit`` bytes.

    :raises DecompressionFailed: not zlib, truncated, too large, or data after the stream.
    """
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise DecompressionFailed(f"not a zlib stream: {exc}") from exc
    if inflater.unconsumed_tail:
        raise DecompressionFailed(f"decompressed data exceeds {limit} bytes")
    if not inflater.eof:
        raise DecompressionFailed("zlib stream is truncated")
    if inflater.unused_data:
        raise DecompressionFailed("data after the zlib stream")
    return out


_SCALARS = (str, int, float, bool, type(None))
_DEFAULT_OPTIONS = VerifyOptions()


def _plain(value: Any, depth: int = 0) -> bool:
    """True when ``value`` is already JSON data (str keys, lists, scalars): no copy needed."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth > MAX_CBOR_DEPTH:
        return False
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str or (type(v) not in _SCALARS and not _plain(v, depth + 1)):
                return False
        return True
    if kind is list:
        for v in value:
            if type(v) not in _SCALARS and not _plain(v, depth + 1):
                return False
        return True
    return False


def to_json(value: Any, *, _depth: int = 0) -> Any:
    """CBOR-decoded value → JSON-compatible value (tuples→lists, dates→ISO text …)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if _depth > MAX_CBOR_DEPTH + 2:
        raise CborInvalid("CBOR nested too deeply")
    if kind is dict or isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            out[k if type(k) is str else str(k)] = (
                v if type(v) in _SCALARS else to_json(v, _depth=_depth + 1)
            )
        return out
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else to_json(v, _depth=_depth + 1) for v in value]
    if isinstance(value, str | int | float):  # subclasses (IntEnum …)
        return value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, cbor2.CBORTag):
        return to_json(value.value, _depth=_depth + 1)
    return str(value)


@functools.lru_cache(maxsize=4096)
def _cert_facts(
    cert: x509.Certificate,
) -> tuple[Any, str, datetime, datetime, set[str] | None, bool, float]:
    """Per-certificate values a verification reads (public key, subject, validity, EKU,
    whether the key is of a supported type, start of validity as epoch seconds), cached."""
    try:
        key: Any = cert.public_key()
    except (ValueError, CryptoUnsupportedAlgorithm):  # a key type the library cannot load
        key = None
    return (
        key,
        cert.subject.rfc4514_string(),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        allowed_types(cert),
        isinstance(key, cose.PublicKey),
        cert.not_valid_before_utc.timestamp(),
    )


def decode_cbor(data: bytes) -> Any:
    """One CBOR item, nothing after it, bounded depth.

    :raises CborInvalid: anything else.
    """
    try:
        return cose.decode_strict(data, max_depth=MAX_CBOR_DEPTH)  # no duplicate map keys
    except Exception as exc:  # cbor2 raises many types on hostile input
        raise CborInvalid(f"not one CBOR item: {exc}") from exc


class Cwt(NamedTuple):
    """Decoded CWT claims of an HCERT (immutable; a named tuple: cheap to make per scan).

    :ivar payload: the EU DCC payload (``hcert`` -260 → 1) as JSON-compatible data.
    :ivar raw_payload: the same payload as decoded from CBOR (for structural comparison).
    """

    iss: str | None
    iat: float | None
    exp: float | None
    payload: dict[str, Any]
    raw_payload: Any
    extra_claims: tuple[Any, ...] = ()


def decode_cwt(data: bytes) -> Cwt:
    """CWT claims bytes → :class:`Cwt`.

    :raises CborInvalid: not a CBOR map, no hcert claim, or a payload that is not a map.
    """
    claims = decode_cbor(data)
    # exact type checks first (cbor2 gives dict); other mappings take the ABC check
    if type(claims) is not dict and not isinstance(claims, Mapping):
        raise CborInvalid("CWT claims are not a map")
    hcert = claims.get(CWT_HCERT)
    if type(hcert) is not dict and not isinstance(hcert, Mapping):
        raise CborInvalid("no hcert claim (-260)")
    raw = hcert.get(HCERT_EU_DCC)
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise CborInvalid("hcert claim holds no EU DCC payload (-260 → 1)")
    payload: dict[str, Any] = raw if _plain(raw) else to_json(raw)  # type: ignore[assignment]
    iss = claims.get(CWT_ISS)
    return Cwt(
        iss=iss if type(iss) is str or isinstance(iss, str) else None,
        iat=_number(claims.get(CWT_IAT)),
        exp=_number(claims.get(CWT_EXP)),
        payload=payload,
        raw_payload=raw,
        extra_claims=tuple(k for k in claims if k not in _CWT_KNOWN),
    )


_CWT_KNOWN = frozenset({CWT_ISS, CWT_EXP, CWT_IAT, CWT_HCERT})


def _number(value: Any) -> float | None:
    """A CWT time claim (NumericDate): an int or a finite float (never a bool, NaN or an
    infinity), else None — which the ``expiry`` stage reports as ``claims-invalid``."""
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def certificate_types(payload: Mapping[str, Any]) -> list[str]:
    """Group keys present in a payload (``v``/``t``/``r``), ignoring ``null`` and empty groups."""
    return [k for k in ("v", "t", "r") if payload.get(k)]


def allowed_types(cert: x509.Certificate) -> set[str] | None:
    """Certificate types the DSC may sign, from its extended key usage.

    ``None`` (all types) when the certificate has no EKU extension or an empty one.
    When it lists key purposes, only the DCC type OIDs among them count: a DSC
    whose EKU names other purposes only (e.g. ``clientAuth``) may sign no type —
    the reading of the EU reference test suite (``IS/3``, ``CO7``–``CO15``).
    """
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        oids: list[str] | None = [oid.dotted_string for oid in eku]
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # cryptography refuses e.g. an empty EKU SEQUENCE (common/CO15)
        oids = _eku_from_der(cert.tbs_certificate_bytes)
        if oids is None:
            return set()  # present but unreadable: allow nothing
    if not oids:
        return None
    return {EKU_TYPES[oid] for oid in oids if oid in EKU_TYPES}


_EKU_OID_DER = b"\x06\x03\x55\x1d\x25"  # OID 2.5.29.37 (extKeyUsage)


def _der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER item at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("DER item runs past the end")
    return tag, start, end


def _oid_text(body: bytes) -> str:
    if not body:
        raise ValueError("empty OID")
    parts = [min(body[0] // 40, 2), body[0] - 40 * min(body[0] // 40, 2)]
    value = 0
    for byte in body[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _eku_from_der(tbs: bytes) -> list[str] | None:
    """EKU purpose OIDs read straight from the TBS DER (None when absent or unreadable)."""
    at = tbs.find(_EKU_OID_DER)
    if at < 0:
        return None
    try:
        pos = at + len(_EKU_OID_DER)
        tag, start, end = _der_item(tbs, pos)
        if tag == 0x01:  # critical flag
            tag, start, end = _der_item(tbs, end)
        if tag != 0x04:
            return None
        tag, seq_start, seq_end = _der_item(tbs, start)
        if tag != 0x30:
            return None
        oids = []
        pos = seq_start
        while pos < seq_end:
            tag, start, end = _der_item(tbs, pos)
            if tag != 0x06:
                return None
            oids.append(_oid_text(tbs[start:end]))
            pos = end
        return oids
    except (ValueError, IndexError):
        return None


def check_key_usage(cert: x509.Certificate, types: Sequence[str]) -> None:
    """Does the DSC's EKU allow every certificate type in ``types`` (``v``/``t``/``r``)?

    :raises KeyUsageMismatch: it does not (or the payload has no type).
    """
    _check_allowed(_cert_facts(cert)[4], types)


def _check_allowed(allowed: set[str] | None, types: Sequence[str]) -> None:
    if allowed is None:
        return
    if not types or not set(types) <= allowed:
        names = ", ".join(TYPE_NAMES[t] for t in sorted(allowed)) or "no"
        raise KeyUsageMismatch(f"signer may sign {names} certificates only")


def normalise_date(text: Any) -> tuple[str | None, str | None]:
    """Birth date as issued → ``(display_value, deviation_code)``.

    Accepts ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, a date-time (date part kept),
    ``XX`` placeholders (kept as partial dates) and the empty string.
    """
    if text is None or text == "":
        return None, None
    if not isinstance(text, str):
        return None, "dob-invalid"
    if (  # the usual complete date, checked without the regular expression
        len(text) == 10
        and text[4] == "-"
        and text[7] == "-"
        and text.isascii()
        and text[:4].isdigit()
        and text[5:7].isdigit()
        and text[8:].isdigit()
    ):
        try:
            _dt.date(int(text[:4]), int(text[5:7]), int(text[8:]))
        except ValueError:
            return None, "dob-invalid"
        return text, None
    value = text.strip()
    deviation = None
    if "T" in value:
        value = value.split("T", 1)[0]
        deviation = "dob-date-time"
    if "XX" in value.upper():
        parts = value.split("-")
        kept = [p for p in parts if p.upper() not in ("XX", "XXXX")]
        return ("-".join(kept) or None), "dob-placeholder"
    match = _PARTIAL_DATE.match(value)
    if not match:
        return None, "dob-invalid"
    year, month, day = match.groups()
    if month is not None and not 1 <= int(month) <= 12:
        return None, "dob-invalid"
    if day is not None:
        try:
            _dt.date(int(year), int(month), int(day))
        except ValueError:
            return None, "dob-invalid"
    return value, deviation


# --- schema ------------------------------------------------------------------------
_VALIDATORS: dict[int, tuple[Any, Any]] = {}


def _strict_copy(schema: Any) -> Any:
    """The schema with ``additionalProperties: false`` on every object that lists properties."""
    node = copy.deepcopy(schema)

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if isinstance(item.get("properties"), dict) and "additionalProperties" not in item:
                item["additionalProperties"] = False
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(node)
    return node


def value_set_key(uri: Any) -> str:
    """``valuesets/test-results.json`` → ``test-result`` (the file stem the loader keys by)."""
    stem = str(uri).rsplit("/", 1)[-1].removesuffix(".json")
    return {"test-results": "test-result"}.get(stem, stem)


def _validator(schema: Mapping[str, Any]) -> Any:
    """A cached Draft 2020-12 validator of the schema with unknown fields flagged."""
    from jsonschema import Draft202012Validator

    key = id(schema)
    hit = _VALIDATORS.get(key)
    if hit is not None and hit[0] is schema:
        return hit[1]
    validator = Draft202012Validator(_strict_copy(schema))
    if len(_VALIDATORS) > 32:
        _VALIDATORS.clear()
    _VALIDATORS[key] = (schema, validator)
    return validator


#: Payload fields coded from a value set (group, field) → value-set file stem.
VALUE_SET_FIELDS: dict[tuple[str, str], str] = {
    ("v", "tg"): "disease-agent-targeted",
    ("v", "vp"): "vaccine-prophylaxis",
    ("v", "mp"): "vaccine-medicinal-product",
    ("v", "ma"): "vaccine-mah-manf",
    ("v", "co"): "country-2-codes",
    ("t", "tg"): "disease-agent-targeted",
    ("t", "tt"): "test-type",
    ("t", "ma"): "test-manf",
    ("t", "tr"): "test-result",
    ("t", "co"): "country-2-codes",
    ("r", "tg"): "disease-agent-targeted",
    ("r", "co"): "country-2-codes",
}


def value_set_misses(
    payload: Mapping[str, Any], value_sets: Mapping[str, Mapping[str, str]] | None
) -> list[str]:
    """``group/i/field: code`` for every coded field whose code is not in its value set.

    Only value sets present in ``value_sets`` (keyed by file stem) are checked. Not a
    schema failure: real issuers use codes the published lists lack (``SM``, ``GE``,
    ``IE`` vectors), and the EU test suite expects their schema to pass.
    """
    if not value_sets:
        return []
    out: list[str] = []
    for group in ("v", "t", "r"):
        entries = payload.get(group)
        if not isinstance(entries, list):
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                continue
            for (g, fld), stem in VALUE_SET_FIELDS.items():
                table = value_sets.get(stem)
                code = entry.get(fld)
                if g == group and table is not None and isinstance(code, str) and code not in table:
                    out.append(f"{group}/{i}/{fld}: {code}")
    return out


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def choose_schema_version(ver: Any, available: Sequence[str]) -> str | None:
    """The schema for a payload version: exact, else the highest ≤ it, else the lowest.

    ``1.0.4`` → ``1.0.1``; an unreadable ``ver`` → the newest schema.
    """
    if not available:
        return None
    ordered = sorted(available, key=_version_key)
    if isinstance(ver, str) and ver in available:
        return ver
    if not isinstance(ver, str) or not re.match(r"^\d+\.\d+\.\d+$", ver):
        return ordered[-1]
    want = _version_key(ver)
    lower = [v for v in ordered if _version_key(v) <= want]
    return lower[-1] if lower else ordered[0]


@dataclass
class SchemaResult:
    version: str | None
    errors: list[str] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)


def check_schema(payload: Any, schemas: Mapping[str, Mapping[str, Any]]) -> SchemaResult:
    """Validate ``payload`` against the DCC schema of its ``ver``.

    Besides the JSON schema (no ``format`` assertions: the schema's own test
    vectors use ``+hh`` offsets), the payload must hold exactly one of ``v``,
    ``t``, ``r``, as the EU test suite requires for every schema version.
    Unknown fields never fail the schema; they are returned in ``unknown_fields``.
    """
    ver = payload.get("ver") if isinstance(payload, Mapping) else None
    version = choose_schema_version(ver, list(schemas))
    result = SchemaResult(version)
    if version is None:
        return result
    if isinstance(payload, Mapping):
        groups = [k for k in ("v", "t", "r") if payload.get(k) is not None]
        if len(groups) != 1:
            result.errors.append(f"(root): exactly one of v, t, r expected, found {groups}")
    validator = _validator(schemas[version])
    for error in validator.iter_errors(payload):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            result.unknown_fields.extend(f"{where}/{name}" for name in extra)
        else:
            result.errors.append(f"{where}: {error.message[:200]}")
        if len(result.errors) + len(result.unknown_fields) > 50:
            break
    return result


# --- revocation ----------------------------------------------------------------------
def revocation_keys(payload: Mapping[str, Any], signature: bytes, alg: int | None) -> set[str]:
    """Identifiers under which a DCC may be listed as revoked.

    The UVCI itself, and — as in the EU revocation lists — the first 16 bytes of
    SHA-256 over the UVCI (UCI), over issuing country + UVCI (COUNTRYCODEUCI) and
    over the signature (the ``r`` half for ECDSA), each as hex and base64.
    """
    keys: set[str] = set()
    entries = [e for k in ("v", "t", "r") for e in (payload.get(k) or []) if isinstance(e, Mapping)]
    hashes: list[bytes] = []
    for entry in entries:
        uvci = entry.get("ci")
        if not isinstance(uvci, str):
            continue
        keys.add(uvci.upper())
        hashes.append(hashlib.sha256(uvci.encode()).digest()[:16])
        country = entry.get("co")
        if isinstance(country, str):
            hashes.append(hashlib.sha256((country + uvci).encode()).digest()[:16])
    half = (
        signature[: len(signature) // 2] if alg in (cose.ALG_ES256, cose.ALG_ES384) else signature
    )
    hashes.append(hashlib.sha256(half).digest()[:16])
    for digest in hashes:
        keys.add(digest.hex().upper())
        keys.add(base64.b64encode(digest).decode("ascii").upper())
    return keys


def _normalise_revocation_entry(entry: str) -> str:
    return entry.strip().upper()


# --- encoding ------------------------------------------------------------------------
def encode(
    payload: Mapping[str, Any],
    *,
    key: cose.PrivateKey,
    kid: bytes,
    issuer_country: str,
    issued_at: datetime,
    expires_at: datetime,
    alg: int = cose.ALG_ES256,
) -> str:
    """Sign an EU DCC payload as an HCERT and return its QR text.

    ``"HC1:" + Base45(zlib(COSE_Sign1(CWT)))`` with CWT claims ``1`` iss,
    ``4`` exp, ``6`` iat (whole seconds since the epoch, UTC) and ``-260 → 1``
    the payload; the COSE protected header holds alg and kid (EU DCC
    specification vol. 1 §2–3). Pure: the key and the times are parameters.

    :param payload: the DCC payload (``ver``, ``nam``, ``dob`` and one of ``v``/``t``/``r``),
        JSON-compatible data.
    :param kid: 8 bytes, :func:`certificate_kid` of the signer's DSC.
    :param issuer_country: CWT ``iss``, an ISO 3166-1 alpha-2 code.
    :param issued_at: aware instant (``iat``); :param expires_at: aware instant (``exp``).
    :returns: QR text over the alphanumeric QR alphabet only.
    :raises ValueError: naive times, or ``expires_at`` not after ``issued_at``.
    :raises UnsupportedAlgorithm: ``alg`` does not fit ``key``.
    """
    if issued_at.tzinfo is None or expires_at.tzinfo is None:
        raise ValueError("issued_at and expires_at must be timezone-aware")
    iat, exp = int(issued_at.timestamp()), int(expires_at.timestamp())
    if exp <= iat:
        raise ValueError("expires_at must be after issued_at")
    claims = cbor2.dumps(
        {CWT_ISS: issuer_country, CWT_EXP: exp, CWT_IAT: iat, CWT_HCERT: {HCERT_EU_DCC: payload}}
    )
    signed = cose.encode_sign1(claims, key=key, alg=alg, kid=kid)
    return PREFIX + b45encode(zlib.compress(signed, 9))


# --- the verifier -------------------------------------------------------------------
def _find_signer(
    sign1: cose.Sign1, trust: TrustStore
) -> tuple[list[x509.Certificate], x509.Certificate | None, CredentialError | None]:
    """Candidates for the kid, the one whose key verifies (or None), and the last error."""
    kid = sign1.kid
    candidates = list(trust.dcc.get(kid, [])) if kid is not None else []
    if not candidates:
        return [], None, None
    last: CredentialError | None = None
    for cert in candidates:
        facts = _cert_facts(cert)
        key = facts[0]
        if key is None:
            last = UnsupportedAlgorithm("signer certificate has an unreadable key")
            continue
        if not facts[5]:
            last = UnsupportedAlgorithm(f"signer key {type(key).__name__} not supported")
            continue
        try:
            cose.verify_signature(sign1, key)
        except (SignatureInvalid, UnsupportedAlgorithm) as exc:
            last = exc
            continue
        return candidates, cert, None
    return candidates, None, last or SignatureInvalid("no trusted key verifies the signature")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000"


def _holder(payload: Mapping[str, Any], report: VerificationReport) -> None:
    raw_nam = payload.get("nam")
    nam: Mapping[str, Any] = (
        raw_nam if type(raw_nam) is dict or isinstance(raw_nam, Mapping) else {}
    )
    family = nam.get("fn") or nam.get("fnt")
    given = nam.get("gn") or nam.get("gnt")
    family_s = family if isinstance(family, str) else None
    given_s = given if isinstance(given, str) else None
    if family_s and given_s and _is_cjk(family_s[-1]) and _is_cjk(given_s[0]):
        name: str | None = family_s + given_s  # 张 + 三丰 → 张三丰, as Chinese names are written
    else:
        name = " ".join(p for p in (given_s, family_s) if p) or None
    dob, deviation = normalise_date(payload.get("dob"))
    if deviation:
        report.warn(deviation)
    report.holder = {
        "name": name,
        "family_name": family_s,
        "given_name": given_s,
        "birth_date": dob,
    }
    # the ICAO 9303 transliteration, shown beside a name written in another script
    for key, out in (("fnt", "family_name_transliterated"), ("gnt", "given_name_transliterated")):
        value = nam.get(key)
        if isinstance(value, str) and value and value not in (family_s, given_s):
            report.holder[out] = value


_DISPLAY_FIELDS = {
    "tg": "disease-agent-targeted",
    "vp": "vaccine-prophylaxis",
    "mp": "vaccine-medicinal-product",
    "ma": "vaccine-mah-manf",
    "tt": "test-type",
    "tr": "test-result",
    "tc": None,
    "nm": None,
    "ma_t": "test-manf",
    "co": "country-2-codes",
}


def describe_entries(
    payload: Mapping[str, Any], names: Mapping[str, Mapping[str, str]] | None
) -> list[dict[str, Any]]:
    """The certificate's entries with codes resolved to display names where value sets are given."""
    out: list[dict[str, Any]] = []
    names = names or {}
    for group in ("v", "t", "r"):
        entries = payload.get(group)
        if not isinstance(entries, list):  # "v": 5, true, 1.5 … (the schema says so)
            continue
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            item: dict[str, Any] = {"type": TYPE_NAMES[group]}
            for key, value in entry.items():
                item[key] = value
                vs = _DISPLAY_FIELDS.get(key)
                if group == "t" and key == "ma":
                    vs = "test-manf"
                if vs and isinstance(value, str | int):
                    table = (
                        names.get(vs)
                        or (
                            names.get("covid-19-lab-test-manufacturer-and-name")
                            if vs == "test-manf"
                            else None
                        )
                        or {}
                    )
                    display = table.get(str(value))
                    if display:
                        item[f"{key}_name"] = display
            out.append(item)
    return out


_SHA256 = hashes.SHA256()


def _instant(seconds: float) -> str | None:
    """ISO 8601 UTC of epoch seconds (None when out of range), for the report's plain words."""
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def verify_into(
    text: str,
    *,
    trust: TrustStore,
    at: datetime,
    options: VerifyOptions | None = None,
) -> VerificationReport:
    """Verify one ``HC1:`` text and return its staged report (never raises for bad input).

    :param text: the QR text (a trailing CR/LF from a scanner is dropped, nothing else).
    :param trust: trusted DSCs by kid (``trust.dcc``) and revoked identifiers (``trust.revoked_dcc``).
    :param at: the validation clock, aware (converted to UTC).
    :param options: schemas, value sets, business rules and leniency (see ``VerifyOptions``).
    :returns: a :class:`VerificationReport` with format ``hc1``.
    """
    options = options or _DEFAULT_OPTIONS
    report = VerificationReport.start("hc1", STAGES, soft_stages=SOFT_STAGES)
    if at.tzinfo is None:
        raise ValueError("the validation clock must be timezone-aware")
    at = at.astimezone(UTC)
    text = text.rstrip("\r\n")

    if text.startswith(PREFIX):  # what unprefix() returns for a prefixed text, without the call
        body = text[len(PREFIX) :]
        report.stages["prefix"] = True
    else:
        unprefixed = report.run("prefix", lambda: unprefix(text, lenient=options.lenient_prefix))
        if unprefixed is None:
            return report
        body, had_prefix = unprefixed
        if not had_prefix:
            report.warn("prefix-missing")

    compressed = report.run("base45", lambda: b45decode(body))
    if compressed is None:
        return report
    raw_cose = report.run("compression", lambda: decompress(compressed))
    if raw_cose is None:
        return report
    sign1 = report.run("cose", lambda: cose.decode_sign1(raw_cose))
    if sign1 is None:
        return report
    kid, alg = sign1.kid, sign1.alg
    details = report.details
    details["kid"] = base64.b64encode(kid).decode("ascii") if kid else None
    details["alg"] = cose.ALG_NAMES.get(alg or 0, alg)
    details["cose_tags"] = list(sign1.tags)

    # signer + signature (independent of the payload decoding)
    candidates, signer, sig_error = _find_signer(sign1, trust)
    chosen_facts = None  # of the DSC that verified, else the first with the kid
    if not candidates:
        report.fail("signer", UnknownSigner.code)
    else:
        chosen_facts = _cert_facts(signer or candidates[0])
        details["signer"] = chosen_facts[1]
        if signer is not None and at > chosen_facts[3]:
            report.fail("signer", SignerCertificateExpired.code)
            details["signer_valid_until"] = chosen_facts[3].isoformat()
        else:
            report.passed("signer")
        if signer is not None:
            report.passed("signature")
            if trust.demo_dcc and signer.fingerprint(_SHA256) in trust.demo_dcc:
                report.warn("demo")  # signed by one of our DEMO e-certificate keys
        else:
            report.fail("signature", (sig_error or SignatureInvalid()).code)

    def cbor() -> Cwt:
        claims = decode_cwt(sign1.payload)
        if isinstance(claims.payload, Mapping):
            for group in ("v", "t", "r"):
                entries = claims.payload.get(group)
                if isinstance(entries, list) and len(entries) > MAX_ENTRIES:
                    raise PayloadTooLarge(
                        f"{len(entries)} entries in {group!r} (at most {MAX_ENTRIES})"
                    )
        return claims

    cwt = report.run("cbor", cbor)
    if cwt is None:
        return report
    payload = cwt.payload
    report.claims = {"iss": cwt.iss, "iat": cwt.iat, "exp": cwt.exp, "hcert": payload}
    if cwt.exp is not None:
        details["expires_at"] = _instant(cwt.exp)  # shown for a valid certificate: "valid until"
    _holder(payload, report)
    types = certificate_types(payload)
    report.type = TYPE_NAMES[types[0]] if len(types) == 1 else ("mixed" if types else None)
    if len(types) > 1:
        report.warn("multiple-certificate-types")

    # expiry: iat ≤ clock ≤ exp (the EU suite accepts a clock equal to exp: ES/15xx, IE/1-4);
    # a clock before the DSC's validity is the same "check the device clock" case
    def expiry() -> None:
        if cwt.iat is None or cwt.exp is None:
            raise ClaimsInvalid("iat or exp missing or not a number")
        now = at.timestamp()
        if now < cwt.iat:
            details["valid_from"] = _instant(cwt.iat)  # shown: "valid from …"
            raise NotYetValid("validation clock before iat — check the device clock")
        if signer is not None and chosen_facts is not None:  # chosen_facts: the signer's
            if now < chosen_facts[6]:
                details["signer_valid_from"] = chosen_facts[2].isoformat()
                raise NotYetValid("validation clock before the signer certificate's validity")
            if cwt.iat < chosen_facts[6]:
                raise ClaimsInvalid("issued before its signer certificate was valid")
        if now > cwt.exp:
            details["valid_until"] = _instant(cwt.exp)  # shown: "validity ended on …"
            raise Expired("exp has passed")

    report.run("expiry", expiry)

    for group in ("v", "t", "r"):  # the certificate identifier (UVCI, ``ci``) of its entry
        entries = payload.get(group) if isinstance(payload, Mapping) else None
        if isinstance(entries, list) and entries and isinstance(entries[0], Mapping):
            if isinstance(entries[0].get("ci"), str):
                details["uvci"] = entries[0]["ci"]
                break

    # schema (soft)
    schemas = options.dcc_schemas
    if schemas is None and options.schema_dir:
        from healthcode.credentials.trustload import load_dcc_schemas
        from healthcode.errors import ConfigError

        try:  # cached after the first call; a missing folder leaves the stage null
            schemas = load_dcc_schemas(options.schema_dir)
        except ConfigError:
            schemas = None
    if not schemas:
        report.warn("schema-unavailable")
    else:
        result = check_schema(payload, schemas)
        report.details["schema_version"] = result.version
        if result.unknown_fields:
            report.warn("payload-unknown-fields")
            report.details["unknown_fields"] = result.unknown_fields
        if result.errors:
            report.details["schema_errors"] = result.errors
            report.fail("schema", "schema-deviation")
        else:
            report.passed("schema")

    # key usage: the DSC that verified (else the first with that kid) vs the certificate type
    if chosen_facts is not None:
        allowed = chosen_facts[4]
        report.run("key_usage", lambda: _check_allowed(allowed, types))

    # revocation, only when a list is given
    if trust.revoked_dcc:
        revoked = {_normalise_revocation_entry(e) for e in trust.revoked_dcc}

        def revocation() -> None:
            if revocation_keys(payload, sign1.signature, sign1.alg) & revoked:
                raise Revoked("certificate is on the revocation list")

        report.run("revocation", revocation)

    # business rules (an empty rule list still says that no rule applied)
    if options.rules is not None:
        from healthcode.credentials import dcc_rules

        value_sets: Mapping[str, Any] = options.value_sets
        names = options.value_set_names
        if not value_sets and names is not None and hasattr(names, "codes"):
            value_sets = names.codes()

        def rules() -> None:
            results = dcc_rules.evaluate_rules(
                options.rules or [],
                payload,
                at=at,
                country=options.country,
                value_sets=value_sets,
                iat=cwt.iat,
                exp=cwt.exp,
                cert_type=types[0] if len(types) == 1 else None,
            )
            report.details["rules"] = [r.to_dict() for r in results]
            failed = [r for r in results if r.result != "passed"]
            if failed:
                raise dcc_rules.first_error(failed)

        report.run("rules", rules)
        if report.stages.get("rules") is True and not report.details.get("rules"):
            # no rule applies to this destination / type / date: nothing vouched for it
            report.stages["rules"] = None
            report.warn("no-applicable-rules")

    misses = value_set_misses(payload, options.value_set_names) if options.value_set_names else []
    if misses:
        report.warn("value-set-unknown-code")
        report.details["unknown_codes"] = misses
    # the entries, for display: codes named when value sets are loaded, as they are otherwise
    report.details["certificate"] = describe_entries(payload, options.value_set_names)
    return report
