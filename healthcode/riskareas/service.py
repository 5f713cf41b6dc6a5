"""Import the national risk-area lists and answer "what was listed at instant t".

Input: ``risk_area_episodes.csv.gz`` (columns ``level, province, city, county,
community, first_listed, last_listed, first_absent``; times ``+08:00``), one row
per continuous listing of one community at one level — see that file's
PROVENANCE.md. An area counts as listed at ``t`` when
``first_listed <= t < first_absent`` (empty ``first_absent`` = still listed).
Names are stored as published, including the 北京 quirk (district in ``city``,
street in ``county``); :func:`list_areas` lets ``city="北京市"`` match it.

An import replaces the previous list as a whole (all-or-nothing) and returns the
places whose listings changed, so only holders who declared stays there are
re-evaluated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.clock import SHANGHAI, parse_instant
from healthcode.errors import ImportRejected, InputError
from healthcode.riskareas.places import MUNICIPALITIES, place_key
from healthcode.storage.models import ImportRun, RiskArea

LEVELS = ("high", "medium", "low")
#: Largest list accepted after decompression (the real 2022 list is 60 MiB).
MAX_LIST_BYTES = 256 * 2**20
COLUMNS = (
    "level",
    "province",
    "city",
    "county",
    "community",
    "first_listed",
    "last_listed",
    "first_absent",
)


def read_episodes(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """Parse and validate an episodes file (gzip or plain CSV).

    :returns: (rows, errors [{line, field, message}], sha256 of the file bytes).
    :raises InputError: unreadable file, wrong header.
    """
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            inflater = zlib.decompressobj(wbits=31)
            body = inflater.decompress(raw, MAX_LIST_BYTES)
            if inflater.unconsumed_tail:
                raise InputError(f"{path}: inflates to more than {MAX_LIST_BYTES // 2**20} MiB")
        else:
            body = raw
        text = body.decode("utf-8-sig")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = tuple(reader.fieldnames or ())
    except csv.Error as exc:
        raise InputError(f"{path}: not CSV: {exc}") from exc
    if header != COLUMNS:
        raise InputError(f"{path}: expected header {','.join(COLUMNS)}")
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    records = enumerate(reader, start=2)
    while True:
        try:
            line, rec = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"{path}: malformed CSV near line {reader.line_num}: {exc}") from exc
        try:
            level = rec["level"]
            if level not in LEVELS:
                raise ValueError(f"level must be one of {LEVELS}")
            if not rec["province"] or not rec["community"]:
                raise ValueError("province and community are required")
            fl = parse_instant(rec["first_listed"])
            ll = parse_instant(rec["last_listed"])
            fa = parse_instant(rec["first_absent"]) if rec["first_absent"] else None
            # snapshots carry an hour only, so several can share one: first_absent may
            # equal last_listed (a listing too short to count at any instant)
            if ll < fl or (fa is not None and fa < ll):
                raise ValueError("times out of order (first_listed <= last_listed <= first_absent)")
        except (ValueError, TypeError) as exc:
            errors.append({"line": line, "message": str(exc)})
            continue
        rows.append(
            {
                "level": level,
                "province": rec["province"],
                "city": rec["city"] or "",
                "county": rec["county"] or "",
                "community": rec["community"],
                "first_listed": fl,
                "last_listed": ll,
                "first_absent": fa,
            }
        )
    return rows, errors, hashlib.sha256(raw).hexdigest()


def import_episodes(
    session: Session,
    path: Path,
    *,
    place_index: bytes,
    at: datetime,
    actor: str = "system",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Replace the stored risk-area list with the file's (all-or-nothing).

    :returns: ``{"import_id", "rows", "changed_places": [place keys], "sha256"}``.
    :raises InputError: unreadable file; :raises ImportRejected: invalid rows (per-row report).
    """
    rows, errors, digest = read_episodes(path)
    if errors:
        raise ImportRejected(
            f"{len(errors)} invalid row(s) in {path.name}; nothing was imported",
            details={"rows": len(rows) + len(errors), "errors": errors[:1000]},
        )
    if not rows:
        raise ImportRejected(f"{path.name} has no rows", details={"rows": 0, "errors": []})
    import_id = "ra-" + secrets.token_hex(8)
    cache: dict[tuple[str, str, str, str], str] = {}
    for r in rows:
        k = (r["province"], r["city"], r["county"], r["community"])
        if k not in cache:
            cache[k] = place_key(place_index, *k)
        r["place_key"] = cache[k]
        r["import_id"] = import_id
    old = {
        (pk, lvl, fl, fa)
        for pk, lvl, fl, fa in session.execute(
            select(RiskArea.place_key, RiskArea.level, RiskArea.first_listed, RiskArea.first_absent)
        )
    }
    new = {(r["place_key"], r["level"], r["first_listed"], r["first_absent"]) for r in rows}
    changed = sorted({t[0] for t in old ^ new})
    session.execute(delete(RiskArea))
    step = 5000
    for i in range(0, len(rows), step):
        session.execute(insert(RiskArea), rows[i : i + step])
        if progress:
            progress(min(i + step, len(rows)), len(rows))
    session.add(
        ImportRun(
            id=import_id, kind="risk-areas", source=path.name[:200], sha256=digest,
            rows=len(rows), created_at=at, summary={"changed_places": len(changed)},
        )
    )  # fmt: skip
    audit.append(
        session,
        tag=AuditTag.RISK_AREAS_IMPORT,
        actor=actor,
        at=at,
        subject=import_id,
        data={"rows": len(rows), "changed_places": len(changed), "sha256": digest},
    )
    return {"import_id": import_id, "rows": len(rows), "changed_places": changed, "sha256": digest}


def list_areas(
    session: Session,
    *,
    at: datetime,
    province: str | None = None,
    city: str | None = None,
    level: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Areas listed at ``at`` (``first_listed <= at < first_absent``), ordered by place.

    ``city`` also matches a municipality given as its province (``北京市``), because
    the published list puts the district in ``city`` there.
    :raises InputError: unknown level.
    """
    if level is not None and level not in LEVELS:
        raise InputError(f"--level must be one of {', '.join(LEVELS)}")
    q = select(RiskArea).where(
        RiskArea.first_listed <= at,
        or_(RiskArea.first_absent.is_(None), RiskArea.first_absent > at),
    )
    if province:
        q = q.where(RiskArea.province == province)
    if city:
        if city in MUNICIPALITIES:
            q = q.where(or_(RiskArea.city == city, and_(RiskArea.province == city)))
        else:
            q = q.where(RiskArea.city == city)
    if level:
        q = q.where(RiskArea.level == level)
    q = q.order_by(
        RiskArea.province, RiskArea.city, RiskArea.county, RiskArea.community, RiskArea.level
    )
    if limit:
        q = q.limit(limit)
    return [
        {
            "level": a.level,
            "province": a.province,
            "city": a.city,
            "county": a.county,
            "community": a.community,
            "first_listed": a.first_listed.astimezone(SHANGHAI).isoformat(),
            "first_absent": a.first_absent.astimezone(SHANGHAI).isoformat()
            if a.first_absent
            else None,
        }
        for a in session.execute(q).scalars()
    ]
