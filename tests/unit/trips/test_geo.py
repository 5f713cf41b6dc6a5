"""Place resolution: prefecture-level cities, municipalities, abroad, grid keys, names."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from healthcode.errors import MissingSharedFile
from healthcode.trips import PlaceIndex
from healthcode.trips._engine import KEY_SQL
from healthcode.trips.geo import grid_centres, grid_key


@pytest.mark.parametrize(
    ("lon", "lat", "code", "name", "province"),
    [
        (116.40, 39.90, "110000", "北京市", "北京市"),  # municipalities are the city
        (117.20, 39.13, "120000", "天津市", "天津市"),
        (121.47, 31.23, "310000", "上海市", "上海市"),
        (106.55, 29.56, "500000", "重庆市", "重庆市"),
        (120.16, 30.27, "330100", "杭州市", "浙江省"),
        (116.70, 39.52, "131000", "廊坊市", "河北省"),
        (113.45, 30.36, "429004", "仙桃市", "湖北省"),  # county-level, governed by the province
        (75.99, 39.47, "653100", "喀什地区", "新疆维吾尔自治区"),
        (114.17, 22.30, "HK", "中国香港", ""),  # abroad in the trip-card sense
        (113.55, 22.19, "MO", "中国澳门", ""),
        (121.50, 25.03, "TW", "中国台湾", ""),
        (139.69, 35.69, "JP", "日本", ""),  # Tokyo: nearest populated place → its country
        (-0.1276, 51.5072, "GB", "英国", ""),
        (0.0, 0.0, "ZZ", "境外", ""),  # open sea, nothing within 2°
    ],
)
def test_points_resolve_to_cities(geo, lon, lat, code, name, province):
    place = geo.place(int(geo.resolve([lon], [lat])[0]))
    assert (place.code, place.name, place.province) == (code, name, province)
    assert place.domestic == code.isdigit()


def test_chinese_waters_take_the_nearest_city(geo):
    # in the sea about 1 km off the 天津 coast, then 50 km out (nearest places Chinese)
    near, far = geo.resolve([117.80, 118.5], [38.98, 38.6])
    assert geo.place(int(near)).code == "120000"
    assert geo.place(int(far)).domestic
    strict = PlaceIndex.load(domestic_snap_deg=0)
    assert strict.place(int(strict.resolve([117.80], [38.98])[0])).code == "ZZ"


def test_non_administrative_polygons_count_as_their_city(geo):
    # 中农发山丹马场 (a horse farm with its own polygon) lies in 张掖市
    assert geo.place(620700).name == "张掖市"
    assert all(pid == 0 or pid < 1000 or geo.place(pid).name for pid in geo.place_ids())
    assert not [p for p in geo.place_ids() if p >= 100000 and str(p)[2:4] == "99"]


def test_every_domestic_place_has_a_name_and_province(geo):
    for pid in geo.place_ids():
        place = geo.place(pid)
        if place.domestic:
            assert place.name and place.province, pid


def test_grid_key_matches_the_engines_sql():
    rng = np.random.default_rng(7)
    lon = np.concatenate([rng.uniform(-180, 180, 2000), [116.4, -0.0005, 179.9999, 0.001]])
    lat = np.concatenate([rng.uniform(-90, 90, 2000), [39.9, -0.0005, -89.9999, 0.001]])
    con = duckdb.connect()
    con.register("pts", {"lon": lon, "lat": lat})
    sql_keys = con.execute(f"SELECT {KEY_SQL} FROM pts").fetchnumpy()  # noqa: S608
    assert np.array_equal(next(iter(sql_keys.values())), grid_key(lon, lat))
    c_lon, c_lat = grid_centres(grid_key(lon, lat))
    assert np.all(np.abs(c_lon - lon) <= 0.0005 + 1e-9) and np.all(
        np.abs(c_lat - lat) <= 0.0005 + 1e-9
    )


@pytest.mark.parametrize(
    ("province", "city", "county", "code"),
    [
        ("北京市", "朝阳区", "酒仙桥街道", "110000"),  # the 北京 quirk: district in `city`
        ("北京市", "经济开发区", "亦庄（地区）镇", "110000"),
        ("上海市", "上海市", "嘉定区", "310000"),
        ("吉林省", "长春市", "朝阳区", "220100"),
        ("湖北省", "省直辖县级行政单位", "潜江市", "429005"),
        ("海南省", "省直辖县级行政单位", "琼海市", "469002"),
        ("河北省", "辛集市", "辛集市", "130100"),  # a county-level city published as the city
        ("河北省", "雄县", "雄县", "130600"),
        ("福建省", "平潭综合实验区", "平潭综合实验区", "350100"),
        ("吉林省", "长白山保护开发区", "池西区", "220600"),
        ("新疆生产建设兵团", "新疆生产建设兵团", "新疆生产建设兵团", None),
        ("火星省", "某市", "", None),
    ],
)
def test_names_resolve_to_city_codes(geo, province, city, county, code):
    assert geo.names.city_code(province, city, county) == code


def test_missing_polygon_file_names_the_variable(tmp_path, monkeypatch):
    with pytest.raises(MissingSharedFile, match="HEALTHCODE_SHARED"):
        PlaceIndex.load(tmp_path / "nope.geojson.gz")
    monkeypatch.setenv("HEALTHCODE_SHARED", str(tmp_path))
    with pytest.raises(MissingSharedFile, match="HEALTHCODE_SHARED") as info:
        PlaceIndex.load()
    assert info.value.code == "shared-file-missing"
