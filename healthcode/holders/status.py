"""Status evaluation, history and re-evaluation (single holder, affected holders, everyone).

A new :class:`~healthcode.storage.models.Status` row is written only when the
colour, the fired rules or the clearing time change; every such change is
audited (``status:change``). Rows are never updated except to clear ``current``,
so a holder's history is the list of their rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.facts.service import gather_facts
from healthcode.holders.service import HolderKeys
from healthcode.rules.engine import evaluate
from healthcode.rules.model import RuleSet, Verdict
from healthcode.storage.models import Holder, PlaceVisit, Status


def current_status(session: Session, holder_id: str) -> Status | None:
    return session.execute(
        select(Status).where(Status.holder_id == holder_id, Status.current.is_(True))
    ).scalar()


def history(session: Session, holder_id: str) -> list[Status]:
    """All statuses of a holder, newest first."""
    return list(
        session.execute(
            select(Status).where(Status.holder_id == holder_id).order_by(Status.id.desc())
        ).scalars()
    )


def _signature(v: Verdict) -> tuple[Any, ...]:
    return (v.colour.value, tuple(r.rule_id for r in v.reasons), v.clears_at)


def apply_verdict(
    session: Session,
    holder: Holder,
    verdict: Verdict,
    *,
    as_of: datetime,
    at: datetime,
    trigger: str,
    actor: str = "system",
) -> tuple[Status, bool]:
    """Record ``verdict`` for ``holder`` if it differs from the current status.

    :returns: (current status row, whether it changed).
    """
    cur = current_status(session, holder.id)
    if cur is not None and (
        cur.colour,
        tuple(r["rule"] for r in cur.reasons),
        cur.clears_at,
    ) == _signature(verdict):
        return cur, False
    if cur is not None:
        session.execute(update(Status).where(Status.id == cur.id).values(current=False))
    row = Status(
        holder_id=holder.id,
        colour=verdict.colour.value,
        status_code=verdict.status_code,
        reasons=[r.to_dict() for r in verdict.reasons],
        clears_at=verdict.clears_at,
        evaluated_at=at,
        as_of=as_of,
        ruleset=verdict.ruleset,
        current=True,
        trigger=trigger,
    )
    session.add(row)
    audit.append(
        session,
        tag=AuditTag.STATUS_CHANGE,
        actor=actor,
        at=at,
        subject=holder.id,
        data={
            "from": cur.colour if cur else None,
            "to": verdict.colour.value,
            "rules": [r.rule_id for r in verdict.reasons],
            "ruleset": verdict.ruleset,
            "trigger": trigger,
            "as_of": as_of.isoformat(),
        },
    )
    return row, True


def evaluate_holder(
    session: Session,
    keys: HolderKeys,
    holder: Holder,
    ruleset: RuleSet,
    *,
    as_of: datetime,
    at: datetime,
    trigger: str = "facts",
) -> tuple[Status, bool]:
    """Gather facts, evaluate at ``as_of`` and record the result (``at`` = wall clock)."""
    verdict = evaluate(ruleset, gather_facts(session, keys, holder), at=as_of)
    return apply_verdict(session, holder, verdict, as_of=as_of, at=at, trigger=trigger)


def holders_at_places(session: Session, place_keys: Iterable[str]) -> list[str]:
    """Holders with a declared stay at any of ``place_keys`` (by index, no scan)."""
    keys = list(set(place_keys))
    out: set[str] = set()
    for i in range(0, len(keys), 500):
        out.update(
            session.execute(
                select(PlaceVisit.holder_id)
                .where(PlaceVisit.place_key.in_(keys[i : i + 500]))
                .distinct()
            ).scalars()
        )
    return sorted(out)


def reevaluate(
    session: Session,
    keys: HolderKeys,
    ruleset: RuleSet,
    holder_ids: Iterable[str] | None,
    *,
    as_of: datetime,
    at: datetime,
    trigger: str,
    batch: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Re-evaluate the given holders (None = everyone); batch reads audited once per batch.

    :returns: ``{"evaluated": n, "changed": m}``.
    """
    if holder_ids is None:
        ids = list(
            session.execute(
                select(Holder.id).where(Holder.data_key.is_not(None)).order_by(Holder.id)
            ).scalars()
        )
    else:
        ids = list(holder_ids)
    changed = 0
    for i in range(0, len(ids), batch):
        chunk = ids[i : i + batch]
        audit.append(
            session,
            tag=AuditTag.HOLDER_BATCH_READ,
            actor="system",
            at=at,
            subject=f"batch:{i // batch}",
            data={"holders": len(chunk), "purpose": f"re-evaluation ({trigger})"},
        )
        for h in session.execute(select(Holder).where(Holder.id.in_(chunk))).scalars():
            _, did = evaluate_holder(session, keys, h, ruleset, as_of=as_of, at=at, trigger=trigger)
            changed += did
        if progress:
            progress(min(i + batch, len(ids)), len(ids))
    return {"evaluated": len(ids), "changed": changed}


