"""The regional issuers (GB/T 2260 provincial codes, official code names).

Source: the project's notes "各地健康码名称" (2020) as summarised in the shared
``regions.md``; city overrides are names used inside one city of the region.
The national platform (``100000``) issues 防疫健康信息码 and anchors the trust list.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Region:
    """One issuer region.

    :ivar code: GB/T 2260 six-digit code (province ``xx0000``; ``100000`` national).
    :ivar name: official region name, e.g. ``北京市``.
    :ivar code_name: the health code's official name, e.g. ``北京健康宝``.
    :ivar city_overrides: city code → code name used inside that city.
    :ivar note: remarks such as later names.
    """

    code: str
    name: str
    code_name: str
    city_overrides: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def code_name_for(self, city_code: str | None = None) -> str:
        """Display name of the code for a holder in ``city_code`` (falls back to the region's)."""
        if city_code and city_code in self.city_overrides:
            return self.city_overrides[city_code]
        return self.code_name


NATIONAL = Region("100000", "全国", "防疫健康信息码", note="national platform; trust anchor")

REGIONS: tuple[Region, ...] = (
    Region("110000", "北京市", "北京健康宝"),
    Region("120000", "天津市", "津心办天津健康码"),
    Region("130000", "河北省", "防疫健康信息码"),
    Region("140000", "山西省", "山西健康码"),
    Region("150000", "内蒙古自治区", "防疫健康信息码"),
    Region("210000", "辽宁省", "防疫健康信息码"),
    Region("220000", "吉林省", "防疫健康信息码"),
    Region("230000", "黑龙江省", "防疫健康信息码"),
    Region("310000", "上海市", "随申码"),
    Region("320000", "江苏省", "苏康码", {"320500": "苏城码"}),
    Region(
        "330000",
        "浙江省",
        "健康码",
        {"330100": "杭州健康码"},
        note="each city prefixes its name, e.g. 杭州健康码",
    ),
    Region("340000", "安徽省", "安康码"),
    Region("350000", "福建省", "防疫健康信息码"),
    Region("360000", "江西省", "赣通码"),
    Region("370000", "山东省", "山东电子健康通行卡"),
    Region("410000", "河南省", "河南健康码"),
    Region("420000", "湖北省", "湖北健康码"),
    Region("430000", "湖南省", "防疫健康信息码"),
    Region("440000", "广东省", "防疫健康信息码", note="later known as 粤康码"),
    Region("450000", "广西壮族自治区", "广西健康码"),
    Region("460000", "海南省", "海南健康码"),
    Region("500000", "重庆市", "渝康码"),
    Region("510000", "四川省", "四川健康码", note="later 天府健康通"),
    Region("520000", "贵州省", "贵州健康码"),
    Region("530000", "云南省", "云南健康码"),
    Region("540000", "西藏自治区", "防疫健康信息码"),
    Region("610000", "陕西省", "防疫健康信息码", {"610100": "西安一码通"}),
    Region("620000", "甘肃省", "甘肃复工卡"),
    Region("630000", "青海省", "防疫健康信息码"),
    Region("640000", "宁夏回族自治区", "防疫健康信息码"),
    Region("650000", "新疆维吾尔自治区", "防疫健康信息码"),
    Region("710000", "台湾省", "防疫健康信息码"),
    Region("810000", "香港特别行政区", "防疫健康信息码"),
    Region("820000", "澳门特别行政区", "防疫健康信息码"),
    NATIONAL,
)

BY_CODE: dict[str, Region] = {r.code: r for r in REGIONS}


def region_of(code: str) -> Region | None:
    """The issuer region for a GB/T 2260 code at any level (``110105`` → 北京市)."""
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    return BY_CODE.get(code) or BY_CODE.get(code[:2] + "0000")
