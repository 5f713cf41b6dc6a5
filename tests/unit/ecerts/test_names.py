"""Names written given·family (ethnic-minority names in Chinese characters): DCC ``nam``,
the SHC ``Patient.name`` and what the printout shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from healthcode.ecerts import mapping
from healthcode.ecerts.pdf import rows
from healthcode.ecerts.service import IssuedCertificate


@pytest.mark.parametrize(
    ("written", "fn", "gn", "fnt", "gnt"),
    [
        ("阿依古丽·买买提", "买买提", "阿依古丽", "MAIMAITI", "AYIGULI"),
        # spaces around the dot, and the look-alikes IMEs and ID systems produce
        ("阿依古丽 · 买买提", "买买提", "阿依古丽", "MAIMAITI", "AYIGULI"),
        ("阿依古丽•买买提", "买买提", "阿依古丽", "MAIMAITI", "AYIGULI"),
        ("阿依古丽・买买提", "买买提", "阿依古丽", "MAIMAITI", "AYIGULI"),
        ("阿依古丽.买买提", "买买提", "阿依古丽", "MAIMAITI", "AYIGULI"),
        # more than one given part: joined with · as written, < in the ICAO spelling
        ("阿依古丽·买买提·艾力", "艾力", "阿依古丽·买买提", "AILI", "AYIGULI<MAIMAITI"),
        # transcriptions: no Han surname reading (单 is DAN here, not SHAN) …
        ("阿卜杜热合曼·单", "单", "阿卜杜热合曼", "DAN", "ABUDUREHEMAN"),
        # … and the readings of transcribed names (卜 BU, 都 DU)
        ("阿不都拉·阿不都热西提", "阿不都热西提", "阿不都拉", "ABUDUREXITI", "ABUDULA"),
        ("扎西·次仁", "次仁", "扎西", "CIREN", "ZHAXI"),
        # a Latin-script name with a middle dot is split the same way
        ("Ayigul·Mamat", "Mamat", "Ayigul", "MAMAT", "AYIGUL"),
    ],
)
def test_dcc_nam_of_dotted_names(written, fn, gn, fnt, gnt):
    person = mapping.split_name(written)
    assert person.written == written and person.dotted
    assert mapping.dcc_name(person) == {"fn": fn, "fnt": fnt, "gn": gn, "gnt": gnt}


def test_han_names_are_unchanged():
    for written, nam in [
        ("张三丰", {"fn": "张", "fnt": "ZHANG", "gn": "三丰", "gnt": "SANFENG"}),
        ("单雄信", {"fn": "单", "fnt": "SHAN", "gn": "雄信", "gnt": "XIONGXIN"}),
        ("欧阳修", {"fn": "欧阳", "fnt": "OUYANG", "gn": "修", "gnt": "XIU"}),
    ]:
        person = mapping.split_name(written)
        assert mapping.dcc_name(person) == nam and not person.dotted


def test_shc_patient_name():
    person = mapping.split_name("阿依古丽·买买提·艾力")
    assert mapping.fhir_patient(person, "1995-11-20")["name"] == [
        {"family": "AILI", "given": ["AYIGULI", "MAIMAITI"]},
        {"family": "艾力", "given": ["阿依古丽", "买买提"], "text": "阿依古丽·买买提·艾力"},
    ]
    han = mapping.fhir_patient(mapping.split_name("张三丰"), None)["name"]
    assert han == [{"family": "ZHANG", "given": ["SANFENG"]}, {"family": "张", "given": ["三丰"]}]


@pytest.mark.parametrize("written", ["阿依古丽·买买提", "阿依古丽 • 买买提"])
def test_printout_shows_the_name_as_written(written):
    at = datetime(2024, 5, 1, tzinfo=UTC)
    cert = IssuedCertificate(
        id="0123456789ABCDEFGHJK", format="hc1", kind="test", text="HC1:X", kid="k",
        issued_at=at, expires_at=at, name=mapping.split_name(written), birth_date="1995-11-20",
        issuer={"code": "650000", "name": "新疆", "label": "healthcode 新疆 (650000)"},
        demo=True, events=[{"kind": "pcr", "result": "negative",
                            "sampled_at": "2024-04-30T08:00:00+08:00"}],
    )  # fmt: skip
    (name,) = [value for zh, _en, value in rows(cert) if zh == "姓名"]
    assert name == f"{written}  (MAIMAITI AYIGULI)"
