"""The printable e-certificate (A4 PDF, fpdf2) — certificate in, bytes out; reads only a font file.

What it shows, in Chinese and English: the kind and format, the QR symbol
(drawn as vector squares from the same :func:`healthcode.credentials.qr.symbol`
the PNG uses, so it prints sharp), the holder's full name (as written and as in
the passport) and birth date — an e-certificate legitimately carries them, like
the EU DCC, since the verifier compares them with an ID document — the certified
records, the certificate ID (the DCC's UVCI with its check character), issuer,
issue and expiry times, the kid; a DEMO watermark and banner for certificates
signed with DEMO keys.

**Fonts.** All text is set in one CJK font (its Latin letters too), **embedded as
a subset** of the glyphs used, so the PDF prints the same everywhere and its
Chinese text can be searched and copied (a ``ToUnicode`` map comes with it).
fpdf2 embeds TrueType and CFF-flavoured OpenType fonts, also from collections
(``.ttc``) — ReportLab, used before, embeds TrueType outlines only and so cannot
embed Noto CJK. The font is :func:`find_cjk_font`: ``HEALTHCODE_CJK_FONT``
(a TTF/OTF/TTC path; the Simplified Chinese face of a collection is chosen), else
the first of :data:`FONT_CANDIDATES` present — Debian's ``fonts-noto-cjk``
(Noto Sans CJK SC) first.

**Without a CJK font** the PDF is still made, Latin only (Helvetica, not
embedded: one of the PDF standard fonts): English labels, the name in passport
spelling, Chinese values transliterated (Hanyu Pinyin), and a red line saying the
Chinese text is missing and why. The QR symbol — what a verifier reads — is the
same. :func:`font_missing_warning` gives the CLI the same message.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF

from healthcode.clock import SHANGHAI
from healthcode.credentials.qr import symbol
from healthcode.ecerts.mapping import EVENT_COUNTRY, find_vaccine, icao_transliterate
from healthcode.ecerts.service import IssuedCertificate
from healthcode.errors import ConfigError

#: Where a CJK font is looked for when ``HEALTHCODE_CJK_FONT`` is not set, in order.
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch, Alpine
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # Debian fonts-arphic-uming
)
LATIN_FONT = "helvetica"
MISSING_FONT_NOTE = (
    "Chinese text not shown: no CJK font was available to print it "
    "(install fonts-noto-cjk or set HEALTHCODE_CJK_FONT). The QR code is complete."
)

TITLES = {
    "vaccination": ("新冠病毒疫苗接种证明", "COVID-19 Vaccination Certificate"),
    "test": ("新冠病毒检测证明", "COVID-19 Test Certificate"),
}
FORMAT_NAMES = {
    "hc1": "EU DCC / WHO GDHCN (HC1)",
    "shc": "SMART Health Card",
}
TEST_KINDS = {"pcr": ("核酸检测", "NAAT (PCR)"), "antigen": ("抗原检测", "Rapid antigen test")}
RESULTS = {
    "negative": ("阴性", "Negative (not detected)"),
    "positive": ("阳性", "Positive (detected)"),
}
A4_WIDTH, A4_HEIGHT = 210.0, 297.0  # mm
MARGIN = 22.0  # mm


@dataclass(frozen=True)
class CjkFont:
    """A CJK font file to embed: ``path`` and, in a collection, the face ``index``;
    ``bold_path`` / ``bold_index`` the bold face when one is found beside it."""

    path: Path
    index: int = 0
    family: str = ""
    bold_path: Path | None = None
    bold_index: int = 0


def _face(path: Path) -> tuple[int, str]:
    """(index, family name) of the face to use: in a collection, the first Simplified
    Chinese proportional face (family ending in ``SC``, or naming GB/Simplified), else 0.

    :raises ConfigError: not a font file fontTools can read.
    """
    from fontTools.ttLib import TTCollection, TTFont, TTLibError

    try:
        with path.open("rb") as fh:
            if fh.read(4) == b"ttcf":
                fh.seek(0)
                names = [str(f["name"].getDebugName(1) or "") for f in TTCollection(fh).fonts]
            else:
                fh.seek(0)
                names = [str(TTFont(fh)["name"].getDebugName(1) or "")]
    except (OSError, TTLibError, KeyError, AssertionError) as exc:
        raise ConfigError(f"{path} is not a font file that can be embedded: {exc}") from exc
    for i, name in enumerate(names):
        if "Mono" not in name and re.search(r"\bSC\b|GB|Simplified", name):
            return i, name
    return 0, names[0] if names else ""


@functools.lru_cache(maxsize=8)
def _font_at(path_text: str) -> CjkFont:
    path = Path(path_text)
    index, family = _face(path)
    bold = Path(str(path).replace("Regular", "Bold"))
    if bold != path and bold.is_file():
        try:
            bold_index = _face(bold)[0]
        except ConfigError:
            return CjkFont(path, index, family)
        return CjkFont(path, index, family, bold, bold_index)
    return CjkFont(path, index, family)


def find_cjk_font(explicit: str | None = None) -> CjkFont | None:
    """The CJK font the PDF embeds: ``explicit`` (``HEALTHCODE_CJK_FONT``) when given, else
    the first of :data:`FONT_CANDIDATES` present; None when there is none.

    :raises ConfigError: ``explicit`` is not a readable TTF/OTF/TTC font file.
    """
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"HEALTHCODE_CJK_FONT: no font file at {explicit}")
        return _font_at(explicit)
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return _font_at(candidate)
    return None


def font_missing_warning(explicit: str | None = None) -> str | None:
    """The warning to show when PDFs are made without a CJK font, else None."""
    try:
        return None if find_cjk_font(explicit) is not None else MISSING_FONT_NOTE
    except ConfigError as exc:
        return exc.message


# --- content ------------------------------------------------------------------------
def local_time(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


def rows(cert: IssuedCertificate) -> list[tuple[str, str, str]]:
    """(Chinese label, English label, value) rows of the certificate."""
    name = cert.name.written
    if cert.name.latin and cert.name.latin != name:
        name = f"{name}  ({cert.name.latin})"
    out = [("姓名", "Name", name), ("出生日期", "Date of birth", cert.birth_date or "—")]
    out.append(("疾病", "Disease", "新型冠状病毒感染 COVID-19"))
    country = "中国 China (CN)" if EVENT_COUNTRY == "CN" else EVENT_COUNTRY
    if cert.kind == "vaccination":
        for event in cert.events:
            product = str(event.get("product") or "")
            vaccine = find_vaccine(product)
            label = vaccine.name if vaccine else (product or "—")
            if cert.format == "hc1":
                out.append(("疫苗", "Vaccine", label))
                out.append(("剂次", "Dose", f"{event.get('dcc_dn')} / {event.get('dcc_sd')}"))
                out.append(("接种日期", "Date of vaccination", str(event.get("date"))))
            else:
                dose = event.get("dose")
                out.append((f"第 {dose} 剂", f"Dose {dose}", f"{event.get('date')}  {label}"))
        out.append(("接种国家", "Country of vaccination", country))
    else:
        event = cert.events[0]
        zh, en = TEST_KINDS.get(str(event.get("kind")), ("", "—"))
        out.append(("检测类型", "Type of test", f"{zh} {en}".strip()))
        zh, en = RESULTS.get(str(event.get("result")), ("", "—"))
        out.append(("检测结果", "Result", f"{zh} {en}".strip()))
        sampled = datetime.fromisoformat(str(event["sampled_at"]))
        out.append(("采样时间", "Sample collected", local_time(sampled)))
        if event.get("lab"):
            out.append(("检测机构", "Testing centre", str(event["lab"])))
        out.append(("检测国家", "Country of test", country))
    out.append(("证书编号", "Certificate ID", cert.uvci or cert.id))
    out.append(("签发机构", "Issuer", cert.issuer["label"]))
    out.append(("签发时间", "Issued", local_time(cert.issued_at)))
    out.append(("有效期至", "Valid until", local_time(cert.expires_at)))
    out.append(("密钥", "Key ID (kid)", cert.kid))
    return out


#: Runs of Chinese characters, CJK punctuation and full-width forms.
_CJK_RUN = re.compile("([\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]+)")


def latin_only(text: str) -> str:
    """``text`` for the Latin-only PDF. Bilingual text keeps its Latin part
    (``阴性 Negative`` → ``Negative``); Chinese-only text is written in Hanyu Pinyin (ICAO
    spelling: ``北京市某检测实验室`` → ``BEIJINGSHIMOUJIANCESHIYANSHI``); other characters
    outside Latin-1 are approximated (``—`` → ``-``) or ``?``."""
    parts = _CJK_RUN.split(text)
    latin = "".join(parts[0::2])
    bilingual = any(ch.isalpha() for ch in latin)
    out: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:  # a run of Chinese
            if not bilingual:
                out.append(icao_transliterate(part).replace("<", " "))
            continue
        for ch in part:
            if ord(ch) < 0x100:
                out.append(ch)
            else:
                plain = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode()
                out.append(plain or {"—": "-", "–": "-", "…": "..."}.get(ch, "?"))
    return re.sub(r"\s{2,}", " ", "".join(out)).strip()


# --- drawing ------------------------------------------------------------------------
class _Page:
    """An A4 page with one font family: the CJK font, or Helvetica when there is none."""

    def __init__(self, font: CjkFont | None) -> None:
        self.pdf = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margin(0)
        self.cjk = font is not None
        if font is not None:
            self.pdf.add_font("cjk", "", str(font.path), collection_font_number=font.index)
            bold = font.bold_path or font.path
            index = font.bold_index if font.bold_path else font.index
            self.pdf.add_font("cjk", "B", str(bold), collection_font_number=index)
        self.family = "cjk" if font is not None else LATIN_FONT
        self.pdf.add_page()

    def text(self, zh: str, en: str, sep: str = " ") -> str:
        """Bilingual text, or its English part without a CJK font."""
        if not self.cjk:
            return en
        return f"{zh}{sep}{en}" if zh and en else zh or en

    def value(self, text: str) -> str:
        return text if self.cjk else latin_only(text)

    def width(self, text: str, size: float, *, bold: bool = False) -> float:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        return float(self.pdf.get_string_width(text))

    def draw(self, x: float, y: float, text: str, size: float, *, bold: bool = False) -> None:
        """``text`` with its baseline at (x, y) mm from the top left."""
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.text(x, y, text)

    def centred(self, y: float, text: str, size: float, *, bold: bool = False) -> None:
        self.draw((A4_WIDTH - self.width(text, size, bold=bold)) / 2, y, text, size, bold=bold)

    def wrap(self, text: str, size: float, width: float) -> list[str]:
        """Lines of at most ``width`` mm (breaks at spaces when it can, else anywhere)."""
        lines: list[str] = []
        line = ""
        for ch in text:
            if self.width(line + ch, size) <= width:
                line += ch
                continue
            cut = line.rfind(" ")
            if ch != " " and cut > len(line) // 2:
                lines.append(line[:cut])
                line = line[cut + 1 :] + ch
            else:
                lines.append(line)
                line = "" if ch == " " else ch
        if line:
            lines.append(line)
        return lines or [""]

    def qr(self, text: str, x: float, y: float, size: float) -> None:
        """The QR symbol as vector squares in a ``size`` mm square at (x, y) (top left),
        quiet zone included."""
        matrix: Any = symbol(text).matrix
        n = len(matrix)
        cell = size / (n + 8)
        self.pdf.set_fill_color(255, 255, 255)
        self.pdf.rect(x, y, size, size, style="F")
        self.pdf.set_fill_color(0, 0, 0)
        for r, row in enumerate(matrix):
            col = 0
            while col < n:
                if row[col] & 1:
                    start = col
                    while col < n and row[col] & 1:
                        col += 1
                    self.pdf.rect(
                        x + (4 + start) * cell, y + (4 + r) * cell,
                        (col - start) * cell, cell, style="F",
                    )  # fmt: skip
                else:
                    col += 1


def render_pdf(cert: IssuedCertificate, *, font: CjkFont | None) -> bytes:
    """The certificate as a one-page A4 PDF.

    :param font: the CJK font to embed (:func:`find_cjk_font`); None gives the Latin-only
        PDF described in the module docstring.
    :returns: the PDF bytes (``%PDF-1.x``; streams compressed).
    """
    page = _Page(font)
    pdf = page.pdf
    zh, en = TITLES[cert.kind]
    pdf.set_title(page.text(zh, en))
    pdf.set_author(page.value(cert.issuer["label"]))
    pdf.set_subject(FORMAT_NAMES[cert.format])
    pdf.set_creator("healthcode")
    pdf.set_creation_date(cert.issued_at)
    if cert.demo:
        with pdf.local_context(fill_opacity=0.12, text_color=(217, 51, 51)):
            with pdf.rotation(35, A4_WIDTH / 2, A4_HEIGHT / 2):
                width = page.width("DEMO", 150, bold=True)
                page.draw((A4_WIDTH - width) / 2, A4_HEIGHT / 2 + 18, "DEMO", 150, bold=True)
    y = 22.0
    page.centred(y, page.text("电子证照", "E-certificate"), 11)
    y += 11
    if page.cjk:
        page.centred(y, zh, 22, bold=True)
        y += 8
    page.centred(y, en, 14, bold=True)
    y += 6
    page.centred(y, FORMAT_NAMES[cert.format], 10)
    if cert.demo:
        y += 8
        pdf.set_text_color(191, 26, 26)
        banner = page.text("DEMO 演示证书，不可用于出行 ·", "not valid for travel")
        page.centred(y, banner if page.cjk else f"DEMO - {banner}", 11, bold=True)
        pdf.set_text_color(0, 0, 0)
    if not page.cjk:
        y += 7
        pdf.set_text_color(191, 26, 26)
        for line in page.wrap(MISSING_FONT_NOTE, 9, A4_WIDTH - 2 * MARGIN):
            page.centred(y, line, 9)
            y += 4.2
        pdf.set_text_color(0, 0, 0)
    size = 78.0
    y += 4
    page.qr(cert.text, (A4_WIDTH - size) / 2, y, size)
    y += size + 8
    label_width = 62.0
    value_width = A4_WIDTH - 2 * MARGIN - label_width
    pdf.set_draw_color(204, 204, 204)
    pdf.line(MARGIN, y - 5, A4_WIDTH - MARGIN, y - 5)
    for label_zh, label_en, value in rows(cert):
        if not page.cjk and label_en == "Name" and cert.name.latin:
            value = cert.name.latin  # the passport spelling, not a second transliteration
        pdf.set_text_color(89, 89, 89)
        page.draw(MARGIN, y, page.text(label_zh, label_en), 9)
        pdf.set_text_color(0, 0, 0)
        for line in page.wrap(page.value(value), 10.5, value_width):
            page.draw(MARGIN + label_width, y, line, 10.5)
            y += 5.2
        y += 1.3
    pdf.set_text_color(89, 89, 89)
    notes = [
        "Verify by scanning the QR code with a verifier that trusts the healthcode trust list.",
    ]
    if page.cjk:
        notes.insert(0, "扫描二维码核验：核验方须信任 healthcode 信任列表（GET /trust-list）。")
    for i, note in enumerate(notes):
        page.draw(MARGIN, A4_HEIGHT - 14 - (len(notes) - 1 - i) * 4.5, note, 8)
    return bytes(pdf.output())
