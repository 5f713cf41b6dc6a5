"""Trip card (通信行程卡): location records → cities with stays of 4 h or more, stars, colour.

Flow (all pure functions of their arguments; no database, no environment reads
except the default location of the reference data)::

    records = read_records(paths, cell_sites=..., phone_map=...)   # pa.Table, RECORD_SCHEMA
    geo     = PlaceIndex.load()                                     # polygons under HEALTHCODE_SHARED
    policy  = load_policies().for_date(as_of)                       # rules of that date
    cards   = engine_duckdb.build_cards(records, as_of=as_of, geo=geo, policy=policy,
                                        risk=lookup, close_contacts=phones)
    write_jsonl(cards, "cards.jsonl")                               # sorted by phone

Units and shapes:

* ``records`` (:data:`RECORD_SCHEMA`): ``phone`` (11-digit string),
  ``epoch_s`` (int64 seconds since the epoch, **UTC**), ``lon``/``lat``
  (float64 WGS-84 degrees), ``cell_id`` (string or null). Engines also take
  Parquet paths and ``(phone, epoch_s, cell_id)`` tables with ``cell_sites``.
* ``as_of`` is an Asia/Shanghai calendar day; the window is ``policy.window(as_of)``
  (inclusive days, ending the day before ``as_of``).
* :class:`TripCard` instants are aware datetimes; their JSON is ``+08:00``.
  :meth:`TripCard.to_json` is the card JSON contract (masked phone).

Engines (same signature, byte-identical JSON): :mod:`.engine_duckdb` (default),
:mod:`.engine_spark` (PySpark; the ``spark`` extra and Java 17; also
``write_cards`` for cluster runs without collecting), :mod:`.engine_pandas`
(reference). :func:`build_cards` dispatches by name. :mod:`.synthetic` makes
realistic cell-signalling records for benchmarks and cross-checks.

The database side — stored records and cards, the use cases behind
``healthcode trips …`` and the ``/trips`` page — is :mod:`.store` and
:mod:`.service` (not imported here, so this package stays free of the database).

Full documentation: ``docs/trip-card.md``.

Errors (see :mod:`.errors`): :class:`RecordsRejected` (bad rows, nothing read;
``details`` lists file/line/code), :class:`UnknownRecordFormat`, :class:`FormatMismatch`
(a file that is not the format given by ``fmt`` or its extension),
:class:`ServiceEnded` (date on or after 2022-12-13), :class:`EngineUnavailable`,
:class:`~healthcode.errors.MissingSharedFile` (polygons/names not found; names
``HEALTHCODE_SHARED``).
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from datetime import date
from typing import Literal

from healthcode.trips._engine import RecordsInput
from healthcode.trips.errors import (
    EngineUnavailable,
    FormatMismatch,
    PolicyDataInvalid,
    RecordsRejected,
    RowErrorCode,
    ServiceEnded,
    UnknownRecordFormat,
)
from healthcode.trips.geo import AdminNames, Place, PlaceIndex
from healthcode.trips.model import (
    AbroadVisit,
    CityStay,
    Colour,
    TripCard,
    cards_to_jsonl,
    mask_phone,
    write_jsonl,
)
from healthcode.trips.policy import Policy, PolicyBook, load_policies
from healthcode.trips.readers import (
    RECORD_SCHEMA,
    CellSites,
    GeolifePhoneMap,
    ReadReport,
    RecordFormat,
    RowError,
    detect_format,
    inspect_records,
    read_cell_sites,
    read_records,
    record_span,
)
from healthcode.trips.risk import (
    EpisodeRiskLookup,
    NoRiskLookup,
    RiskCityLookup,
    RiskEpisode,
    StaticRiskLookup,
)
from healthcode.trips.stays import Progress, StayRule, empty_card

Engine = Literal["duckdb", "spark", "pandas"]


def build_cards(
    records: RecordsInput,
    *,
    as_of: date,
    geo: PlaceIndex,
    engine: Engine = "duckdb",
    policy: Policy | None = None,
    risk: RiskCityLookup | None = None,
    cell_sites: CellSites | None = None,
    close_contacts: Collection[str] = frozenset(),
    rule: StayRule | None = None,
    phones: Collection[str] | None = None,
    progress: Progress | None = None,
) -> list[TripCard]:
    """Cards of every phone with records in the window of ``as_of``, sorted by phone.

    :param records: a :data:`RECORD_SCHEMA` table / DataFrame, or Parquet path(s).
    :param as_of: query date (Asia/Shanghai calendar day).
    :param geo: :class:`PlaceIndex` (load once, reuse).
    :param engine: ``duckdb`` (default), ``spark`` (local session) or ``pandas``.
    :param policy: default: the policy in force on ``as_of`` (:func:`load_policies`).
    :param risk: risk-city lookup for stars and the pre-2021 red (default: none listed).
    :param cell_sites: for records with ``cell_id`` and no lon/lat.
    :param close_contacts: full numbers of close contacts (orange card).
    :param rule: stay inference parameters (default :class:`StayRule`).
    :param phones: restrict to these numbers (e.g. one card on demand).
    :param progress: ``progress(stage, step, steps)``.
    :raises ServiceEnded: no policy on ``as_of``.
    :raises RecordsRejected: cell ids missing from ``cell_sites``; no location columns.
    :raises EngineUnavailable: ``spark`` without pyspark or Java.
    :raises ValueError: unknown engine name.
    """
    if engine not in ("duckdb", "spark", "pandas"):
        raise ValueError(f"unknown engine {engine!r}: duckdb, spark or pandas")
    module = importlib.import_module(f"healthcode.trips.engine_{engine}")
    cards: list[TripCard] = module.build_cards(
        records,
        as_of=as_of,
        geo=geo,
        policy=policy,
        risk=risk,
        cell_sites=cell_sites,
        close_contacts=close_contacts,
        rule=rule,
        phones=phones,
        progress=progress,
    )
    return cards


__all__ = [
    "RECORD_SCHEMA",
    "AbroadVisit",
    "AdminNames",
    "CellSites",
    "CityStay",
    "Colour",
    "Engine",
    "EngineUnavailable",
    "EpisodeRiskLookup",
    "FormatMismatch",
    "GeolifePhoneMap",
    "NoRiskLookup",
    "Place",
    "PlaceIndex",
    "Policy",
    "PolicyBook",
    "PolicyDataInvalid",
    "Progress",
    "ReadReport",
    "RecordFormat",
    "RecordsInput",
    "RecordsRejected",
    "RiskCityLookup",
    "RiskEpisode",
    "RowError",
    "RowErrorCode",
    "ServiceEnded",
    "StaticRiskLookup",
    "StayRule",
    "TripCard",
    "UnknownRecordFormat",
    "build_cards",
    "cards_to_jsonl",
    "detect_format",
    "empty_card",
    "inspect_records",
    "load_policies",
    "mask_phone",
    "read_cell_sites",
    "read_records",
    "record_span",
    "write_jsonl",
]
