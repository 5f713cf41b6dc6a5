"""Trip cards with vectorised pandas/numpy (sort, shift, groupby; no per-row Python).

The reference the benchmark compares DuckDB with, and a third engine the tests
hold to the same byte-identical output. It loads the whole input in memory.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from healthcode.trips._engine import (
    RecordsInput,
    as_paths,
    check_risk,
    make_plan,
    report,
    starred_for,
)
from healthcode.trips.errors import RecordsRejected
from healthcode.trips.geo import PlaceIndex, grid_key
from healthcode.trips.model import TripCard
from healthcode.trips.policy import Policy
from healthcode.trips.readers import CellSites
from healthcode.trips.risk import RiskCityLookup
from healthcode.trips.stays import PHONE_RE, CardPlan, Progress, StayRule, assemble_cards

STEPS = 4


def _frame(records: RecordsInput) -> pd.DataFrame:
    if isinstance(records, pd.DataFrame):
        return records
    if isinstance(records, pa.Table):
        return records.to_pandas()
    paths = as_paths(records) or []
    return pa.concat_tables([pq.read_table(p) for p in paths]).to_pandas()


def locate(
    df: pd.DataFrame, plan: CardPlan, geo: PlaceIndex, cell_sites: CellSites | None
) -> pd.DataFrame:
    """``(phone, epoch_s, place)`` of the records in the run's time range."""
    epoch = df["epoch_s"].to_numpy(dtype=np.int64)
    keep = (epoch >= plan.lookback_s) & (epoch < plan.window_end_s)
    df = df.loc[keep]
    n = len(df)
    has_point = {"lon", "lat"} <= set(df.columns)
    if not has_point and "cell_id" not in df.columns:
        raise RecordsRejected("records need columns lon, lat or cell_id")
    if has_point:
        lon = df["lon"].to_numpy(np.float64, na_value=np.nan)
        lat = df["lat"].to_numpy(np.float64, na_value=np.nan)
        pointed = ~(np.isnan(lon) | np.isnan(lat))
    else:
        lon = lat = np.full(n, np.nan)
        pointed = np.zeros(n, dtype=bool)
    if "cell_id" in df.columns:
        cell = df["cell_id"].astype("string").str.strip()
        celled = cell.notna().to_numpy(dtype=bool) & (cell != "").to_numpy(
            dtype=bool, na_value=False
        )
    else:
        cell = None
        celled = np.zeros(n, dtype=bool)
    place = np.zeros(n, dtype=np.int64)
    grid = pointed & ~celled  # once per 0.001° grid cell
    if grid.any():
        uniq, inverse = np.unique(grid_key(lon[grid], lat[grid]), return_inverse=True)
        place[grid] = geo.resolve_keys(uniq)[inverse]
    pinned = pointed & celled  # a cell-id record at its exact position, once per position
    if pinned.any():
        xy = np.stack([lon[pinned], lat[pinned]], axis=1)
        uniq_xy, inverse = np.unique(xy, axis=0, return_inverse=True)
        place[pinned] = geo.resolve(uniq_xy[:, 0], uniq_xy[:, 1])[inverse.ravel()]
    by_site = celled & ~pointed  # the site's position from the table
    if by_site.any():
        assert cell is not None  # noqa: S101 - celled
        if cell_sites is None:
            raise RecordsRejected("records give cell_id but no cell-site table was given")
        sites = cell_sites.table
        pos = pd.Index(sites.column("cell_id").to_pandas()).get_indexer(
            cell[by_site].to_numpy(dtype=object)
        )
        if (pos < 0).any():
            raise RecordsRejected(
                f"{int((pos < 0).sum())} record(s) name cell ids missing from the cell-site table",
                details={"error_count": int((pos < 0).sum()), "errors": []},
            )
        site_place = geo.resolve(sites.column("lon").to_numpy(), sites.column("lat").to_numpy())
        place[by_site] = site_place[pos]
    nowhere = int((~pointed & ~celled).sum())
    if nowhere:
        raise RecordsRejected(
            f"{nowhere} record(s) give neither lon/lat nor cell_id",
            details={"error_count": nowhere, "errors": []},
        )
    return pd.DataFrame(
        {
            "phone": df["phone"].to_numpy()
            if df["phone"].dtype in (object, "string", "str")
            else df["phone"].astype(str).to_numpy(),
            "epoch_s": df["epoch_s"].to_numpy(dtype=np.int64),
            "place": np.asarray(place, dtype=np.int64),
        }
    )


