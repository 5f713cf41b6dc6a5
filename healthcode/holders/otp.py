"""Holder sign-in: one-time codes sent by SMS, then a session bound to the holder.

Flow (``web/holder.py`` is the only caller besides tests):

1. :meth:`OtpService.request_code` — a random 6-digit code (``secrets``) for a
   phone number. Only its HMAC-SHA-256 (key derived from the master key) is
   stored, in :class:`~healthcode.storage.models.OtpChallenge`; it expires after
   ``code_ttl_seconds`` (5 minutes) and allows ``max_attempts`` (5) guesses.
   Requests are rate-limited per phone (5 per 15 minutes) and per client address
   (20 per 15 minutes; the address is stored as a keyed hash, not in clear).

   A challenge is stored for *every* well-formed phone number, enrolled or not,
   and the caller gives the same answer either way; the SMS itself goes only to
   enrolled phones. So nobody learns from the sign-in form whether a number is
   enrolled: for an unknown number every code is simply wrong. The SMS is
   returned as :class:`OutgoingSms` for the caller to :meth:`~OtpService.deliver`
   after answering, so the response time does not depend on it either.
2. :meth:`OtpService.sign_in` — checks the code (constant-time), consumes the
   challenge and creates a :class:`~healthcode.storage.models.HolderSession`:
   a random token for the cookie, of which only the SHA-256 is stored; it
   expires after ``session_ttl_seconds`` (12 hours). The sign-in is audited.
3. :meth:`OtpService.holder_for` — the holder id a session token belongs to.

Purposes: ``sign-in`` (above) and ``trip-card`` (the trip-card page, 通信行程卡):
a trip-card code goes to *any* well-formed number, as the carriers' service did
(the card of a number without records is empty), and :meth:`OtpService.check_code`
only checks and consumes it — the page opens its own short session. Codes of
both purposes count against the same rate limits; a new code replaces only the
earlier live code of its own purpose.

SMS delivery is pluggable (:class:`SmsSender`). :class:`DevSmsSender` is the
development sender: it writes the message to the ``outbox`` table (shown on the
admin page; the recipient masked) and appends a line to the log file
``settings.outbox``.

Limitation: several holders may share one phone (a parent's phone for a child).
A session is bound to the *earliest enrolled* holder of the phone; choosing
among family members needs the consented family binding, which is not built yet.

Errors (all :class:`~healthcode.errors.AuthError`, HTTP 401, or 429/422)::

    OtpInvalid          (otp-invalid)            wrong code
    ├── OtpExpired      (otp-expired)            no live code for this phone: ask for a new one
    └── OtpLocked       (otp-attempts-exceeded)  too many wrong guesses: ask for a new one
    RateLimited         (rate-limited, 429)      too many codes requested
    InvalidPhone        (invalid-phone, 422)     not a mainland mobile number
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.clock import Clock
from healthcode.errors import OtpInvalid, RateLimited
from healthcode.holders.identity import mask_phone, normalise_phone
from healthcode.holders.service import HolderKeys
from healthcode.protect import blind_index, derive_key
from healthcode.storage.db import Database
from healthcode.storage.models import Holder, HolderSession, OtpChallenge, OutboxMessage

PURPOSE_SIGN_IN = "sign-in"
PURPOSE_TRIP_CARD = "trip-card"
PURPOSES = (PURPOSE_SIGN_IN, PURPOSE_TRIP_CARD)
CODE_DIGITS = 6


class OtpExpired(OtpInvalid):
    """No unexpired, unused code exists for this phone (never requested, expired or used)."""

    code = "otp-expired"


class OtpLocked(OtpInvalid):
    """The live code had too many wrong guesses; a new one must be requested."""

    code = "otp-attempts-exceeded"


@dataclass(frozen=True)
class OtpPolicy:
    """Limits of the sign-in flow; every duration in seconds."""

    code_ttl_seconds: int = 300
    max_attempts: int = 5
    per_phone_limit: int = 5
    per_client_limit: int = 20
    rate_window_seconds: int = 900
    session_ttl_seconds: int = 12 * 3600


@dataclass(frozen=True)
class OutgoingSms:
    """An SMS to deliver: the full phone number (never stored) and the text."""

    phone: str
    text: str


@dataclass(frozen=True)
class SignedIn:
    """A new session: ``token`` goes into the cookie (only its SHA-256 is stored)."""

    token: str
    holder_id: str
    expires_at: datetime


class SmsSender(Protocol):
    """Delivers one SMS. Implementations: :class:`DevSmsSender`; a gateway in production."""

    def send(self, phone: str, text: str, *, at: datetime) -> None:
        """Send ``text`` to the 11-digit mainland mobile number ``phone`` (``at``: UTC)."""
        ...


class DevSmsSender:
    """Development sender: the ``outbox`` table plus one line per message in a log file.

    Both hold the *masked* recipient; the text (with the code) is readable, which
    is the point of a development outbox — do not use it in production.
    """

    def __init__(self, db: Database, log_path: str | Path | None) -> None:
        self.db = db
        self.log_path = Path(log_path) if log_path else None

    def send(self, phone: str, text: str, *, at: datetime) -> None:
        masked = mask_phone(phone)
        with self.db.session() as s:
            s.add(OutboxMessage(channel="sms", recipient=masked, body=text, created_at=at))
        if self.log_path is not None:
            line = f"{at.isoformat()} sms to {masked}: {text}\n"
            with self.log_path.open("a", encoding="utf-8") as f:
                f.write(line)


def recent_outbox(session: Session, *, limit: int = 50) -> list[OutboxMessage]:
    """The newest ``limit`` outbox messages, newest first."""
    return list(
        session.execute(
            select(OutboxMessage)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        ).scalars()
    )


def session_hash(token: str) -> str:
    """SHA-256 (hex) of a session token: what the ``holder_sessions`` table stores."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


