"""Bounds of :func:`healthcode.credentials.qr.decode_image` on hostile pictures."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from PIL import Image

from healthcode.credentials import qr
from healthcode.credentials.errors import PictureUnreadable

TEXT = "HC1:TEST-QR-BOUNDS"


def _qr_jpeg(*, progressive: bool = True, mode: str = "L") -> bytes:
    img = Image.open(io.BytesIO(qr.encode_png(TEXT))).convert(mode)
    buf = io.BytesIO()
    img.save(buf, "JPEG", progressive=progressive, quality=95)
    return buf.getvalue()


def _segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, bytes) of each segment after SOI up to EOI; a scan with its entropy data."""
    out, i = [], 2
    while data[i + 1] != 0xD9:
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        j = i + 2 + length
        if marker == 0xDA:
            while not (data[j] == 0xFF and data[j + 1] not in (0x00, *range(0xD0, 0xD8))):
                j += 1
        out.append((marker, data[i:j]))
        i = j
    return out


def _with_scans(extra: int) -> bytes:
    """The QR as a progressive JPEG whose last (refinement) scan is repeated ``extra`` times."""
    segs = _segments(_qr_jpeg())
    last = [body for marker, body in segs if marker == 0xDA][-1]
    return b"\xff\xd8" + b"".join(body for _, body in segs) + last * extra + b"\xff\xd9"


def test_ordinary_jpegs_have_few_scans() -> None:
    for progressive in (False, True):
        for mode in ("L", "RGB", "CMYK"):
            img = Image.new(mode, (64, 48), 128)
            buf = io.BytesIO()
            img.save(buf, "JPEG", progressive=progressive, optimize=True)
            scans, segments = qr.jpeg_counts(buf.getvalue())
            assert 1 <= scans <= 18 and segments < 40
    assert qr.jpeg_counts(_with_scans(5))[0] == 6 + 5


def test_jpeg_at_the_scan_limit_decodes() -> None:
    data = _with_scans(qr.MAX_JPEG_SCANS - 6)
    assert qr.jpeg_counts(data)[0] == qr.MAX_JPEG_SCANS
    assert qr.decode_image(data) == [TEXT]


def test_jpeg_scan_bomb_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _with_scans(qr.MAX_JPEG_SCANS)  # readable, but more scans than allowed
    opened: list[Any] = []
    real_open = Image.open
    monkeypatch.setattr(qr.Image, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    with pytest.raises(PictureUnreadable, match="scans"):
        qr.decode_image(data)
    assert opened == []  # refused from the markers alone


def test_jpeg_with_thousands_of_segments_is_refused() -> None:
    data = _qr_jpeg()
    comments = b"\xff\xfe\x00\x03x" * (qr.MAX_JPEG_SEGMENTS + 1)
    with pytest.raises(PictureUnreadable, match="segments"):
        qr.decode_image(data[:2] + comments + data[2:])


def test_formats_outside_the_list_are_refused() -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(qr.encode_png(TEXT))).save(buf, "TIFF")
    with pytest.raises(PictureUnreadable):
        qr.decode_image(buf.getvalue())


def test_animated_gif_reads_its_first_frame() -> None:
    first = Image.open(io.BytesIO(qr.encode_png(TEXT))).convert("L")
    buf = io.BytesIO()
    blank = Image.new("L", first.size, 255)
    first.save(buf, "GIF", save_all=True, append_images=[blank] * 3)
    assert qr.decode_image(buf.getvalue()) == [TEXT]


def test_decodes_run_on_the_bounded_decode_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = qr.zxingcpp.read_barcodes

    def spy(*a: Any, **k: Any) -> Any:
        seen.append(threading.current_thread().name)
        return real(*a, **k)

    monkeypatch.setattr(qr.zxingcpp, "read_barcodes", spy)
    png = qr.encode_png(TEXT)
    threads = [threading.Thread(target=qr.decode_image, args=(png,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 6 and all(name.startswith("qr-decode") for name in seen)
    assert len(set(seen)) <= qr.DECODE_THREADS
