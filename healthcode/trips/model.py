"""The trip card as data: frozen dataclasses and their one JSON shape.

Card JSON (UTF-8, non-ASCII unescaped, keys in this order)::

    {"phone": "139****5678", "as_of": "2022-11-21", "window_days": 7,
     "window": ["2022-11-14", "2022-11-20"], "updated_at": "2022-11-20T21:40:00+08:00",
     "colour": "green",
     "cities": [{"code": "110000", "name": "北京市", "province": "北京市", "star": false,
                 "first_seen": "2022-11-15T08:00:00+08:00", "last_seen": "2022-11-16T13:00:00+08:00"}],
     "abroad": [{"code": "HK", "name": "中国香港",
                 "first_seen": "…+08:00", "last_seen": "…+08:00"}],
     "policy": "TC-2022-07-08"}

All instants in the JSON are China Standard Time (``+08:00``), whole seconds;
in the dataclasses they are aware :class:`~datetime.datetime` values (any zone).
``cities`` and ``abroad`` are sorted by ``first_seen``, then ``code``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from healthcode.clock import SHANGHAI


class Colour(StrEnum):
    """Card colours. Meanings and dates are policy data (``data/policies.json``)."""

    GREEN = "green"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


def mask_phone(phone: str) -> str:
    """``13912345678`` → ``139****5678`` (first 3 and last 4 digits kept)."""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def cst_text(instant: datetime) -> str:
    """An aware instant as ISO-8601 in China Standard Time, whole seconds (``…+08:00``)."""
    return instant.astimezone(SHANGHAI).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class CityStay:
    """A domestic prefecture-level city with a stay of at least the policy's minimum.

    ``first_seen``/``last_seen`` are observed record times of the qualifying stays,
    clipped to the window (a stay already under way at the window start shows the
    window start).
    """

    code: str  #: GB/T 2260 six-digit code, e.g. ``"110000"``
    name: str  #: full official name, e.g. ``"北京市"``
    province: str  #: provincial-level name, e.g. ``"北京市"``, ``"浙江省"``
    star: bool  #: listed medium/high-risk area on the day before ``as_of`` (policies with stars)
    first_seen: datetime
    last_seen: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "province": self.province,
            "star": self.star,
            "first_seen": cst_text(self.first_seen),
            "last_seen": cst_text(self.last_seen),
        }


@dataclass(frozen=True)
class AbroadVisit:
    """A country or region outside the mainland with at least one record in the window.

    ``code`` is ISO 3166-1 alpha-2 (``HK``, ``MO``, ``TW``), or ``ZZ`` (unknown
    region) with the name ``境外`` when the country is not resolved.
    """

    code: str
    name: str
    first_seen: datetime
    last_seen: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "first_seen": cst_text(self.first_seen),
            "last_seen": cst_text(self.last_seen),
        }


@dataclass(frozen=True)
class TripCard:
    """One phone's trip card for one query date.

    ``phone`` is the full number (it is masked only in :meth:`to_json`), so cards
    sort and store by it. ``updated_at`` is the newest record the card used (``None``
    for an empty card of a phone without records in the window).
    """

    phone: str
    as_of: date
    window_days: int
    window: tuple[date, date]  #: first and last Asia/Shanghai day covered, inclusive
    updated_at: datetime | None
    colour: Colour
    cities: tuple[CityStay, ...]
    abroad: tuple[AbroadVisit, ...]
    policy: str  #: policy id, e.g. ``"TC-2022-07-08"``

    def to_dict(self) -> dict[str, Any]:
        """The card JSON as a dict (key order is the contract's)."""
        return {
            "phone": mask_phone(self.phone),
            "as_of": self.as_of.isoformat(),
            "window_days": self.window_days,
            "window": [self.window[0].isoformat(), self.window[1].isoformat()],
            "updated_at": None if self.updated_at is None else cst_text(self.updated_at),
            "colour": self.colour.value,
            "cities": [c.to_dict() for c in self.cities],
            "abroad": [a.to_dict() for a in self.abroad],
            "policy": self.policy,
        }

    def to_json(self) -> str:
        """One line of card JSON: UTF-8 text, non-ASCII unescaped, no newline."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @property
    def starred(self) -> tuple[CityStay, ...]:
        """The cities of the card marked with a star."""
        return tuple(c for c in self.cities if c.star)


def cards_to_jsonl(cards: Iterable[TripCard]) -> str:
    """Cards as JSON Lines text, sorted by full phone number, one ``\\n`` after each."""
    return "".join(c.to_json() + "\n" for c in sorted(cards, key=lambda c: c.phone))


def write_jsonl(cards: Iterable[TripCard], out: str | Path | IO[str]) -> int:
    """Write cards as JSON Lines (UTF-8, sorted by phone) to a path or text stream.

    :returns: number of cards written.
    """
    ordered = sorted(cards, key=lambda c: c.phone)
    if isinstance(out, str | Path):
        with open(out, "w", encoding="utf-8", newline="\n") as fh:
            for card in ordered:
                fh.write(card.to_json() + "\n")
    else:
        for card in ordered:
            out.write(card.to_json() + "\n")
    return len(ordered)