class OtpService:
    """One-time codes and holder sessions over a :class:`Database`.

    :param master_key: the deployment's master key (codes and client addresses are
        hashed under keys derived from it).
    """

    def __init__(
        self,
        db: Database,
        keys: HolderKeys,
        *,
        master_key: bytes,
        sender: SmsSender,
        clock: Clock,
        policy: OtpPolicy | None = None,
    ) -> None:
        self.db = db
        self.keys = keys
        self.sender = sender
        self.clock = clock
        self.policy = policy or OtpPolicy()
        self._code_key = derive_key(master_key, "otp-code")
        self._client_key = derive_key(master_key, "otp-client")

    # -- hashing ---------------------------------------------------------------
    def _code_hash(self, phone_index: str, code: str) -> str:
        msg = f"{phone_index}:{code}".encode()
        return hmac.new(self._code_key, msg, hashlib.sha256).hexdigest()

    def _client_index(self, client: str) -> str:
        return blind_index(self._client_key, client or "unknown")

    # -- step 1 ----------------------------------------------------------------
    def request_code(
        self, phone: str, *, client: str, purpose: str = PURPOSE_SIGN_IN
    ) -> OutgoingSms | None:
        """Create a sign-in (or trip-card) code for ``phone``.

        :param client: the requester's address (rate limiting only; stored hashed).
        :param purpose: ``sign-in`` or ``trip-card`` (see the module doc).
        :returns: the SMS to :meth:`deliver` — ``None`` when no holder has this phone
            (sign-in only; the caller must answer exactly as when it is not ``None``).
        :raises InvalidPhone: not a mainland mobile number.
        :raises RateLimited: too many codes for this phone or from this client
            within ``rate_window_seconds``.
        """
        if purpose not in PURPOSES:
            raise ValueError(f"unknown one-time code purpose {purpose!r}")
        p = normalise_phone(phone)
        phone_index = self.keys.phone_key(p)
        client_index = self._client_index(client)
        now = self.clock.now()
        since = now - timedelta(seconds=self.policy.rate_window_seconds)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        with self.db.session() as s:
            by_phone = s.execute(
                select(func.count())
                .select_from(OtpChallenge)
                .where(OtpChallenge.phone_index == phone_index, OtpChallenge.created_at > since)
            ).scalar_one()
            by_client = s.execute(
                select(func.count())
                .select_from(OtpChallenge)
                .where(OtpChallenge.client == client_index, OtpChallenge.created_at > since)
            ).scalar_one()
            if by_phone >= self.policy.per_phone_limit or by_client >= self.policy.per_client_limit:
                raise RateLimited("too many sign-in codes requested; try again later")
            # A new code replaces any earlier one of its purpose for this phone.
            s.execute(
                update(OtpChallenge)
                .where(
                    OtpChallenge.phone_index == phone_index,
                    OtpChallenge.purpose == purpose,
                    OtpChallenge.consumed_at.is_(None),
                )
                .values(consumed_at=now)
            )
            s.add(
                OtpChallenge(
                    phone_index=phone_index,
                    purpose=purpose,
                    code_hash=self._code_hash(phone_index, code),
                    client=client_index,
                    created_at=now,
                    expires_at=now + timedelta(seconds=self.policy.code_ttl_seconds),
                    attempts=0,
                )
            )
            enrolled = (
                s.execute(
                    select(Holder.id).where(Holder.phone_index == phone_index).limit(1)
                ).first()
                is not None
            )
        minutes = self.policy.code_ttl_seconds // 60
        if purpose == PURPOSE_TRIP_CARD:
            return OutgoingSms(
                phone=p,
                text=f"【通信行程卡】查询验证码 {code}，{minutes} 分钟内有效，请勿告诉他人。"
                f" Your trip card code is {code} (valid {minutes} min).",
            )
        if not enrolled:
            return None
        text = (
            f"【健康码】登录验证码 {code}，{minutes} 分钟内有效，请勿告诉他人。"
            f" Your healthcode sign-in code is {code} (valid {minutes} min)."
        )
        return OutgoingSms(phone=p, text=text)

    def deliver(self, sms: OutgoingSms | None) -> None:
        """Send what :meth:`request_code` returned (nothing for ``None``)."""
        if sms is not None:
            self.sender.send(sms.phone, sms.text, at=self.clock.now())

    def send_code(self, phone: str, *, client: str) -> None:
        """:meth:`request_code` and :meth:`deliver` in one call (same errors)."""
        self.deliver(self.request_code(phone, client=client))

    # -- step 2 ----------------------------------------------------------------
    def sign_in(self, phone: str, code: str) -> SignedIn:
        """Check ``code`` for ``phone`` and open a session.

        Every guess counts against the code's attempts, even when the error is
        raised (the count is committed first).

        :raises InvalidPhone: not a mainland mobile number.
        :raises OtpExpired: no live code for this phone (none, expired, used, replaced).
        :raises OtpLocked: ``max_attempts`` wrong guesses on the live code.
        :raises OtpInvalid: a wrong code.
        """
        p = normalise_phone(phone)
        phone_index = self.keys.phone_key(p)
        guess = "".join(code.split())
        now = self.clock.now()
        failure: OtpInvalid | None = None
        result: SignedIn | None = None
        with self.db.session() as s:
            ch = s.execute(
                select(OtpChallenge)
                .where(
                    OtpChallenge.phone_index == phone_index,
                    OtpChallenge.purpose == PURPOSE_SIGN_IN,
                    OtpChallenge.consumed_at.is_(None),
                )
                .order_by(OtpChallenge.created_at.desc(), OtpChallenge.id.desc())
                .limit(1)
            ).scalar()
            if ch is None or ch.expires_at <= now:
                failure = OtpExpired("no valid sign-in code for this number: request a new one")
            elif ch.attempts >= self.policy.max_attempts:
                failure = OtpLocked("too many wrong codes: request a new one")
            else:
                ch.attempts += 1
                ok = hmac.compare_digest(ch.code_hash, self._code_hash(phone_index, guess))
                holder_id = (
                    s.execute(
                        select(Holder.id)
                        .where(Holder.phone_index == phone_index, Holder.data_key.is_not(None))
                        .order_by(Holder.created_at, Holder.id)
                        .limit(1)
                    ).scalar()
                    if ok
                    else None
                )
                if holder_id is None:
                    failure = OtpInvalid("wrong sign-in code")
                else:
                    ch.consumed_at = now
                    token = secrets.token_urlsafe(32)
                    expires = now + timedelta(seconds=self.policy.session_ttl_seconds)
                    s.add(
                        HolderSession(
                            token_hash=session_hash(token),
                            holder_id=holder_id,
                            created_at=now,
                            expires_at=expires,
                        )
                    )
                    audit.append(
                        s,
                        tag=AuditTag.HOLDER_SIGN_IN,
                        actor="holder",
                        at=now,
                        subject=holder_id,
                        data={"method": "sms-otp"},
                    )
                    result = SignedIn(token=token, holder_id=holder_id, expires_at=expires)
        if failure is not None:
            raise failure
        assert result is not None  # noqa: S101 - one of the two is always set
        return result

    def check_code(self, phone: str, code: str, *, purpose: str) -> str:
        """Check and consume a code of ``purpose`` (not ``sign-in``: that is :meth:`sign_in`).

        Same rules as :meth:`sign_in`: every guess counts, ``max_attempts`` per code.

        :returns: the normalised phone number the code was sent to.
        :raises InvalidPhone, OtpExpired, OtpLocked, OtpInvalid: as :meth:`sign_in`.
        """
        if purpose == PURPOSE_SIGN_IN or purpose not in PURPOSES:
            raise ValueError(f"check_code is for the other purposes, not {purpose!r}")
        p = normalise_phone(phone)
        phone_index = self.keys.phone_key(p)
        guess = "".join(code.split())
        now = self.clock.now()
        failure: OtpInvalid | None = None
        with self.db.session() as s:
            ch = s.execute(
                select(OtpChallenge)
                .where(
                    OtpChallenge.phone_index == phone_index,
                    OtpChallenge.purpose == purpose,
                    OtpChallenge.consumed_at.is_(None),
                )
                .order_by(OtpChallenge.created_at.desc(), OtpChallenge.id.desc())
                .limit(1)
            ).scalar()
            if ch is None or ch.expires_at <= now:
                failure = OtpExpired("no valid code for this number: request a new one")
            elif ch.attempts >= self.policy.max_attempts:
                failure = OtpLocked("too many wrong codes: request a new one")
            else:
                ch.attempts += 1
                if hmac.compare_digest(ch.code_hash, self._code_hash(phone_index, guess)):
                    ch.consumed_at = now
                else:
                    failure = OtpInvalid("wrong code")
        if failure is not None:
            raise failure
        return p

    # -- step 3 ----------------------------------------------------------------
    def holder_for(self, token: str | None) -> str | None:
        """The holder id of a live session token, or ``None`` (unknown, expired, empty)."""
        if not token:
            return None
        with self.db.read() as s:
            row = s.get(HolderSession, session_hash(token))
            if row is None or row.expires_at <= self.clock.now():
                return None
            return row.holder_id

    def sign_out(self, token: str | None) -> None:
        """End a session (no error when it does not exist)."""
        if token:
            with self.db.session() as s:
                s.execute(
                    delete(HolderSession).where(HolderSession.token_hash == session_hash(token))
                )

    def purge_expired(self) -> int:
        """Delete expired sessions and challenges older than the rate window; returns rows deleted."""
        now = self.clock.now()
        cutoff = now - timedelta(
            seconds=max(self.policy.rate_window_seconds, self.policy.code_ttl_seconds)
        )
        n = 0
        with self.db.session() as s:
            for stmt in (
                delete(HolderSession).where(HolderSession.expires_at <= now),
                delete(OtpChallenge).where(OtpChallenge.created_at <= cutoff),
            ):
                result = cast(CursorResult[Any], s.execute(stmt))
                n += result.rowcount or 0
        return n


__all__ = [
    "DevSmsSender",
    "OtpExpired",
    "OtpLocked",
    "OtpPolicy",
    "OtpService",
    "OutgoingSms",
    "PURPOSE_SIGN_IN",
    "PURPOSE_TRIP_CARD",
    "SignedIn",
    "SmsSender",
    "recent_outbox",
    "session_hash",
]
