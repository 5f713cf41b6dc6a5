"""The stay definition, shared by every engine, and the assembly of cards.

Definition (parameters in :class:`StayRule` and the policy; also in docs/trip-card.md)
------------------------------------------------------------------------------------

Each record is a phone, an instant (whole seconds, UTC) and a *place* (a city or
a place abroad, see :mod:`healthcode.trips.geo`). Per phone, records are ordered
by time (ties by place id); exact duplicates count once.

1. **Visit.** A maximal run of consecutive records in the same place in which no
   two neighbours are more than ``max_gap_hours`` (G, default 72 h) apart. A
   record in another place, or a silence longer than G, ends the visit. (GPS is
   off indoors and at night and handsets switch off: a phone seen in Tianjin
   on two evenings with nothing in between stayed in Tianjin; a silence of more
   than three days says nothing any more.)
2. **Observed span.** First to last record of the visit.
3. **Bridging.** Between the last record of one visit and the first record of
   the next visit *in another place*, the phone moved at an unknown time; each
   side is credited half of that gap, at most ``bridge_cap_hours`` (C, default
   1 h), and nothing when the gap exceeds G. A visit that ends in a silence
   longer than G, or at the phone's last record, gets no bridge on that side.
   Half-gaps are whole seconds (``floor(gap / 2)``).
4. **Duration in the window.** ``[first − bridge_before, last + bridge_after]``
   clipped to the window ``[start 00:00+08:00, end+1 00:00+08:00)``; only records
   before the window end are used (the data are a day behind), and records from
   up to G before the window start give a visit its beginning.
5. **Listed city.** A domestic city is on the card when one of its visits has a
   duration in the window of at least the policy's ``min_stay_hours`` (4 h).
   Its ``first_seen``/``last_seen`` are the first and last *records* of its
   qualifying visits, with ``first_seen`` clipped to the window start.
6. **Abroad.** A country or region abroad is listed when the phone has any
   record there in the window (the card listed places abroad visited, without a
   minimum stay); ``first_seen``/``last_seen`` are its first and last records in
   the window.
7. **Phones.** A card is built for every phone with at least one record in the
   window; ``updated_at`` is its newest record in the window.

Why these numbers: G = 72 h keeps the real GeoLife stay of user 010 in Tianjin
(fixes on 2007-08-28 and on 2007-08-30, 50 h apart, nothing in between); C = 1 h
adds at most two hours, so a train through a city never reaches 4 h unless its
records there already span two hours, and a card built from records every hour
still sees a 4-hour stay. C must be less than the minimum stay (checked).

Engines compute, with the same integer arithmetic, three relations
(:data:`PLACE_COLUMNS`, :data:`PHONE_COLUMNS`): ``cities``/``abroad`` rows
``(phone, place, first_s, last_s)`` and ``phones`` rows ``(phone, updated_s)``;
:func:`assemble_cards` turns them into :class:`~healthcode.trips.model.TripCard`
values the same way for all engines, so their JSON is byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter
from typing import Final

import pyarrow as pa

from healthcode.clock import SHANGHAI
from healthcode.trips.geo import PlaceLookup
from healthcode.trips.model import AbroadVisit, CityStay, Colour, TripCard
from healthcode.trips.policy import Policy

#: ``progress(stage, step, steps)``: called as each stage of a run starts.
Progress = Callable[[str, int, int], None]

#: Engines accept only canonical phone numbers (as the readers produce them).
PHONE_RE: Final = r"1[3-9][0-9]{9}"

PLACE_COLUMNS: Final = ("phone", "place", "first_s", "last_s")
PHONE_COLUMNS: Final = ("phone", "updated_s")


@dataclass(frozen=True)
class StayRule:
    """How stays are inferred from sparse records (see the module doc).

    :ivar max_gap_hours: G, longest silence inside one visit, hours.
    :ivar bridge_cap_hours: C, most credited on each side of a move, hours.
    """

    max_gap_hours: float = 72.0
    bridge_cap_hours: float = 1.0


@dataclass(frozen=True)
class CardPlan:
    """Everything an engine needs for one run, as integers (seconds since the epoch, UTC)."""

    as_of: date
    policy: Policy
    rule: StayRule
    window_start_s: int  #: first window day 00:00 +08:00
    window_end_s: int  #: day after the last window day 00:00 +08:00 (exclusive)
    lookback_s: int  #: earliest record used: ``window_start_s − gap_s``
    gap_s: int
    bridge_s: int
    min_stay_s: int

    @classmethod
    def make(cls, as_of: date, policy: Policy, rule: StayRule | None = None) -> CardPlan:
        """:raises ValueError: a rule whose bridge cap is not below the minimum stay."""
        rule = rule or StayRule()
        start, end = policy.window_instants(as_of)
        gap_s = round(rule.max_gap_hours * 3600)
        bridge_s = round(rule.bridge_cap_hours * 3600)
        min_stay_s = round(policy.min_stay_hours * 3600)
        if not 0 <= bridge_s < min_stay_s:
            raise ValueError("bridge_cap_hours must be ≥ 0 and below the minimum stay")
        if gap_s <= 0:
            raise ValueError("max_gap_hours must be positive")
        ws, we = int(start.timestamp()), int(end.timestamp())
        return cls(as_of, policy, rule, ws, we, ws - gap_s, gap_s, bridge_s, min_stay_s)


def records_sql(plan: CardPlan, located: str) -> str:
    """SQL (DuckDB and Spark) selecting the records a run uses.

    Exact duplicates need no removal: a repeated record is a gap of 0 s in the
    same place, which changes no visit, bridge or minimum/maximum.

    :param located: a relation ``(phone string, epoch_s bigint, place bigint)``.
    :returns: a query over ``(phone, epoch_s, place)``; engines materialise it as ``r``.
    """
    # integers and internal relation names only: nothing user-supplied is interpolated
    return (
        f"SELECT phone, epoch_s, place FROM {located} "  # noqa: S608
        f"WHERE epoch_s >= {plan.lookback_s} AND epoch_s < {plan.window_end_s}"
    )


def stay_sql(plan: CardPlan, r: str = "r") -> dict[str, str]:
    """The stay definition as SQL that DuckDB and Spark SQL both run unchanged.

    One window pass over all records marks visit boundaries (first/last record
    of each visit, with its bridges); a second window over the boundary rows only
    pairs each visit's first record with its last.

    :param r: name of the relation of :func:`records_sql`.
    :returns: queries ``cities``, ``abroad`` → ``(phone, place, first_s, last_s)`` and
        ``phones`` → ``(phone, updated_s)``.
    """
    p = plan  # all interpolated values are integers or internal relation names
    cities = f"""
