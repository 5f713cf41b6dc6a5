"""Our own health-code token, ``HP1:`` — encode, decode and staged verification.

Format (normative text: ``docs/token-format.md``)::

    "HP1:" + Base45( zlib( COSE_Sign1( CBOR claims map ) ) )

- COSE_Sign1 (RFC 9052 §4.2), tag 18, protected header ``{1: alg, 4: kid}``
  with alg ES256 (-7) or EdDSA (-8), kid 8 bytes; empty unprotected header.
- Claims: CWT (RFC 8392) ``1 iss`` (issuer GB/T 2260 code, text), ``2 sub``
  (holder pseudonym, text), ``4 exp``, ``6 iat`` (integer seconds since the epoch,
  UTC) and private claim ``-270`` holding the health-code map (text keys):
  ``v`` 1, ``n`` masked name, ``id`` ID tail, ``c`` colour, ``s`` status code,
  ``r`` reason rule ids, ``cn`` code name, ``d`` vaccination doses,
  ``t`` latest test ``{"k": kind, "r": result, "at": sampling epoch seconds}`` or null,
  ``demo`` true for DEMO codes (absent otherwise).
- Base45 per RFC 9285; zlib per RFC 1950 (a complete stream, nothing after it).
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

import cbor2

from healthcode.clock import from_epoch, to_epoch
from healthcode.credentials import cose
from healthcode.credentials.base45 import b45decode, b45encode
from healthcode.credentials.errors import (
    CborInvalid,
    ClaimsInvalid,
    CredentialError,
    DecompressionFailed,
    DemoKeyRejected,
    Expired,
    KeyRevoked,
    NotYetValid,
    UnknownFormat,
    UnknownSigner,
)
from healthcode.credentials.model import (
    COLOUR_BY_STATUS,
    Colour,
    HealthCodeClaims,
    LatestTest,
)
from healthcode.credentials.report import VerificationReport
from healthcode.credentials.trust import TrustedKey, TrustStore

PREFIX = "HP1:"
CLAIM_HC = -270
STAGES = (
    "picture", "prefix", "base45", "compression", "cose", "signer",
    "signature", "cbor", "expiry", "claims",
)  # fmt: skip
#: Bound on the inflated size (bytes): a health code's claims are a few hundred bytes.
MAX_INFLATED = 16_384
_COLOURS = {c.value: c for c in Colour}
_TEST_KINDS = frozenset({"pcr", "antigen"})
_TEST_RESULTS = frozenset({"negative", "positive"})
#: Times beyond this (year 2286) are not plausible in a claim and overflow datetime.
MAX_EPOCH = 10**10
#: Longest lifetime a token may claim (seconds); longer is ``claims-invalid``.
MAX_LIFETIME = 86_400


def claims_to_cbor(c: HealthCodeClaims) -> bytes:
    """CBOR claims map of ``c`` (see the module docstring)."""
    hc: dict[str, Any] = {
        "v": 1,
        "n": c.name_masked,
        "id": c.id_tail,
        "c": c.colour.value,
        "s": c.status_code,
        "r": list(c.reasons),
        "cn": c.code_name,
        "d": c.doses,
        "t": None
        if c.latest_test is None
        else {
            "k": c.latest_test.kind,
            "r": c.latest_test.result,
            "at": to_epoch(c.latest_test.sampled_at),
        },
    }
    if c.demo:
        hc["demo"] = True
    return cbor2.dumps(
        {
            1: c.issuer,
            2: c.subject,
            4: to_epoch(c.expires_at),
            6: to_epoch(c.issued_at),
            CLAIM_HC: hc,
        }
    )


def encode(claims: HealthCodeClaims, *, key: cose.PrivateKey, alg: int, kid: bytes) -> str:
    """Sign ``claims`` and return the QR text ``HP1:…`` (QR alphanumeric characters only)."""
    signed = cose.encode_sign1(claims_to_cbor(claims), key=key, alg=alg, kid=kid)
    return PREFIX + b45encode(zlib.compress(signed, 9))


def inflate(data: bytes) -> bytes:
    """Inflate one complete zlib stream, bounded by :data:`MAX_INFLATED`.

    :raises DecompressionFailed: not zlib, truncated, too large, or data after the stream.
    """
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_INFLATED)
    except zlib.error as exc:
        raise DecompressionFailed(f"not a zlib stream: {exc}") from exc
    if d.unconsumed_tail:
        raise DecompressionFailed("inflated payload is too large")
    if not d.eof:
        raise DecompressionFailed("zlib stream is truncated")
    if d.unused_data:
        raise DecompressionFailed("data after the zlib stream")
    return out


def claims_from_map(m: Any) -> HealthCodeClaims:
    """Validate a decoded CBOR claims map.

    (Exact ``type(...) is`` checks rather than ``isinstance``: this runs for every
    scanned code, and CBOR decoding never yields subclasses.)

    :raises ClaimsInvalid: missing or mistyped claims, unknown colour, colour/status mismatch.
    """
    if type(m) is not dict:
        raise ClaimsInvalid("claims are not a map")
    hc = m.get(CLAIM_HC)
    if type(hc) is not dict or hc.get("v") != 1:
        raise ClaimsInvalid("missing health-code claim (-270) version 1")
    iss: Any = m.get(1)
    sub: Any = m.get(2)
    exp: Any = m.get(4)
    iat: Any = m.get(6)
    if type(iss) is not str or len(iss) != 6 or not iss.isdigit():
        raise ClaimsInvalid("iss must be a GB/T 2260 code")
    if type(sub) is not str or not sub:
        raise ClaimsInvalid("sub missing")
    if type(exp) is not int or type(iat) is not int or not 0 <= iat < MAX_EPOCH:
        raise ClaimsInvalid("iat/exp must be integers (seconds since the epoch)")
    if not 0 < exp - iat <= MAX_LIFETIME:
        raise ClaimsInvalid("exp must be after iat and within one day")
    colour_s: Any = hc.get("c")
    status: Any = hc.get("s")
    colour = _COLOURS.get(colour_s) if type(colour_s) is str else None
    if colour is None:
        raise ClaimsInvalid(f"unknown colour {colour_s!r}")
    if type(status) is not str or COLOUR_BY_STATUS.get(status) is not colour:
        raise ClaimsInvalid("status code does not match colour")
    reasons: Any = hc.get("r", ())
    if type(reasons) not in (list, tuple):
        raise ClaimsInvalid("r must be a list of rule ids")
    for rule in reasons:
        if type(rule) is not str:
            raise ClaimsInvalid("r must be a list of rule ids")
    name: Any = hc.get("n")
    id_tail: Any = hc.get("id")
    code_name: Any = hc.get("cn")
    if type(name) is not str or type(id_tail) is not str or type(code_name) is not str:
        raise ClaimsInvalid("n, id and cn must be text")
    doses: Any = hc.get("d", 0)
    if type(doses) is not int or not 0 <= doses <= 20:
        raise ClaimsInvalid("d must be a small whole number")
    t: Any = hc.get("t")
    latest: LatestTest | None = None
    if t is not None:
        if not (
            type(t) is dict
            and t.get("k") in _TEST_KINDS
            and t.get("r") in _TEST_RESULTS
            and type(t.get("at")) is int
            and 0 <= t["at"] < MAX_EPOCH
        ):
            raise ClaimsInvalid("t must be {k: pcr|antigen, r: negative|positive, at: int}")
        latest = LatestTest(t["k"], t["r"], from_epoch(t["at"]))
    demo: Any = hc.get("demo", False)
    if demo is not True and demo is not False:
        raise ClaimsInvalid("demo must be true when present")
    return HealthCodeClaims(
        issuer=iss,
        subject=sub,
        issued_at=from_epoch(iat),
        expires_at=from_epoch(exp),
        name_masked=name,
        id_tail=id_tail,
        colour=colour,
        code_name=code_name,
        reasons=tuple(reasons),
        latest_test=latest,
        doses=doses,
        demo=demo,
    )


def _find_signer(sign1: cose.Sign1, trust: TrustStore, at: datetime) -> TrustedKey:
    kid = sign1.kid
    key = trust.native.get(kid) if kid else None
    if key is None:
        raise UnknownSigner("no trusted key with this kid")
    if key.status == "revoked":
        raise KeyRevoked("the issuer revoked this key")
    if key.not_after is not None and at > key.not_after:
        raise KeyRevoked("the key is past its trust-list validity")
    if key.demo and trust.production:
        raise DemoKeyRejected("DEMO key presented to a production verifier")
    return key


def verify_into(text: str, *, trust: TrustStore, at: datetime) -> VerificationReport:
    """Run the ``HP1:`` stages on ``text`` at validation clock ``at`` (aware UTC).

    Decoding stages run in order; once the COSE structure decodes, signer,
    signature, CBOR, expiry and claims are each checked and reported.
    Never raises for bad input. (Written as straight-line code rather than
    :meth:`VerificationReport.run` closures: this is the verifier's hot path.)
    """
    r = VerificationReport.start("native", STAGES, type="health-code")
    stages = r.stages
    if not text.startswith(PREFIX):
        r.fail("prefix", UnknownFormat.code)
        return r
    stages["prefix"] = True
    try:
        raw = b45decode(text[4:])
    except CredentialError as exc:
        r.fail("base45", exc.code)
        return r
    stages["base45"] = True
    try:
        signed = inflate(raw)
    except CredentialError as exc:
        r.fail("compression", exc.code)
        return r
    stages["compression"] = True
    try:
        sign1 = cose.decode_sign1(signed)
    except CredentialError as exc:
        r.fail("cose", exc.code)
        return r
    stages["cose"] = True
    signer: TrustedKey | None = None
    try:
        signer = _find_signer(sign1, trust, at)
        stages["signer"] = True
    except CredentialError as exc:
        r.fail("signer", exc.code)
    if signer is not None:
        try:
            cose.verify_signature(sign1, signer.public_key)
            stages["signature"] = True
        except CredentialError as exc:
            r.fail("signature", exc.code)
    try:  # one item, no map key twice (last-wins would hide the first), nothing after it
        payload = cose.decode_strict(sign1.payload, max_depth=32)
    except Exception:  # cbor2 raises several types on hostile input
        r.fail("cbor", CborInvalid.code)
        return r
    stages["cbor"] = True
    try:
        claims = claims_from_map(payload)
    except CredentialError as exc:
        r.fail("claims", exc.code)
        return r
    except (TypeError, ValueError, KeyError, OverflowError):  # defence in depth: hostile shapes
        r.fail("claims", ClaimsInvalid.code)
        return r
    if signer is not None and claims.issuer != signer.issuer:
        r.fail("claims", "issuer-mismatch")
    else:
        stages["claims"] = True
    skew = timedelta(seconds=trust.clock_skew_seconds)
    if at < claims.issued_at - skew:
        r.fail("expiry", NotYetValid.code)  # "check the device clock", never "signature invalid"
    elif at >= claims.expires_at + skew:
        r.fail("expiry", Expired.code)
    else:
        stages["expiry"] = True
    r.claimed_colour = claims.colour.value
    r.claimed_status_code = claims.status_code
    r.holder = {
        "name_masked": claims.name_masked,
        "id_tail": claims.id_tail,
        "issuer": claims.issuer,
        "code_name": claims.code_name,
    }
    hc = payload[CLAIM_HC]
    r.claims = {
        "iat": payload[6],
        "exp": payload[4],
        "reasons": list(claims.reasons),
        "doses": claims.doses,
        "demo": claims.demo,
        "latest_test": None
        if claims.latest_test is None
        else {
            "kind": claims.latest_test.kind,
            "result": claims.latest_test.result,
            "sampled_at": hc["t"]["at"],
        },
    }
    if claims.demo:
        r.warn("demo")
    return r
