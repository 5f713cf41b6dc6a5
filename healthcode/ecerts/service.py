"""Issuing e-certificates (电子证照): a holder's records → a signed EU DCC or SMART Health Card.

:func:`issue` runs inside the caller's unit of work. It reads the holder's
facts and sealed name and birth date (an audited read, ``holder:read`` with
purpose ``e-certificate``), signs with the active key of the holder's region for
the format (``dcc`` / ``shc``; in local mode a DEMO key is made on first use, and
a DSC too close to its end is replaced), records the certificate in
``e_certificates`` (ID, UVCI or ``rid``, key, times — never the payload or personal
data) and audits ``credential:issue`` with the kid, format, kind and certificate ID.

Revocation (:func:`revoke`, audited ``credential:revoke``) marks the row; the
published lists — the DCC ``UCI`` hashes and the SHC CRL per key, shapes in
:mod:`healthcode.ecerts.revocation` — are computed from the rows
(:func:`published_revocations`, :func:`shc_crl_for`), and our own verifier's trust
store gets them (:func:`add_revocations`).

Lifetimes: :data:`VACCINATION_VALID_DAYS` and :data:`TEST_VALID_DAYS` from issue
(never past the DSC's own end). Whether a certificate is *accepted* (a test
younger than 48 h, 14 days after the last dose …) is the destination's business
rules' decision, not the lifetime's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.credentials import hcert, shc
from healthcode.credentials.trust import TrustStore
from healthcode.ecerts import mapping, revocation
from healthcode.ecerts.errors import (
    CertificateAlreadyRevoked,
    CertificateIdInvalid,
    CertificateNotCurrent,
    CertificateNotFound,
    CertificateOptionInvalid,
    NoRecords,
    RevocationReasonInvalid,
)
from healthcode.errors import ConfigError, NotFound
from healthcode.facts.service import gather_facts
from healthcode.holders.service import HolderKeys, get_holder, read_pii
from healthcode.issuers import service as issuers
from healthcode.issuers.regions import region_of
from healthcode.protect import derive_key
from healthcode.storage.models import ECertificate, Holder, Issuer, SigningKey

VACCINATION_VALID_DAYS = 365
TEST_VALID_DAYS = 14
_UVCI_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I/O: read aloud without doubt


@dataclass(frozen=True)
class IssuedCertificate:
    """A freshly signed e-certificate and what a printout shows of it.

    :ivar id: our certificate ID (20 characters ``[0-9A-Z]``; revoke with it or the UVCI).
    :ivar text: the QR text (``HC1:…`` or ``shc:/…``).
    :ivar uvci: the DCC's ``ci`` with its check character (None for an SHC).
    :ivar rid: the SHC's ``vc.rid`` (None for a DCC).
    :ivar kid: the key ID as the format writes it (DCC: base64 of 8 bytes; SHC: JWK thumbprint).
    :ivar issuer: ``{"code", "name", "label"}`` — ``label`` is the DCC ``is`` / the SHC ``iss``.
    :ivar events: the certified records (doses or the test), as recorded plus codes.
    :ivar new_key: the signing key was made for this certificate (first use, or a DSC
        replaced): trust stores read before it do not hold it yet.
    :ivar reused: an existing certificate shown again (same ID, times, key and text), not a
        new one.
    """

    id: str
    format: str
    kind: str
    text: str
    kid: str
    issued_at: datetime
    expires_at: datetime
    name: mapping.PersonName
    birth_date: str | None
    issuer: dict[str, str]
    demo: bool
    uvci: str | None = None
    rid: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    new_key: bool = False
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "format", "kind", "text", "uvci", "rid", "kid", "expires_at"}`` (the CLI's
        ``--json``; ``uvci`` is null for an SHC, ``rid`` null for a DCC)."""
        return {
            "id": self.id,
            "format": self.format,
            "kind": self.kind,
            "text": self.text,
            "uvci": self.uvci,
            "rid": self.rid,
            "kid": self.kid,
            "expires_at": self.expires_at.isoformat(),
        }


