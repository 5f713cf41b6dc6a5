"""Issuing e-certificates (电子证照): a holder's records → a signed EU DCC or SMART Health Card.

:func:`issue` runs inside the caller's unit of work. It reads the holder's
facts and sealed name and birth date (an audited read, ``holder:read`` with
purpose ``e-certificate``), signs with the active key of the holder's region for
the format (``dcc`` / ``shc``; in local mode a DEMO key is made on first use, and
a DSC too close to its end is replaced), and records ``credential:issue`` with
the kid, format and kind — never the payload.

Lifetimes: :data:`VACCINATION_VALID_DAYS` and :data:`TEST_VALID_DAYS` from issue
(never past the DSC's own end). Whether a certificate is *accepted* (a test
younger than 48 h, 14 days after the last dose …) is the destination's business
rules' decision, not the lifetime's.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.credentials import hcert, shc
from healthcode.ecerts import mapping
from healthcode.ecerts.errors import CertificateOptionInvalid, NoRecords
from healthcode.errors import ConfigError, NotFound
from healthcode.facts.service import gather_facts
from healthcode.holders.service import HolderKeys, get_holder, read_pii
from healthcode.issuers import service as issuers
from healthcode.issuers.regions import region_of
from healthcode.storage.models import Issuer, SigningKey

VACCINATION_VALID_DAYS = 365
TEST_VALID_DAYS = 14
_UVCI_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I/O: read aloud without doubt


@dataclass(frozen=True)
class IssuedCertificate:
    """A freshly signed e-certificate and what a printout shows of it.

    :ivar text: the QR text (``HC1:…`` or ``shc:/…``).
    :ivar kid: the key ID as the format writes it (DCC: base64 of 8 bytes; SHC: JWK thumbprint).
    :ivar issuer: ``{"code", "name", "label"}`` — ``label`` is the DCC ``is`` / the SHC ``iss``.
    :ivar events: the certified records (doses or the test), as recorded plus codes.
    :ivar new_key: the signing key was made for this certificate (first use, or a DSC
        replaced): trust stores read before it do not hold it yet.
    """

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
    certificate_id: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    new_key: bool = False

    def to_dict(self) -> dict[str, Any]:
        """``{"format", "kind", "text", "kid", "expires_at"}`` (the CLI's ``--json``)."""
        return {
            "format": self.format,
            "kind": self.kind,
            "text": self.text,
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
                session, issuer=issuer, purpose=purpose, master=master, at=at, actor=actor
            )
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
) -> IssuedCertificate:
    """Issue a ``kind`` (``vaccination``/``test``) certificate in ``fmt`` (``hc1``/``shc``).

    :raises CertificateOptionInvalid: unknown kind or format.
    :raises NotFound: unknown or destroyed holder; no key (production).
    :raises NoRecords: nothing of that kind on record.
    :raises ConfigError: an SHC in production while ``HEALTHCODE_PUBLIC_URL`` is not https.
    :raises PayloadTooLarge: an SHC too large for one QR symbol.
    """
    if kind not in mapping.KINDS:
        raise CertificateOptionInvalid(f"kind must be one of {', '.join(mapping.KINDS)}")
    if fmt not in mapping.FORMATS:
        raise CertificateOptionInvalid(f"format must be one of {', '.join(mapping.FORMATS)}")
    if fmt == "shc" and production and not public_url.startswith("https://"):
        raise ConfigError("SMART Health Cards need an https HEALTHCODE_PUBLIC_URL in production")
    at = at.replace(microsecond=0)
    holder = get_holder(session, holder_id)
    region = region_of(holder.region)
    code = region.code if region else holder.region
    issuer_row = session.get(Issuer, code)
    issuer_name = issuer_row.name if issuer_row is not None else code
    records = _records(gather_facts(session, keys, holder), kind)
    pii = read_pii(session, holder, keys, actor=actor, purpose="e-certificate", at=at)
    name = mapping.split_name(pii.name)
    purpose = "dcc" if fmt == "hc1" else "shc"
    row = signing_key(
        session, code, purpose, master=master, at=at, local=not production, actor=actor
    )
    new_key = row.created_at == at
    key = issuers.private_key(row, master)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{purpose} key {row.kid} is not an ECDSA key")
    demo = bool(row.demo or holder.demo)
    days = VACCINATION_VALID_DAYS if kind == "vaccination" else TEST_VALID_DAYS
    expires = at + timedelta(days=days)
    certificate_id = None
    if fmt == "hc1":
        dsc = _certificate(row)
        expires = min(expires, dsc.not_valid_after_utc.replace(microsecond=0))
        label = f"healthcode {issuer_name} ({code})" + (" DEMO" if row.demo else "")
        certificate_id = mapping.uvci(code, _serial())
        if kind == "vaccination":
            group, entry = (
                "v",
                mapping.dcc_vaccination_entry(
                    records[-1], issuer=label, certificate_id=certificate_id
                ),
            )
            records = records[-1:]  # a DCC certifies one dose: the last
        else:
            group, entry = (
                "t",
                mapping.dcc_test_entry(records[0], issuer=label, certificate_id=certificate_id),
            )
        payload = mapping.dcc_payload(name, pii.birth_date, group, entry)
        kid_bytes = hcert.certificate_kid(dsc)
        text = hcert.encode(
            payload, key=key, kid=kid_bytes, issuer_country=mapping.ISSUER_COUNTRY,
            issued_at=at, expires_at=expires,
        )  # fmt: skip
        kid = base64.b64encode(kid_bytes).decode("ascii")
        events = [dict(r, **_dcc_codes(entry)) for r in records]
    else:
        label = issuers.shc_issuer_url(public_url, code)
        resources = (
            [mapping.fhir_immunization(r) for r in records]
            if kind == "vaccination"
            else [mapping.fhir_observation(records[0])]
        )
        vc = mapping.shc_vc(kind, mapping.fhir_patient(name, pii.birth_date), resources)
        text = shc.encode(vc, key=key, issuer=label, issued_at=at, expires_at=expires).qr_text
        kid = row.kid
        events = [dict(r) for r in records]
    audit.append(
        session,
        tag=AuditTag.CREDENTIAL_ISSUE,
        actor=actor,
        at=at,
        subject=holder.pseudonym,
        data={"kid": row.kid, "format": fmt, "kind": kind},
    )
    return IssuedCertificate(
        format=fmt,
        kind=kind,
        text=text,
        kid=kid,
        issued_at=at,
        expires_at=expires,
        name=name,
        birth_date=pii.birth_date,
        issuer={"code": code, "name": issuer_name, "label": label},
        demo=demo,
        certificate_id=certificate_id,
        events=events,
        new_key=new_key,
    )


def _dcc_codes(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        f"dcc_{k}": v for k, v in entry.items() if k in ("mp", "ma", "vp", "dn", "sd", "tt", "tr")
    }
