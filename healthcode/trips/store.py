"""The trip card in the database: records in, cards out, facts for the rules, sessions.

The pure computation (readers, places, stays, policies, engines) is the rest of
:mod:`healthcode.trips`; this module is the only part that touches the database
(tables in :mod:`healthcode.storage.models`):

* ``trip_phones`` — each phone number seen in records, sealed under a key derived
  from the master key (``aad`` = its blind index); found by
  :meth:`~healthcode.holders.service.HolderKeys.phone_key`, the same index as
  ``holders.phone_index``, so a holder's card is one key lookup.
* ``location_records`` — ``(phone index, epoch_s UTC, lon, lat)`` is the key: a record
  stored twice (same phone, second and place) is kept once.
* ``trip_cards`` — the card JSON line per (phone index, query date).
* ``trip_sessions`` — sessions of the SMS-code trip-card page (token hashed).

Cards are a cache of the records: importing records for a phone deletes its cards
that could have used them (query dates after the first new record's day), and a
card whose policy uses the risk-area list remembers the risk-area import it was
built from (``risk_import``) so a new list makes it stale.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.clock import SHANGHAI
from healthcode.holders.service import HolderKeys, data_key
from healthcode.protect import derive_key, seal, unseal
from healthcode.storage.models import (
    Fact,
    Holder,
    ImportRun,
    LocationRecord,
    RiskArea,
    TripCardRow,
    TripPhone,
    TripSession,
)
from healthcode.trips.errors import RecordsRejected
from healthcode.trips.geo import AdminNames
from healthcode.trips.model import TripCard, cst_text, mask_phone
from healthcode.trips.policy import Policy
from healthcode.trips.readers import RECORD_SCHEMA, ReadReport
from healthcode.trips.stays import StayRule

#: ``trip_cards.source``: built from the stored records, or from ``--records`` files.
SOURCE_RECORDS: Final = "records"
SOURCE_FILES: Final = "files"
#: ``imports.kind`` of a record import.
IMPORT_KIND: Final = "trips"
#: The actor of the DEMO data (``healthcode demo``): its record imports are marked ``demo``.
DEMO_ACTOR: Final = "demo"
#: ``imports.kind`` of the marker row ``healthcode demo`` writes with the demo date (``day``).
DEMO_TRIPS_KIND: Final = "demo-trips"
_CHUNK: Final = 500  # phone indexes per IN (...) list
_INSERT_BATCH: Final = 20_000


def phone_seal_key(master: bytes) -> bytes:
    """The key sealing ``trip_phones.phone`` (HKDF label ``trip-phone-seal``)."""
    return derive_key(master, "trip-phone-seal")


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def shanghai_day(epoch_s: int) -> date:
    """The Asia/Shanghai calendar day of an instant given in epoch seconds."""
    return datetime.fromtimestamp(epoch_s, SHANGHAI).date()


def day_start(day: date) -> datetime:
    """``day`` 00:00 +08:00 as an aware instant."""
    return datetime.combine(day, time(0), SHANGHAI)


# --- risk cities from the database ----------------------------------------------------------


class DbRiskLookup:
    """:class:`~healthcode.trips.RiskCityLookup` over the ``risk_areas`` table.

    Same definition as :class:`~healthcode.trips.EpisodeRiskLookup`: a city is listed
    on Asia/Shanghai day D when a high/medium listing has ``first_listed`` < D+1 00:00
    and ``first_absent`` empty or > D 00:00. Names are stored as published (for
    北京 the district is in ``city``); :meth:`AdminNames.city_code` resolves them,
    municipalities by province whatever ``city`` says. One query per day asked.
    """

    def __init__(self, session: Session, names: AdminNames) -> None:
        self._session = session
        self._names = names
        self._days: dict[date, set[str]] = {}
        self.unresolved: set[tuple[str, str, str]] = set()

    def starred_cities(self, day: date) -> set[str]:
        if day not in self._days:
            lo, hi = day_start(day), day_start(day + timedelta(days=1))
            rows = self._session.execute(
                select(RiskArea.province, RiskArea.city, RiskArea.county)
                .where(
                    RiskArea.level.in_(("high", "medium")),
                    RiskArea.first_listed < hi,
                    (RiskArea.first_absent.is_(None)) | (RiskArea.first_absent > lo),
                )
                .distinct()
            ).all()
            codes: set[str] = set()
            for province, city, county in rows:
                code = self._names.city_code(province, city, county)
                if code is None:
                    self.unresolved.add((province, city, county))
                else:
                    codes.add(code)
            self._days[day] = codes
        return set(self._days[day])


def current_risk_import(session: Session) -> str | None:
    """Id of the import the stored risk-area list came from (``None`` when empty).

    An import replaces the whole list, so every row carries the same id: reading it
    from the list itself (not from the newest ``imports`` row) cannot be fooled by two
    imports stamped with the same instant.
    """
    value: str | None = session.execute(select(RiskArea.import_id).limit(1)).scalar()
    return value


def risk_list_warnings(session: Session, policy: Policy, as_of: date) -> list[str]:
    """Why the stars (or the old risk red) of the card of ``as_of`` cannot be trusted.

    ``["no-risk-list"]``: the policy uses the list but none was imported;
    ``["risk-list-not-covering"]``: the list starts after the card's star day
    (``as_of − delay``; the national list as published begins 2022-04-15, so a card of
    an earlier date cannot show a star or the old red). ``[]`` otherwise.
    """
    if not uses_risk_list(policy):
        return []
    first: datetime | None = session.execute(select(func.min(RiskArea.first_listed))).scalar()
    if first is None:
        return ["no-risk-list"]
    if first.tzinfo is None:  # SQLite hands back naive UTC
        first = first.replace(tzinfo=UTC)
    if policy.star_day(as_of) < first.astimezone(SHANGHAI).date():
        return ["risk-list-not-covering"]
    return []


def uses_risk_list(policy: Policy) -> bool:
    """Whether the cards of ``policy`` depend on the risk-area list (stars or the old red)."""
    return policy.star or policy.risk_city_colour is not None


# --- phones --------------------------------------------------------------------------------


def phone_indexes(keys: HolderKeys, phones: Iterable[str]) -> dict[str, str]:
    """Full number → blind index, for distinct numbers."""
    return {p: keys.phone_key(p) for p in set(phones)}


def store_phones(
    session: Session, index_of: dict[str, str], *, seal_key: bytes, at: datetime
) -> int:
    """Seal and store the numbers not stored yet; returns how many were new."""
    wanted = sorted(index_of.values())
    known: set[str] = set()
    for chunk in _chunks(wanted):
        known.update(
            session.execute(
                select(TripPhone.phone_index).where(TripPhone.phone_index.in_(chunk))
            ).scalars()
        )
    rows = [
        {
            "phone_index": idx,
            "phone": seal(seal_key, phone.encode(), aad=idx.encode()),
            "created_at": at,
        }
        for phone, idx in sorted(index_of.items())
        if idx not in known
    ]
    for i in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(TripPhone), rows[i : i + _INSERT_BATCH])
    return len(rows)


def unseal_phones(session: Session, indexes: Collection[str], *, seal_key: bytes) -> dict[str, str]:
    """Blind index → full number for the given indexes that have a stored number."""
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(indexes)):
        for idx, blob in session.execute(
            select(TripPhone.phone_index, TripPhone.phone).where(TripPhone.phone_index.in_(chunk))
        ):
            out[idx] = unseal(seal_key, blob, aad=idx.encode()).decode()
    return out


# --- import --------------------------------------------------------------------------------


#: Columns of ``location_records`` an import writes, in this order.
_RECORD_COLUMNS: Final = ("phone_index", "epoch_s", "lon", "lat", "cell_id", "import_id")
_NAMES: Final = ", ".join(_RECORD_COLUMNS)
#: SQLite page cache while an import inserts records, KiB (the default is 2 MiB).
_SQLITE_IMPORT_CACHE_KIB: Final = 65_536
_SQLITE_INSERT: Final = (
    f"INSERT INTO location_records ({_NAMES}) VALUES (?, ?, ?, ?, ?, ?) "  # noqa: S608 - constants
    "ON CONFLICT DO NOTHING"
)
_PG_COPY: Final = f"COPY trip_import_batch ({_NAMES}) FROM STDIN (FORMAT csv)"
_PG_MOVE: Final = (
    f"INSERT INTO location_records ({_NAMES}) SELECT {_NAMES} "  # noqa: S608 - constants
    "FROM trip_import_batch ON CONFLICT DO NOTHING"
)


def _insert_ignoring_duplicates(
    session: Session, rows: pa.Table, progress: Callable[[int, int], None] | None = None
) -> int:
    """Insert records in batches; a row whose key is already stored is skipped.

    :param rows: Arrow table with :data:`_RECORD_COLUMNS` (sorted by key for locality).
    :param progress: ``progress(rows written, total)`` after each batch.
    :returns: rows inserted.

    Through the driver, in the session's transaction, ``_INSERT_BATCH`` rows at a
    time (no per-row SQLAlchemy work, no list of dicts): on SQLite one prepared
    ``INSERT … ON CONFLICT DO NOTHING`` per batch (the driver counts the rows it
    inserted); on PostgreSQL each batch is copied (``COPY … FROM STDIN``, CSV written
    by Arrow) into a temporary table and moved with one ``INSERT … SELECT … ON
    CONFLICT DO NOTHING``, whose row count is the rows inserted.
    """
    conn = session.connection()
    driver = conn.connection.driver_connection
    assert driver is not None  # noqa: S101 - a live connection of the session
    inserted = done = 0
    total = rows.num_rows
    batches = rows.select(list(_RECORD_COLUMNS)).to_batches(max_chunksize=_INSERT_BATCH)
    if conn.dialect.name == "postgresql":
        import pyarrow.csv as pacsv

        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        with driver.cursor() as cur:
            cur.execute(
                "CREATE TEMPORARY TABLE trip_import_batch "
                "(LIKE location_records INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            for batch in batches:
                buf = pa.BufferOutputStream()
                pacsv.write_csv(batch, buf, options)
                with cur.copy(_PG_COPY) as copy:
                    copy.write(buf.getvalue().to_pybytes())
                cur.execute(_PG_MOVE)
                inserted += max(cur.rowcount, 0)
                cur.execute("TRUNCATE trip_import_batch")
                done += batch.num_rows
                if progress is not None:
                    progress(done, total)
            cur.execute("DROP TABLE trip_import_batch")
        return inserted
    cur = driver.cursor()
    previous = cur.execute("PRAGMA cache_size").fetchone()[0]
    # a page cache big enough for the indexes being filled: fewer pages spilled to the WAL
    # before the commit (2x less system time at 1M records); this connection only
    cur.execute(f"PRAGMA cache_size={-_SQLITE_IMPORT_CACHE_KIB}")
    try:
        for batch in batches:
            values = (batch.column(c).to_pylist() for c in _RECORD_COLUMNS)
            cur.executemany(_SQLITE_INSERT, zip(*values, strict=True))
            inserted += max(cur.rowcount, 0)
            done += batch.num_rows
            if progress is not None:
                progress(done, total)
    finally:
        cur.execute(f"PRAGMA cache_size={int(previous)}")
        cur.close()
    return inserted


def import_records(
    session: Session,
    keys: HolderKeys,
    report: ReadReport,
    *,
    seal_key: bytes,
    at: datetime,
    source: str,
    actor: str = "system",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Store the records of a clean :class:`ReadReport` (all or nothing, with the caller's transaction).

    :param progress: ``progress(records written, total)`` after each batch.

    :returns: ``{"import_id", "files", "rows", "records", "duplicates", "stored",
        "already_stored", "phones", "new_phones", "first", "last", "cards_invalidated"}``
        (``first``/``last``: instants +08:00 of the earliest and newest record).
    :raises RecordsRejected: the report has bad rows, or no record at all.
    """
    report.raise_for_errors()
    table = report.records
    if table.num_rows == 0:
        raise RecordsRejected(
            "no location records in the input; nothing imported",
            details={"error_count": 1, "errors": []},
        )
    phones = pc.unique(table.column("phone"))
    index_of = phone_indexes(keys, phones.to_pylist())
    new_phones = store_phones(session, index_of, seal_key=seal_key, at=at)
    import_id = "trip-" + secrets.token_hex(8)
    # each record's blind index, by column (one HMAC per distinct number)
    indexes = pa.array([index_of[p] for p in phones.to_pylist()], pa.string())
    phone_index = pc.take(indexes, pc.index_in(table.column("phone"), value_set=phones))
    rows = (
        table.drop_columns(["phone"])
        .add_column(0, "phone_index", phone_index)
        .append_column("import_id", pa.repeat(pa.scalar(import_id, pa.string()), table.num_rows))
    )
    rows = rows.take(
        pc.sort_indices(rows, [("phone_index", "ascending"), ("epoch_s", "ascending")])
    )
    digest = hashlib.sha256()
    for f in report.files:
        digest.update(f.encode() + b"\0")
    digest.update(str(table.num_rows).encode())
    # an import is one ImportRun row first, so the records' import_id points at something
    run = ImportRun(
        id=import_id, kind=IMPORT_KIND, source=", ".join(_names(report.files))[:200],
        sha256=digest.hexdigest(), rows=report.rows, created_at=at, summary={},
    )  # fmt: skip
    session.add(run)
    session.flush()
    stored = _insert_ignoring_duplicates(session, rows, progress)
    lo, hi = pc.min_max(table.column("epoch_s")).values()
    lo_s, hi_s = int(lo.as_py()), int(hi.as_py())
    # cards of these phones that could have used the new records are no longer right
    first_day = shanghai_day(lo_s)
    invalidated = 0
    for chunk in _chunks(sorted(set(index_of.values()))):
        res: Any = session.execute(
            delete(TripCardRow).where(
                TripCardRow.phone_index.in_(chunk), TripCardRow.as_of > first_day
            )
        )
        invalidated += int(res.rowcount or 0)
    summary = {
        "import_id": import_id,
        "files": len(report.files),
        "rows": report.rows,
        "records": table.num_rows,
        "duplicates": report.duplicates,
        "stored": stored,
        "already_stored": table.num_rows - stored,
        "phones": len(index_of),
        "new_phones": new_phones,
        "first": cst_text(datetime.fromtimestamp(lo_s, SHANGHAI)),
        "last": cst_text(datetime.fromtimestamp(hi_s, SHANGHAI)),
        "cards_invalidated": invalidated,
    }
    run.summary = {k: v for k, v in summary.items() if k != "import_id"}
    if actor == DEMO_ACTOR:  # the trip card of these records says DEMO
        run.summary["demo"] = True
    audit.append(
        session,
        tag=AuditTag.TRIP_IMPORT,
        actor=actor,
        at=at,
        subject=import_id,
        data={k: summary[k] for k in ("files", "rows", "records", "duplicates", "stored",
                                      "already_stored", "phones", "cards_invalidated")},
    )  # fmt: skip
    return summary


