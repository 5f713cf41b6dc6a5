"""Risk cities by day from the real NHC listing episodes."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from datetime import date, datetime, timedelta

from healthcode.trips import EpisodeRiskLookup, RiskCityLookup, RiskEpisode, StaticRiskLookup
from healthcode.trips.risk import NoRiskLookup
from tests.support.shared import shared_path


def test_protocol():
    assert isinstance(NoRiskLookup(), RiskCityLookup)
    assert isinstance(StaticRiskLookup({}), RiskCityLookup)


def test_listing_day_semantics(geo):
    def ep(level, first, absent):
        return RiskEpisode(
            level,
            "北京市",
            "朝阳区",
            "酒仙桥街道",
            "x",
            datetime.fromisoformat(first),
            datetime.fromisoformat(absent) if absent else None,
        )

    lookup = EpisodeRiskLookup(
        [
            ep("high", "2022-05-01T23:00+08:00", "2022-05-03T00:00+08:00"),
            ep("low", "2022-08-01T10:00+08:00", None),  # low never stars
            ep("medium", "2022-06-10T10:00+08:00", None),  # still listed at the end
        ],
        geo.names,
    )
    assert lookup.starred_cities(date(2022, 4, 30)) == set()
    assert lookup.starred_cities(date(2022, 5, 1)) == {"110000"}  # listed at 23:00
    assert lookup.starred_cities(date(2022, 5, 2)) == {"110000"}
    assert lookup.starred_cities(date(2022, 5, 3)) == set()  # gone at 00:00
    assert lookup.starred_cities(date(2022, 8, 2)) == {"110000"}
    assert lookup.starred_cities(date(2023, 1, 1)) == {"110000"}


def test_agrees_with_the_published_daily_city_table(nhc, geo):
    """``city_daily_risk.csv`` is derived independently from the raw snapshots (max
    listed per day); every city it shows with medium/high areas must be starred."""
    path = shared_path("data", "risk_areas_nhc_2022", "city_daily_risk.csv")
    by_day: dict[date, set[str]] = defaultdict(set)
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if int(row["max_high_areas"]) + int(row["max_medium_areas"]) == 0:
                continue
            code = geo.names.city_code(row["province"], row["city"], "")
            if code is not None:
                by_day[date.fromisoformat(row["date"])].add(code)
    days = sorted(by_day)
    for day in random.Random(3).sample(days, 25) + [date(2022, 5, 11), date(2022, 6, 28)]:
        # the daily table has no county, so 省直辖县级行政单位 (codes xx90xx) cannot be compared
        mine = {c for c in nhc.starred_cities(day) if c[2:4] != "90"}
        assert by_day[day] <= mine, day
        # ours may add a city whose last area was delisted between the last snapshot
        # of the day before and the first of this day: it was listed the day before
        assert mine - by_day[day] <= by_day[day - timedelta(days=1)], day


def test_known_days(nhc):
    assert "230100" in nhc.starred_cities(date(2022, 5, 11))  # 哈尔滨, listed to 2022-05-20
    assert "230100" not in nhc.starred_cities(date(2022, 5, 22))
    assert "110000" in nhc.starred_cities(date(2022, 6, 28))  # 北京 (districts in `city`)
    assert "120000" not in nhc.starred_cities(date(2022, 6, 1))  # 天津: first listed 2022-07
    assert nhc.unresolved.keys() == {("新疆生产建设兵团", "新疆生产建设兵团")}
