"""The ``trip_stays`` fact list: the cities of a phone's stored trip cards, for the rules.

Kept apart from :mod:`healthcode.trips` (numpy, pandas, shapely) so gathering a
holder's facts imports nothing heavy: it only reads the stored card JSON
(``trip_cards``, see :mod:`healthcode.trips.store`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthcode.clock import SHANGHAI
from healthcode.storage.models import TripCardRow

_CHUNK = 500


def trip_stays(session: Session, indexes: Collection[str]) -> dict[str, list[dict[str, Any]]]:
    """The ``trip_stays`` fact list per phone index, from every stored card of the phone.

    One element per city that appears on any of the phone's cards::

        {"city_code": "230100", "city": "哈尔滨市", "province": "黑龙江省", "star": true,
         "first_seen": "…+08:00", "last_seen": "…+08:00", "card_as_of": "…T00:00:00+08:00"}

    ``star`` is true when some card starred the city; ``first_seen``/``last_seen`` are
    the earliest and latest times over the cards that starred it (over all cards when
    none did); ``card_as_of`` is the start of the first query date whose card starred it
    (the latest card's date when none did). Elements are sorted by ``first_seen``, code.
    """
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    wanted = sorted(set(indexes))
    for chunk in (wanted[i : i + _CHUNK] for i in range(0, len(wanted), _CHUNK)):
        for idx, as_of, text in session.execute(
            select(TripCardRow.phone_index, TripCardRow.as_of, TripCardRow.card)
            .where(TripCardRow.phone_index.in_(chunk))
            .order_by(TripCardRow.phone_index, TripCardRow.as_of)
        ):
            card = json.loads(text)
            when = datetime.combine(as_of, time(0), SHANGHAI).isoformat()
            for city in card.get("cities") or ():
                cities = merged.setdefault(idx, {})
                star = bool(city.get("star"))
                cur = cities.get(city["code"])
                if cur is None or (star and not cur["star"]):
                    cities[city["code"]] = {
                        "city_code": city["code"], "city": city["name"],
                        "province": city.get("province", ""), "star": star,
                        "first_seen": city["first_seen"], "last_seen": city["last_seen"],
                        "card_as_of": when,
                    }  # fmt: skip
                    continue
                if star != cur["star"]:
                    continue  # an unstarred sighting of a starred city adds nothing
                cur["first_seen"] = _earlier(cur["first_seen"], city["first_seen"])
                cur["last_seen"] = _later(cur["last_seen"], city["last_seen"])
                if not star:
                    cur["card_as_of"] = when  # cards come in date order: the latest
    return {
        idx: sorted(cities.values(), key=lambda e: (e["first_seen"], e["city_code"]))
        for idx, cities in merged.items()
    }


def _earlier(a: str, b: str) -> str:
    return a if datetime.fromisoformat(a) <= datetime.fromisoformat(b) else b


def _later(a: str, b: str) -> str:
    return a if datetime.fromisoformat(a) >= datetime.fromisoformat(b) else b
