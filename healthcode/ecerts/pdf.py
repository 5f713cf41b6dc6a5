"""The printable e-certificate (A4 PDF, ReportLab) — pure: certificate in, bytes out.

What it shows, in Chinese and English: the kind and format, the QR symbol
(drawn as vector squares from the same :func:`healthcode.credentials.qr.symbol`
the PNG uses, so it prints sharp), the holder's full name (as written and as in
the passport) and birth date — an e-certificate legitimately carries them, like
the EU DCC, since the verifier compares them with an ID document — the certified
records, the certificate ID, issuer, issue and expiry times, the kid; a DEMO
watermark and banner for certificates signed with DEMO keys.

Fonts: Chinese text uses ReportLab's built-in CID font ``STSong-Light``
(Adobe-GB1; no font file is needed, and none is embedded: the PDF reader supplies
a Song/Ming face, as Adobe Reader and poppler with CJK fonts do), Latin text
Helvetica. Each string is drawn in runs, Latin-1 characters in Helvetica and the
rest in STSong-Light, so Latin letters keep their metrics and ``·`` is drawn (the
CID font's Unicode map lacks U+00B7).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from healthcode.clock import SHANGHAI
from healthcode.credentials.qr import symbol
from healthcode.ecerts.mapping import EVENT_COUNTRY, find_vaccine
from healthcode.ecerts.service import IssuedCertificate

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
_registered = False

TITLES = {
    "vaccination": ("新冠病毒疫苗接种证明", "COVID-19 Vaccination Certificate"),
    "test": ("新冠病毒检测证明", "COVID-19 Test Certificate"),
}
FORMAT_NAMES = {
    "hc1": "EU DCC / WHO GDHCN (HC1)",
    "shc": "SMART Health Card",
}
TEST_KINDS = {"pcr": "核酸检测 NAAT (PCR)", "antigen": "抗原检测 Rapid antigen test"}
RESULTS = {"negative": "阴性 Negative (not detected)", "positive": "阳性 Positive (detected)"}


def _fonts() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        _registered = True


def _runs(text: str, latin: str) -> Iterator[tuple[str, str]]:
    """(font, text) runs: Latin-1 characters in ``latin``, the rest in the CID font."""
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or (ord(text[i]) < 0x100) != (ord(text[start]) < 0x100):
            yield (latin if ord(text[start]) < 0x100 else CJK_FONT), text[start:i]
            start = i


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    latin = LATIN_BOLD if bold else LATIN_FONT
    return float(sum(pdfmetrics.stringWidth(t, f, size) for f, t in _runs(text, latin)))


def draw_text(c: Canvas, x: float, y: float, text: str, size: float, *, bold: bool = False) -> None:
    """Draw ``text`` at (x, y) in mixed Latin/CJK runs."""
    latin = LATIN_BOLD if bold else LATIN_FONT
    for font, part in _runs(text, latin):
        c.setFont(font, size)
        c.drawString(x, y, part)
        x += pdfmetrics.stringWidth(part, font, size)


def draw_centred(c: Canvas, y: float, text: str, size: float, *, bold: bool = False) -> None:
    draw_text(c, (A4[0] - text_width(text, size, bold=bold)) / 2, y, text, size, bold=bold)


def wrap(text: str, size: float, width: float) -> list[str]:
    """Lines of at most ``width`` points (breaks at spaces when it can, else anywhere)."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if text_width(line + ch, size) <= width:
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


