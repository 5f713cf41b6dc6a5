"""The printable e-certificate: a CJK font subset is embedded (``pdffonts``) and the Chinese
text can be extracted (``pdftotext``); without a CJK font the PDF is Latin only and says so.

``pdffonts``/``pdftotext`` (Debian poppler-utils) and a CJK font (fonts-noto-cjk) are
installed by ``scripts/test``; missing, the tests that need them skip (fail in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from healthcode.credentials.qr import decode_image
from healthcode.ecerts import mapping, pdf
from healthcode.ecerts.service import IssuedCertificate
from healthcode.errors import ConfigError

AT = datetime(2024, 5, 1, 4, tzinfo=UTC)


def _need(what: str, ok: object) -> None:
    if not ok:
        msg = f"{what} is not installed (scripts/test installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def poppler(tool: str, data: bytes, tmp_path: Path) -> str:
    _need(f"{tool} (Debian poppler-utils)", shutil.which(tool))
    path = tmp_path / "c.pdf"
    path.write_bytes(data)
    args = [tool, str(path)] + (["-"] if tool == "pdftotext" else [])
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def cert(**kw) -> IssuedCertificate:
    uvci = mapping.uvci("110000", "KBN46GQF6CYB32SKGVDH")
    fields = dict(
        id="KBN46GQF6CYB32SKGVDH", format="hc1", kind="test", text="HC1:6BFOXN%TS3DH0YOJ58S",
        kid="kg6l3VhU4nc=", issued_at=AT, expires_at=AT + timedelta(days=14),
        name=mapping.split_name("欧阳娜娜"), birth_date="2000-06-01",
        issuer={"code": "110000", "name": "北京市", "label": "healthcode 北京市 (110000) DEMO"},
        demo=True, uvci=uvci,
        events=[{"kind": "pcr", "result": "negative", "sampled_at": "2024-04-30T20:00:00+08:00",
                 "lab": "北京市某检测实验室"}],
    )  # fmt: skip
    fields.update(kw)
    return IssuedCertificate(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def font() -> pdf.CjkFont:
    found = pdf.find_cjk_font()
    _need("a CJK font (Debian fonts-noto-cjk)", found)
    assert found is not None
    return found


def test_cjk_font_subset_is_embedded_and_text_extractable(font, tmp_path):
    data = pdf.render_pdf(cert(), font=font)
    assert data.startswith(b"%PDF-")
    fonts = poppler("pdffonts", data, tmp_path).splitlines()[2:]
    assert fonts, "no font in the PDF"
    for line in fonts:  # name, type…, emb, sub, uni: every font embedded, as a subset
        name, *_, emb, sub, uni, _obj, _gen = line.split()
        assert (emb, sub, uni) == ("yes", "yes", "yes"), line
        assert "+" in name  # ABCDEF+Family: a subset
    if "Noto" in font.family:
        assert any("NotoSansCJKSC" in line for line in fonts), fonts
    text = poppler("pdftotext", data, tmp_path)
    for expected in (
        "新冠病毒检测证明", "欧阳娜娜", "OUYANG NANA", "阴性 Negative", "北京市某检测实验室",
        "2024-04-30 20:00 (UTC+8)", mapping.uvci("110000", "KBN46GQF6CYB32SKGVDH"),
        "DEMO 演示证书", "扫描二维码核验",
    ):  # fmt: skip
        assert expected in text, expected
    assert len(data) < 200_000  # a subset, not the 20 MB collection


def test_the_printed_qr_is_the_certificate(font, tmp_path):
    _need("pdftoppm (Debian poppler-utils)", shutil.which("pdftoppm"))
    c = cert(text="shc:/" + "5676295953265460346029254077280433602870" * 3)
    (tmp_path / "c.pdf").write_bytes(pdf.render_pdf(c, font=font))
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "100",
            "-png",
            "-singlefile",
            str(tmp_path / "c.pdf"),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    assert decode_image((tmp_path / "p.png").read_bytes()) == [c.text]


def test_without_a_cjk_font_the_pdf_is_latin_and_says_so(tmp_path):
    data = pdf.render_pdf(cert(), font=None)
    text = poppler("pdftotext", data, tmp_path)
    assert "Chinese text not shown: no CJK font" in text
    assert "OUYANG NANA" in text and "Negative (not detected)" in text
    assert "BEIJINGSHIMOUJIANCESHIYANSHI" in text  # the lab, in Hanyu Pinyin
    assert "COVID-19 Test Certificate" in text and "DEMO - not valid for travel" in text
    assert all(ord(ch) < 0x100 for ch in text)
    fonts = poppler("pdffonts", data, tmp_path)
    assert "Helvetica" in fonts and "CID" not in fonts


def test_font_lookup(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="HEALTHCODE_CJK_FONT"):
        pdf.find_cjk_font(str(tmp_path / "missing.ttc"))
    (tmp_path / "bad.ttf").write_bytes(b"not a font")
    with pytest.raises(ConfigError, match="not a font file"):
        pdf.find_cjk_font(str(tmp_path / "bad.ttf"))
    monkeypatch.setattr(pdf, "FONT_CANDIDATES", (str(tmp_path / "none.ttc"),))
    assert pdf.find_cjk_font() is None
    assert pdf.font_missing_warning() == pdf.MISSING_FONT_NOTE
    assert "no font file" in (pdf.font_missing_warning(str(tmp_path / "x.otf")) or "")


def test_collection_face_is_simplified_chinese(font):
    if font.path.suffix != ".ttc" or "Noto" not in font.family:
        pytest.skip("not the Noto CJK collection")
    assert font.family == "Noto Sans CJK SC" or font.family == "Noto Serif CJK SC"


@pytest.mark.parametrize(
    ("text", "latin"),
    [
        ("healthcode 北京市 (110000) DEMO", "healthcode (110000) DEMO"),
        ("阴性 Negative (not detected)", "Negative (not detected)"),
        ("北京市某检测实验室", "BEIJINGSHIMOUJIANCESHIYANSHI"),
        ("2022-07-01  科兴", "2022-07-01 KEXING"),  # no Latin words: the reading
        ("—", "-"),
        ("Müller", "Müller"),
    ],
)
def test_latin_only(text, latin):
    assert pdf.latin_only(text) == latin
