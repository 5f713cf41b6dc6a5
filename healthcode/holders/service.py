"""Holder enrolment and access to their sealed personal data (every read audited)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.errors import HolderExists, InvalidRegion, NotFound
from healthcode.holders.identity import (
    mask_id,
    mask_name,
    mask_phone,
    normalise_name,
    normalise_phone,
    validate_id,
)
from healthcode.issuers.regions import region_of
from healthcode.protect import blind_index, derive_key, new_data_key, seal, unseal
from healthcode.storage.models import Holder


@dataclass(frozen=True)
class HolderKeys:
    """Keys derived once from the master key (cheap to pass around)."""

    wrap: bytes
    id_index: bytes
    phone_index: bytes
    place_index: bytes

    @classmethod
    def from_master(cls, master: bytes) -> HolderKeys:
        return cls(
            wrap=derive_key(master, "holder-dek-wrap"),
            id_index=derive_key(master, "blind-index:id"),
            phone_index=derive_key(master, "blind-index:phone"),
            place_index=derive_key(master, "blind-index:place"),
        )

    def id_key(self, id_type: str, number: str) -> str:
        return blind_index(self.id_index, f"{id_type}:{number}")

    def phone_key(self, phone: str) -> str:
        return blind_index(self.phone_index, phone)


@dataclass(frozen=True)
class Pii:
    """A holder's personal data (only ever held in memory)."""

    name: str
    id_type: str
    id_number: str
    nationality: str | None
    phone: str
    birth_date: str | None

    def masked(self) -> dict[str, str]:
        return {
            "name_masked": mask_name(self.name),
            "id_masked": mask_id(self.id_number),
            "phone_masked": mask_phone(self.phone),
        }


def _region(code: str) -> str:
    if (
        len(code) != 6
        or not (code.isascii() and code.isdigit())
        or region_of(code) is None
        or code.startswith("10")
    ):
        raise InvalidRegion(f"unknown region {code!r}: give a GB/T 2260 code such as 110000")
    r = region_of(code)
    assert r is not None  # noqa: S101 - checked above
    return r.code


def data_key(holder: Holder, keys: HolderKeys) -> bytes:
    """Unwrap the holder's data key.

    :raises NotFound: the key was destroyed (crypto-shredded holder).
    """
    if holder.data_key is None:
        raise NotFound("this holder's data was destroyed")
    return unseal(keys.wrap, holder.data_key, aad=holder.id.encode())


def enrol(
    session: Session,
    keys: HolderKeys,
    *,
    name: str,
    id_number: str,
    phone: str,
    region: str,
    at: datetime,
    id_type: str = "resident-id",
    nationality: str | None = None,
    demo: bool = False,
    actor: str = "system",
) -> tuple[Holder, Pii]:
    """Validate and store a new holder (all fields sealed; indexes blind).

    :raises InvalidName, InvalidIdNumber, InvalidPhone, InvalidRegion: bad input.
    :raises HolderExists: a holder with this ID document exists.
    """
    n = normalise_name(name)
    doc = validate_id(id_type, id_number, nationality=nationality, today=at.date())
    p = normalise_phone(phone)
    reg = _region(region)
    id_key = keys.id_key(doc.type.value, doc.number)
    if session.execute(select(Holder.id).where(Holder.id_index == id_key)).first():
        raise HolderExists("a holder with this ID document is already enrolled")
    hid = "h" + secrets.token_hex(10)
    dek = new_data_key()
    pii = Pii(
        n,
        doc.type.value,
        doc.number,
        doc.nationality,
        p,
        doc.birth_date.isoformat() if doc.birth_date else None,
    )
    holder = Holder(
        id=hid,
        region=region if len(region) == 6 else reg,
        pseudonym=secrets.token_hex(8),
        data_key=seal(keys.wrap, dek, aad=hid.encode()),
        pii=seal(dek, json.dumps(pii.__dict__, ensure_ascii=False).encode(), aad=hid.encode()),
        id_index=id_key,
        phone_index=keys.phone_key(p),
        demo=demo,
        created_at=at,
    )
    session.add(holder)
    audit.append(
        session,
        tag=AuditTag.HOLDER_ENROL,
        actor=actor,
        at=at,
        subject=hid,
        data={"region": holder.region, "id_type": doc.type.value, "demo": demo},
    )
    return holder, pii


def get_holder(session: Session, holder_id: str) -> Holder:
    """:raises NotFound: no such holder."""
    h = session.get(Holder, holder_id)
    if h is None:
        raise NotFound(f"no holder {holder_id!r}")
    return h


def read_pii(
    session: Session,
    holder: Holder,
    keys: HolderKeys,
    *,
    actor: str,
    purpose: str,
    at: datetime,
    audit_read: bool = True,
) -> Pii:
    """Decrypt a holder's personal data; the read is audited (who, why) unless batched by the caller."""
    dek = data_key(holder, keys)
    raw: dict[str, Any] = json.loads(unseal(dek, holder.pii, aad=holder.id.encode()))
    if audit_read:
        audit.append(
            session,
            tag=AuditTag.HOLDER_READ,
            actor=actor,
            at=at,
            subject=holder.id,
            data={"purpose": purpose},
        )
    return Pii(**raw)


def find_by_phone(session: Session, keys: HolderKeys, phone: str) -> list[Holder]:
    return list(
        session.execute(
            select(Holder).where(Holder.phone_index == keys.phone_key(normalise_phone(phone)))
        ).scalars()
    )


def find_by_id(session: Session, keys: HolderKeys, id_type: str, id_number: str) -> Holder | None:
    doc = validate_id(id_type, id_number)
    return session.execute(
        select(Holder).where(Holder.id_index == keys.id_key(doc.type.value, doc.number))
    ).scalar()
