"""Storing facts (sealed per holder) and gathering them for the rules."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.errors import ImportRejected, InputError
from healthcode.facts.parse import KINDS, FieldError, ParsedFact, parse_fact
from healthcode.facts.trips import trip_stays
from healthcode.holders.service import HolderKeys, data_key
from healthcode.protect import seal, unseal
from healthcode.riskareas.places import place_key
from healthcode.storage.models import Fact, Holder, ImportRun, PlaceVisit, RiskArea

MAX_IMPORT_ROWS = 200_000


def _resolve(session: Session, keys: HolderKeys, ref: tuple[str, str]) -> Holder | None:
    if ref[0] == "holder":
        return session.get(Holder, ref[1])
    from healthcode.holders.identity import validate_id

    try:
        doc = validate_id(ref[0], ref[1])
    except InputError:
        return None
    return session.execute(
        select(Holder).where(Holder.id_index == keys.id_key(doc.type.value, doc.number))
    ).scalar()


def store_fact(
    session: Session,
    keys: HolderKeys,
    holder: Holder,
    fact: ParsedFact,
    *,
    at: datetime,
    import_id: str | None = None,
) -> Fact:
    """Seal and store one fact; a declared stay is also blind-indexed by place."""
    dek = data_key(holder, keys)
    row = Fact(
        holder_id=holder.id,
        kind=fact.kind,
        observed_at=fact.observed_at,
        data=seal(dek, json.dumps(fact.data, ensure_ascii=False).encode(), aad=holder.id.encode()),
        import_id=import_id,
        created_at=at,
    )
    session.add(row)
    if fact.place is not None and fact.stay is not None:
        session.flush()
        session.add(
            PlaceVisit(
                holder_id=holder.id,
                fact_id=row.id,
                place_key=place_key(keys.place_index, *fact.place),
                start_at=fact.stay[0],
                end_at=fact.stay[1],
            )
        )
    return row


def parse_csv(text: str) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV with a header (a BOM is dropped).

    :raises InputError: no header, or more than :data:`MAX_IMPORT_ROWS` rows.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise InputError("the CSV file is empty or has no header row")
    rows = []
    for row in reader:
        if None in row:
            row["__extra__"] = "x"
        rows.append(row)
        if len(rows) > MAX_IMPORT_ROWS:
            raise InputError(f"more than {MAX_IMPORT_ROWS} rows; split the file")
    return rows


def import_facts(
    session: Session,
    keys: HolderKeys,
    kind: str,
    rows: Iterable[dict[str, Any]],
    *,
    at: datetime,
    source: str,
    actor: str = "system",
) -> dict[str, Any]:
    """All-or-nothing import of fact records of one ``kind``.

    Row numbers in the report count the header as line 1 (so the first record is line 2).
    :returns: ``{"ok": true, "kind", "rows", "imported", "holders": [ids], "import_id"}``.
    :raises ImportRejected: any invalid row; ``details`` = ``{"rows", "errors": [{"line", "field", "code", "message"}]}``.
    :raises InputError: unknown kind.
    """
    if kind not in KINDS:
        raise InputError(f"unknown fact kind {kind!r}; one of {', '.join(KINDS)}")
    rows = list(rows)
    if len(rows) > MAX_IMPORT_ROWS:
        raise InputError(f"more than {MAX_IMPORT_ROWS} rows; split the file")
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[Holder, ParsedFact]] = []
    for i, row in enumerate(rows, start=2):
        if row.get("__extra__"):
            errors.append(
                {
                    "line": i,
                    "field": "",
                    "code": "too-many-columns",
                    "message": "more values than header columns",
                }
            )
            continue
        try:
            fact = parse_fact(kind, row, now=at)
        except FieldError as exc:
            errors.append(
                {"line": i, "field": exc.field, "code": "invalid-field", "message": str(exc)}
            )
            continue
        holder = _resolve(session, keys, fact.holder_ref)
        if holder is None or holder.data_key is None:
            errors.append(
                {
                    "line": i,
                    "field": "holder_id",
                    "code": "unknown-holder",
                    "message": "no such holder",
                }
            )
            continue
        parsed.append((holder, fact))
    if not rows:
        raise ImportRejected(
            "the file has no records; nothing was imported", details={"rows": 0, "errors": []}
        )
    if errors:
        raise ImportRejected(
            f"{len(errors)} invalid row(s); nothing was imported",
            details={"rows": len(rows), "errors": errors[:1000]},
        )
    import_id = "imp-" + secrets.token_hex(8)
    digest = hashlib.sha256(
        json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    for holder, fact in parsed:
        store_fact(session, keys, holder, fact, at=at, import_id=import_id)
    holders = sorted({h.id for h, _ in parsed})
    session.add(
        ImportRun(
            id=import_id, kind=f"facts:{kind}", source=source[:200], sha256=digest,
            rows=len(rows), created_at=at, summary={"holders": len(holders)},
        )
    )  # fmt: skip
    audit.append(
        session,
        tag=AuditTag.FACTS_IMPORT,
        actor=actor,
        at=at,
        subject=import_id,
        data={"kind": kind, "rows": len(rows), "holders": len(holders)},
    )
    return {
        "ok": True,
        "kind": kind,
        "rows": len(rows),
        "imported": len(parsed),
        "holders": holders,
        "import_id": import_id,
    }


def gather_facts(
    session: Session, keys: HolderKeys, holder: Holder
) -> dict[str, list[dict[str, Any]]]:
    """All of a holder's facts, decrypted, as the rule engine's input (see :mod:`healthcode.rules.engine`).

    ``risk_stays`` joins the holder's declared stays with risk-area listings of the
    same place whose listing period overlaps the stay; ``trip_stays`` are the cities of
    the stored trip cards of the holder's phone (by blind index, see
    :func:`healthcode.facts.trips.trip_stays`).
    """
    dek = data_key(holder, keys)
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for f in session.execute(
        select(Fact).where(Fact.holder_id == holder.id).order_by(Fact.observed_at)
    ).scalars():
        out[f.kind].append(json.loads(unseal(dek, f.data, aad=holder.id.encode())))
    out["risk_stays"] = risk_stays(session, [holder.id]).get(holder.id, [])
    out["trip_stays"] = trip_stays(session, [holder.phone_index]).get(holder.phone_index, [])
    return out


def risk_stays(session: Session, holder_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Declared stays that overlap a risk-area listing of the same place, per holder.

    A stay [start, end] overlaps a listing [first_listed, first_absent) when
    ``start < first_absent`` (or still listed) and ``end >= first_listed``.
    """
    q = (
        select(
            PlaceVisit.holder_id,
            PlaceVisit.start_at,
            PlaceVisit.end_at,
            RiskArea.level,
            RiskArea.province,
            RiskArea.city,
            RiskArea.county,
            RiskArea.community,
            RiskArea.first_listed,
            RiskArea.first_absent,
        )  # fmt: skip
        .join(RiskArea, RiskArea.place_key == PlaceVisit.place_key)
        .where(
            PlaceVisit.holder_id.in_(holder_ids),
            PlaceVisit.end_at >= RiskArea.first_listed,
            or_(RiskArea.first_absent.is_(None), and_(PlaceVisit.start_at < RiskArea.first_absent)),
        )
        .order_by(PlaceVisit.start_at, RiskArea.first_listed)
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for (
        hid,
        start,
        end,
        level,
        province,
        city,
        county,
        community,
        listed,
        absent,
    ) in session.execute(q):
        out.setdefault(hid, []).append(
            {
                "level": level,
                "province": province,
                "city": city,
                "county": county,
                "community": community,
                "stay_start": start.isoformat(),
                "stay_end": end.isoformat(),
                "listed_from": listed.isoformat(),
                "listed_until": absent.isoformat() if absent else None,
            }
        )
    return out