def recent_imports(session: Session, *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest record imports, newest first, with the counts the CLI's import report
    prints (for the admin page).

    :returns: ``[{"id", "created_at" (aware datetime), "source" (file names), "files",
        "rows" (data rows read), "stored" (new records), "duplicates" (exact duplicate
        rows dropped), "already_stored" (records stored by an earlier import), "phones",
        "first", "last"}]``; ``rows = stored + duplicates + already_stored``. Counts an
        import did not record are ``None``.
    """
    runs = session.execute(
        select(ImportRun)
        .where(ImportRun.kind == IMPORT_KIND)
        .order_by(ImportRun.created_at.desc(), ImportRun.id)
        .limit(limit)
    ).scalars()
    keys = ("files", "stored", "duplicates", "already_stored", "phones", "first", "last")
    return [
        {"id": r.id, "created_at": r.created_at, "source": r.source, "rows": r.rows,
         **{k: (r.summary or {}).get(k) for k in keys}}
        for r in runs
    ]  # fmt: skip


def _names(files: Iterable[str]) -> list[str]:
    from pathlib import Path

    return [Path(f).name for f in files]


# --- records out ---------------------------------------------------------------------------


def stored_records(
    session: Session,
    *,
    seal_key: bytes,
    lo_s: int,
    hi_s: int,
    indexes: Collection[str] | None = None,
    phone_of: dict[str, str] | None = None,
) -> pa.Table:
    """Stored records with ``lo_s <= epoch_s < hi_s`` as a :data:`RECORD_SCHEMA` table.

    :param indexes: only these phone indexes (default: every phone).
    :param phone_of: index → full number where the caller already knows it (no unseal).
    """
    q = select(
        LocationRecord.phone_index,
        LocationRecord.epoch_s,
        LocationRecord.lon,
        LocationRecord.lat,
        LocationRecord.cell_id,
    )
    if indexes is None:
        # every phone: the retained records (15 days) are hardly more than the range
        # (window + look-back), so one sequential scan beats fetching rows through the
        # epoch_s index (6x on SQLite); "+ 0" keeps SQLite from choosing the index
        everyone = LocationRecord.epoch_s + 0
        queries = [q.where(everyone >= lo_s, everyone < hi_s)]
    else:
        in_range = (LocationRecord.epoch_s >= lo_s, LocationRecord.epoch_s < hi_s)
        queries = [
            q.where(LocationRecord.phone_index.in_(c), *in_range) for c in _chunks(sorted(indexes))
        ]
    known = dict(phone_of or {})
    parts: list[pa.Table] = []
    for query in queries:
        # Core, not ORM, execution: no per-row ORM loading work (6x faster at 1M rows)
        result = session.connection().execute(query.execution_options(yield_per=_INSERT_BATCH))
        for part in result.partitions():
            idx, epoch, lon, lat, cell = (list(c) for c in zip(*part, strict=True))
            missing = set(idx) - known.keys()
            if missing:
                known.update(unseal_phones(session, missing, seal_key=seal_key))
            parts.append(
                pa.table(
                    {
                        "phone": pa.array([known[i] for i in idx], pa.string()),
                        "epoch_s": pa.array(np.asarray(epoch, dtype=np.int64)),
                        "lon": pa.array(np.asarray(lon, dtype=np.float64)),
                        "lat": pa.array(np.asarray(lat, dtype=np.float64)),
                        "cell_id": pa.array(cell, pa.string()),
                    },
                    schema=RECORD_SCHEMA,
                )
            )
    if not parts:
        return RECORD_SCHEMA.empty_table()
    return pa.concat_tables(parts).combine_chunks()


def stored_span(session: Session, phone_index: str) -> tuple[int, int] | None:
    """Epoch seconds of a phone's first and last stored record, or ``None``."""
    lo, hi = session.execute(
        select(func.min(LocationRecord.epoch_s), func.max(LocationRecord.epoch_s)).where(
            LocationRecord.phone_index == phone_index
        )
    ).one()
    return None if lo is None else (int(lo), int(hi))


def has_demo_records(session: Session, phone_index: str) -> bool:
    """Whether some stored record of the phone came from a DEMO import (``healthcode demo``)."""
    ids = list(
        session.execute(
            select(LocationRecord.import_id)
            .where(LocationRecord.phone_index == phone_index)
            .distinct()
        ).scalars()
    )
    if not ids:
        return False
    runs = session.execute(
        select(ImportRun.summary).where(ImportRun.id.in_(ids), ImportRun.kind == IMPORT_KIND)
    ).scalars()
    return any(bool((summary or {}).get("demo")) for summary in runs)


def demo_day(session: Session, phone_index: str) -> date | None:
    """The demo date (the date ``healthcode demo`` built the DEMO cards for) when the phone
    has DEMO records, else ``None``."""
    if not has_demo_records(session, phone_index):
        return None
    summary = session.execute(
        select(ImportRun.summary)
        .where(ImportRun.kind == DEMO_TRIPS_KIND)
        .order_by(ImportRun.created_at.desc())
        .limit(1)
    ).scalar()
    day = (summary or {}).get("day")
    try:
        return date.fromisoformat(day) if isinstance(day, str) else None
    except ValueError:
        return None


def table_span(table: pa.Table, phone: str) -> tuple[int, int] | None:
    """Epoch seconds of a phone's first and last record in a record table, or ``None``."""
    mine = table.filter(pc.equal(table.column("phone"), phone))
    if mine.num_rows == 0:
        return None
    lo, hi = pc.min_max(mine.column("epoch_s")).values()
    return int(lo.as_py()), int(hi.as_py())


def lookback_range(policy: Policy, as_of: date, rule: StayRule | None = None) -> tuple[int, int]:
    """``[lo_s, hi_s)``: the records a card of ``as_of`` can use (window plus the stay look-back)."""
    start, end = policy.window_instants(as_of)
    gap_s = round((rule or StayRule()).max_gap_hours * 3600)
    return int(start.timestamp()) - gap_s, int(end.timestamp())


# --- empty cards and their reasons ---------------------------------------------------------


def empty_reason(policy: Policy, as_of: date, span: tuple[int, int] | None) -> dict[str, str]:
    """Why a phone's card for ``as_of`` is empty: ``{"code", "message"}``.

    Codes: ``no-records`` (no record of this phone at all), ``before-data`` (the window
    ends before its first record), ``after-data`` (the window starts after its last
    record), ``no-records-in-window`` (records before and after, none inside).
    """
    first, last = policy.window(as_of)
    window = f"{first.isoformat()} – {last.isoformat()}"
    if span is None:
        return {"code": "no-records", "message": "no location records of this phone"}
    lo = cst_text(datetime.fromtimestamp(span[0], SHANGHAI))
    hi = cst_text(datetime.fromtimestamp(span[1], SHANGHAI))
    start, end = policy.window_instants(as_of)
    if span[0] >= end.timestamp():
        return {
            "code": "before-data",
            "message": f"the window {window} ends before this phone's first record ({lo})",
        }
    if span[1] < start.timestamp():
        return {
            "code": "after-data",
            "message": f"the window {window} starts after this phone's last record ({hi})",
        }
    return {
        "code": "no-records-in-window",
        "message": f"no records in the window {window}; this phone's records run from {lo} to {hi}",
    }


def card_json(text: str) -> str:
    """A stored card line as the card JSON contract: a line stored by an older version with a
    ``"reason"`` key is given back without it (the reason is computed when read)."""
    if '"reason": ' not in text:
        return text
    card = json.loads(text)
    if card.pop("reason", None) is None:
        return text
    return json.dumps(card, ensure_ascii=False)


# --- cards ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCard:
    """A card row as read back: its JSON line and what decides whether it is still fresh."""

    phone_index: str
    as_of: date
    text: str
    source: str
    risk_import: str | None
    built_at: datetime

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.text)
        return out


