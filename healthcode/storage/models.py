"""Database tables (SQLAlchemy 2 declarative). Migrations live in ``migrations/``.

Conventions: every timestamp is stored as UTC (naive in the database, aware in
Python, see :class:`UTCDateTime`); personal data is stored only sealed
(:mod:`healthcode.protect`) and found by blind indexes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (portable across backends)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Issuer(Base):
    """One of the 35 issuers (34 regions + national platform ``100000``)."""

    __tablename__ = "issuers"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    code_name: Mapped[str] = mapped_column(String(64))
    city_overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class SigningKey(Base):
    """An issuer key. ``private_key`` is sealed under the master key; None once destroyed.

    ``purpose``: ``health-code`` | ``trust-list`` (national anchor) | ``dcc`` (EU DCC
    document signer) | ``dcc-csca`` (the region's DCC country signing CA) | ``shc``.
    ``status``: ``active`` | ``rotated`` | ``revoked``.
    ``certificate``: X.509 DER of ``dcc`` (the DSC) and ``dcc-csca`` (self-signed) keys, else None.
    """

    __tablename__ = "signing_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex
    issuer_code: Mapped[str] = mapped_column(ForeignKey("issuers.code"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    alg: Mapped[str] = mapped_column(String(8))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # SubjectPublicKeyInfo DER
    private_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(8), default="active")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(200))
    certificate: Mapped[bytes | None] = mapped_column(LargeBinary)


class ECertificate(Base):
    """An issued e-certificate (电子证照), kept so it can be revoked; never its contents.

    ``id``: our certificate ID (20 characters ``[0-9A-Z]``, the UVCI's serial for a DCC);
    ``format``: ``hc1`` | ``shc``; ``kind``: ``vaccination`` | ``test``; ``uvci``: the DCC's
    ``ci`` with its check character (None for an SHC); ``rid``: the SHC's ``vc.rid`` (None
    for a DCC); ``kid``: the signing key (``signing_keys.kid``). Name, birth date and
    records stay in the holder's sealed data. ``content_digest``: keyed HMAC of what the
    certificate certifies (:meth:`healthcode.ecerts.service.Content.digest`), so the holder
    page can show an unchanged certificate again instead of signing a new one (migration
    ``0005``; None for older rows); ``shc_issuer``: an SHC's ``iss`` (the server's public URL
    when it was issued), so our verifier knows the key under that URL too.
    """

    __tablename__ = "e_certificates"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"), index=True)
    issuer_code: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(8))
    uvci: Mapped[str | None] = mapped_column(String(80), unique=True)
    rid: Mapped[str | None] = mapped_column(String(24))
    kid: Mapped[str] = mapped_column(ForeignKey("signing_keys.kid"), index=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(200))
    content_digest: Mapped[str | None] = mapped_column(String(64))
    shc_issuer: Mapped[str | None] = mapped_column(String(200))


class Holder(Base):
    """A holder. ``pii`` (name, ID, phone) is sealed with the holder's data key."""

    __tablename__ = "holders"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(6), index=True)
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    data_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # wrapped DEK; None = shredded
    pii: Mapped[bytes] = mapped_column(LargeBinary)
    id_index: Mapped[str] = mapped_column(String(32), unique=True)
    phone_index: Mapped[str] = mapped_column(String(32), index=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Fact(Base):
    """A fact about a holder (test, vaccination, declaration, contact, quarantine).

    ``data`` is sealed with the holder's data key; ``observed_at`` (UTC) is the
    fact's own time (sampling time, dose date, declaration time, listing time).
    """

    __tablename__ = "facts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    observed_at: Mapped[datetime]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    import_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class PlaceVisit(Base):
    """Blind-indexed place of a declared stay, so a risk-list change finds holders by index.

    ``place_key`` = blind index of the normalised (province, city, county, community).
    """

    __tablename__ = "place_visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"), index=True)
    fact_id: Mapped[int] = mapped_column(ForeignKey("facts.id"))
    place_key: Mapped[str] = mapped_column(String(32), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]


class Status(Base):
    """One evaluated status; all rows of a holder are their history (``current`` marks the latest)."""

    __tablename__ = "statuses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"), index=True)
    colour: Mapped[str] = mapped_column(String(8))
    status_code: Mapped[str] = mapped_column(String(2))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    clears_at: Mapped[datetime | None]
    evaluated_at: Mapped[datetime]
    as_of: Mapped[datetime]
    ruleset: Mapped[str] = mapped_column(String(64))
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger: Mapped[str] = mapped_column(String(32), default="facts")

    __table_args__ = (Index("ix_statuses_current", "holder_id", "current"),)


