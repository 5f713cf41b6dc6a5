"""English names of the places on a trip card (pages in English).

Expected names are the usual English forms known outside this program: the
pinyin of the name without its suffix for most places, the established names of
the exceptions (Harbin, Hohhot, Urumqi, Lhasa, Kashgar …), and the readings of
place names that differ from everyday words (朝阳 Chaoyang, 漯河 Luohe, 长治 Changzhi).
"""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from healthcode.trips.geo import ABROAD, english_name, name_stem, pinyin_name


@pytest.mark.parametrize(
    ("code", "name", "english"),
    [
        ("110000", "北京市", "Beijing"),
        ("500000", "重庆市", "Chongqing"),
        ("330100", "杭州市", "Hangzhou"),
        ("350200", "厦门市", "Xiamen"),
        ("430100", "长沙市", "Changsha"),
        ("340300", "蚌埠市", "Bengbu"),
        ("211300", "朝阳市", "Chaoyang"),
        ("411100", "漯河市", "Luohe"),
        ("140400", "长治市", "Changzhi"),
        ("141100", "吕梁市", "Lüliang"),
        # the apostrophe of pinyin orthography
        ("610100", "西安市", "Xi'an"),
        ("341500", "六安市", "Lu'an"),
        ("340500", "马鞍山市", "Ma'anshan"),
        # suffixes: 地区, 自治州 with the names of the peoples, 自治县, 林区
        ("222400", "延边朝鲜族自治州", "Yanbian"),
        ("532900", "大理白族自治州", "Dali"),
        ("522600", "黔东南苗族侗族自治州", "Qiandongnan"),
        ("652300", "昌吉回族自治州", "Changji"),
        ("654200", "塔城地区", "Tacheng"),
        ("469025", "白沙黎族自治县", "Baisha"),
        ("429021", "神农架林区", "Shennongjia"),
        # established English names
        ("230100", "哈尔滨市", "Harbin"),
        ("150100", "呼和浩特市", "Hohhot"),
        ("650100", "乌鲁木齐市", "Urumqi"),
        ("540100", "拉萨市", "Lhasa"),
        ("653100", "喀什地区", "Kashgar"),
        ("152900", "阿拉善盟", "Alxa League"),
        # places abroad in the trip-card sense
        ("HK", "中国香港", "Hong Kong"),
        ("MO", "中国澳门", "Macao"),
        ("TW", "中国台湾", "Taiwan"),
        ("ZZ", "境外", "Abroad"),
    ],
)
def test_english_names(code, name, english):
    assert english_name(code, name) == english


def test_stems_and_pinyin():
    assert name_stem("海西蒙古族藏族自治州") == "海西"
    assert name_stem("伊犁哈萨克自治州") == "伊犁"  # a people's name without 族
    assert name_stem("吉林市") == "吉林"
    assert name_stem("沙市") == "沙市"  # never below two characters
    assert pinyin_name("泰安") == "Tai'an"
    assert pinyin_name("淮安") == "Huai'an"


def _table():
    text = resources.files("healthcode.trips").joinpath("data/place_names_en.json").read_text()
    return json.loads(text)


def test_override_table_names_the_official_places(geo):
    table = _table()
    assert table["sources"]
    for entry in table["names"]:
        assert geo.names.name(entry["code"]) == entry["zh"], entry
        assert entry["en"] != pinyin_name(name_stem(entry["zh"])), entry  # not a no-op
        assert entry["note"], entry
    assert {e["code"]: e["zh"] for e in table["abroad"]} == dict(ABROAD.values())


def test_every_place_of_the_index_has_an_english_name(geo):
    latin = re.compile(r"^[A-Z][a-züê']+( [A-Z][a-z]+)*( \([A-Z][a-z]+\))?$")
    for pid in geo.place_ids():
        place = geo.place(pid)
        english = english_name(place.code, place.name)
        if place.code.isalpha() and place.code not in ("HK", "MO", "TW", "ZZ"):
            assert english and english != place.code, place  # a country: CLDR's name
            continue
        assert latin.match(english), (place, english)
