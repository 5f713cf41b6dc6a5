"""Issuers and their keys in the database; the signed trust list.

Key purposes: ``health-code`` (signs ``HP1:`` tokens), ``trust-list`` (the
national platform's anchor: signs trust lists and audit checkpoints), ``dcc`` and
``shc`` (e-certificates). Private keys are sealed under a key derived from the
master key (:mod:`healthcode.protect`), bound to their kid.

Trust list (``GET /trust-list``, ``healthcode trust export``)::

    {"format": "healthcode-trust-list/1",
     "payload": {"issued_at", "valid_until", "anchor": {"kid", "alg", "public_key"},
                 "issuers": [{"code", "name", "code_name", "keys": [{"kid", "alg",
                     "public_key", "status", "demo", "not_after"}]}]},
     "signature": {"kid", "alg": "ES256", "value"}}

Each issuer entry also lists its e-certificate keys (电子证照)::

    "dcc": [{"kid", "certificate", "status", "demo"}],   # EU DCC document signers
    "shc": [{"iss", "jwk", "status", "demo"}]            # SMART Health Card keys

(an SHC key once more per other ``iss`` its cards named, :func:`shc_issuer_urls`)

and the payload lists revoked e-certificates (:mod:`healthcode.ecerts.revocation`)::

    "revocations": {"dcc": {"hash_type": "UCI", "hashes": [...]},   # SHA-256(UVCI)[:16], base64
                    "shc": [{"kid", "method": "rid", "ctr", "rids"}]}  # one CRL per SHC key

``public_key`` is base64 SubjectPublicKeyInfo DER, ``kid`` hex; ``value`` is a
base64 DER ECDSA P-256/SHA-256 signature over the canonical JSON of
``payload`` (sorted keys, no spaces, UTF-8). Keys rotated within
:data:`ROTATED_GRACE_DAYS` stay listed (status ``rotated``) so codes they signed
still verify; revoked keys stay listed as ``revoked``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.clock import parse_instant
from healthcode.credentials.cose import PrivateKey
from healthcode.credentials.keys import (
    ALGS,
    generate_private_key,
    kid_for,
    load_private_der,
    load_public_der,
    private_der,
    public_der,
)
from healthcode.credentials.trust import TrustedKey, TrustStore
from healthcode.errors import ConfigError, NotFound, TrustListInvalid
from healthcode.issuers.regions import NATIONAL, REGIONS
from healthcode.protect import derive_key, seal, unseal
from healthcode.storage.models import Issuer, SigningKey

#: Default public base URL (``HEALTHCODE_PUBLIC_URL``): SMART Health Card issuers are
#: ``{public_url}/issuers/{region code}``.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
#: Key purposes of e-certificates; their keys are ES256 and created on first use in local mode.
ECERT_PURPOSES = ("dcc", "shc")
#: How long a rotated SHC key stays in its issuer's key set (the longest card lifetime), days.
SHC_ROTATED_GRACE_DAYS = 365
ROTATED_GRACE_DAYS = 30
TRUST_LIST_VALID_DAYS = 7
FORMAT = "healthcode-trust-list/1"


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def create_key(
    session: Session,
    *,
    issuer: str,
    purpose: str,
    master: bytes,
    at: datetime,
    alg: str = "ES256",
    demo: bool = False,
    actor: str = "system",
) -> SigningKey:
    """Generate and store a key for ``issuer``; it becomes the active key of its purpose.

    The previous active key of that purpose, if any, becomes ``rotated``.
    :raises ValueError: unknown ``alg``.
    """
    if purpose in ("trust-list", "dcc", "dcc-csca", "shc") and alg != "ES256":
        raise ValueError(f"{purpose} keys are ES256")
    private = generate_private_key(alg)
    pub = private.public_key()
    certificate: bytes | None = None
    if purpose in ("dcc", "dcc-csca", "shc"):
        assert isinstance(private, ec.EllipticCurvePrivateKey)  # noqa: S101 - ES256 above
        kid, certificate = _ecert_identity(
            session, issuer=issuer, purpose=purpose, private=private, master=master, at=at,
            demo=demo, actor=actor,
        )  # fmt: skip
    else:
        kid = kid_for(pub).hex()
    for old in session.execute(
        select(SigningKey).where(
            SigningKey.issuer_code == issuer,
            SigningKey.purpose == purpose,
            SigningKey.status == "active",
        )
    ).scalars():
        old.status = "rotated"
        old.rotated_at = at
    row = SigningKey(
        kid=kid,
        issuer_code=issuer,
        purpose=purpose,
        alg=alg,
        public_key=public_der(pub),
        private_key=seal(derive_key(master, "issuer-keys"), private_der(private), aad=kid.encode()),
        status="active",
        demo=demo,
        created_at=at,
        certificate=certificate,
    )
    session.add(row)
    audit.append(
        session,
        tag=AuditTag.KEY_CREATE,
        actor=actor,
        at=at,
        subject=issuer,
        data={"kid": kid, "purpose": purpose, "alg": alg, "demo": demo},
    )
    return row


def _ecert_identity(
    session: Session,
    *,
    issuer: str,
    purpose: str,
    private: ec.EllipticCurvePrivateKey,
    master: bytes,
    at: datetime,
    demo: bool,
    actor: str,
) -> tuple[str, bytes | None]:
    """(kid, certificate DER) of a new e-certificate key.

    - ``shc``: kid = RFC 7638 thumbprint of the JWK (what cards and key sets carry).
    - ``dcc-csca``: a self-signed CSCA certificate; kid as for other keys.
    - ``dcc``: a DSC issued by the issuer's active CSCA (a new CSCA is made first when
      there is none, or when it would end before the new DSC); kid = the DCC kid of the
      certificate (hex), so the kid cards carry is the one ``healthcode keys`` shows.
    """
    from healthcode.credentials.hcert import certificate_kid
    from healthcode.credentials.shc import public_jwk
    from healthcode.ecerts import pki

    pub = private.public_key()
    if purpose == "shc":
        return public_jwk(pub)["kid"], None
    row = session.get(Issuer, issuer)
    name = row.name if row is not None else issuer
    if purpose == "dcc-csca":
        csca = pki.csca_certificate(private, region_code=issuer, region_name=name, at=at, demo=demo)
        return kid_for(pub).hex(), csca.public_bytes(serialization.Encoding.DER)
    csca_row = session.execute(
        select(SigningKey).where(
            SigningKey.issuer_code == issuer,
            SigningKey.purpose == "dcc-csca",
            SigningKey.status == "active",
        )
    ).scalar()
    csca_cert = (
        x509.load_der_x509_certificate(csca_row.certificate)
        if csca_row is not None and csca_row.certificate
        else None
    )
    if csca_cert is None or csca_cert.not_valid_after_utc < at + timedelta(days=pki.DSC_VALID_DAYS):
        csca_row = create_key(
            session, issuer=issuer, purpose="dcc-csca", master=master, at=at, demo=demo, actor=actor
        )
        assert csca_row.certificate is not None  # noqa: S101 - made just now
        csca_cert = x509.load_der_x509_certificate(csca_row.certificate)
    assert csca_row is not None  # noqa: S101 - found or made above
    csca_key = private_key(csca_row, master)
    if not isinstance(csca_key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"CSCA key {csca_row.kid} is not an ECDSA key")
    dsc = pki.dsc_certificate(
        pub, csca_key=csca_key, csca=csca_cert, region_code=issuer, region_name=name, at=at,
        demo=demo,
    )  # fmt: skip
    return certificate_kid(dsc).hex(), dsc.public_bytes(serialization.Encoding.DER)


def ensure_issuers(session: Session, *, master: bytes, at: datetime, dev_keys: bool) -> int:
    """Create missing issuers; with ``dev_keys`` also their missing keys, marked DEMO.

    :returns: number of keys created.
    """
    existing = {i.code for i in session.execute(select(Issuer)).scalars()}
    for r in REGIONS:
        if r.code not in existing:
            session.add(
                Issuer(
                    code=r.code,
                    name=r.name,
                    code_name=r.code_name,
                    city_overrides=dict(r.city_overrides),
                    created_at=at,
                )
            )
    session.flush()
    if not dev_keys:
        return 0
    have = {
        (k.issuer_code, k.purpose)
        for k in session.execute(select(SigningKey).where(SigningKey.status == "active")).scalars()
    }
    created = 0
    wanted = [(r.code, "health-code") for r in REGIONS] + [(NATIONAL.code, "trust-list")]
    for code, purpose in wanted:
        if (code, purpose) not in have:
            create_key(session, issuer=code, purpose=purpose, master=master, at=at, demo=True)
            created += 1
    return created


def active_key(session: Session, issuer: str, purpose: str = "health-code") -> SigningKey:
    """The active key of ``issuer`` for ``purpose``.

    :raises NotFound: none (production: create one with ``healthcode keys create``).
    """
    row = session.execute(
        select(SigningKey).where(
            SigningKey.issuer_code == issuer,
            SigningKey.purpose == purpose,
            SigningKey.status == "active",
        )
    ).scalar()
    if row is None:
        raise NotFound(f"issuer {issuer} has no active {purpose} key")
    return row


def private_key(row: SigningKey, master: bytes) -> PrivateKey:
    """Unseal a stored private key.

    :raises ConfigError: the key was destroyed or the master key is wrong.
    """
    if row.private_key is None:
        raise ConfigError(f"private key {row.kid} was destroyed")
    try:
        return load_private_der(
            unseal(derive_key(master, "issuer-keys"), row.private_key, aad=row.kid.encode())
        )
    except Exception as exc:
        raise ConfigError(f"cannot unseal key {row.kid}: wrong HEALTHCODE_MASTER_KEY?") from exc


def signer_for(row: SigningKey, master: bytes) -> tuple[PrivateKey, int, bytes]:
    """(private key, COSE alg, kid bytes) for signing with ``row``."""
    return private_key(row, master), ALGS[row.alg], bytes.fromhex(row.kid)


def demo_keys(*, production: bool) -> bool:
    """Whether keys made now are DEMO keys: every key made in local mode is (it is sealed
    with the development master key, or at least lives in a deployment whose verifiers
    accept DEMO keys); production never makes one. ``keys create``, ``keys rotate``, the
    issuers' first keys and the e-certificate keys made on first use all follow this."""
    return not production


