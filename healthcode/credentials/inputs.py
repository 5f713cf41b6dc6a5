"""Turn what a verifier was handed (bytes of a file, or text) into QR text(s). Pure.

- an image (PNG, JPEG, …) → the QR symbols' texts (``picture`` stage True/False);
- a ``.smart-health-card`` file (JSON ``{"verifiableCredential": [JWS, …]}``) → the JWS texts;
- anything else → its text (UTF-8; undecodable bytes become U+FFFD so garbage still
  gets a report rather than an error).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from healthcode.credentials.errors import CredentialError
from healthcode.credentials.qr import decode_image, looks_like_image


@dataclass(frozen=True)
class ScannedInput:
    """Texts to verify; ``picture`` is None for text, True/False for an image; ``error`` its code."""

    texts: list[str]
    picture: bool | None = None
    error: str | None = None


def from_bytes(data: bytes, *, name: str = "") -> ScannedInput:
    """Classify and decode one input's bytes (see the module docstring)."""
    if looks_like_image(data):
        try:
            return ScannedInput(decode_image(data), picture=True)
        except CredentialError as exc:
            return ScannedInput([], picture=False, error=exc.code)
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.strip()
    if name.endswith(".smart-health-card") or (
        stripped.startswith("{") and "verifiableCredential" in stripped
    ):
        try:
            doc = json.loads(stripped)
            vcs = doc.get("verifiableCredential") if isinstance(doc, dict) else None
            if isinstance(vcs, list) and vcs and all(isinstance(v, str) for v in vcs):
                return ScannedInput([vcs[0]])
        except ValueError:
            pass
    # a text file holding QR text: drop the final newline(s) an editor adds
    return ScannedInput([text.rstrip("\r\n")])
