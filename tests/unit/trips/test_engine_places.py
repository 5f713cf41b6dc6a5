"""Every engine and path resolves cell-id records at the site's exact position (once per
site) and GPS points per 0.001° grid cell; stars need a risk list; the docs' API example
runs as written.

The boundary site is checked against the raw city polygons with shapely here, not with
:class:`PlaceIndex`: (114.831997, 30.465996) lies in 黄冈市 (421100), the centre of its
grid cell (114.8315, 30.4655) in 鄂州市 (420700).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from shapely.geometry import Point, shape

from healthcode.riskareas.service import COLUMNS as PUBLISHED_COLUMNS
from healthcode.trips import (
    RECORD_SCHEMA,
    build_cards,
    read_cell_sites,
    read_records,
)
from healthcode.trips.geo import ADCODES, CITY_POLYGONS, AdminNames
from healthcode.trips.risk import EpisodeRiskLookup, NoRiskLookup, RiskListRequired
from tests.support.shared import shared_path, shared_root

SITE = ("421100-0002", 114.831997, 30.465996)
CENTRE = (114.8315, 30.4655)  # floor(x·1000)/1000 + 0.0005, by hand
HUANGGANG, EZHOU = "421100", "420700"
PHONE = "13912345678"
# a 5-hour stay (10:00 → 15:00 +08:00) on 2022-11-15, in the window of the 2022-11-21 card
TIMES = ["2022-11-15T10:00:00+08:00", "2022-11-15T12:30:00+08:00", "2022-11-15T15:00:00+08:00"]
AS_OF = date(2022, 11, 21)
ENGINES = ["duckdb", "pandas"]


@pytest.fixture(scope="module")
def polygons() -> dict[str, list]:
    with gzip.open(shared_path(CITY_POLYGONS), "rt", encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    out: dict[str, list] = {}
    for f in features:
        gb = str(f["properties"].get("gb") or "")
        if gb and f.get("geometry") and f["geometry"]["type"] in ("Polygon", "MultiPolygon"):
            out.setdefault(gb[3:] if len(gb) == 9 else gb, []).append(shape(f["geometry"]))
    return out


def test_the_site_is_in_huanggang_and_its_grid_centre_in_ezhou(polygons):
    site, centre = Point(SITE[1], SITE[2]), Point(*CENTRE)
    assert any(g.contains(site) for g in polygons[HUANGGANG])
    assert not any(g.contains(site) for g in polygons[EZHOU])
    assert any(g.contains(centre) for g in polygons[EZHOU])
    assert not any(g.contains(centre) for g in polygons[HUANGGANG])


def _epochs() -> list[int]:
    return [int(datetime.fromisoformat(t).timestamp()) for t in TIMES]


def _table(cell: str | None) -> pa.Table:
    n = len(TIMES)
    return pa.table(
        {
            "phone": [PHONE] * n,
            "epoch_s": _epochs(),
            "lon": [SITE[1]] * n,
            "lat": [SITE[2]] * n,
            "cell_id": [cell] * n,
        },
        schema=RECORD_SCHEMA,
    )


def _sites(tmp_path: Path) -> Path:
    path = tmp_path / "cell_sites.csv"
    path.write_text(f"cell_id,lon,lat\n{SITE[0]},{SITE[1]},{SITE[2]}\n", encoding="utf-8")
    return path


def _codes(cards) -> list[str]:
    (card,) = cards
    return [c.code for c in card.cities]


@pytest.mark.parametrize("engine", ENGINES)
def test_cell_records_resolve_at_the_site_in_every_input_shape(engine, geo, tmp_path):
    sites = read_cell_sites(_sites(tmp_path))
    kw = {"as_of": AS_OF, "geo": geo, "engine": engine, "cell_sites": sites}
    # read_records fills the site's lon/lat and keeps the cell id (the CLI / import path)
    assert _codes(build_cards(_table(SITE[0]), **kw)) == [HUANGGANG]
    # the internal layout: cell ids only, positions from the table
    cell_only = _table(SITE[0]).select(["phone", "epoch_s", "cell_id"])
    assert _codes(build_cards(cell_only, **kw)) == [HUANGGANG]
    path = tmp_path / "cells.parquet"
    pq.write_table(cell_only, path)
    assert _codes(build_cards(path, **kw)) == [HUANGGANG]
    # a CSV in the import layout, read as `trips card --records … --cell-sites …` reads it
    csv_path = tmp_path / "records.csv"
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["phone", "time", "cell_id"])
        w.writerows([PHONE, t, SITE[0]] for t in TIMES)
    assert _codes(build_cards(read_records(csv_path, cell_sites=sites), **kw)) == [HUANGGANG]


@pytest.mark.parametrize("engine", ENGINES)
def test_gps_points_resolve_per_grid_cell(engine, geo):
    # the same position without a cell id is a GPS fix: its grid cell's centre decides
    cards = build_cards(_table(None), as_of=AS_OF, geo=geo, engine=engine)
    assert _codes(cards) == [EZHOU]


@pytest.mark.parametrize("engine", ENGINES)
def test_records_without_any_location_are_refused(engine, geo):
    from healthcode.trips import RecordsRejected

    table = _table(None)
    table = table.set_column(2, "lon", pa.array([None, SITE[1], SITE[1]], pa.float64()))
    table = table.set_column(3, "lat", pa.array([None, SITE[2], SITE[2]], pa.float64()))
    with pytest.raises(RecordsRejected, match="1 record.*neither lon/lat nor cell_id"):
        build_cards(table, as_of=AS_OF, geo=geo, engine=engine)


# --- stars need a risk list -------------------------------------------------------------

HARBIN = (126.63, 45.75)


def _harbin_stay() -> pa.Table:
    times = ["2022-05-10T12:00:00+08:00", "2022-05-10T18:00:00+08:00"]
    return pa.table(
        {
            "phone": [PHONE] * 2,
            "epoch_s": [int(datetime.fromisoformat(t).timestamp()) for t in times],
            "lon": [HARBIN[0]] * 2,
            "lat": [HARBIN[1]] * 2,
            "cell_id": [None, None],
        },
        schema=RECORD_SCHEMA,
    )


def _listed_on(day: str) -> set[tuple[str, str]]:
    """(province, city) with a medium/high area on ``day`` per ``city_daily_risk.csv``
    (derived independently of the episodes file)."""
    path = shared_path("data", "risk_areas_nhc_2022", "city_daily_risk.csv")
    with open(path, encoding="utf-8", newline="") as fh:
        return {
            (r["province"], r["city"])
            for r in csv.DictReader(fh)
            if r["date"] == day
            and int(r["max_high_areas"] or 0) + int(r["max_medium_areas"] or 0) > 0
        }


@pytest.mark.parametrize("engine", ENGINES)
def test_a_star_date_without_risk_data_is_an_error(engine, geo):
    assert ("黑龙江省", "哈尔滨市") in _listed_on("2022-05-11")
    kw = {"as_of": date(2022, 5, 12), "geo": geo, "engine": engine}
    with pytest.raises(RiskListRequired, match="no risk list was given"):
        build_cards(_harbin_stay(), **kw)
    (plain,) = build_cards(_harbin_stay(), risk=NoRiskLookup(), **kw)
    assert [(c.code, c.star) for c in plain.cities] == [("230100", False)]
    (starred,) = build_cards(_harbin_stay(), risk=EpisodeRiskLookup.load(names=geo.names), **kw)
    assert [(c.code, c.star) for c in starred.cities] == [("230100", True)]
    # after stars were abolished no list is needed
    assert build_cards(_harbin_stay(), as_of=date(2022, 5, 12).replace(month=7), geo=geo) == []


def test_published_list_with_the_beijing_quirk_plain_csv(tmp_path):
    names = AdminNames.load(shared_path(ADCODES))
    path = tmp_path / "list.csv"  # not gzipped; the published header (with last_listed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(PUBLISHED_COLUMNS)
        # as published: for 北京 the district is in `city`, the street in `county`
        w.writerow(
            ["high", "北京市", "朝阳区", "南磨房地区", "某小区",
             "2022-05-01T11:00+08:00", "2022-05-03T18:00+08:00", "2022-05-04T11:00+08:00"]
        )  # fmt: skip
        w.writerow(
            ["low", "黑龙江省", "哈尔滨市", "道里区", "某小区",
             "2022-05-01T11:00+08:00", "2022-05-03T18:00+08:00", ""]
        )  # fmt: skip
    risk = EpisodeRiskLookup.from_csv(path, names)
    assert risk.starred_cities(date(2022, 5, 2)) == {"110000"}
    assert risk.starred_cities(date(2022, 5, 5)) == set()
    bad = tmp_path / "bad.csv"
    bad.write_text("phone,time\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        EpisodeRiskLookup.from_csv(bad, names)


# --- the API example of docs/trip-card.md -------------------------------------------------

DOC = Path(__file__).resolve().parents[3] / "docs" / "trip-card.md"


def test_docs_api_example_runs_as_written(tmp_path, monkeypatch):
    text = DOC.read_text("utf-8")
    section = text[text.index("## API in one screen") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    shared = shared_root().resolve()
    monkeypatch.setenv("HEALTHCODE_SHARED", str(shared))
    monkeypatch.chdir(tmp_path)
    # the files the example names: a CSV of GPS fixes, a Parquet file of cell ids, sites
    with open("a.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["phone", "time", "lon", "lat"])
        w.writerow(["13800138000", "2022-05-10T12:00:00+08:00", *HARBIN])
        w.writerow(["13800138000", "2022-05-10T18:00:00+08:00", *HARBIN])
    _sites(tmp_path)
    Path("cell_sites.csv").rename("sites.csv")
    pq.write_table(
        pa.table(
            {
                "phone": ["13912345678"] * 3,
                "time": pa.array(
                    [datetime.fromisoformat(t.replace("2022-11-15", "2022-05-09")) for t in TIMES],
                    pa.timestamp("s", tz="UTC"),
                ),
                "cell_id": [SITE[0]] * 3,
            }
        ),
        "b.parquet",
    )
    exec(compile(code.group(1), str(DOC), "exec"), {})  # noqa: S102 - the docs' own code
    lines = Path("cards.jsonl").read_text("utf-8").splitlines()
    cards = [json.loads(line) for line in lines]
    assert [c["phone"] for c in cards] == ["138****8000", "139****5678"]
    harbin, huanggang = (c["cities"] for c in cards)
    assert [(c["code"], c["star"]) for c in harbin] == [("230100", True)]
    assert cards[1]["colour"] == "orange"  # the example's close contact
    assert ("湖北省", "黄冈市") not in _listed_on("2022-05-11")
    assert [(c["code"], c["star"]) for c in huanggang] == [(HUANGGANG, False)]
