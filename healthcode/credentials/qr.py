"""QR symbols ⇄ text only (no crypto): segno to draw, zxing-cpp to read.

:func:`decode_image` bounds the work on hostile input: at most
:data:`MAX_IMAGE_BYTES` bytes and :data:`MAX_PIXELS` pixels (checked from the
header, before any pixel is read), only the formats of
:data:`FORMATS`, only the first frame of an animated image, and in a JPEG at most
:data:`MAX_JPEG_SCANS` scans and :data:`MAX_JPEG_SEGMENTS` segments (counted from
its markers before Pillow reads anything). Decodes run on :data:`DECODE_THREADS`
threads of their own, whatever thread calls, so at most that many large pixel
buffers exist at once and the memory the C allocator keeps after them stays with
those few threads.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
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
DECODE_THREADS = 2
_DECODER = ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="qr-decode")
#: Pillow formats decoded (what :func:`looks_like_image` recognises; ``JPEG`` includes
#: the multi-picture JPEGs of phone cameras, which Pillow opens as ``MPO``); anything
#: else (TIFF, PSD, EPS …) is refused unread.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "AVIF")
#: Most scans (SOS segments) a JPEG may have. Every scan of a progressive JPEG
#: passes over the whole picture again, so a small file repeating a cheap
#: refinement scan thousands of times costs minutes of CPU (a 400 KB white
#: 4000 × 4000 picture with 9,867 scans took 240 s). Baseline JPEGs have one scan
#: per component (at most 4), libjpeg's default progressive script 10 (6 for
#: greyscale) and optimising encoders (mozjpeg, ``jpegtran -optimize``) rarely
#: more than 20: 64 leaves room for any real encoder and bounds the work to a few
#: times that of an ordinary photo.
MAX_JPEG_SCANS = 64
#: Most marker segments a JPEG may have (tables, metadata, scans): real files have
#: tens (a progressive file with 64 scans and their tables ~150); a file of a
#: million empty comment segments cost Pillow 2 s of parsing before this bound.
MAX_JPEG_SEGMENTS = 1_000


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


#: The end of a scan's entropy-coded data: ``FF`` then a marker (not a stuffed ``00``,
#: a restart marker ``D0``–``D7`` or another fill ``FF``).
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def jpeg_counts(
    data: bytes, *, max_scans: int | None = None, max_segments: int | None = None
) -> tuple[int, int]:
    """``(scans, segments)`` of the first image of a JPEG, read from its markers.

    Walks the segments from SOI to the first EOI without decoding: a segment's
    length skips it; after an SOS (a scan) the entropy-coded data runs to the next
    marker. Linear in the file's size; a truncated file counts what it has.

    :param max_scans: stop once there are more scans than this.
    :param max_segments: stop once there are more segments than this.
    """
    count, segments, i, end = 0, 0, 2, len(data)
    while i + 1 < end:
        if data[i] != 0xFF:  # not at a marker: garbage between segments
            i = data.find(b"\xff", i)
            if i < 0:
                break
            continue
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # EOI: the rest (MPO's other pictures, trailers) is not decoded
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # TEM, RSTn, SOI: no length
            i += 2
            continue
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        segments += 1
        if max_segments is not None and segments > max_segments:
            break
        if marker == 0xDA:
            count += 1
            if max_scans is not None and count > max_scans:
                break
            found = _NEXT_MARKER.search(data, i)
            if found is None:
                break
            i = found.start()
    return count, segments


def decode_image(data: bytes) -> list[str]:
    """Texts of every QR symbol in an image (PNG, JPEG, GIF, BMP, WebP …), in reading order.

    Runs on the decode threads (see the module docstring); the caller waits.

    :raises PictureUnreadable: not an image of :data:`FORMATS`, too large, too many
        JPEG scans, or corrupt.
    :raises NoQrFound: an image with no readable QR symbol.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise PictureUnreadable(f"image larger than {MAX_IMAGE_BYTES} bytes")
    if data.startswith(b"\xff\xd8"):
        scans, segments = jpeg_counts(
            data, max_scans=MAX_JPEG_SCANS, max_segments=MAX_JPEG_SEGMENTS
        )
        if scans > MAX_JPEG_SCANS:
            raise PictureUnreadable(
                f"JPEG with more than {MAX_JPEG_SCANS} scans (progressive passes); "
                "QR pictures need far fewer"
            )
        if segments > MAX_JPEG_SEGMENTS:
            raise PictureUnreadable(f"JPEG with more than {MAX_JPEG_SEGMENTS} marker segments")
    return _DECODER.submit(_decode, data).result()


def _decode(data: bytes) -> list[str]:
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            w, h = probe.size
            if w * h > MAX_PIXELS or w < 21 or h < 21:
                raise PictureUnreadable(
                    f"image is {w}×{h} pixels; QR images are 21 px to {MAX_PIXELS:,} px"
                )
            # JPEG: decode at reduced size; other formats read their first frame only
            probe.draft("L", (DETECT_SIDE, DETECT_SIDE))
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