def store_cards(
    session: Session,
    cards: Sequence[tuple[str, str, TripCard]],
    *,
    as_of: date,
    at: datetime,
    source: str,
    risk_import: str | None,
    replace_all: bool = False,
) -> int:
    """Store cards ``(phone index, JSON line, card)`` of one query date, replacing older ones.

    :param replace_all: also delete every other card of ``as_of`` (a build over all
        stored records decides every phone's card of that date).
    :returns: cards stored.
    """
    if replace_all:
        session.execute(delete(TripCardRow).where(TripCardRow.as_of == as_of))
    else:
        for chunk in _chunks(sorted({idx for idx, _, _ in cards})):
            session.execute(
                delete(TripCardRow).where(
                    TripCardRow.as_of == as_of, TripCardRow.phone_index.in_(chunk)
                )
            )
    rows = [
        {"phone_index": idx, "as_of": as_of, "card": text, "colour": card.colour.value,
         "policy": card.policy, "updated_at": card.updated_at, "built_at": at, "source": source,
         "risk_import": risk_import}
        for idx, text, card in cards
    ]  # fmt: skip
    for i in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(TripCardRow), rows[i : i + _INSERT_BATCH])
    return len(rows)


def get_card(session: Session, phone_index: str, as_of: date) -> StoredCard | None:
    """The stored card of a phone for a date, or ``None``."""
    row = session.execute(
        select(
            TripCardRow.card, TripCardRow.source, TripCardRow.risk_import, TripCardRow.built_at
        ).where(TripCardRow.phone_index == phone_index, TripCardRow.as_of == as_of)
    ).first()
    if row is None:
        return None
    return StoredCard(phone_index, as_of, row[0], row[1], row[2], row[3])


