"""Rule sets as versioned data, and the verdicts they produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from healthcode.credentials.model import Colour


@dataclass(frozen=True)
class Rule:
    """One published colour rule.

    :ivar id: stable id, e.g. ``HC-R-0006``; :ivar version: semantic version.
    :ivar colour: the colour the rule gives when it fires (``yellow``/``red``).
    :ivar facts: name of the fact list the rule reads (``tests``, ``contacts``,
        ``quarantine``, ``declarations``, ``risk_stays``, ``trip_stays``, ``vaccinations``).
    :ivar match: CertLogic expression over ``{"fact": <one element>, "at": <ISO UTC>}``;
        the rule fires when it is true for at least one element.
    :ivar clears: CertLogic expression over the same data giving the ISO instant
        when that element stops counting, or null (cleared only by new facts).
    :ivar summary: ``{"zh": …, "en": …}``; :ivar source: published rule it follows.
    """

    id: str
    version: str
    colour: Colour
    facts: str
    match: Any
    clears: Any
    summary: dict[str, str]
    source: str
    effective_from: datetime | None = None
    effective_until: datetime | None = None


@dataclass(frozen=True)
class RuleSet:
    """An ordered set of rules with its own id/version and effective period."""

    id: str
    version: str
    rules: tuple[Rule, ...]
    summary: dict[str, str] = field(default_factory=dict)
    effective_from: datetime | None = None
    effective_until: datetime | None = None

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


@dataclass(frozen=True)
class Reason:
    """Why a rule fired: the rule and the facts (display-safe summaries) it used."""

    rule_id: str
    colour: Colour
    summary: dict[str, str]
    facts: tuple[dict[str, Any], ...]
    clears_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "colour": self.colour.value,
            "summary": dict(self.summary),
            "facts": [dict(f) for f in self.facts],
            "clears_at": self.clears_at.isoformat() if self.clears_at else None,
        }


@dataclass(frozen=True)
class Verdict:
    """Result of evaluating a rule set: colour, status code, reasons, clearing time (UTC)."""

    colour: Colour
    reasons: tuple[Reason, ...]
    clears_at: datetime | None
    ruleset: str

    @property
    def status_code(self) -> str:
        return self.colour.status_code
