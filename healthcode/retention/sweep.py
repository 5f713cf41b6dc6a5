"""The retention sweep: one function per kind of record, each measuring from ``at``.

Every function deletes inside the caller's transaction and returns the number of
rows deleted; :func:`sweep_all` runs them all and audits ``retention:sweep`` with
the counts per kind (never what was deleted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, exists, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Delete

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.clock import SHANGHAI
from healthcode.retention.policy import RetentionPolicy
from healthcode.storage.models import (
    ECertificate,
    HolderSession,
    LocationRecord,
    OtpChallenge,
    TripCardRow,
    TripPhone,
    TripSession,
)


def _run(session: Session, stmt: Delete) -> int:
    result = cast(CursorResult[Any], session.execute(stmt))
    return int(result.rowcount or 0)


def sweep_location_records(session: Session, *, at: datetime, days: int) -> int:
    """Delete location records taken more than ``days`` days before ``at``."""
    cutoff = int((at - timedelta(days=days)).timestamp())
    return _run(session, delete(LocationRecord).where(LocationRecord.epoch_s < cutoff))


def sweep_trip_cards(session: Session, *, at: datetime, days: int) -> int:
    """Delete cards whose query date is more than ``days`` days before ``at``'s day (Asia/Shanghai)."""
    cutoff = at.astimezone(SHANGHAI).date() - timedelta(days=days)
    return _run(session, delete(TripCardRow).where(TripCardRow.as_of < cutoff))


def sweep_trip_phones(session: Session, *, at: datetime) -> int:
    """Delete sealed phone numbers that no record and no card refers to any more.

    ``at`` only for the uniform signature: a number goes with its last record or card.
    """
    del at
    unused = ~exists(
        select(LocationRecord.phone_index).where(
            LocationRecord.phone_index == TripPhone.phone_index
        )
    ) & ~exists(
        select(TripCardRow.phone_index).where(TripCardRow.phone_index == TripPhone.phone_index)
    )
    return _run(session, delete(TripPhone).where(unused))


def sweep_otp_challenges(session: Session, *, at: datetime, seconds: int) -> int:
    """Delete SMS codes (sign-in and trip-card) sent more than ``seconds`` before ``at``."""
    cutoff = at - timedelta(seconds=seconds)
    return _run(session, delete(OtpChallenge).where(OtpChallenge.created_at <= cutoff))


def sweep_holder_sessions(session: Session, *, at: datetime) -> int:
    """Delete holder sessions that expired at or before ``at``."""
    return _run(session, delete(HolderSession).where(HolderSession.expires_at <= at))


def sweep_e_certificates(session: Session, *, at: datetime, grace_days: int) -> int:
    """Delete the register rows of e-certificates that expired more than ``grace_days``
    before ``at`` and were never revoked.

    A certificate past its ``exp`` fails every verifier's expiry check, so its row
    (kept only to revoke it) has no use left; ``grace_days`` covers verifiers with a
    slow clock. Revoked rows stay: an SMART Health Card CRL's ``ctr`` counts the
    revocations under its key and must never go down (SMART Health Cards spec,
    "Revocation").
    """
    cutoff = at - timedelta(days=grace_days)
    return _run(
        session,
        delete(ECertificate).where(
            ECertificate.expires_at < cutoff, ECertificate.revoked_at.is_(None)
        ),
    )


def sweep_trip_sessions(session: Session, *, at: datetime) -> int:
    """Delete trip-card page sessions that expired at or before ``at``."""
    return _run(session, delete(TripSession).where(TripSession.expires_at <= at))


def sweep_all(
    session: Session,
    *,
    at: datetime,
    policy: RetentionPolicy | None = None,
    actor: str = "system",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run every sweep as of ``at`` and audit the counts (``retention:sweep``).

    :param now: the wall clock for the audit entry (default ``at``; differs when a
        sweep is run "as of" another instant, e.g. ``--at`` in tests).

    :returns: ``{"at", "policy": {...days}, "deleted": {kind: rows}, "total"}``.
    """
    p = policy or RetentionPolicy.default()
    deleted = {
        "location_records": sweep_location_records(session, at=at, days=p.location_records_days),
        "trip_cards": sweep_trip_cards(session, at=at, days=p.trip_cards_days),
        "trip_phones": 0,
        "otp_challenges": sweep_otp_challenges(session, at=at, seconds=p.otp_challenge_seconds),
        "holder_sessions": sweep_holder_sessions(session, at=at),
        "trip_sessions": sweep_trip_sessions(session, at=at),
        "e_certificates": sweep_e_certificates(
            session, at=at, grace_days=p.e_certificate_grace_days
        ),
    }
    deleted["trip_phones"] = sweep_trip_phones(session, at=at)  # after records and cards
    out: dict[str, Any] = {
        "at": at.isoformat(),
        "policy": {
            "location_records_days": p.location_records_days,
            "trip_cards_days": p.trip_cards_days,
            "otp_challenge_seconds": p.otp_challenge_seconds,
            "e_certificate_grace_days": p.e_certificate_grace_days,
        },
        "deleted": deleted,
        "total": sum(deleted.values()),
    }
    audit.append(
        session,
        tag=AuditTag.RETENTION_SWEEP,
        actor=actor,
        at=now or at,
        data={"as_of": out["at"], "deleted": deleted, "policy": out["policy"]},
    )
    return out