WITH s AS (
  SELECT phone, epoch_s, place,
         LAG(place) OVER w AS prev_place, LAG(epoch_s) OVER w AS prev_s,
         LEAD(place) OVER w AS next_place, LEAD(epoch_s) OVER w AS next_s
  FROM {r}
  WINDOW w AS (PARTITION BY phone ORDER BY epoch_s, place)
),
b AS (
  SELECT phone, epoch_s, place,
         CASE WHEN prev_place IS NULL OR prev_place <> place OR epoch_s - prev_s > {p.gap_s}
              THEN 1 ELSE 0 END AS starts,
         CASE WHEN next_place IS NULL OR next_place <> place OR next_s - epoch_s > {p.gap_s}
              THEN 1 ELSE 0 END AS ends,
         CASE WHEN prev_place IS NOT NULL AND prev_place <> place AND epoch_s - prev_s <= {p.gap_s}
              THEN LEAST(CAST(FLOOR((epoch_s - prev_s) / 2) AS BIGINT), {p.bridge_s}) ELSE 0 END AS sb,
         CASE WHEN next_place IS NOT NULL AND next_place <> place AND next_s - epoch_s <= {p.gap_s}
              THEN LEAST(CAST(FLOOR((next_s - epoch_s) / 2) AS BIGINT), {p.bridge_s}) ELSE 0 END AS eb
  FROM s
  WHERE place >= 100000
    AND (prev_place IS NULL OR prev_place <> place OR epoch_s - prev_s > {p.gap_s}
         OR next_place IS NULL OR next_place <> place OR next_s - epoch_s > {p.gap_s})
),
vis AS (
  SELECT phone, place, starts, epoch_s AS first_s, sb,
         CASE WHEN ends = 1 THEN epoch_s ELSE LEAD(epoch_s) OVER w2 END AS last_s,
         CASE WHEN ends = 1 THEN eb ELSE LEAD(eb) OVER w2 END AS eb
  FROM b
  WINDOW w2 AS (PARTITION BY phone ORDER BY epoch_s, place)
)
SELECT phone, place, MIN(GREATEST(first_s, {p.window_start_s})) AS first_s, MAX(last_s) AS last_s
FROM vis
WHERE starts = 1
  AND LEAST(last_s + eb, {p.window_end_s}) - GREATEST(first_s - sb, {p.window_start_s}) >= {p.min_stay_s}