def stay_relations(r: pd.DataFrame, plan: CardPlan) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The stay definition of :mod:`healthcode.trips.stays` on ``(phone, epoch_s, place)``."""
    codes, phones = pd.factorize(r["phone"], sort=True)
    bad = ~pd.Series(phones, dtype="string").str.fullmatch(PHONE_RE).to_numpy(
        dtype=bool, na_value=False
    )
    if bad.any():
        count = int(np.isin(codes, np.flatnonzero(bad)).sum())
        raise RecordsRejected(
            f"{count} record(s) with a phone that is not an 11-digit mainland mobile number",
            details={"error_count": count, "errors": []},
        )
    epoch = r["epoch_s"].to_numpy(dtype=np.int64)
    place = r["place"].to_numpy(dtype=np.int64)
    order = np.lexsort((place, epoch, codes))
    code, epoch, place = codes[order], epoch[order], place[order]
    n = len(code)

    same_prev = np.zeros(n, dtype=bool)
    same_prev[1:] = code[1:] == code[:-1]
    same_next = np.zeros(n, dtype=bool)
    same_next[:-1] = same_prev[1:]
    gap_prev = np.zeros(n, dtype=np.int64)
    gap_prev[1:] = epoch[1:] - epoch[:-1]
    gap_next = np.zeros(n, dtype=np.int64)
    gap_next[:-1] = gap_prev[1:]
    moved_prev = np.zeros(n, dtype=bool)
    moved_prev[1:] = place[1:] != place[:-1]
    moved_next = np.zeros(n, dtype=bool)
    moved_next[:-1] = moved_prev[1:]

    starts = ~same_prev | moved_prev | (gap_prev > plan.gap_s)
    sb = np.where(
        same_prev & moved_prev & (gap_prev <= plan.gap_s),
        np.minimum(gap_prev // 2, plan.bridge_s),
        0,
    )
    eb = np.where(
        same_next & moved_next & (gap_next <= plan.gap_s),
        np.minimum(gap_next // 2, plan.bridge_s),
        0,
    )
    visit = np.cumsum(starts)
    rows = pd.DataFrame(
        {"visit": visit, "code": code, "place": place, "epoch": epoch, "sb": sb, "eb": eb}
    )
    domestic = rows[rows["place"] >= 100000]
    vis = domestic.groupby("visit", sort=False).agg(
        code=("code", "first"),
        place=("place", "first"),
        first_s=("epoch", "min"),
        last_s=("epoch", "max"),
        sb=("sb", "max"),
        eb=("eb", "max"),
    )
    ws, we = plan.window_start_s, plan.window_end_s
    dur = np.minimum(vis["last_s"] + vis["eb"], we) - np.maximum(vis["first_s"] - vis["sb"], ws)
    q = vis[dur >= plan.min_stay_s].assign(first_s=lambda v: np.maximum(v["first_s"], ws))
    cities = q.groupby(["code", "place"], sort=False).agg(
        first_s=("first_s", "min"), last_s=("last_s", "max")
    )
    in_window = rows[rows["epoch"] >= ws]
    abroad = (
        in_window[in_window["place"] < 100000]
        .groupby(["code", "place"], sort=False)
        .agg(first_s=("epoch", "min"), last_s=("epoch", "max"))
    )
    updated = in_window.groupby("code", sort=False)["epoch"].max()

    names = np.asarray(phones, dtype=object)

    def places(frame: pd.DataFrame) -> pa.Table:
        idx = frame.index
        return pa.table(
            {
                "phone": pa.array(names[idx.get_level_values("code")], pa.string()),
                "place": pa.array(idx.get_level_values("place"), pa.int64()),
                "first_s": pa.array(frame["first_s"].to_numpy(), pa.int64()),
                "last_s": pa.array(frame["last_s"].to_numpy(), pa.int64()),
            }
        )

    phone_rows = pa.table(
        {
            "phone": pa.array(names[updated.index.to_numpy()], pa.string()),
            "updated_s": pa.array(updated.to_numpy(), pa.int64()),
        }
    )
    return places(cities), places(abroad), phone_rows


def build_cards(
    records: RecordsInput,
    *,
    as_of: date,
    geo: PlaceIndex,
    policy: Policy | None = None,
    risk: RiskCityLookup | None = None,
    cell_sites: CellSites | None = None,
    close_contacts: Collection[str] = frozenset(),
    rule: StayRule | None = None,
    phones: Collection[str] | None = None,
    progress: Progress | None = None,
) -> list[TripCard]:
    """Same contract as :func:`healthcode.trips.engine_duckdb.build_cards`."""
    plan = make_plan(as_of, policy, rule)
    check_risk(plan, risk)
    report(progress, "read records", 1, STEPS)
    df = _frame(records)
    if phones is not None:
        df = df[df["phone"].astype(str).isin(list(phones))]
    report(progress, "resolve places", 2, STEPS)
    located = locate(df, plan, geo, cell_sites)
    report(progress, "stays", 3, STEPS)
    cities, abroad, phone_rows = stay_relations(located, plan)
    report(progress, "cards", 4, STEPS)
    return assemble_cards(
        cities,
        abroad,
        phone_rows,
        plan=plan,
        geo=geo,
        starred=starred_for(plan, risk),
        close_contacts=close_contacts,
    )