def rotate_key(
    session: Session,
    *,
    issuer: str,
    purpose: str,
    master: bytes,
    at: datetime,
    actor: str,
    demo: bool,
) -> SigningKey:
    """New active key; the old one stays ``rotated`` (still verifies) for the grace period.

    :param demo: mark the new key DEMO (:func:`demo_keys`); it does not follow the old key,
        so a production rotation never makes a DEMO key.
    """
    old = session.execute(
        select(SigningKey).where(
            SigningKey.issuer_code == issuer,
            SigningKey.purpose == purpose,
            SigningKey.status == "active",
        )
    ).scalar()
    alg = old.alg if old is not None else "ES256"
    row = create_key(
        session,
        issuer=issuer,
        purpose=purpose,
        master=master,
        at=at,
        alg=alg,
        demo=demo,
        actor=actor,
    )
    audit.append(
        session,
        tag=AuditTag.KEY_ROTATE,
        actor=actor,
        at=at,
        subject=issuer,
        data={"new": row.kid, "old": old.kid if old else None, "purpose": purpose},
    )
    return row


def revoke_key(session: Session, *, kid: str, reason: str, at: datetime, actor: str) -> SigningKey:
    """Revoke a key: it verifies nothing from now on; its private part is destroyed.

    :raises NotFound: unknown kid.
    """
    row = session.get(SigningKey, kid) or session.get(SigningKey, kid.lower())
    if row is None:
        raise NotFound(f"no key with kid {kid}")
    row.status = "revoked"
    row.revoked_at = at
    row.revocation_reason = reason[:200]
    row.private_key = None
    audit.append(
        session,
        tag=AuditTag.KEY_REVOKE,
        actor=actor,
        at=at,
        subject=row.issuer_code,
        data={"kid": row.kid, "reason": reason[:200]},
    )
    return row


