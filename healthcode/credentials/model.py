"""The health code's claims — what a signed ``HP1:`` token says (see ``docs/token-format.md``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Colour(StrEnum):
    """Health-code colours and their status codes (``00`` / ``01`` / ``10``)."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def status_code(self) -> str:
        return STATUS_CODES[self]

    @property
    def label_zh(self) -> str:
        return {"green": "绿码", "yellow": "黄码", "red": "红码"}[self.value]


STATUS_CODES = {Colour.GREEN: "00", Colour.YELLOW: "01", Colour.RED: "10"}
COLOUR_BY_STATUS = {v: k for k, v in STATUS_CODES.items()}
SEVERITY = {Colour.GREEN: 0, Colour.YELLOW: 1, Colour.RED: 2}


@dataclass(frozen=True)
class LatestTest:
    """Latest test: ``kind`` ``pcr`` | ``antigen``; ``result`` ``negative`` | ``positive``;
    ``sampled_at`` aware UTC (hours-since are counted from sampling time)."""

    kind: str
    result: str
    sampled_at: datetime


@dataclass(frozen=True)
class HealthCodeClaims:
    """Claims of one health-code token.

    :ivar issuer: GB/T 2260 code of the issuing region.
    :ivar subject: holder pseudonym (not the holder id, not the ID number).
    :ivar issued_at, expires_at: aware UTC; lifetime default 180 s.
    :ivar name_masked: e.g. ``张*丰``; :ivar id_tail: last 4 characters of the ID number.
    :ivar reasons: rule ids that decided the colour (empty for green).
    :ivar doses: vaccination doses received (0 = none).
    :ivar demo: DEMO data (shown on every face; rejected in production).
    """

    issuer: str
    subject: str
    issued_at: datetime
    expires_at: datetime
    name_masked: str
    id_tail: str
    colour: Colour
    code_name: str
    reasons: tuple[str, ...] = ()
    latest_test: LatestTest | None = None
    doses: int = 0
    demo: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def status_code(self) -> str:
        return self.colour.status_code