GROUP BY phone, place"""  # noqa: S608
    abroad = f"""
SELECT phone, place, MIN(epoch_s) AS first_s, MAX(epoch_s) AS last_s
FROM {r} WHERE place < 100000 AND epoch_s >= {p.window_start_s}
GROUP BY phone, place"""  # noqa: S608
    phones = f"""
SELECT phone, MAX(epoch_s) AS updated_s
FROM {r} WHERE epoch_s >= {p.window_start_s}
GROUP BY phone"""  # noqa: S608
    return {"cities": cities, "abroad": abroad, "phones": phones}


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, SHANGHAI)


def card_colour(policy: Policy, *, risk_city: bool, close_contact: bool, abroad: bool) -> Colour:
    """The card colour by the policy's colours in force and their precedence."""
    applicable = {Colour.GREEN}
    in_force = set(policy.colour_names)
    if risk_city and policy.risk_city_colour is not None:
        applicable.add(policy.risk_city_colour)
    if close_contact and Colour.ORANGE in in_force:
        applicable.add(Colour.ORANGE)
    if abroad and Colour.YELLOW in in_force:
        applicable.add(Colour.YELLOW)
    for colour in policy.precedence:
        if colour in applicable:
            return colour
    return Colour.GREEN  # pragma: no cover - precedence lists every colour


def assemble_cards(
    cities: pa.Table,
    abroad: pa.Table,
    phones: pa.Table,
    *,
    plan: CardPlan,
    geo: PlaceLookup,
    starred: Collection[str],
    close_contacts: Collection[str] = frozenset(),
) -> list[TripCard]:
    """Turn an engine's three relations into cards, sorted by phone.

    :param starred: city codes with a listed medium/high-risk area on ``as_of − 1``.
    :param close_contacts: full phone numbers flagged as close contacts (orange).
    """
    policy = plan.policy
    window = policy.window(plan.as_of)
    star_set = frozenset(starred)
    contacts = frozenset(close_contacts)

    def grouped(table: pa.Table) -> dict[str, list[tuple[int, int, int]]]:
        rows = zip(
            table.column("phone").to_pylist(),
            table.column("place").to_pylist(),
            table.column("first_s").to_pylist(),
            table.column("last_s").to_pylist(),
            strict=True,
        )
        out: dict[str, list[tuple[int, int, int]]] = {}
        for phone, items in groupby(sorted(rows, key=itemgetter(0)), key=itemgetter(0)):
            out[phone] = sorted(((int(f), int(pl), int(la)) for _, pl, f, la in items))
        return out

    city_rows = grouped(cities)
    abroad_rows = grouped(abroad)
    updated = dict(
        zip(phones.column("phone").to_pylist(), phones.column("updated_s").to_pylist(), strict=True)
    )
    cards: list[TripCard] = []
    for phone in sorted(updated):
        stays: list[CityStay] = []
        for first_s, pid, last_s in city_rows.get(phone, ()):
            place = geo.place(pid)
            stays.append(
                CityStay(
                    code=place.code,
                    name=place.name,
                    province=place.province,
                    star=policy.star and place.code in star_set,
                    first_seen=_instant(first_s),
                    last_seen=_instant(last_s),
                )
            )
        visits: list[AbroadVisit] = []
        for first_s, pid, last_s in abroad_rows.get(phone, ()):
            place = geo.place(pid)
            visits.append(AbroadVisit(place.code, place.name, _instant(first_s), _instant(last_s)))
        colour = card_colour(
            policy,
            risk_city=any(s.code in star_set for s in stays),
            close_contact=phone in contacts,
            abroad=bool(visits),
        )
        cards.append(
            TripCard(
                phone=phone,
                as_of=plan.as_of,
                window_days=policy.window_days,
                window=window,
                updated_at=_instant(int(updated[phone])),
                colour=colour,
                cities=tuple(stays),
                abroad=tuple(visits),
                policy=policy.id,
            )
        )
    return cards


def empty_card(phone: str, *, as_of: date, policy: Policy, close_contact: bool = False) -> TripCard:
    """The card of a phone without records in the window: no places, ``updated_at`` ``None``."""
    return TripCard(
        phone=phone,
        as_of=as_of,
        window_days=policy.window_days,
        window=policy.window(as_of),
        updated_at=None,
        colour=card_colour(policy, risk_city=False, close_contact=close_contact, abroad=False),
        cities=(),
        abroad=(),
        policy=policy.id,
    )