def _listed_keys(session: Session, at: datetime) -> Iterable[SigningKey]:
    grace = at - timedelta(days=ROTATED_GRACE_DAYS)
    for k in session.execute(
        select(SigningKey).where(SigningKey.purpose == "health-code").order_by(SigningKey.kid)
    ).scalars():
        if k.status == "rotated" and k.rotated_at is not None and k.rotated_at < grace:
            continue
        yield k


def shc_issuer_url(public_url: str, issuer: str) -> str:
    """The SMART Health Card ``iss`` of a region: ``{public_url}/issuers/{code}``."""
    return f"{public_url.rstrip('/')}/issuers/{issuer}"


def shc_issuer_urls(
    session: Session, public_url: str, keys: Sequence[SigningKey]
) -> dict[str, list[str]]:
    """The ``iss`` URLs under which verifiers should find each SHC key of ``keys``: the one
    of ``public_url`` first, then every other one its cards named (the server's public URL
    when they were issued — ``healthcode serve --port`` or a changed
    ``HEALTHCODE_PUBLIC_URL``), so those cards still verify. kid → URLs."""
    from healthcode.storage.models import ECertificate

    urls = {k.kid: [shc_issuer_url(public_url, k.issuer_code)] for k in keys}
    for kid, iss in session.execute(
        select(ECertificate.kid, ECertificate.shc_issuer)
        .where(ECertificate.format == "shc", ECertificate.shc_issuer.is_not(None))
        .distinct()
        .order_by(ECertificate.kid, ECertificate.shc_issuer)
    ):
        if kid in urls and iss and iss not in urls[kid]:
            urls[kid].append(iss)
    return urls


