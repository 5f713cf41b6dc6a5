"""Card model: masking, JSON shape, JSON Lines order."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

from healthcode.trips import CityStay, Colour, TripCard, cards_to_jsonl, mask_phone, write_jsonl


def card(phone, city="北京市"):
    when = datetime(2022, 11, 15, 0, 0, 0, 500000, tzinfo=UTC)
    return TripCard(
        phone=phone,
        as_of=date(2022, 11, 21),
        window_days=7,
        window=(date(2022, 11, 14), date(2022, 11, 20)),
        updated_at=when,
        colour=Colour.GREEN,
        cities=(CityStay("110000", city, "北京市", False, when, when),),
        abroad=(),
        policy="TC-2022-07-08",
    )


def test_mask_phone():
    assert mask_phone("13912345678") == "139****5678"
    assert mask_phone("123") == "***"


def test_json_is_utf8_cst_whole_seconds_in_contract_order():
    text = card("13912345678").to_json()
    assert "北京市" in text and "\\u" not in text
    data = json.loads(text)
    assert list(data) == [
        "phone", "as_of", "window_days", "window", "updated_at", "colour", "cities", "abroad", "policy",
    ]  # fmt: skip
    assert data["updated_at"] == "2022-11-15T08:00:00+08:00"
    assert list(data["cities"][0]) == [
        "code",
        "name",
        "province",
        "star",
        "first_seen",
        "last_seen",
    ]


def test_jsonl_sorted_by_full_phone(tmp_path):
    cards = [card("13912345678"), card("13812345678"), card("13912345670")]
    text = cards_to_jsonl(cards)
    assert [json.loads(line)["phone"] for line in text.splitlines()] == [
        "138****5678",
        "139****5670",
        "139****5678",
    ]
    path = tmp_path / "cards.jsonl"
    assert write_jsonl(cards, path) == 3
    assert path.read_bytes() == text.encode("utf-8")
    buf = io.StringIO()
    write_jsonl(cards, buf)
    assert buf.getvalue() == text