class RiskArea(Base):
    """One continuous listing of one community at one level (as published, Asia/Shanghai times)."""

    __tablename__ = "risk_areas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    level: Mapped[str] = mapped_column(String(8))
    province: Mapped[str] = mapped_column(String(64))
    city: Mapped[str] = mapped_column(String(64))
    county: Mapped[str] = mapped_column(String(64))
    community: Mapped[str] = mapped_column(Text)
    first_listed: Mapped[datetime]
    last_listed: Mapped[datetime]
    first_absent: Mapped[datetime | None]
    place_key: Mapped[str] = mapped_column(String(32), index=True)
    import_id: Mapped[str] = mapped_column(String(40), index=True)

    __table_args__ = (
        Index("ix_risk_areas_when", "first_listed", "first_absent"),
        Index("ix_risk_areas_where", "province", "city"),
    )


class ImportRun(Base):
    """A completed all-or-nothing import (facts or risk areas)."""

    __tablename__ = "imports"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OtpChallenge(Base):
    """A one-time code sent by SMS: stored hashed, expires, limited attempts."""

    __tablename__ = "otp_challenges"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone_index: Mapped[str] = mapped_column(String(32), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None]


class HolderSession(Base):
    """A signed-in holder session; the cookie carries the token, the table its hash."""

    __tablename__ = "holder_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class OutboxMessage(Base):
    """Messages of the development SMS sender (shown on the admin page)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    recipient: Mapped[str] = mapped_column(String(32))  # masked
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only, hash-chained audit entry. Never holds a token or personal data."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    tag: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """Signed checkpoint over the chain head at ``seq`` (national trust-list key)."""

    __tablename__ = "audit_checkpoints"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    kid: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    at: Mapped[datetime]


# --------------------------------------------------------------------------- trip card
class TripPhone(Base):
    """A phone number seen in location records, sealed; found by its blind index.

    ``phone_index`` is :meth:`HolderKeys.phone_key` of the 11-digit number (the same
    index as ``holders.phone_index``, so a holder's trip card is found without a
    scan); ``phone`` is the number sealed under a key derived from the master key
    (``aad`` = the index). Deleted by the retention sweep once no record or card
    refers to it.
    """

    __tablename__ = "trip_phones"
    phone_index: Mapped[str] = mapped_column(String(32), primary_key=True)
    phone: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class LocationRecord(Base):
    """One location record of a phone (exact duplicates are stored once).

    ``epoch_s``: whole seconds since 1970-01-01 UTC (the engines' unit);
    ``lon``/``lat``: WGS-84 degrees (from the record, or from its cell site);
    ``cell_id``: the record's cell, if it named one; ``import_id``: the import run.
    """

    __tablename__ = "location_records"
    phone_index: Mapped[str] = mapped_column(String(32), primary_key=True)
    epoch_s: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    lon: Mapped[float] = mapped_column(Float, primary_key=True)
    lat: Mapped[float] = mapped_column(Float, primary_key=True)
    cell_id: Mapped[str | None] = mapped_column(String(64))
    import_id: Mapped[str] = mapped_column(String(40))

    __table_args__ = (Index("ix_location_records_epoch_s", "epoch_s"),)


class TripCardRow(Base):
    """A computed trip card per (phone index, query date).

    ``card``: the card JSON line (masked phone only), exactly as printed;
    ``source``: ``records`` (stored records) or ``files`` (``--records`` files);
    ``risk_import``: the risk-area import the stars were taken from (a card whose
    policy uses the risk list is recomputed when the list changes).
    """

    __tablename__ = "trip_cards"
    phone_index: Mapped[str] = mapped_column(String(32), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    card: Mapped[str] = mapped_column(Text)
    colour: Mapped[str] = mapped_column(String(8))
    policy: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime | None]
    built_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(8))
    risk_import: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (Index("ix_trip_cards_as_of", "as_of"),)


class TripSession(Base):
    """A short trip-card session after an SMS code (cookie carries the token, table its hash)."""

    __tablename__ = "trip_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(32))
    phone_masked: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