def listed_ecert_keys(session: Session, purpose: str, at: datetime) -> list[SigningKey]:
    """E-certificate keys verifiers should trust at ``at``, ordered by issuer and kid.

    ``dcc``: every DSC not revoked whose certificate has not expired (certificates it
    signed stay verifiable while it is valid). ``shc``: keys not revoked, rotated ones for
    :data:`SHC_ROTATED_GRACE_DAYS`. A revoked key is simply no longer listed, as in the
    EU gateway and SHC key sets.
    """
    grace = at - timedelta(days=SHC_ROTATED_GRACE_DAYS)
    out = []
    for k in session.execute(
        select(SigningKey)
        .where(SigningKey.purpose == purpose, SigningKey.status != "revoked")
        .order_by(SigningKey.issuer_code, SigningKey.kid)
    ).scalars():
        if purpose == "dcc":
            if not k.certificate:
                continue
            if x509.load_der_x509_certificate(k.certificate).not_valid_after_utc <= at:
                continue
        elif k.status == "rotated" and k.rotated_at is not None and k.rotated_at < grace:
            continue
        out.append(k)
    return out


def shc_jwk(row: SigningKey) -> dict[str, str]:
    """The key-set entry (JWK) of an ``shc`` key."""
    from healthcode.credentials.shc import public_jwk

    pub = load_public_der(row.public_key)
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        raise ConfigError(f"SHC key {row.kid} is not an ECDSA key")
    return public_jwk(pub)


