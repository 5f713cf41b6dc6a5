"""Realistic synthetic cell-signalling records, for benchmarks and engine cross-checks.

What it makes (deterministic for a seed):

* **Cities**: ``n_cities`` real prefecture-level cities (the four municipalities,
  the other big cities, then a seeded sample), weighted by a Zipf law.
* **Cell sites**: per city, ``sites_per_city`` synthetic sites scattered around
  the real government seat (normal, σ = 0.06° ≈ 6 km; some fall in a
  neighbouring city, as real border sites do; none in the sea); for 上海市 the real Shanghai
  Telecom sites when given; a few sites abroad (Tokyo, Seoul, Singapore,
  Bangkok, Hong Kong).
* **Phones** live in a home city. About 30 % make one or two trips in the
  period: a train through one or two other cities (0.5-3 h each), a stay of
  2-96 h, and the way back; about 1 % go abroad for 1-5 days.
* **Records** arrive as a Poisson process (mean gap ``mean_gap_minutes``),
  thinned at night (00-06 China time keeps 30 %): gaps of seconds to hours.

Output: ``(phone, epoch_s, cell_id)`` records and the :class:`CellSites` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from healthcode.clock import SHANGHAI
from healthcode.trips.geo import PlaceIndex
from healthcode.trips.readers import CellSites

_MAJOR: Final = (
    "310000", "110000", "120000", "500000", "440100", "440300", "330100", "320100",
    "420100", "510100", "610100", "320500", "370200", "210100", "230100", "350200",
)  # fmt: skip
_ABROAD_SITES: Final = {
    "JP-TYO": (139.69, 35.69),
    "KR-SEL": (126.98, 37.57),
    "SG-SIN": (103.82, 1.35),
    "TH-BKK": (100.50, 13.75),
    "HK-HKG": (114.17, 22.30),
}
_SIGMA_DEG: Final = 0.06


@dataclass(frozen=True)
class SyntheticSet:
    records: pa.Table  #: phone (string), epoch_s (int64 UTC seconds), cell_id (string)
    sites: CellSites
    phones: int
    cities: tuple[str, ...]  #: six-digit codes used
    start: date
    days: int


def generate_cell_records(
    *,
    n_records: int,
    start: date,
    geo: PlaceIndex,
    days: int = 14,
    seed: int = 0,
    n_cities: int = 60,
    sites_per_city: int = 150,
    mean_gap_minutes: float = 40.0,
    shanghai_sites: CellSites | None = None,
) -> SyntheticSet:
    """Generate about ``n_records`` records over ``days`` China days from ``start``.

    :param geo: place index; its names give the city seats, and sites that would
        fall abroad (in the sea off a coastal city) are drawn again.
    :param shanghai_sites: real sites to use for 上海市 (ids prefixed ``SH-``).
    """
    rng = np.random.default_rng(seed)
    names = geo.names
    prefectures = [
        c
        for c in names.codes()
        if c.endswith("00") and not c.endswith("0000") and names.seat(c) is not None
    ]
    majors = [c for c in _MAJOR if names.seat(c) is not None]
    others = [c for c in prefectures if c not in majors]
    extra = rng.choice(len(others), size=max(0, n_cities - len(majors)), replace=False)
    cities = majors + [others[i] for i in sorted(extra)]
    weights = 1.0 / np.arange(1, len(cities) + 1) ** 0.8
    weights /= weights.sum()

    # sites: per city a block of ids; a list of arrays of site indices per city
    site_ids: list[str] = []
    site_lon: list[float] = []
    site_lat: list[float] = []
    city_sites: list[npt.NDArray[np.int64]] = []
    for code in cities:
        first = len(site_ids)
        if code == "310000" and shanghai_sites is not None:
            t = shanghai_sites.table
            site_ids += ["SH-" + str(i) for i in t.column("cell_id").to_pylist()]
            site_lon += t.column("lon").to_pylist()
            site_lat += t.column("lat").to_pylist()
        else:
            seat = names.seat(code) or (0.0, 0.0)  # cities were chosen with a seat
            lon = seat[0] + rng.normal(0, _SIGMA_DEG, sites_per_city)
            lat = seat[1] + rng.normal(0, _SIGMA_DEG, sites_per_city)
            for _ in range(5):  # no domestic site in the sea
                wet = geo.resolve(lon, lat) < 100000
                if not wet.any():
                    break
                lon[wet] = seat[0] + rng.normal(0, _SIGMA_DEG / 2, int(wet.sum()))
                lat[wet] = seat[1] + rng.normal(0, _SIGMA_DEG / 2, int(wet.sum()))
            else:
                lon[wet], lat[wet] = seat
            site_ids += [f"{code}-{i:04d}" for i in range(sites_per_city)]
            site_lon += lon.tolist()
            site_lat += lat.tolist()
        city_sites.append(np.arange(first, len(site_ids)))
    abroad_first = len(site_ids)
    for sid, (x, y) in _ABROAD_SITES.items():
        site_ids.append(sid)
        site_lon.append(x)
        site_lat.append(y)
    abroad_sites = np.arange(abroad_first, len(site_ids))

    t0 = int(datetime.combine(start, time(0), SHANGHAI).timestamp())
    span = days * 86400
    per_phone = span / (mean_gap_minutes * 60) * 0.82  # night thinning keeps ≈ 82 %
    n_phones = max(1, round(n_records / per_phone))

    # itineraries: segments (phone, start offset, place slot); slot ≥ 0 city, −1 abroad
    home = rng.choice(len(cities), size=n_phones, p=weights)
    seg_phone: list[int] = list(range(n_phones))
    seg_start: list[int] = [0] * n_phones
    seg_slot: list[int] = home.tolist()
    travellers = np.flatnonzero(rng.random(n_phones) < 0.30)
    for ph in travellers.tolist():
        at = int(rng.integers(0, span - 86400))
        for _ in range(int(rng.integers(1, 3))):
            abroad = rng.random() < 0.033
            dest = -1 if abroad else int(rng.choice(len(cities), p=weights))
            legs = [] if abroad else rng.choice(len(cities), size=int(rng.integers(1, 3))).tolist()
            for city in legs:  # the train out
                seg_phone.append(ph)
                seg_start.append(at)
                seg_slot.append(int(city))
                at += int(rng.uniform(0.5, 3.0) * 3600)
            seg_phone.append(ph)
            seg_start.append(at)
            seg_slot.append(dest)
            at += int(rng.uniform(2, 96 if not abroad else 120) * 3600)
            for city in reversed(legs):  # and back
                seg_phone.append(ph)
                seg_start.append(at)
                seg_slot.append(int(city))
                at += int(rng.uniform(0.5, 3.0) * 3600)
            seg_phone.append(ph)
            seg_start.append(at)
            seg_slot.append(int(home[ph]))
            at += int(rng.uniform(6, 72) * 3600)
            if at >= span:
                break
    sp = np.asarray(seg_phone, dtype=np.int64)
    ss = np.asarray(seg_start, dtype=np.int64)
    sl = np.asarray(seg_slot, dtype=np.int64)
    order = np.lexsort((ss, sp))
    seg_key = sp[order] * (1 << 32) + ss[order]
    sl = sl[order]

    # records: Poisson counts, uniform times, night thinning
    counts = rng.poisson(per_phone / 0.82, size=n_phones)
    phone_idx = np.repeat(np.arange(n_phones, dtype=np.int64), counts)
    offset = rng.integers(0, span, size=len(phone_idx), dtype=np.int64)
    hour = ((t0 + offset + 8 * 3600) // 3600) % 24
    keep = (hour >= 6) | (rng.random(len(offset)) < 0.30)
    phone_idx, offset = phone_idx[keep], offset[keep]
    slot = sl[np.searchsorted(seg_key, phone_idx * (1 << 32) + offset, side="right") - 1]

    # a site in the place: uniform among its sites
    site = np.empty(len(slot), dtype=np.int64)
    abroad_mask = slot < 0
    site[abroad_mask] = rng.choice(abroad_sites, size=int(abroad_mask.sum()))
    for i, members in enumerate(city_sites):
        mask = slot == i
        site[mask] = members[rng.integers(0, len(members), size=int(mask.sum()))]

    phones = np.array([f"13{i:09d}" for i in range(n_phones)], dtype=object)
    ids = np.asarray(site_ids, dtype=object)
    records = pa.table(
        {
            "phone": pa.array(phones[phone_idx], pa.string()),
            "epoch_s": pa.array(t0 + offset, pa.int64()),
            "cell_id": pa.array(ids[site], pa.string()),
        }
    )
    sites = CellSites(
        pa.table(
            {
                "cell_id": pa.array(site_ids, pa.string()),
                "lon": pa.array(site_lon, pa.float64()),
                "lat": pa.array(site_lat, pa.float64()),
            }
        ),
        source="synthetic",
    )
    return SyntheticSet(records, sites, n_phones, tuple(cities), start, days)