def local_time(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


def rows(cert: IssuedCertificate) -> list[tuple[str, str]]:
    """(label, value) rows of the certificate, labels in Chinese and English."""
    name = cert.name.written
    if cert.name.latin and cert.name.latin != name:
        name = f"{name}  ({cert.name.latin})"
    out = [("姓名 Name", name), ("出生日期 Date of birth", cert.birth_date or "—")]
    out.append(("疾病 Disease", "新型冠状病毒感染 COVID-19"))
    country = "中国 China (CN)" if EVENT_COUNTRY == "CN" else EVENT_COUNTRY
    if cert.kind == "vaccination":
        for event in cert.events:
            product = str(event.get("product") or "")
            vaccine = find_vaccine(product)
            label = vaccine.name if vaccine else (product or "—")
            if cert.format == "hc1":
                out.append(("疫苗 Vaccine", label))
                out.append(("剂次 Dose", f"{event.get('dcc_dn')} / {event.get('dcc_sd')}"))
                out.append(("接种日期 Date of vaccination", str(event.get("date"))))
            else:
                out.append((f"第 {event.get('dose')} 剂 Dose {event.get('dose')}", f"{event.get('date')}  {label}"))  # fmt: skip
        out.append(("接种国家 Country of vaccination", country))
    else:
        event = cert.events[0]
        out.append(("检测类型 Type of test", TEST_KINDS.get(str(event.get("kind")), "—")))
        out.append(("检测结果 Result", RESULTS.get(str(event.get("result")), "—")))
        sampled = datetime.fromisoformat(str(event["sampled_at"]))
        out.append(("采样时间 Sample collected", local_time(sampled)))
        if event.get("lab"):
            out.append(("检测机构 Testing centre", str(event["lab"])))
        out.append(("检测国家 Country of test", country))
    if cert.certificate_id:
        out.append(("证书编号 Certificate ID", cert.certificate_id))
    out.append(("签发机构 Issuer", cert.issuer["label"]))
    out.append(("签发时间 Issued", local_time(cert.issued_at)))
    out.append(("有效期至 Valid until", local_time(cert.expires_at)))
    out.append(("密钥 Key ID (kid)", cert.kid))
    return out


def _qr(c: Canvas, text: str, x: float, y: float, size: float) -> None:
    """The QR symbol as vector squares in a ``size`` square at (x, y), quiet zone included."""
    qr = symbol(text)
    matrix: Any = qr.matrix
    n = len(matrix)
    cell = size / (n + 8)
    c.setFillColor(colors.white)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColor(colors.black)
    for r, row in enumerate(matrix):
        col = 0
        while col < n:
            if row[col] & 1:
                start = col
                while col < n and row[col] & 1:
                    col += 1
                c.rect(
                    x + (4 + start) * cell, y + size - (4 + r + 1) * cell,
                    (col - start) * cell, cell, stroke=0, fill=1,
                )  # fmt: skip
            else:
                col += 1


def render_pdf(cert: IssuedCertificate) -> bytes:
    """The certificate as a one-page A4 PDF."""
    _fonts()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, pageCompression=1)
    zh, en = TITLES[cert.kind]
    c.setTitle(f"{zh} {en}")
    c.setAuthor(cert.issuer["label"])
    c.setSubject(FORMAT_NAMES[cert.format])
    width, height = A4
    if cert.demo:
        c.saveState()
        c.setFillColor(colors.Color(0.85, 0.2, 0.2, alpha=0.12))
        c.translate(width / 2, height / 2)
        c.rotate(35)
        c.setFont(LATIN_BOLD, 150)
        c.drawCentredString(0, -50, "DEMO")
        c.restoreState()
    y = height - 22 * mm
    draw_centred(c, y, "电子证照 E-certificate", 11)
    y -= 11 * mm
    draw_centred(c, y, zh, 22, bold=True)
    y -= 8 * mm
    draw_centred(c, y, en, 14, bold=True)
    y -= 6 * mm
    draw_centred(c, y, FORMAT_NAMES[cert.format], 10)
    if cert.demo:
        y -= 8 * mm
        c.setFillColor(colors.Color(0.75, 0.1, 0.1))
        draw_centred(c, y, "DEMO 演示证书，不可用于出行 · not valid for travel", 11, bold=True)
        c.setFillColor(colors.black)
    size = 78 * mm
    y -= size + 4 * mm
    _qr(c, cert.text, (width - size) / 2, y, size)
    y -= 8 * mm
    left, label_width = 22 * mm, 62 * mm
    value_width = width - left - label_width - 22 * mm
    c.setStrokeColor(colors.Color(0.8, 0.8, 0.8))
    c.line(left, y + 5 * mm, width - 22 * mm, y + 5 * mm)
    for label, value in rows(cert):
        lines = wrap(value, 10.5, value_width)
        c.setFillColor(colors.Color(0.35, 0.35, 0.35))
        draw_text(c, left, y, label, 9)
        c.setFillColor(colors.black)
        for line in lines:
            draw_text(c, left + label_width, y, line, 10.5)
            y -= 5.2 * mm
        y -= 1.3 * mm
    c.setFillColor(colors.Color(0.35, 0.35, 0.35))
    notes = [
        "扫描二维码核验：核验方须信任 healthcode 信任列表（GET /trust-list）。",
        "Verify by scanning the QR code with a verifier that trusts the healthcode trust list.",
    ]
    for i, note in enumerate(notes):
        draw_text(c, left, 14 * mm - i * 4.5 * mm, note, 8)
    c.showPage()
    c.save()
    return buf.getvalue()