def trust_store_from_db(
    session: Session,
    *,
    at: datetime,
    production: bool,
    clock_skew_seconds: int,
    public_url: str = DEFAULT_PUBLIC_URL,
) -> TrustStore:
    """The verifier's trust store straight from this database (same content as the trust list).

    A production store leaves DEMO e-certificate keys out (their certificates read as
    ``unknown-kid`` / ``unknown-issuer``).
    """
    from healthcode.credentials.hcert import certificate_kid

    store = TrustStore(production=production, clock_skew_seconds=clock_skew_seconds)
    for k in listed_ecert_keys(session, "dcc", at):
        if production and k.demo:
            continue
        assert k.certificate is not None  # noqa: S101 - listed keys have one
        cert = x509.load_der_x509_certificate(k.certificate)
        store.dcc.setdefault(certificate_kid(cert), []).append(cert)
        if k.demo:
            store.demo_dcc.add(cert.fingerprint(hashes.SHA256()))
    shc_keys = [k for k in listed_ecert_keys(session, "shc", at) if not (production and k.demo)]
    urls = shc_issuer_urls(session, public_url, shc_keys)
    for k in shc_keys:
        jwk = shc_jwk(k)
        for url in urls[k.kid]:
            store.shc.setdefault(url, []).append(jwk)
        if k.demo:
            store.demo_shc.add(jwk["kid"])
    for k in _listed_keys(session, at):
        store.native[bytes.fromhex(k.kid)] = TrustedKey(
            kid=bytes.fromhex(k.kid),
            issuer=k.issuer_code,
            alg=k.alg,
            public_key=load_public_der(k.public_key),
            status=k.status,
            demo=k.demo,
            not_after=(k.rotated_at + timedelta(days=ROTATED_GRACE_DAYS)) if k.rotated_at else None,
        )
    return store


def build_trust_list(
    session: Session,
    *,
    master: bytes,
    at: datetime,
    public_url: str = DEFAULT_PUBLIC_URL,
    revocations: dict[str, object] | None = None,
) -> dict[str, object]:
    """Build and sign the trust list (see the module docstring).

    :param public_url: base URL of the SHC issuers (``HEALTHCODE_PUBLIC_URL``).
    :param revocations: the payload's ``revocations`` (revoked e-certificates, shape in
        :mod:`healthcode.ecerts.revocation`), signed with the rest; left out when None.
    :raises NotFound: no national trust-list key.
    """
    from healthcode.credentials.hcert import certificate_kid

    anchor = active_key(session, NATIONAL.code, "trust-list")
    issuers: dict[str, dict[str, object]] = {}
    dcc: dict[str, list[dict[str, object]]] = {}
    shc: dict[str, list[dict[str, object]]] = {}
    for i in session.execute(select(Issuer).order_by(Issuer.code)).scalars():
        dcc[i.code], shc[i.code] = [], []
        issuers[i.code] = {
            "code": i.code, "name": i.name, "code_name": i.code_name, "keys": [],
            "dcc": dcc[i.code], "shc": shc[i.code],
        }  # fmt: skip
    for k in listed_ecert_keys(session, "dcc", at):
        assert k.certificate is not None  # noqa: S101 - listed keys have one
        cert = x509.load_der_x509_certificate(k.certificate)
        dcc[k.issuer_code].append(
            {
                "kid": base64.b64encode(certificate_kid(cert)).decode(),
                "certificate": base64.b64encode(k.certificate).decode(),
                "status": k.status,
                "demo": k.demo,
            }
        )
    shc_keys = listed_ecert_keys(session, "shc", at)
    urls = shc_issuer_urls(session, public_url, shc_keys)
    for k in shc_keys:
        for url in urls[k.kid]:  # the configured URL, then others its cards named
            shc[k.issuer_code].append(
                {"iss": url, "jwk": shc_jwk(k), "status": k.status, "demo": k.demo}
            )
    for k in _listed_keys(session, at):
        keys = issuers[k.issuer_code]["keys"]
        assert isinstance(keys, list)  # noqa: S101 - built above
        keys.append(
            {
                "kid": k.kid,
                "alg": k.alg,
                "public_key": base64.b64encode(k.public_key).decode(),
                "status": k.status,
                "demo": k.demo,
                "not_after": (k.rotated_at + timedelta(days=ROTATED_GRACE_DAYS)).isoformat()
                if k.rotated_at
                else None,
            }
        )
    payload = {
        "issued_at": at.isoformat(),
        "valid_until": (at + timedelta(days=TRUST_LIST_VALID_DAYS)).isoformat(),
        "anchor": {
            "kid": anchor.kid,
            "alg": "ES256",
            "public_key": base64.b64encode(anchor.public_key).decode(),
            "demo": anchor.demo,
        },
        "issuers": list(issuers.values()),
    }
    if revocations is not None:
        payload["revocations"] = revocations
    priv = private_key(anchor, master)
    assert isinstance(priv, ec.EllipticCurvePrivateKey)  # noqa: S101 - anchor is ES256
    sig = priv.sign(_canonical(payload), ec.ECDSA(hashes.SHA256()))
    return {
        "format": FORMAT,
        "payload": payload,
        "signature": {"kid": anchor.kid, "alg": "ES256", "value": base64.b64encode(sig).decode()},
    }


