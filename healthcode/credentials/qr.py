"""QR symbols ⇄ text only (no crypto): segno to draw, zxing-cpp to read.

:func:`decode_image` bounds the work on hostile input: at most
:data:`MAX_IMAGE_BYTES` bytes and :data:`MAX_PIXELS` pixels (Pillow's
decompression-bomb guard is tightened to the same limit).
"""

from __future__ import annotations

import io
import threading
from typing import Any

import segno
import zxingcpp
from PIL import Image
from segno import consts

from healthcode.credentials.errors import NoQrFound, PictureUnreadable

MAX_IMAGE_BYTES = 8 * 1024 * 1024
#: Largest image decoded, in pixels (a 4000 × 4000 photo); larger ones are refused
#: before their pixels are read.
MAX_PIXELS = 16_000_000
#: Images are scaled down to this longest side before QR detection: a code that
#: fills a phone screen is readable far below it, and memory stays bounded.
DETECT_SIDE = 2000
#: Concurrent decodes per process (each may hold ~100 MB at the limits above).
_DECODES = threading.BoundedSemaphore(2)


def symbol(text: str) -> segno.QRCode:
    """The QR symbol for ``text``.

    A single-chunk SMART Health Card (``shc:/`` + digits) is drawn as the SHC
    specification asks: ``shc:/`` as a byte segment, the digits as a numeric segment,
    error level L (raised when that fits the same version), so a 1195-character JWS
    fits version 22. Anything else: error level M, alphanumeric mode when the text
    allows (``HP1:``/``HC1:`` use only that alphabet).
    """
    if text[:5].lower() == "shc:/" and text[5:].isascii() and text[5:].isdigit():
        # segno takes a list of (content, mode constant) segments as well
        segments: Any = [(text[:5], consts.MODE_BYTE), (text[5:], consts.MODE_NUMERIC)]
        return segno.make(segments, error="l", boost_error=True, micro=False)
    return segno.make(text, error="m", boost_error=False, micro=False)


def encode_png(text: str, *, scale: int = 6, border: int = 4) -> bytes:
    """PNG bytes of the QR symbol of ``text`` (see :func:`symbol`)."""
    buf = io.BytesIO()
    symbol(text).save(buf, kind="png", scale=scale, border=border)
    return buf.getvalue()


def decode_image(data: bytes) -> list[str]:
    """Texts of every QR symbol in an image (PNG, JPEG, GIF, BMP, WebP …), in reading order.

    :raises PictureUnreadable: not an image, too large, or corrupt.
    :raises NoQrFound: an image with no readable QR symbol.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise PictureUnreadable(f"image larger than {MAX_IMAGE_BYTES} bytes")
    with _DECODES:
        try:
            with Image.open(io.BytesIO(data)) as probe:
                w, h = probe.size
                if w * h > MAX_PIXELS or w < 21 or h < 21:
                    raise PictureUnreadable(
                        f"image is {w}×{h} pixels; QR images are 21 px to {MAX_PIXELS:,} px"
                    )
                probe.draft("L", (DETECT_SIDE, DETECT_SIDE))  # JPEG: decode at reduced size
                img = probe.convert("L")
            if max(img.size) > DETECT_SIDE:
                img.thumbnail((DETECT_SIDE, DETECT_SIDE))
        except PictureUnreadable:
            raise
        except Exception as exc:  # Pillow raises many types on corrupt input
            raise PictureUnreadable(f"not a readable image: {exc}") from exc
        try:
            results = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)  # type: ignore[arg-type]
        except Exception as exc:  # zxing-cpp refuses some shapes with ValueError
            raise PictureUnreadable(f"cannot scan this image: {exc}") from exc
    texts = [r.text for r in results if r.valid and r.text]
    if not texts:
        raise NoQrFound("no QR code found in the image")
    return texts


def looks_like_image(data: bytes) -> bool:
    """True for the magic numbers of common image formats."""
    return data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF")) or data[
        4:12
    ] in (
        b"ftypavif",
        b"ftypheic",
    )
