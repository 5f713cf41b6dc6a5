"""Turn what a verifier was handed (bytes of a file, or text) into QR text(s). Pure.

- an image (PNG, JPEG, …) → the QR symbols' texts (``picture`` stage True/False;
  a SMART Health Card symbol above QR version 22 fails ``picture``);
- a ``.smart-health-card`` file (JSON ``{"verifiableCredential": [JWS, …]}``) →
  ``card_file`` set: verify it with :func:`healthcode.credentials.shc.verify_file`,
  which checks the file's own rules and gives one report per card;
- anything else → its text (UTF-8; undecodable bytes become U+FFFD so garbage still
  gets a report rather than an error; a final newline an editor added is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.credentials.errors import CredentialError
from healthcode.credentials.qr import decode_image, looks_like_image


@dataclass(frozen=True)
class ScannedInput:
    """Texts to verify; ``picture`` is None for text, True/False for an image; ``error`` its code.

    ``card_file`` holds the bytes of a ``.smart-health-card`` file instead of texts.
    """

    texts: list[str]
    picture: bool | None = None
    error: str | None = None
    card_file: bytes | None = None
    name: str = ""


def is_card_file(data: bytes, name: str) -> bool:
    if name.endswith(".smart-health-card"):
        return True
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and b"verifiableCredential" in data[:1_000_000]


def from_bytes(data: bytes, *, name: str = "") -> ScannedInput:
    """Classify and decode one input's bytes (see the module docstring)."""
    if looks_like_image(data):
        try:
            texts = decode_image(data)
            if any(t[:5].lower() == "shc:/" for t in texts):
                from healthcode.credentials import shc

                shc.check_qr_symbols([data])
        except CredentialError as exc:
            return ScannedInput([], picture=False, error=exc.code)
        return ScannedInput(texts, picture=True)
    if is_card_file(data, name):
        return ScannedInput([], card_file=data, name=name)
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    return ScannedInput([text.rstrip("\r\n")])