#: Longest lifetime a trust list may claim (``valid_until - issued_at``).
MAX_TRUST_LIST_DAYS = 31


def anchor_keys(session: Session) -> list[bytes]:
    """SPKI DER of this database's national trust-list anchors (active and rotated)."""
    return [
        k.public_key
        for k in session.execute(
            select(SigningKey).where(
                SigningKey.purpose == "trust-list", SigningKey.status != "revoked"
            )
        ).scalars()
    ]


def trust_store_from_list(
    doc: object,
    *,
    at: datetime,
    production: bool,
    clock_skew_seconds: int,
    anchors: Sequence[bytes] = (),
) -> TrustStore:
    """Check a trust list against the verifier's pinned anchors, and build a trust store from it.

    A trust list proves nothing by itself (anyone can sign one): it must be
    signed by a national anchor the verifier already trusts — from its own
    database, or a ``--trust-anchor`` file.

    :param anchors: SPKI DER of the pinned anchor keys; the list's signature must
        verify with the one whose kid it names.
    :raises TrustListInvalid: malformed, not signed by a pinned anchor, expired, lifetime
        over :data:`MAX_TRUST_LIST_DAYS`, or a DEMO anchor in production.
    """
    if not anchors:
        raise TrustListInvalid(
            "no trust anchor is pinned: give --trust-anchor (the national anchor key)"
        )
    pinned = {kid_for(load_public_der(der)).hex(): der for der in anchors}
    try:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise TypeError(f"not a {FORMAT} document")
        payload = doc["payload"]
        sig = base64.b64decode(doc["signature"]["value"], validate=True)
        kid = str(doc["signature"]["kid"]).lower()
        if kid not in pinned:
            raise TrustListInvalid("trust list is not signed by a pinned trust anchor")
        anchor = load_public_der(pinned[kid])
        if not isinstance(anchor, ec.EllipticCurvePublicKey):
            raise TypeError("anchor is not an ECDSA key")
        anchor.verify(sig, _canonical(payload), ec.ECDSA(hashes.SHA256()))
        valid_until = parse_instant(str(payload["valid_until"]))
        issued_at = parse_instant(str(payload["issued_at"]))
    except InvalidSignature as exc:
        raise TrustListInvalid("trust list signature does not verify") from exc
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise TrustListInvalid(f"malformed trust list: {exc}") from exc
    if valid_until - issued_at > timedelta(days=MAX_TRUST_LIST_DAYS):
        raise TrustListInvalid(f"trust list claims a lifetime over {MAX_TRUST_LIST_DAYS} days")
    if not issued_at - timedelta(minutes=5) <= at < valid_until:
        raise TrustListInvalid("trust list is not valid at this time (expired or from the future)")
    anchor_info = payload.get("anchor") if isinstance(payload, dict) else None
    if production and (not isinstance(anchor_info, dict) or anchor_info.get("demo")):
        raise TrustListInvalid("trust list is signed by a DEMO anchor; refused in production")
    store = TrustStore(production=production, clock_skew_seconds=clock_skew_seconds)
    try:
        for issuer in payload["issuers"]:
            for k in issuer["keys"]:
                key_id = bytes.fromhex(k["kid"])
                store.native[key_id] = TrustedKey(
                    kid=key_id,
                    issuer=issuer["code"],
                    alg=k["alg"],
                    public_key=load_public_der(base64.b64decode(k["public_key"])),
                    status=k["status"],
                    demo=bool(k.get("demo")),
                    not_after=parse_instant(str(k["not_after"])) if k.get("not_after") else None,
                )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise TrustListInvalid(f"malformed key in trust list: {exc}") from exc
    _ecert_trust_from_list(payload["issuers"], store, production=production)
    from healthcode.ecerts.revocation import apply_to_store

    try:  # revoked e-certificates (lists made before them have none)
        apply_to_store(
            payload.get("revocations"), store, shc_keys=[k for ks in store.shc.values() for k in ks]
        )
    except (ValueError, TypeError) as exc:
        raise TrustListInvalid(f"malformed revocations in trust list: {exc}") from exc
    return store


