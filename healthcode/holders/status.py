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
