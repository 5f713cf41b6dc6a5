"""Strict, fast Base45 (RFC 9285), as used by EU DCC ``HC1:`` payloads.

Base45 (RFC 9285 §4) writes every 2 bytes ``[a, b]`` as the value
``n = a * 256 + b`` (0..65535) in three base-45 digits ``c + 45 * d + 2025 * e``,
emitted least significant first as ``c d e``; a final single byte becomes two
digits ``c d``. The 45 digits are the QR alphanumeric characters
``0-9 A-Z``, space, ``$ % * + - . / :`` (RFC 9285 §4.2).

Strictness: decoding never strips, URL-decodes or case-folds; any character
outside the alphabet, a dangling single character, a triple above 65535 or a
final pair above 255 is an error (RFC 9285 §4.4: "MUST be rejected").

Speed: verifying a token decodes a ~600-character string, so both directions
avoid a per-character Python loop. The digits of every group are spread into
fixed-width "lanes" of one big integer (bytearray slice assignment + one
``int.from_bytes``), so a single big-integer multiply-add combines all groups
at once; lanes are wide enough that no lane carries into its neighbour.
Encoding divides every lane by 2025 and 45 at once with exact multiply-shift
reciprocals (checked for every 16-bit value by the tests). Everything runs in
C-level bytes/int operations; there is no per-group Python code.
"""

from __future__ import annotations

from typing import Final

from healthcode.credentials.errors import Base45Invalid

__all__ = ["ALPHABET", "b45decode", "b45encode"]

ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
"""The 45 digits in value order (RFC 9285 §4.2, Table 1)."""

_INVALID: Final = 0xFF

# byte -> digit value (0..44), or 0xFF for bytes outside the alphabet.
_TO_VALUE: Final = bytes(
    ALPHABET.encode("ascii").index(i) if i in ALPHABET.encode("ascii") else _INVALID
    for i in range(256)
)
# digit value (0..44) -> alphabet byte; the rest is never looked up.
_TO_CHAR: Final = ALPHABET.encode("ascii") + bytes(256 - 45)

# Exact floor division of every lane at once: for 0 <= v <= 65535,
# v // 2025 == (v * _RECIP_2025) >> _SHIFT, and for 0 <= r <= 2024,
# r // 45 == (r * _RECIP_45) >> _SHIFT. Products stay below 2**33, and the
# quotient is read from the lane's low byte after the shift, so a lane of
# 5 bytes (40 bits >= _SHIFT + 8) keeps neighbouring lanes apart.
_SHIFT: Final = 27
_RECIP_2025: Final = -(-(1 << _SHIFT) // 2025)
_RECIP_45: Final = -(-(1 << _SHIFT) // 45)
_ENC_LANE: Final = 5


def b45encode(data: bytes | bytearray | memoryview) -> str:
    """Encode bytes as Base45 text (RFC 9285 §4).

    :param data: any bytes (a ``memoryview`` must be of unsigned bytes).
    :returns: Base45 text over :data:`ALPHABET`, ``3 * (len(data) // 2) +
        2 * (len(data) % 2)`` characters long. It may contain spaces and ``%``,
        so it must not be URL-encoded or stripped on its way into a QR code.
    """
    data = bytes(data)  # no copy for bytes; lets slicing below give bytes
    size = len(data)
    groups = size >> 1
    even = 2 * groups
    width = _ENC_LANE * groups
    # Lane i holds the 16-bit value n_i = data[2i] * 256 + data[2i + 1].
    lanes = bytearray(width)
    lanes[_ENC_LANE - 2 :: _ENC_LANE] = data[0:even:2]
    lanes[_ENC_LANE - 1 :: _ENC_LANE] = data[1:even:2]
    values = int.from_bytes(lanes, "big")
    # e = n // 2025 (0..32), then r = n - 2025 e, d = r // 45, c = r - 45 d.
    high = ((values * _RECIP_2025) >> _SHIFT).to_bytes(width, "big")[_ENC_LANE - 1 :: _ENC_LANE]
    lanes[_ENC_LANE - 2 :: _ENC_LANE] = bytes(groups)
    lanes[_ENC_LANE - 1 :: _ENC_LANE] = high
    rest = values - 2025 * int.from_bytes(lanes, "big")
    middle = ((rest * _RECIP_45) >> _SHIFT).to_bytes(width, "big")[_ENC_LANE - 1 :: _ENC_LANE]
    lanes[_ENC_LANE - 1 :: _ENC_LANE] = middle
    low = (rest - 45 * int.from_bytes(lanes, "big")).to_bytes(width, "big")[
        _ENC_LANE - 1 :: _ENC_LANE
    ]

    out = bytearray(3 * groups + 2 * (size & 1))
    out[0 : 3 * groups : 3] = low
    out[1 : 3 * groups : 3] = middle
    out[2 : 3 * groups : 3] = high
    if size & 1:
        out[-1], out[-2] = divmod(data[-1], 45)
    return out.translate(_TO_CHAR).decode("ascii")


def b45decode(text: str) -> bytes:
    """Decode Base45 text to bytes, strictly (RFC 9285 §4.4).

    :param text: Base45 text, exactly as read (no prefix such as ``HC1:``, no
        surrounding whitespace: space is a Base45 digit and is decoded as such).
    :returns: the decoded bytes, ``2 * (len(text) // 3) + (len(text) % 3 == 2)``
        bytes long.
    :raises Base45Invalid: for a character outside :data:`ALPHABET` (including
        lowercase letters, newlines and any non-ASCII character), a length
        ``≡ 1 (mod 3)``, a 3-character group worth more than 65535, or a final
        2-character group worth more than 255.
    :raises TypeError: when ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"b45decode() takes str, not {type(text).__name__}")
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise Base45Invalid("base45: non-ASCII character") from None
    digits = raw.translate(_TO_VALUE)
    bad = digits.find(_INVALID)
    if bad >= 0:
        raise Base45Invalid(f"base45: character {text[bad]!r} at {bad} is not in the alphabet")
    groups, tail = divmod(len(digits), 3)
    if tail == 1:
        raise Base45Invalid("base45: dangling single character at the end")

    # Lane i (3 bytes) ends up holding c + 45 d + 2025 e <= 91124 < 2**24.
    full = 3 * groups
    lanes = bytearray(full)
    lanes[2::3] = digits[0:full:3]
    c = int.from_bytes(lanes, "big")
    lanes[2::3] = digits[1:full:3]
    d = int.from_bytes(lanes, "big")
    lanes[2::3] = digits[2:full:3]
    e = int.from_bytes(lanes, "big")
    values = (c + 45 * (d + 45 * e)).to_bytes(full, "big")
    if values[0::3].lstrip(b"\0"):
        raise Base45Invalid("base45: a 3-character group is worth more than 65535")

    out = bytearray(2 * groups + (tail == 2))
    out[0 : 2 * groups : 2] = values[1::3]
    out[1 : 2 * groups : 2] = values[2::3]
    if tail:
        last = digits[-2] + 45 * digits[-1]
        if last > 0xFF:
            raise Base45Invalid("base45: the final 2-character group is worth more than 255")
        out[-1] = last
    return bytes(out)
