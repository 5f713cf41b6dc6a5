"""Which cities had a listed medium/high-risk area on a day (for stars and the old red).

The real system reads the risk areas imported into its database (``healthcode
risk-areas import``); anything with :meth:`RiskCityLookup.starred_cities` plugs in.
This module ships two implementations: :class:`EpisodeRiskLookup` over listing
episodes (the columns of ``risk_areas_nhc_2022/risk_area_episodes.csv.gz``) and
:class:`StaticRiskLookup` (a day → codes mapping, for tests and synthetic runs).

"Listed on day D" (Asia/Shanghai): some medium/high episode overlaps D, i.e.
``first_listed < D+1 00:00`` and (``first_absent`` empty or ``first_absent > D 00:00``).
``first_absent`` is the first snapshot without the area, so an area delisted
shortly before a late snapshot still counts for that day: the star errs on the
side of caution, as the published lists were refreshed only a few times a day.
Low-risk entries (listed from 2022-07-21) never star.
"""

from __future__ import annotations

import bisect
import csv
import gzip
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

from healthcode.clock import SHANGHAI
from healthcode.errors import InputError
from healthcode.trips.geo import AdminNames

#: The national list as ``healthcode risk-areas import`` reads it (under ``HEALTHCODE_SHARED``).
RISK_EPISODES: Final = ("data", "risk_areas_nhc_2022", "risk_area_episodes.csv.gz")
#: Columns an episode file must have (the published file also has ``last_listed``).
EPISODE_COLUMNS: Final = (
    "level",
    "province",
    "city",
    "county",
    "community",
    "first_listed",
    "first_absent",
)


class RiskListRequired(InputError):
    """Cards of a date whose policy uses the risk list (stars, the old red) were asked for
    without any risk data (``risk=None``): they would silently lack stars. Pass a lookup
    (e.g. :meth:`EpisodeRiskLookup.load`), or :class:`NoRiskLookup` to build without one."""

    code = "trip-risk-list-required"


@runtime_checkable
class RiskCityLookup(Protocol):
    """Source of the risk-city sets the card needs."""

    def starred_cities(self, day: date) -> set[str]:
        """Six-digit codes of the cities with a medium/high listed area on ``day`` (Asia/Shanghai)."""
        ...


@dataclass(frozen=True)
class RiskEpisode:
    """One continuous listing of one community at one level."""

    level: str  #: ``high`` / ``medium`` / ``low``
    province: str
    city: str  #: for 北京市 the publisher put the district here
    county: str
    community: str
    first_listed: datetime  #: aware
    first_absent: datetime | None  #: aware; ``None``: still listed at the end of the data


class NoRiskLookup:
    """No city is ever starred."""

    def starred_cities(self, day: date) -> set[str]:
        return set()


class StaticRiskLookup:
    """A fixed mapping day → city codes."""

    def __init__(self, by_day: Mapping[date, Iterable[str]]) -> None:
        self._by_day = {d: frozenset(codes) for d, codes in by_day.items()}

    def starred_cities(self, day: date) -> set[str]:
        return set(self._by_day.get(day, ()))


class EpisodeRiskLookup:
    """Risk cities from listing episodes, names resolved to GB/T 2260 city codes.

    :ivar unresolved: (province, city) → number of episodes whose names did not
        resolve to a city (e.g. 新疆生产建设兵团, listed without a city); they never star.
    """

    def __init__(self, episodes: Iterable[RiskEpisode], names: AdminNames) -> None:
        spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.unresolved: Counter[tuple[str, str]] = Counter()
        for ep in episodes:
            if ep.level not in ("high", "medium"):
                continue
            code = names.city_code(ep.province, ep.city, ep.county)
            if code is None:
                self.unresolved[(ep.province, ep.city)] += 1
                continue
            end = ep.first_absent.timestamp() if ep.first_absent else float("inf")
            spans[code].append((ep.first_listed.timestamp(), end))
        # merge overlapping spans per city: sorted, disjoint
        self._starts: dict[str, list[float]] = {}
        self._ends: dict[str, list[float]] = {}
        for code, items in spans.items():
            items.sort()
            merged: list[list[float]] = []
            for start, end in items:
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            self._starts[code] = [m[0] for m in merged]
            self._ends[code] = [m[1] for m in merged]

    @classmethod
    def from_csv(cls, path: str | Path, names: AdminNames) -> EpisodeRiskLookup:
        """Read episodes from CSV (gzip recognised by its magic bytes) with the columns
        ``level, province, city, county, community, first_listed, first_absent`` (others,
        such as the published ``last_listed``, are ignored): the national list as
        ``healthcode risk-areas import`` reads it, names as published (for 北京 the
        district is in ``city``; :meth:`AdminNames.city_code` handles it).

        :raises ValueError: a required column is missing, or a time has no offset.
        """
        p = Path(path)
        with open(p, "rb") as probe:
            packed = probe.read(2) == b"\x1f\x8b"
        with (
            gzip.open(p, "rt", encoding="utf-8-sig", newline="")
            if packed
            else open(p, encoding="utf-8-sig", newline="")
        ) as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in EPISODE_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise ValueError(f"{p}: not a risk-area episode list: missing column(s) {missing}")
            return cls(parse_episodes(reader), names)

    @classmethod
    def load(
        cls, path: str | Path | None = None, names: AdminNames | None = None
    ) -> EpisodeRiskLookup:
        """The national list (default: :data:`RISK_EPISODES` under ``HEALTHCODE_SHARED``,
        the file ``healthcode risk-areas import`` reads), names resolved with ``names``
        (default: :meth:`AdminNames.load`; pass ``PlaceIndex.names`` to reuse it).

        :raises MissingSharedFile: the default file is missing (the message names the variable).
        """
        from healthcode.trips.geo import default_shared_path

        p = default_shared_path(*RISK_EPISODES) if path is None else Path(path)
        return cls.from_csv(p, names if names is not None else AdminNames.load())

    def starred_cities(self, day: date) -> set[str]:
        lo = datetime.combine(day, time(0), SHANGHAI).timestamp()
        hi = datetime.combine(day + timedelta(days=1), time(0), SHANGHAI).timestamp()
        out: set[str] = set()
        for code, starts in self._starts.items():
            i = bisect.bisect_left(starts, hi) - 1  # last span starting before the day ends
            if i >= 0 and self._ends[code][i] > lo:
                out.add(code)
        return out


def parse_episodes(rows: Iterable[Mapping[str, str]]) -> Iterable[RiskEpisode]:
    """Episodes from mapping rows (times ISO-8601 with offset, e.g. ``2022-04-15T11:00+08:00``).

    :raises ValueError: a time without offset or unparseable.
    """
    for r in rows:
        first = datetime.fromisoformat(r["first_listed"])
        absent = datetime.fromisoformat(r["first_absent"]) if r.get("first_absent") else None
        if first.tzinfo is None or (absent is not None and absent.tzinfo is None):
            raise ValueError(f"risk episode time without offset: {r['first_listed']!r}")
        yield RiskEpisode(
            level=r["level"],
            province=r["province"],
            city=r["city"],
            county=r.get("county", ""),
            community=r.get("community", ""),
            first_listed=first,
            first_absent=absent,
        )
