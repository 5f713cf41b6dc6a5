"""Trip-card rules by date, read from the versioned data file ``data/policies.json``.

Days are Asia/Shanghai calendar days and the carriers' data are one day behind:
the card for day ``D`` covers the ``window_days`` days ending on ``D − 1``
(``delay_days = 1``). Which policy applies to ``D``: the one in force at ``D``
00:00 +08:00, or at an explicit query instant ``at`` (only the 2021-01-08 20:30
change falls inside a day). A date before the first policy uses the first; from
the end of the service (2022-12-13 00:00 +08:00) there is none (:class:`ServiceEnded`).

Changing a rule means editing the JSON (new policy with its ``from`` and
sources), not the code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from healthcode.clock import SHANGHAI
from healthcode.trips.errors import PolicyDataInvalid, ServiceEnded
from healthcode.trips.model import Colour


@dataclass(frozen=True)
class ColourMeaning:
    """What a card colour meant, and when (``until`` exclusive; ``None`` = open)."""

    colour: Colour
    meaning_zh: str
    meaning_en: str
    valid_from: datetime
    until: datetime | None


@dataclass(frozen=True)
class Policy:
    """One version of the trip-card rules.

    :ivar window_days: length of the window, in Asia/Shanghai calendar days.
    :ivar delay_days: data delay: the window ends ``delay_days`` before the query date.
    :ivar min_stay_hours: minimum stay for a domestic city to be listed, in hours.
    :ivar star: cities with a listed medium/high-risk area on ``D − 1`` get a star.
    :ivar risk_city_colour: colour a card takes when it lists such a city (``None``: none).
    """

    id: str
    valid_from: datetime  #: aware instant the policy took effect
    summary: str
    window_days: int
    delay_days: int
    min_stay_hours: float
    star: bool
    risk_city_colour: Colour | None
    colours: tuple[ColourMeaning, ...]  #: colours in force when the policy took effect
    precedence: tuple[Colour, ...]  #: strongest first, e.g. red > orange > yellow > green
    sources: tuple[str, ...]

    def window(self, as_of: date) -> tuple[date, date]:
        """First and last Asia/Shanghai day (inclusive) of the card for ``as_of``."""
        last = as_of - timedelta(days=self.delay_days)
        return last - timedelta(days=self.window_days - 1), last

    def window_instants(self, as_of: date) -> tuple[datetime, datetime]:
        """Window as aware instants ``[start, end)``: 00:00 +08:00 of the first day and of the day after the last."""
        first, last = self.window(as_of)
        return (
            datetime.combine(first, time(0), SHANGHAI),
            datetime.combine(last + timedelta(days=1), time(0), SHANGHAI),
        )

    def star_day(self, as_of: date) -> date:
        """The day whose risk-area list decides stars / risk colour: ``as_of − delay_days``."""
        return as_of - timedelta(days=self.delay_days)

    @property
    def colour_names(self) -> tuple[Colour, ...]:
        return tuple(c.colour for c in self.colours)


@dataclass(frozen=True)
class PolicyBook:
    """All policies in date order, plus the service end."""

    version: str
    policies: tuple[Policy, ...]
    service_ended: datetime | None
    notice_zh: str
    notice_en: str

    def for_date(self, as_of: date, *, at: datetime | None = None) -> Policy:
        """The policy of the card for ``as_of``.

        :param as_of: query date (Asia/Shanghai calendar day).
        :param at: optional aware query instant; default ``as_of`` 00:00 +08:00.
        :raises ServiceEnded: the instant is at or after the end of the service.
        """
        instant = at if at is not None else datetime.combine(as_of, time(0), SHANGHAI)
        if instant.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        if self.service_ended is not None and instant >= self.service_ended:
            raise ServiceEnded(
                f"no trip-card policy on {as_of.isoformat()}: the service ended "
                f"{self.service_ended.isoformat()} (add a policy to policies.json to compute later cards)"
            )
        chosen = self.policies[0]
        for policy in self.policies:
            if policy.valid_from <= instant:
                chosen = policy
        return chosen

    def by_id(self, policy_id: str) -> Policy:
        """:raises KeyError: unknown id."""
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        raise KeyError(policy_id)


def _instant(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise PolicyDataInvalid(f"{what}: not an ISO-8601 instant: {text!r}") from exc
    if value.tzinfo is None:
        raise PolicyDataInvalid(f"{what}: instant without offset: {text!r}")
    return value


def parse_policies(data: dict[str, Any]) -> PolicyBook:
    """Build a :class:`PolicyBook` from the decoded JSON document.

    :raises PolicyDataInvalid: missing fields, unknown colours, unordered policies.
    """
    try:
        if data.get("schema") != 1:
            raise PolicyDataInvalid(f"unsupported policies schema {data.get('schema')!r}")
        colours = tuple(
            ColourMeaning(
                colour=Colour(c["colour"]),
                meaning_zh=c["meaning_zh"],
                meaning_en=c["meaning_en"],
                valid_from=_instant(c["from"], f"colour {c['colour']}"),
                until=_instant(c["until"], f"colour {c['colour']}") if c.get("until") else None,
            )
            for c in data["colours"]
        )
        precedence = tuple(Colour(c) for c in data["precedence"])
        if set(precedence) != set(Colour):
            raise PolicyDataInvalid("precedence must list every colour once")
        policies: list[Policy] = []
        for p in data["policies"]:
            valid_from = _instant(p["from"], f"policy {p['id']}")
            in_force = tuple(
                c
                for c in colours
                if c.valid_from <= valid_from and (c.until is None or valid_from < c.until)
            )
            risk = Colour(p["risk_city_colour"]) if p.get("risk_city_colour") else None
            if risk is not None and risk not in {c.colour for c in in_force}:
                raise PolicyDataInvalid(f"policy {p['id']}: colour {risk} not in force on its date")
            window_days, delay_days = int(p["window_days"]), int(p["delay_days"])
            if window_days < 1 or delay_days < 0:
                raise PolicyDataInvalid(f"policy {p['id']}: window_days ≥ 1 and delay_days ≥ 0")
            policies.append(
                Policy(
                    id=str(p["id"]),
                    valid_from=valid_from,
                    summary=str(p["summary"]),
                    window_days=window_days,
                    delay_days=delay_days,
                    min_stay_hours=float(p["min_stay_hours"]),
                    star=bool(p["star"]),
                    risk_city_colour=risk,
                    colours=in_force,
                    precedence=precedence,
                    sources=tuple(str(s) for s in p["sources"]),
                )
            )
        if not policies:
            raise PolicyDataInvalid("no policies")
        if [p.valid_from for p in policies] != sorted(p.valid_from for p in policies):
            raise PolicyDataInvalid("policies must be in date order")
        service = data.get("service", {})
        ended = _instant(service["ended"], "service.ended") if service.get("ended") else None
        return PolicyBook(
            version=str(data["version"]),
            policies=tuple(policies),
            service_ended=ended,
            notice_zh=str(service.get("notice_zh", "")),
            notice_en=str(service.get("notice_en", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyDataInvalid(f"policies data invalid: {exc!r}") from exc


def load_policies(path: str | Path | None = None) -> PolicyBook:
    """Read the policy book (default: the packaged ``data/policies.json``).

    :raises PolicyDataInvalid: the file is malformed.
    """
    if path is None:
        text = resources.files("healthcode.trips").joinpath("data/policies.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyDataInvalid(f"policies file is not JSON: {exc}") from exc
    return parse_policies(data)