def _serial() -> str:
    return "".join(secrets.choice(_UVCI_ALPHABET) for _ in range(20))


def signing_key(
    session: Session,
    issuer: str,
    purpose: str,
    *,
    master: bytes,
    at: datetime,
    local: bool,
    actor: str,
) -> SigningKey:
    """The active ``dcc``/``shc`` key of ``issuer``; in local mode made (DEMO) when missing,
    and a DSC that ends within :data:`VACCINATION_VALID_DAYS` is replaced.

    :raises NotFound: production without such a key, or with an expired DSC
        (``healthcode keys create ISSUER --purpose dcc|shc``).
    """
    try:
        row = issuers.active_key(session, issuer, purpose)
    except NotFound:
        if not local:
            raise NotFound(
                f"issuer {issuer} has no active {purpose} key: "
                f"healthcode keys create {issuer} --purpose {purpose}"
            ) from None
        return issuers.create_key(
            session, issuer=issuer, purpose=purpose, master=master, at=at, demo=True, actor=actor
        )
    if purpose == "dcc":
        ends = _certificate(row).not_valid_after_utc
        if local and ends < at + timedelta(days=VACCINATION_VALID_DAYS):
            return issuers.rotate_key(
                session, issuer=issuer, purpose=purpose, master=master, at=at, actor=actor,
                demo=True,
            )  # fmt: skip
        if ends <= at:
            raise NotFound(f"the DCC signer certificate of issuer {issuer} has expired: rotate it")
    return row


def _certificate(row: SigningKey) -> x509.Certificate:
    if not row.certificate:
        raise ConfigError(f"DCC key {row.kid} has no certificate")
    return x509.load_der_x509_certificate(row.certificate)


