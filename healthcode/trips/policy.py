"""Trip-card rules by date, read from the versioned data file ``data/policies.json``.

Days are Asia/Shanghai calendar days and the carriers' data are one day behind:
the card for day ``D`` covers the ``window_days`` days ending on ``D − 1``
(``delay_days = 1``). Which policy applies to ``D``: the one in force at ``D``
00:00 +08:00, or at an explicit query instant ``at`` (only the 2021-01-08 20:30
change falls inside a day). A date before the first policy uses the first; from
the end of the service (2022-12-13 00:00 +08:00) there is none (:class:`ServiceEnded`).

Colour meanings are dated too (``colours[].from``/``until``): a policy carries
the meanings in force at its ``from`` instant, exactly one per colour, with
``{window_days}`` in their text replaced by the policy's window (so the card of
2022-05-12 explains green with "前14天", the card of 2022-11-21 with "前7天").

Changing a rule means editing the JSON (new policy with its ``from`` and
sources), not the code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from healthcode.clock import SHANGHAI
from healthcode.trips.errors import PolicyDataInvalid, ServiceEnded
from healthcode.trips.model import Colour


@dataclass(frozen=True)
class ColourMeaning:
    """What a card colour meant, and when (``until`` exclusive; ``None`` = open).

    In a :class:`Policy` the texts are final (``{window_days}`` filled in).
    """

    colour: Colour
    meaning_zh: str
    meaning_en: str
    valid_from: datetime
    until: datetime | None
    sources: tuple[str, ...] = ()

    def meaning(self, locale: str) -> str:
        """The meaning in ``locale`` (``"en"``; anything else gives the Chinese text)."""
        return self.meaning_en if locale == "en" else self.meaning_zh


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
        """The colours a card can have under this policy."""
        return tuple(c.colour for c in self.colours)

    def meaning(self, colour: Colour | str, locale: str) -> str:
        """What ``colour`` means under this policy, in ``locale`` (``"en"`` or Chinese).

        :raises KeyError: a colour not in force under this policy.
        """
        wanted = Colour(colour)
        for c in self.colours:
            if c.colour is wanted:
                return c.meaning(locale)
        raise KeyError(wanted.value)


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


def _fill(text: str, window_days: int, what: str) -> str:
    try:
        return text.format(window_days=window_days)
    except (KeyError, IndexError, ValueError) as exc:
        raise PolicyDataInvalid(f"{what}: bad placeholder in {text!r} ({exc!r})") from exc


def _meanings_in_force(
    colours: tuple[ColourMeaning, ...], at: datetime, window_days: int, policy_id: str
) -> tuple[ColourMeaning, ...]:
    """The colour meanings in force at ``at``, one per colour, texts filled in for the policy."""
    chosen: list[ColourMeaning] = []
    for c in colours:
        if not (c.valid_from <= at and (c.until is None or at < c.until)):
            continue
        if any(x.colour is c.colour for x in chosen):
            raise PolicyDataInvalid(
                f"policy {policy_id}: two meanings of {c.colour.value} in force at {at.isoformat()}"
            )
        what = f"colour {c.colour.value} from {c.valid_from.isoformat()}"
        chosen.append(
            replace(
                c,
                meaning_zh=_fill(c.meaning_zh, window_days, what),
                meaning_en=_fill(c.meaning_en, window_days, what),
            )
        )
    return tuple(chosen)


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
                sources=tuple(str(x) for x in c.get("sources", ())),
            )
            for c in data["colours"]
        )
        precedence = tuple(Colour(c) for c in data["precedence"])
        if set(precedence) != set(Colour):
            raise PolicyDataInvalid("precedence must list every colour once")
        policies: list[Policy] = []
        for p in data["policies"]:
            valid_from = _instant(p["from"], f"policy {p['id']}")
            window_days, delay_days = int(p["window_days"]), int(p["delay_days"])
            if window_days < 1 or delay_days < 0:
                raise PolicyDataInvalid(f"policy {p['id']}: window_days ≥ 1 and delay_days ≥ 0")
            in_force = _meanings_in_force(colours, valid_from, window_days, str(p["id"]))
            if Colour.GREEN not in {c.colour for c in in_force}:
                raise PolicyDataInvalid(f"policy {p['id']}: no meaning of green in force")
            risk = Colour(p["risk_city_colour"]) if p.get("risk_city_colour") else None
            if risk is not None and risk not in {c.colour for c in in_force}:
                raise PolicyDataInvalid(f"policy {p['id']}: colour {risk} not in force on its date")
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
