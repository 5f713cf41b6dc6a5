"""Append-only, hash-chained audit log with signed checkpoints.

Entry hash (hex SHA-256)::

    hash_n = SHA-256( prev_hash_n  ||  canonical_json({"seq", "at", "tag", "actor", "subject", "data"}) )

with ``prev_hash_1`` = 64 zeros and canonical JSON = sorted keys, no spaces,
UTF-8. Every :data:`CHECKPOINT_EVERY` entries (and on demand) the chain head
``"{seq}:{hash}"`` is signed (ECDSA P-256) with the national trust-list key and
stored as a checkpoint. :func:`verify_chain` recomputes every hash, checks that
``seq`` has no gaps, every link, and every checkpoint's signature and hash — so
an edited, inserted or deleted entry is found; deleting the newest entries is
found by the latest checkpoint. Entries never hold tokens or personal data:
subjects are holder ids or pseudonyms, data are counts, verdicts and codes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from healthcode.storage.models import AuditCheckpoint, AuditEntry

GENESIS = "0" * 64
CHECKPOINT_EVERY = 256

#: Signs checkpoint bytes: returns (kid hex, signature).
CheckpointSigner = Callable[[bytes], tuple[str, bytes]]
#: Verifies checkpoint bytes: (kid hex, message, signature) -> bool.
CheckpointVerifier = Callable[[str, bytes, bytes], bool]


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(
    prev_hash: str, seq: int, at: datetime, tag: str, actor: str, subject: str, data: Any
) -> str:
    body = {
        "seq": seq,
        "at": at.isoformat(),
        "tag": tag,
        "actor": actor,
        "subject": subject,
        "data": data,
    }
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def _lock(session: Session) -> None:
    """Serialise appenders (SQLite transactions are already exclusive, see storage.db)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727372)"))


def append(
    session: Session,
    *,
    tag: str,
    actor: str,
    at: datetime,
    subject: str = "",
    data: dict[str, Any] | None = None,
    signer: CheckpointSigner | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (so it commits or rolls back with it).

    :param at: aware UTC instant; ``data`` must be JSON-serialisable and free of personal data.
    """
    _lock(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq = 1 if head is None else head[0] + 1
    prev = GENESIS if head is None else head[1]
    payload = data or {}
    # round-trip through JSON so what is hashed equals what the database returns
    payload = json.loads(canonical(payload))
    at = at.replace(microsecond=(at.microsecond // 1000) * 1000)
    h = entry_hash(prev, seq, at, tag, actor, subject, payload)
    entry = AuditEntry(
        seq=seq,
        at=at,
        tag=str(tag),
        actor=actor,
        subject=subject,
        data=payload,
        prev_hash=prev,
        hash=h,
    )
    session.add(entry)
    session.info["audit_appended"] = True
    if signer is not None and seq % CHECKPOINT_EVERY == 0:
        session.flush()
        checkpoint(session, signer=signer, at=at)
    return entry


def checkpoint(
    session: Session, *, signer: CheckpointSigner, at: datetime
) -> AuditCheckpoint | None:
    """Sign the current chain head (no-op on an empty log or an already signed head)."""
    session.flush()
    head = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar()
    if head is None or session.get(AuditCheckpoint, head.seq) is not None:
        return None
    kid, sig = signer(f"{head.seq}:{head.hash}".encode())
    cp = AuditCheckpoint(seq=head.seq, hash=head.hash, kid=kid, signature=sig, at=at)
    session.add(cp)
    return cp


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify_chain`; ``first_bad`` is the seq of the first bad entry or None."""

    ok: bool
    entries: int
    checkpoints: int
    first_bad: int | None = None
    problem: str = ""


def verify_chain(
    session: Session, *, verifier: CheckpointVerifier, require_signed_head: bool = True
) -> ChainReport:
    """Recompute the whole chain and check every checkpoint.

    :param require_signed_head: the newest entry must be covered by a signed
        checkpoint (true for logs written through :class:`healthcode.service.HealthCode`,
        which signs one at the end of every write that appends).
    """
    cps = {c.seq: c for c in session.execute(select(AuditCheckpoint)).scalars()}
    prev = GENESIS
    expected_seq = 1
    count = 0
    hashes: dict[int, str] = {}
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(2000).scalars():
        count += 1
        if e.seq != expected_seq:
            return ChainReport(
                False, count, len(cps), expected_seq, f"entry {expected_seq} is missing"
            )
        if e.prev_hash != prev:
            return ChainReport(
                False, count, len(cps), e.seq, "link to the previous entry is broken"
            )
        if entry_hash(prev, e.seq, e.at, e.tag, e.actor, e.subject, e.data) != e.hash:
            return ChainReport(
                False, count, len(cps), e.seq, "entry content does not match its hash"
            )
        if e.seq in cps:
            hashes[e.seq] = e.hash
        prev = e.hash
        expected_seq += 1
    for seq, cp in sorted(cps.items()):
        if seq >= expected_seq:
            return ChainReport(
                False,
                count,
                len(cps),
                expected_seq,
                f"the newest entries are missing: checkpoint {seq} signs entry {seq}, "
                f"the log ends at {expected_seq - 1}",
            )
        if hashes.get(seq) != cp.hash:
            return ChainReport(False, count, len(cps), seq, "checkpoint does not match the entry")
        if not verifier(cp.kid, f"{cp.seq}:{cp.hash}".encode(), cp.signature):
            return ChainReport(False, count, len(cps), seq, "checkpoint signature is invalid")
    last_signed = max(cps, default=0)
    if require_signed_head and count > last_signed:
        # every write that appends also signs a checkpoint (see HealthCode), so an
        # unsigned tail means entries were added, or checkpoints deleted, without the anchor key
        return ChainReport(
            False,
            count,
            len(cps),
            last_signed + 1,
            f"entries {last_signed + 1}–{count} are not covered by a signed checkpoint",
        )
    return ChainReport(True, count, len(cps))


def count_entries(session: Session, tag: str | None = None) -> int:
    q = select(func.count()).select_from(AuditEntry)
    if tag:
        q = q.where(AuditEntry.tag == tag)
    return int(session.execute(q).scalar_one())


def append_many(
    session: Session,
    entries: list[dict[str, Any]],
    *,
    at: datetime,
    signer: CheckpointSigner | None = None,
) -> int:
    """Append several entries in one statement (bulk jobs); same chain as :func:`append`.

    :param entries: dicts with ``tag``, ``actor``, ``subject`` and ``data``.
    :returns: the seq of the last entry (0 when ``entries`` is empty).
    """
    if not entries:
        return 0
    _lock(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq = 0 if head is None else head[0]
    prev = GENESIS if head is None else head[1]
    at = at.replace(microsecond=(at.microsecond // 1000) * 1000)
    rows = []
    crossed = False
    for e in entries:
        seq += 1
        data = json.loads(canonical(e.get("data") or {}))
        h = entry_hash(prev, seq, at, str(e["tag"]), e["actor"], e.get("subject", ""), data)
        rows.append(
            {"seq": seq, "at": at, "tag": str(e["tag"]), "actor": e["actor"], "subject": e.get("subject", ""),
             "data": data, "prev_hash": prev, "hash": h}
        )  # fmt: skip
        prev = h
        crossed = crossed or seq % CHECKPOINT_EVERY == 0
    from sqlalchemy import insert

    for i in range(0, len(rows), 2000):
        session.execute(insert(AuditEntry), rows[i : i + 2000])
    session.info["audit_appended"] = True
    if signer is not None and crossed:
        checkpoint(session, signer=signer, at=at)
    return seq