def reevaluate_many(
    session: Session,
    keys: HolderKeys,
    ruleset: RuleSet,
    holder_ids: list[str] | None,
    *,
    as_of: datetime | Callable[[bool], datetime],
    at: datetime,
    trigger: str,
    batch: int = 2000,
    progress: Callable[[int, int], None] | None = None,
    signer: Any = None,
) -> dict[str, int]:
    """Bulk re-evaluation: the same results as :func:`evaluate_holder`, in batches.

    Per batch: one query each for holders, facts, risk stays, trip stays (by phone
    index) and current statuses; changed statuses and their audit entries are written in bulk; the
    batch read itself is audited as one ``holder:batch-read`` entry.

    :param holder_ids: the holders to evaluate (None = every holder whose data exists).
    :param as_of: evaluation instant, or a function of the holder's DEMO flag giving it.
    :returns: ``{"evaluated": n, "changed": m}``.
    """
    import json

    from sqlalchemy import insert

    from healthcode.facts.parse import KINDS
    from healthcode.facts.service import risk_stays
    from healthcode.facts.trips import trip_stays
    from healthcode.protect import unseal
    from healthcode.storage.models import Fact

    if holder_ids is None:
        holder_ids = list(
            session.execute(
                select(Holder.id).where(Holder.data_key.is_not(None)).order_by(Holder.id)
            ).scalars()
        )
    total = len(holder_ids)
    evaluated = changed = 0
    for start in range(0, total, batch):
        chunk = holder_ids[start : start + batch]
        holders = session.execute(
            select(Holder.id, Holder.data_key, Holder.demo, Holder.phone_index).where(
                Holder.id.in_(chunk), Holder.data_key.is_not(None)
            )
        ).all()
        trips = trip_stays(session, [h[3] for h in holders])
        facts: dict[str, list[tuple[str, bytes]]] = {}
        for hid, kind, blob in session.execute(
            select(Fact.holder_id, Fact.kind, Fact.data)
            .where(Fact.holder_id.in_(chunk))
            .order_by(Fact.observed_at)
        ):
            facts.setdefault(hid, []).append((kind, blob))
        stays = risk_stays(session, chunk)
        current = {
            hid: (sid, colour, tuple(r["rule"] for r in reasons), clears)
            for sid, hid, colour, reasons, clears in session.execute(
                select(
                    Status.id, Status.holder_id, Status.colour, Status.reasons, Status.clears_at
                ).where(Status.holder_id.in_(chunk), Status.current.is_(True))
            )
        }
        new_rows: list[dict[str, Any]] = []
        retire: list[int] = []
        audits: list[dict[str, Any]] = [
            {"tag": AuditTag.HOLDER_BATCH_READ, "actor": "system", "subject": f"batch:{start // batch}",
             "data": {"holders": len(holders), "purpose": f"re-evaluation ({trigger})"}}
        ]  # fmt: skip
        for hid, wrapped, demo, phone_index in holders:
            if wrapped is None:  # destroyed meanwhile
                continue
            aad = hid.encode()
            dek = unseal(keys.wrap, wrapped, aad=aad)
            lists: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
            for kind, blob in facts.get(hid, ()):
                lists[kind].append(json.loads(unseal(dek, blob, aad=aad)))
            lists["risk_stays"] = stays.get(hid, [])
            lists["trip_stays"] = trips.get(phone_index, [])
            when = as_of(demo) if callable(as_of) else as_of
            verdict = evaluate(ruleset, lists, at=when)
            evaluated += 1
            cur = current.get(hid)
            if cur is not None and cur[1:] == _signature(verdict):
                continue
            changed += 1
            if cur is not None:
                retire.append(cur[0])
            new_rows.append(
                {"holder_id": hid, "colour": verdict.colour.value, "status_code": verdict.status_code,
                 "reasons": [r.to_dict() for r in verdict.reasons], "clears_at": verdict.clears_at,
                 "evaluated_at": at, "as_of": when, "ruleset": verdict.ruleset, "current": True, "trigger": trigger}
            )  # fmt: skip
            audits.append(
                {"tag": AuditTag.STATUS_CHANGE, "actor": "system", "subject": hid,
                 "data": {"from": cur[1] if cur else None, "to": verdict.colour.value,
                          "rules": [r.rule_id for r in verdict.reasons], "ruleset": verdict.ruleset,
                          "trigger": trigger, "as_of": when.isoformat()}}
            )  # fmt: skip
        for i in range(0, len(retire), 1000):
            session.execute(
                update(Status).where(Status.id.in_(retire[i : i + 1000])).values(current=False)
            )
        if new_rows:
            session.execute(insert(Status), new_rows)
        audit.append_many(session, audits, at=at, signer=signer)
        if progress:
            progress(min(start + batch, total), total)
    return {"evaluated": evaluated, "changed": changed}
