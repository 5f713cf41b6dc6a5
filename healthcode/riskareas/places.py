"""Place identity shared by declarations and risk-area lists.

A place is (province, city, county, community) as published in the national
list — including its 北京 quirk (district in ``city``, street in ``county``).
Declarations name places the same way, so both sides index the same string.
"""

from __future__ import annotations

import unicodedata

from healthcode.protect import blind_index

MUNICIPALITIES = {"北京市", "天津市", "上海市", "重庆市"}


def _norm(part: str) -> str:
    return "".join(unicodedata.normalize("NFC", part or "").split())


def place_string(province: str, city: str, county: str, community: str) -> str:
    """Canonical text of a place: NFC, all whitespace removed, ``|``-joined."""
    return "|".join(_norm(p) for p in (province, city, county, community))


def place_key(index_key: bytes, province: str, city: str, county: str, community: str) -> str:
    """Blind index of a place (see :mod:`healthcode.protect`)."""
    return blind_index(index_key, place_string(province, city, county, community))