def latest_card_date(session: Session, phone_index: str) -> date | None:
    """The newest query date with a stored card for this phone, or ``None``."""
    value: date | None = session.execute(
        select(func.max(TripCardRow.as_of)).where(TripCardRow.phone_index == phone_index)
    ).scalar()
    return value


def close_contact_indexes(
    session: Session, keys: HolderKeys, start: datetime, end: datetime
) -> set[str]:
    """Phone indexes of holders listed as close contacts (``contacts`` fact, kind ``close``)
    with ``start <= listed_at < end`` — the input of the orange card."""
    out: set[str] = set()
    rows = session.execute(
        select(Holder, Fact.data)
        .join(Fact, Fact.holder_id == Holder.id)
        .where(
            Fact.kind == "contacts",
            Fact.observed_at >= start,
            Fact.observed_at < end,
            Holder.data_key.is_not(None),
        )
    ).all()
    for holder, blob in rows:
        fact = json.loads(unseal(data_key(holder, keys), blob, aad=holder.id.encode()))
        if fact.get("kind") == "close":
            out.add(holder.phone_index)
    return out


def holders_with_phones(session: Session, indexes: Collection[str]) -> list[str]:
    """Holders whose phone has one of these blind indexes (by index, no scan)."""
    out: set[str] = set()
    for chunk in _chunks(sorted(indexes)):
        out.update(
            session.execute(
                select(Holder.id).where(Holder.phone_index.in_(chunk), Holder.data_key.is_not(None))
            ).scalars()
        )
    return sorted(out)


# --- trip-card page sessions ---------------------------------------------------------------


def session_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def open_session(
    session: Session, phone: str, keys: HolderKeys, *, at: datetime, ttl_seconds: int
) -> tuple[str, datetime]:
    """A new trip-card page session for a verified phone; returns (cookie token, expiry)."""
    token = secrets.token_urlsafe(32)
    expires = at + timedelta(seconds=ttl_seconds)
    session.add(
        TripSession(
            token_hash=session_hash(token),
            phone_index=keys.phone_key(phone),
            phone_masked=mask_phone(phone),
            created_at=at,
            expires_at=expires,
        )
    )
    return token, expires


def session_phone(session: Session, token: str | None, *, at: datetime) -> tuple[str, str] | None:
    """(phone index, masked phone) of a live session token, or ``None``."""
    if not token:
        return None
    row = session.get(TripSession, session_hash(token))
    if row is None or row.expires_at <= at:
        return None
    return row.phone_index, row.phone_masked


def close_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(TripSession).where(TripSession.token_hash == session_hash(token)))