def _ecert_trust_from_list(issuers: object, store: TrustStore, *, production: bool) -> None:
    """Fill ``store.dcc`` and ``store.shc`` from the issuers' ``dcc`` / ``shc`` entries
    (absent in lists made before e-certificates: nothing to add). DEMO keys are left out
    in production.

    :raises TrustListInvalid: a certificate whose kid is not the listed one, or a key set
        that is not a valid SHC key set.
    """
    from healthcode.credentials.errors import IssuerKeysInvalid
    from healthcode.credentials.hcert import certificate_kid
    from healthcode.credentials.shc import validate_keyset

    sets: dict[str, list[dict[str, object]]] = {}
    try:
        assert isinstance(issuers, list)  # noqa: S101
        for issuer in issuers:
            for entry in issuer.get("dcc") or []:
                if production and entry.get("demo"):
                    continue
                cert = x509.load_der_x509_certificate(base64.b64decode(entry["certificate"]))
                kid = certificate_kid(cert)
                if base64.b64decode(entry["kid"]) != kid:
                    raise TrustListInvalid("a DCC certificate's kid is not the one listed")
                store.dcc.setdefault(kid, []).append(cert)
                if entry.get("demo"):
                    store.demo_dcc.add(cert.fingerprint(hashes.SHA256()))
            for entry in issuer.get("shc") or []:
                if production and entry.get("demo"):
                    continue
                if not isinstance(entry["iss"], str) or not isinstance(entry["jwk"], dict):
                    raise TypeError("shc entries hold an iss and a jwk")
                sets.setdefault(entry["iss"], []).append(entry["jwk"])
                if entry.get("demo"):
                    store.demo_shc.add(str(entry["jwk"].get("kid")))
        for iss, keys in sets.items():
            store.shc[iss] = validate_keyset({"keys": keys}, iss=iss)
    except IssuerKeysInvalid as exc:
        raise TrustListInvalid(f"invalid SHC key set in trust list: {exc}") from exc
    except (AssertionError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise TrustListInvalid(f"malformed e-certificate key in trust list: {exc}") from exc


def checkpoint_signer(session: Session, master: bytes):  # type: ignore[no-untyped-def]
    """A :data:`healthcode.audit.log.CheckpointSigner` using the national anchor key."""
    row = active_key(session, NATIONAL.code, "trust-list")
    priv = private_key(row, master)

    def sign(message: bytes) -> tuple[str, bytes]:
        assert isinstance(priv, ec.EllipticCurvePrivateKey)  # noqa: S101
        return row.kid, priv.sign(message, ec.ECDSA(hashes.SHA256()))

    return sign


def checkpoint_verifier(session: Session):  # type: ignore[no-untyped-def]
    """A :data:`healthcode.audit.log.CheckpointVerifier` over the stored anchor keys."""
    keys = {
        k.kid: load_public_der(k.public_key)
        for k in session.execute(
            select(SigningKey).where(SigningKey.purpose == "trust-list")
        ).scalars()
    }

    def verify(kid: str, message: bytes, signature: bytes) -> bool:
        pub = keys.get(kid)
        if not isinstance(pub, ec.EllipticCurvePublicKey):
            return False
        try:
            pub.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    return verify