def _records(facts: Mapping[str, list[dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
    if kind == "vaccination":
        doses = sorted(
            facts.get("vaccinations") or [], key=lambda v: (str(v["date"]), int(v["dose"]))
        )
        if not doses:
            raise NoRecords("no vaccination on record for this holder")
        return doses
    test = mapping.latest_test(facts.get("tests") or [])
    if test is None:
        raise NoRecords("no test on record for this holder")
    return [dict(test)]


@dataclass(frozen=True)
class Content:
    """What a certificate certifies, before it gets an ID, times and a key.

    :ivar records: the certified records — a DCC's one event (the last dose, the latest
        test), an SHC's doses or test.
    :ivar shc_issuer: the SHC ``iss`` (``{public_url}/issuers/{code}``; None for a DCC).
    """

    holder_id: str
    kind: str
    format: str
    code: str
    issuer_name: str
    name: mapping.PersonName
    birth_date: str | None
    records: list[dict[str, Any]]
    demo_holder: bool
    shc_issuer: str | None

    def digest(self, master: bytes) -> str:
        """HMAC-SHA-256 (key derived from the master key, purpose
        :data:`CONTENT_DIGEST_PURPOSE`) over the canonical JSON of everything the
        certificate says but its ID, times and key: kind, format, issuer, name, birth date,
        records. Stored with the certificate so an unchanged certificate can be shown again;
        keyed, so the stored value cannot be used to guess a name or birth date. 64 hex."""
        body = {
            "kind": self.kind, "format": self.format, "issuer": [self.code, self.issuer_name],
            "shc_issuer": self.shc_issuer, "demo_holder": self.demo_holder,
            "name": [self.name.written, self.name.family, self.name.given,
                     self.name.family_icao, self.name.given_icao],
            "birth_date": self.birth_date, "records": self.records,
        }  # fmt: skip
        text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        key = derive_key(master, CONTENT_DIGEST_PURPOSE)
        return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


#: :func:`healthcode.protect.derive_key` purpose of :meth:`Content.digest`.
CONTENT_DIGEST_PURPOSE = "e-certificate-content"
#: A certificate with less than this left is not shown again: a new one is issued instead.
REUSE_MIN_REMAINING = timedelta(days=1)


def _check_options(kind: str, fmt: str, *, production: bool, public_url: str) -> None:
    if kind not in mapping.KINDS:
        raise CertificateOptionInvalid(f"kind must be one of {', '.join(mapping.KINDS)}")
    if fmt not in mapping.FORMATS:
        raise CertificateOptionInvalid(f"format must be one of {', '.join(mapping.FORMATS)}")
    if fmt == "shc" and production and not public_url.startswith("https://"):
        raise ConfigError("SMART Health Cards need an https HEALTHCODE_PUBLIC_URL in production")


def content_of(
    session: Session,
    holder: Holder,
    *,
    kind: str,
    fmt: str,
    facts: Mapping[str, list[dict[str, Any]]],
    name: str,
    birth_date: str | None,
    public_url: str,
) -> Content:
    """The :class:`Content` of a ``kind`` certificate in ``fmt`` from the holder's facts and
    personal data (already read by the caller).

    :raises NoRecords: nothing of that kind on record.
    """
    region = region_of(holder.region)
    code = region.code if region else holder.region
    issuer_row = session.get(Issuer, code)
    records = _records(facts, kind)
    if fmt == "hc1":
        records = records[-1:]  # a DCC certifies one event: the last dose (or the test)
    return Content(
        holder_id=holder.id, kind=kind, format=fmt, code=code,
        issuer_name=issuer_row.name if issuer_row is not None else code,
        name=mapping.split_name(name), birth_date=birth_date, records=records,
        demo_holder=bool(holder.demo),
        shc_issuer=issuers.shc_issuer_url(public_url, code) if fmt == "shc" else None,
    )  # fmt: skip


def _read_content(
    session: Session,
    keys: HolderKeys,
    holder_id: str,
    *,
    kind: str,
    fmt: str,
    at: datetime,
    production: bool,
    public_url: str,
    actor: str,
) -> Content:
    _check_options(kind, fmt, production=production, public_url=public_url)
    holder = get_holder(session, holder_id)
    facts = gather_facts(session, keys, holder)
    _records(facts, kind)  # NoRecords before the personal data is read
    pii = read_pii(session, holder, keys, actor=actor, purpose="e-certificate", at=at)
    return content_of(
        session, holder, kind=kind, fmt=fmt, facts=facts, name=pii.name,
        birth_date=pii.birth_date, public_url=public_url,
    )  # fmt: skip


def _sign(
    content: Content,
    row: SigningKey,
    *,
    master: bytes,
    certificate_id: str,
    issued_at: datetime,
    expires_at: datetime,
) -> IssuedCertificate:
    """Sign ``content`` with key ``row`` as certificate ``certificate_id``. ECDSA signatures are
    deterministic (RFC 6979), so the same content, ID, times and key give the same text."""
    key = issuers.private_key(row, master)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{row.purpose} key {row.kid} is not an ECDSA key")
    records = content.records
    uvci = rid = None
    if content.format == "hc1":
        dsc = _certificate(row)
        label = f"healthcode {content.issuer_name} ({content.code})" + (" DEMO" if row.demo else "")
        uvci = mapping.uvci(content.code, certificate_id)
        if content.kind == "vaccination":
            group = "v"
            entry = mapping.dcc_vaccination_entry(records[-1], issuer=label, certificate_id=uvci)
        else:
            group = "t"
            entry = mapping.dcc_test_entry(records[0], issuer=label, certificate_id=uvci)
        payload = mapping.dcc_payload(content.name, content.birth_date, group, entry)
        kid_bytes = hcert.certificate_kid(dsc)
        text = hcert.encode(
            payload, key=key, kid=kid_bytes, issuer_country=mapping.ISSUER_COUNTRY,
            issued_at=issued_at, expires_at=expires_at,
        )  # fmt: skip
        kid = base64.b64encode(kid_bytes).decode("ascii")
        events = [dict(r, **_dcc_codes(entry)) for r in records]
    else:
        assert content.shc_issuer is not None  # noqa: S101 - set for every SHC content
        label = content.shc_issuer
        resources = (
            [mapping.fhir_immunization(r) for r in records]
            if content.kind == "vaccination"
            else [mapping.fhir_observation(records[0])]
        )
        vc = mapping.shc_vc(
            content.kind, mapping.fhir_patient(content.name, content.birth_date), resources
        )
        rid = revocation.shc_rid(
            derive_key(master, revocation.RID_SECRET_PURPOSE), row.kid, certificate_id
        )
        vc["rid"] = rid
        text = shc.encode(
            vc, key=key, issuer=label, issued_at=issued_at, expires_at=expires_at
        ).qr_text
        kid = row.kid
        events = [dict(r) for r in records]
    return IssuedCertificate(
        id=certificate_id,
        format=content.format,
        kind=content.kind,
        text=text,
        kid=kid,
        issued_at=issued_at,
        expires_at=expires_at,
        name=content.name,
        birth_date=content.birth_date,
        issuer={"code": content.code, "name": content.issuer_name, "label": label},
        demo=bool(row.demo or content.demo_holder),
        uvci=uvci,
        rid=rid,
        events=events,
    )


def issue(
    session: Session,
    keys: HolderKeys,
    holder_id: str,
    *,
    kind: str,
    fmt: str,
    at: datetime,
    master: bytes,
    production: bool,
    public_url: str,
    actor: str,
    reuse: bool = False,
) -> IssuedCertificate:
    """Issue a ``kind`` (``vaccination``/``test``) certificate in ``fmt`` (``hc1``/``shc``).

    :param reuse: return the holder's current certificate of that kind and format
        (:func:`current_row`) when there is one, signed again with its own ID, times and
        key — the same text, as signatures are deterministic — instead of a new one
        (``reused`` is then true; nothing is recorded or audited but the personal-data read).
    :raises CertificateOptionInvalid: unknown kind or format.
    :raises NotFound: unknown or destroyed holder; no key (production).
    :raises NoRecords: nothing of that kind on record.
    :raises ConfigError: an SHC in production while ``HEALTHCODE_PUBLIC_URL`` is not https.
    :raises PayloadTooLarge: an SHC too large for one QR symbol.
    """
    at = at.replace(microsecond=0)
    content = _read_content(
        session, keys, holder_id, kind=kind, fmt=fmt, at=at, production=production,
        public_url=public_url, actor=actor,
    )  # fmt: skip
    digest = content.digest(master)
    if reuse:
        found = current_row(session, holder_id, kind=kind, fmt=fmt, digest=digest, at=at)
        if found is not None:
            cert_row, key_row = found
            return replace(
                _sign(
                    content, key_row, master=master, certificate_id=cert_row.id,
                    issued_at=cert_row.issued_at, expires_at=cert_row.expires_at,
                ),
                reused=True,
            )  # fmt: skip
    purpose = "dcc" if fmt == "hc1" else "shc"
    row = signing_key(
        session, content.code, purpose, master=master, at=at, local=not production, actor=actor
    )
    new_key = row.created_at == at
    days = VACCINATION_VALID_DAYS if kind == "vaccination" else TEST_VALID_DAYS
    expires = at + timedelta(days=days)
    if fmt == "hc1":
        expires = min(expires, _certificate(row).not_valid_after_utc.replace(microsecond=0))
    cert = _sign(
        content, row, master=master, certificate_id=_serial(), issued_at=at, expires_at=expires
    )
    holder = get_holder(session, holder_id)
    session.add(
        ECertificate(
            id=cert.id, holder_id=holder.id, issuer_code=content.code, kind=kind, format=fmt,
            uvci=cert.uvci, rid=cert.rid, kid=row.kid, issued_at=at, expires_at=expires,
            content_digest=digest, shc_issuer=content.shc_issuer,
        )
    )  # fmt: skip
    audit.append(
        session,
        tag=AuditTag.CREDENTIAL_ISSUE,
        actor=actor,
        at=at,
        subject=holder.pseudonym,
        data={"kid": row.kid, "format": fmt, "kind": kind, "certificate": cert.id},
    )
    return replace(cert, new_key=new_key)


def current_row(
    session: Session, holder_id: str, *, kind: str, fmt: str, digest: str, at: datetime
) -> tuple[ECertificate, SigningKey] | None:
    """The holder's *current* certificate of ``kind`` and ``fmt``, with its key: the newest
    one not revoked, valid for at least :data:`REUSE_MIN_REMAINING` more, whose content
    digest is ``digest`` (it certifies what the holder's records, name, birth date and
    issuer say now), provided its key is still the active, usable one. None: a new one is
    due."""
    newest = session.execute(
        select(ECertificate)
        .where(
            ECertificate.holder_id == holder_id,
            ECertificate.kind == kind,
            ECertificate.format == fmt,
            ECertificate.content_digest == digest,
            ECertificate.revoked_at.is_(None),
            ECertificate.expires_at > at + REUSE_MIN_REMAINING,
        )
        .order_by(ECertificate.issued_at.desc(), ECertificate.id.desc())
        .limit(1)
    ).scalar()
    if newest is None:
        return None
    key = session.get(SigningKey, newest.kid)
    if key is None or key.status != "active" or key.private_key is None:
        return None
    return newest, key


def render(
    session: Session,
    keys: HolderKeys,
    holder_id: str,
    certificate_id: str,
    *,
    at: datetime,
    master: bytes,
    production: bool,
    public_url: str,
    actor: str,
) -> IssuedCertificate:
    """One of the holder's certificates again (for its QR, PNG, PDF or text), signed with its
    own ID, times and key: the same text as when it was issued. Only the holder's current
    certificate of its kind and format (:func:`current_row`) can be shown again: the content
    of others is not kept.

    :raises CertificateNotFound: no such certificate of this holder.
    :raises CertificateNotCurrent: revoked, expired or about to, superseded, its records
        changed, or its key rotated — issue a new one.
    """
    at = at.replace(microsecond=0)
    row = session.get(ECertificate, certificate_id.strip().upper())
    if row is None or row.holder_id != holder_id:
        raise CertificateNotFound(f"you have no e-certificate {certificate_id.strip()[:40]}")
    if row.revoked_at is not None:
        raise CertificateNotCurrent(f"e-certificate {row.id} was revoked")
    if row.expires_at <= at:
        raise CertificateNotCurrent(f"e-certificate {row.id} has expired")
    content = _read_content(
        session, keys, holder_id, kind=row.kind, fmt=row.format, at=at, production=production,
        public_url=public_url, actor=actor,
    )  # fmt: skip
    found = current_row(
        session, holder_id, kind=row.kind, fmt=row.format, digest=content.digest(master), at=at
    )
    if found is None or found[0].id != row.id:
        raise CertificateNotCurrent(
            f"e-certificate {row.id} is no longer your current one (a newer one, changed "
            "records, or a new key): issue a new one"
        )
    return replace(
        _sign(
            content, found[1], master=master, certificate_id=row.id, issued_at=row.issued_at,
            expires_at=row.expires_at,
        ),
        reused=True,
    )  # fmt: skip


def _dcc_codes(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        f"dcc_{k}": v for k, v in entry.items() if k in ("mp", "ma", "vp", "dn", "sd", "tt", "tr")
    }


# --- the register and revocation ------------------------------------------------------
#: Longest revocation reason kept, in characters.
MAX_REASON_CHARS = 200


def find_certificate(session: Session, ident: str) -> ECertificate:
    """One of our e-certificates by certificate ID or UVCI (with or without its check
    character, any letter case).

    :raises CertificateIdInvalid: neither an ID (8–40 characters ``[0-9A-Z]``) nor one of
        our UVCIs, or a UVCI whose check character does not match.
    :raises CertificateNotFound: no such certificate.
    """
    text = ident.strip().upper()
    try:
        serial = mapping.uvci_serial(text)
    except ValueError as exc:
        raise CertificateIdInvalid(f"{ident.strip()[:80]}: {exc}") from None
    if serial is None:
        if not re.fullmatch(r"[0-9A-Z]{8,40}", text):
            raise CertificateIdInvalid(
                f"{ident.strip()[:80]!r} is neither a certificate ID nor one of our UVCIs "
                f"(URN:UVCI:01:{mapping.ISSUER_COUNTRY}:…)"
            )
        serial = text
    row = session.get(ECertificate, serial)
    if row is None or (text.startswith("URN:") and not _same_uvci(row.uvci, text)):
        raise CertificateNotFound(f"no e-certificate {ident.strip()[:80]}")
    return row


def _same_uvci(stored: str | None, given: str) -> bool:
    return stored is not None and (given == stored or given == stored.rpartition("#")[0])


def certificate_dict(row: ECertificate, *, at: datetime) -> dict[str, Any]:
    """``{"id", "holder_id", "issuer", "kind", "format", "uvci", "rid", "kid", "issued_at",
    "expires_at", "revoked_at", "reason", "status"}``; ``status`` at ``at``: ``revoked`` |
    ``expired`` | ``valid``; times ISO 8601 UTC; ``kid`` as in ``healthcode keys list``."""
    status = "revoked" if row.revoked_at else ("expired" if row.expires_at <= at else "valid")
    return {
        "id": row.id,
        "holder_id": row.holder_id,
        "issuer": row.issuer_code,
        "kind": row.kind,
        "format": row.format,
        "uvci": row.uvci,
        "rid": row.rid,
        "kid": row.kid,
        "issued_at": row.issued_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "reason": row.revocation_reason,
        "status": status,
    }


def list_certificates(session: Session, holder_id: str) -> list[ECertificate]:
    """A holder's e-certificates, newest first.

    :raises NotFound: unknown holder.
    """
    get_holder(session, holder_id)
    return list(
        session.execute(
            select(ECertificate)
            .where(ECertificate.holder_id == holder_id)
            .order_by(ECertificate.issued_at.desc(), ECertificate.id)
        ).scalars()
    )


#: Most e-certificates the holder page lists (newest first).
HOLDER_PAGE_CERTIFICATES = 50


def holder_certificates(
    session: Session,
    holder: Holder,
    *,
    facts: Mapping[str, list[dict[str, Any]]],
    name: str,
    birth_date: str | None,
    at: datetime,
    master: bytes,
    public_url: str,
) -> dict[str, Any]:
    """The holder page's e-certificate section, from facts and personal data the caller read:
    ``{"offers": [{"kind", "format", "current": record | None}], "certificates": [record, …]}``.

    ``offers``: each kind on record (``vaccination``, ``test``) in each format, with the
    current certificate (:func:`current_row`) when there is one — the page shows it, else
    offers to issue one. ``certificates``: the holder's certificates, newest first (at most
    :data:`HOLDER_PAGE_CERTIFICATES`), records as :func:`certificate_dict` plus ``current``.
    """
    offers: list[dict[str, Any]] = []
    current_ids: set[str] = set()
    for kind, key in (("vaccination", "vaccinations"), ("test", "tests")):
        if not facts.get(key):
            continue
        for fmt in mapping.FORMATS:
            content = content_of(
                session, holder, kind=kind, fmt=fmt, facts=facts, name=name,
                birth_date=birth_date, public_url=public_url,
            )  # fmt: skip
            found = current_row(
                session, holder.id, kind=kind, fmt=fmt, digest=content.digest(master), at=at
            )
            record = None
            if found is not None:
                record = dict(certificate_dict(found[0], at=at), current=True)
                current_ids.add(found[0].id)
            offers.append({"kind": kind, "format": fmt, "current": record})
    rows = list_certificates(session, holder.id)[:HOLDER_PAGE_CERTIFICATES]
    return {
        "offers": offers,
        "certificates": [
            dict(certificate_dict(r, at=at), current=r.id in current_ids) for r in rows
        ],
    }


def revoke(session: Session, ident: str, *, reason: str, at: datetime, actor: str) -> ECertificate:
    """Revoke one e-certificate; audited as ``credential:revoke`` (certificate ID, format,
    kid, reason). From then on the published lists name it and our verifier reports it
    invalid with ``revocation`` failed (``revoked``).

    :param ident: certificate ID or UVCI (see :func:`find_certificate`).
    :param reason: why, 1–200 characters; it is published nowhere but kept and audited, so it
        should not name the holder.
    :raises RevocationReasonInvalid: empty or too long reason.
    :raises CertificateIdInvalid: not an ID or UVCI of ours; :raises CertificateNotFound:
        no such certificate; :raises CertificateAlreadyRevoked: revoked before.
    """
    reason = " ".join(reason.split())
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise RevocationReasonInvalid(f"a revocation reason is 1 to {MAX_REASON_CHARS} characters")
    at = at.replace(microsecond=0)
    row = find_certificate(session, ident)
    if row.revoked_at is not None:
        raise CertificateAlreadyRevoked(
            f"e-certificate {row.id} was revoked at {row.revoked_at.isoformat()}"
        )
    row.revoked_at = at
    row.revocation_reason = reason
    holder = get_holder(session, row.holder_id)
    audit.append(
        session,
        tag=AuditTag.CREDENTIAL_REVOKE,
        actor=actor,
        at=at,
        subject=holder.pseudonym,
        data={"certificate": row.id, "format": row.format, "kid": row.kid, "reason": reason},
    )
    return row


def revoked_uci_hashes(session: Session, *, at: datetime) -> list[str]:
    """UCI hashes (:func:`revocation.uci_hash`) of our revoked DCCs not expired at ``at``."""
    return sorted(
        revocation.uci_hash(uvci)
        for (uvci,) in session.execute(
            select(ECertificate.uvci).where(
                ECertificate.format == "hc1",
                ECertificate.revoked_at.is_not(None),
                ECertificate.expires_at > at,
            )
        )
        if uvci
    )


def shc_crls(session: Session, kids: list[str]) -> dict[str, dict[str, Any]]:
    """The card revocation list of each SHC key in ``kids`` (shape in
    :mod:`healthcode.ecerts.revocation`): ``ctr`` is 1 + the revocations under the key, so it
    grows with every revocation; ``rids`` every revoked card's ``rid``."""
    rids: dict[str, list[str]] = {kid: [] for kid in kids}
    if kids:
        for kid, rid in session.execute(
            select(ECertificate.kid, ECertificate.rid).where(
                ECertificate.format == "shc",
                ECertificate.revoked_at.is_not(None),
                ECertificate.kid.in_(kids),
            )
        ):
            if rid:
                rids[kid].append(rid)
    return {kid: revocation.shc_crl(kid, 1 + len(r), r) for kid, r in rids.items()}


def crl_versions(session: Session) -> dict[str, int]:
    """``crlVersion`` of every SHC key with a revoked card (keys without one: 1)."""
    return {
        kid: 1 + int(n)
        for kid, n in session.execute(
            select(ECertificate.kid, func.count())
            .where(ECertificate.format == "shc", ECertificate.revoked_at.is_not(None))
            .group_by(ECertificate.kid)
        )
    }


def published_revocations(session: Session, *, at: datetime) -> dict[str, Any]:
    """The trust list's ``revocations`` section: our revoked DCCs' UCI hashes and a CRL per
    SHC key verifiers trust at ``at``."""
    kids = [k.kid for k in issuers.listed_ecert_keys(session, "shc", at)]
    crls = shc_crls(session, kids)
    return revocation.trust_list_section(
        revoked_uci_hashes(session, at=at), [crls[k] for k in kids]
    )


def add_revocations(session: Session, store: TrustStore, *, at: datetime) -> None:
    """Give our verifier's trust store our revocations (what the trust list publishes)."""
    revocation.apply_to_store(published_revocations(session, at=at), store)
