"""Pieces every engine shares: input types, the plan, place tables, stars."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from healthcode.trips.geo import GRID_SCALE, PlaceIndex
from healthcode.trips.policy import Policy, load_policies
from healthcode.trips.readers import CellSites
from healthcode.trips.risk import RiskCityLookup, RiskListRequired
from healthcode.trips.stays import CardPlan, Progress, StayRule

#: Records for an engine: an Arrow table or pandas DataFrame, or Parquet file path(s),
#: with ``phone`` (string), ``epoch_s`` (int64, UTC seconds) and ``lon``/``lat``
#: (float64, WGS-84) and/or ``cell_id`` (string, with a cell-site table for rows without
#: lon/lat). Places (docs/trip-card.md, *Place*): a record with a cell id is resolved at
#: its exact position (the site's: given with the record, or from the cell-site table),
#: once per distinct position; a record with lon/lat and no cell id once per 0.001° grid cell.
RecordsInput: TypeAlias = pa.Table | pd.DataFrame | str | Path | Sequence[str | Path]

#: The grid key of :func:`healthcode.trips.geo.grid_key` in SQL (DuckDB and Spark).
KEY_SQL: Final = (
    f"(CAST(FLOOR(lon * {GRID_SCALE}) AS BIGINT) + {180 * GRID_SCALE}) * 1000000"
    f" + (CAST(FLOOR(lat * {GRID_SCALE}) AS BIGINT) + {90 * GRID_SCALE})"
)


def make_plan(as_of: date, policy: Policy | None, rule: StayRule | None) -> CardPlan:
    """:raises ServiceEnded: no policy on ``as_of``."""
    return CardPlan.make(as_of, policy or load_policies().for_date(as_of), rule)


def uses_risk_list(policy: Policy) -> bool:
    """Whether the cards of ``policy`` depend on the risk-area list (stars or the old red)."""
    return policy.star or policy.risk_city_colour is not None


def check_risk(plan: CardPlan, risk: RiskCityLookup | None) -> None:
    """:raises RiskListRequired: the policy shows stars (2021-01-08 20:30 - 2022-06-28) and
    ``risk`` is ``None``: the cards would silently lack their stars. Checked before any
    work. (The old risk red of TC-2020-03-06 is not checked: no national list exists for
    those dates — the published one starts 2022-04-15 — so ``None`` means "none listed".)
    """
    if risk is None and plan.policy.star:
        raise RiskListRequired(
            f"the cards of {plan.as_of} (policy {plan.policy.id}) star the cities listed in "
            f"the risk-area list of {plan.policy.star_day(plan.as_of)}, but no risk list was "
            "given: pass risk=EpisodeRiskLookup.load() (or --risk-areas FILE), or "
            "risk=NoRiskLookup() to build the cards without stars"
        )


def starred_for(plan: CardPlan, risk: RiskCityLookup | None) -> set[str]:
    """Risk cities of the day that decides stars / risk colour (empty when the policy has neither).

    :raises RiskListRequired: see :func:`check_risk`.
    """
    check_risk(plan, risk)
    if risk is None or not uses_risk_list(plan.policy):
        return set()
    return risk.starred_cities(plan.policy.star_day(plan.as_of))


def site_places(cell_sites: CellSites, geo: PlaceIndex) -> pa.Table:
    """``(cell_id, place)`` for every site (exact coordinates, no grid)."""
    t = cell_sites.table
    places = geo.resolve(t.column("lon").to_numpy(), t.column("lat").to_numpy())
    return pa.table({"cell_id": t.column("cell_id"), "place": pa.array(places, pa.int64())})


def point_places(lon: npt.ArrayLike, lat: npt.ArrayLike, geo: PlaceIndex) -> pa.Table:
    """``(lon, lat, place)`` for distinct exact positions (cell-id records), no grid."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    return pa.table(
        {
            "lon": pa.array(x, pa.float64()),
            "lat": pa.array(y, pa.float64()),
            "place": pa.array(geo.resolve(x, y), pa.int64()),
        }
    )


def key_places(keys: npt.ArrayLike, geo: PlaceIndex) -> pa.Table:
    """``(k, place)`` for distinct grid keys."""
    k = np.asarray(keys, dtype=np.int64)
    return pa.table(
        {"k": pa.array(k, pa.int64()), "place": pa.array(geo.resolve_keys(k), pa.int64())}
    )


def as_paths(records: RecordsInput) -> list[str] | None:
    """Parquet paths when ``records`` names files, else ``None``."""
    if isinstance(records, str | Path):
        return [str(records)]
    if isinstance(records, pa.Table | pd.DataFrame):
        return None
    return [str(p) for p in records]


def report(progress: Progress | None, stage: str, step: int, steps: int) -> None:
    if progress is not None:
        progress(stage, step, steps)
