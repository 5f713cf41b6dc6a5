"""Time as a parameter: every domain function takes ``at`` (aware UTC datetime).

``SystemClock`` is used only at the edges (CLI, web); tests use ``FixedClock``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

#: China Standard Time, the zone of published risk-area lists and trip-card days.
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """Current instant, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock stopped at one instant; ``advance`` moves it (seconds)."""

    def __init__(self, at: datetime | str) -> None:
        self._at = parse_instant(at) if isinstance(at, str) else at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self._at = self._at + timedelta(seconds=seconds)


def parse_instant(text: str, *, default_tz: ZoneInfo | None = None) -> datetime:
    """Parse ISO-8601 text into an aware UTC datetime.

    A trailing ``Z`` is accepted. A date alone means midnight. Text without an
    offset takes ``default_tz``; when that is ``None`` it is an error.

    :raises ValueError: unparseable text, or no offset and no ``default_tz``.
    """
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    dt = datetime.fromisoformat(raw)
    if dt.tzinfo is None:
        if default_tz is None:
            raise ValueError(f"time without UTC offset: {text!r}")
        dt = dt.replace(tzinfo=default_tz)
    try:
        return dt.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-14:00
        raise ValueError(f"time out of range: {text!r}") from exc


def to_epoch(dt: datetime) -> int:
    """Whole seconds since the Unix epoch (UTC)."""
    return int(dt.timestamp())


def from_epoch(seconds: int | float) -> datetime:
    """Aware UTC datetime from seconds since the epoch."""
    return datetime.fromtimestamp(seconds, UTC)
