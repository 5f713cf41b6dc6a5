"""Points outside every Chinese polygon: across a land border → that country; Chinese
bays, bridges and ferries → a Chinese city (the nearest populated place decides)."""

from __future__ import annotations

import pytest

from healthcode.trips.geo import countries, english_name


@pytest.mark.parametrize(
    ("lon", "lat", "code", "name", "english"),
    [
        (127.53, 50.26, "RU", "俄罗斯", "Russia"),  # Blagoveshchensk, across the Amur from 黑河
        (107.966, 21.525, "VN", "越南", "Vietnam"),  # Móng Cái, by 防城港 (东兴)
        (124.40, 40.10, "KP", "朝鲜", "North Korea"),  # Sinuiju, across the Yalu from 丹东
        (105.0, 43.5, "MN", "蒙古", "Mongolia"),  # Gobi, 0.6° from Dalanzadgad
    ],
)
def test_a_neighbouring_country_is_abroad(geo, lon, lat, code, name, english):
    place = geo.place(int(geo.resolve([lon], [lat])[0]))
    assert (place.code, place.name, place.province) == (code, name, "")
    assert not place.domestic
    assert english_name(place.code, place.name) == english


@pytest.mark.parametrize(
    ("lon", "lat", "what"),
    [
        (121.2, 30.35, "Hangzhou Bay Bridge"),
        (121.2, 30.40, "Hangzhou Bay Bridge, mid-bay"),
        (122.05, 30.75, "Donghai Bridge"),
        (120.25, 36.15, "Jiaozhou Bay Bridge"),
        (110.2, 20.1, "Qiongzhou Strait ferry"),
        (121.0, 38.5, "Bohai Strait, Dalian–Yantai ferry"),
        (113.8, 22.4, "Pearl River estuary"),
        (122.3, 29.9, "Zhoushan waters"),
    ],
)
def test_chinese_waters_are_a_chinese_city(geo, lon, lat, what):
    assert geo.place(int(geo.resolve([lon], [lat])[0])).domestic, what


def test_open_sea_is_undetermined(geo):
    ids = geo.resolve(
        [150.0, 0.0, 123.5], [20.0, 0.0, 36.0]
    )  # W Pacific, Gulf of Guinea, Yellow Sea
    assert [geo.place(int(i)).code for i in ids] == ["ZZ", "ZZ", "ZZ"]


def test_every_country_is_a_place_of_the_index(geo):
    ids = set(geo.place_ids())
    assert set(countries()) <= ids
    codes = [code for code, _ in countries().values()]
    assert len(codes) == len(set(codes))
    assert all(0 <= pid < 100000 for pid in countries())
    assert countries()[344] == ("HK", "中国香港") and countries()[643] == ("RU", "俄罗斯")


def test_resolving_in_bulk_equals_one_by_one(geo):
    lon = [127.53, 121.2, 116.4, 139.69, 0.0, 124.40]
    lat = [50.26, 30.35, 39.9, 35.69, 0.0, 40.10]
    bulk = geo.resolve(lon, lat).tolist()
    assert bulk == [int(geo.resolve([x], [y])[0]) for x, y in zip(lon, lat, strict=True)]
