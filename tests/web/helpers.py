"""Helpers of the web tests: valid identities, the OTP from the outbox, signing in."""

from __future__ import annotations

import itertools
import re

from sqlalchemy import func, select

from healthcode.holders.identity import gb11643_check_char
from healthcode.service import HealthCode
from healthcode.storage.models import OutboxMessage

_serial = itertools.count(100)


def resident_id(birth: str = "19900101") -> str:
    """A fresh valid mainland resident ID (Beijing Dongcheng, GB 11643 check character)."""
    first17 = f"110101{birth}{next(_serial) % 1000:03d}"
    return first17 + gb11643_check_char(first17)


def phone_number() -> str:
    """A fresh mainland mobile number."""
    return f"139{next(_serial):08d}"


def enrol(service: HealthCode, *, phone: str | None = None, name: str = "张小三", **kw) -> dict:
    """Enrol a Beijing holder; returns the enrolment dict plus ``phone``."""
    phone = phone or phone_number()
    out = service.enrol(
        name=name, id_number=resident_id(), phone=phone, region="110000", actor="test", **kw
    )
    return {**out, "phone": phone}


def outbox_mark(service: HealthCode) -> int:
    """The newest outbox message id (0 when empty): pass it as ``after`` to wait for a new SMS."""
    with service.db.session() as s:
        return s.execute(select(func.max(OutboxMessage.id))).scalar() or 0


def latest_otp(service: HealthCode, phone: str, *, after: int = 0) -> str:
    """The 6-digit code of the newest outbox SMS to ``phone`` (matched by its masked form).

    Only messages with an id above ``after`` count, so a code sent earlier to the same
    phone is never mistaken for the one just requested.
    """
    masked = phone[:3] + "****" + phone[-4:]
    with service.db.session() as s:
        body = s.execute(
            select(OutboxMessage.body)
            .where(OutboxMessage.recipient == masked, OutboxMessage.id > after)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).scalar()
    assert body is not None, f"no SMS to {masked} in the outbox"
    m = re.search(r"\b(\d{6})\b", body)
    assert m is not None, body
    return m.group(1)


def outbox_count(service: HealthCode) -> int:
    with service.db.session() as s:
        return len(list(s.execute(select(OutboxMessage.id)).scalars()))


def sign_in(client, service: HealthCode, phone: str) -> None:
    """Sign ``client`` in as the holder with ``phone`` (cookie kept by the client)."""
    r = client.post("/holder/sign-in", data={"phone": phone})
    assert r.status_code == 200, r.text
    code = latest_otp(service, phone)
    r = client.post(
        "/holder/sign-in/verify", data={"phone": phone, "code": code}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/holder"
