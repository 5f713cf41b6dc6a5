"""EU DCC business rules (the DCC Gateway rule format) evaluated with CertLogic.

A rule is a JSON object::

    {"Identifier": "VR-CN-0001", "Type": "Acceptance", "Country": "CN", "Version": "1.0.0",
     "SchemaVersion": "1.3.0", "Engine": "CERTLOGIC", "EngineVersion": "0.7.5",
     "CertificateType": "Vaccination" | "Test" | "Recovery" | "General",
     "Description": [{"lang": "en", "desc": "..."}],
     "ValidFrom": "2024-01-01T00:00:00Z", "ValidTo": "2030-01-01T00:00:00Z",
     "AffectedFields": ["v.0.dn", ...], "Logic": {...CertLogic...}}

Its data context is ``{"payload": <DCC payload>, "external": {"validationClock",
"valueSets", "countryCode", "exp", "iat"}}`` (all instants as ISO 8601 UTC text).
A rule passes when its logic gives a truthy value; a falsy value fails it; a
rule that cannot be evaluated (invalid logic, wrong types, budget) is ``open``,
which — as the CertLogic specification advises — does not accept the certificate.

Selection (as the EU verifier apps do): ``Acceptance`` rules of the destination
``country`` and ``Invalidation`` rules of the issuing country, of the payload's
certificate type or ``General``, valid at the clock (``ValidFrom`` ≤ clock <
``ValidTo``); of several versions of one ``Identifier`` the highest valid one.
Pure: no files, no clock of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from healthcode.clock import parse_instant
from healthcode.credentials.errors import RuleFailed
from healthcode.rules.logic import CertLogicError, evaluate

__all__ = ["RuleResult", "evaluate_rules", "first_error", "rule_data", "select_rules"]

_UTC_ZONE = ZoneInfo("UTC")
TYPE_NAMES = {"v": "Vaccination", "t": "Test", "r": "Recovery"}
#: Operations one rule may evaluate (CertLogic budget), in count.
RULE_BUDGET = 20_000


@dataclass(frozen=True)
class RuleResult:
    """Outcome of one rule: ``passed`` | ``failed`` | ``open`` (could not be evaluated)."""

    identifier: str
    version: str
    type: str
    country: str
    result: str
    description: str
    descriptions: dict[str, str] = field(default_factory=dict)
    affected_fields: tuple[str, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "version": self.version,
            "type": self.type,
            "country": self.country,
            "result": self.result,
            "description": self.description,
            "affected_fields": list(self.affected_fields),
            **({"error": self.error} if self.error else {}),
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version_key(text: Any) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", str(text))[:3])


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value, default_tz=_UTC_ZONE)
    except ValueError:
        return None


def _issuing_country(payload: Mapping[str, Any]) -> str | None:
    for group in ("v", "t", "r"):
        entries = payload.get(group)
        if isinstance(entries, list) and entries and isinstance(entries[0], Mapping):
            country = entries[0].get("co")
            return country if isinstance(country, str) else None
    return None


def select_rules(
    rules: Sequence[Mapping[str, Any]],
    *,
    at: datetime,
    country: str | None,
    cert_type: str | None,
    issuing_country: str | None = None,
) -> list[Mapping[str, Any]]:
    """The rules that apply (see the module docstring), in identifier order.

    :param country: destination (ISO 3166-1 alpha-2); None applies every ``Acceptance`` rule.
    :param cert_type: ``v``/``t``/``r`` of the payload, or None (only ``General`` rules).
    """
    wanted_type = TYPE_NAMES.get(cert_type or "")
    best: dict[str, Mapping[str, Any]] = {}
    for rule in rules:
        if (
            not isinstance(rule, Mapping)
            or str(rule.get("Engine", "CERTLOGIC")).upper() != "CERTLOGIC"
        ):
            continue
        rule_type = str(rule.get("Type", "Acceptance")).capitalize()
        rule_country = str(rule.get("Country", "")).upper()
        if rule_type == "Acceptance" and country and rule_country != country.upper():
            continue
        if rule_type == "Invalidation" and rule_country != (issuing_country or "").upper():
            continue
        if rule_type not in ("Acceptance", "Invalidation"):
            continue
        ctype = str(rule.get("CertificateType", "General")).capitalize()
        if ctype != "General" and ctype != wanted_type:
            continue
        start, end = _instant(rule.get("ValidFrom")), _instant(rule.get("ValidTo"))
        if (start is not None and at < start) or (end is not None and at >= end):
            continue
        ident = str(rule.get("Identifier", ""))
        current = best.get(ident)
        if current is None or _version_key(rule.get("Version")) > _version_key(
            current.get("Version")
        ):
            best[ident] = rule
    return [best[k] for k in sorted(best)]


def rule_data(
    payload: Mapping[str, Any],
    *,
    at: datetime,
    country: str | None,
    value_sets: Mapping[str, Any],
    iat: float | None,
    exp: float | None,
) -> dict[str, Any]:
    """The CertLogic data context of a DCC business rule."""

    def stamp(seconds: float | None) -> str | None:
        return None if seconds is None else _iso(datetime.fromtimestamp(seconds, UTC))

    return {
        "payload": payload,
        "external": {
            "validationClock": _iso(at),
            "valueSets": {k: list(v) for k, v in value_sets.items()},
            "countryCode": country,
            "exp": stamp(exp),
            "iat": stamp(iat),
        },
    }


def _descriptions(rule: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    items = rule.get("Description")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and isinstance(item.get("desc"), str):
                out.setdefault(str(item.get("lang", "en")), item["desc"])
    return out


def evaluate_rules(
    rules: Sequence[Mapping[str, Any]],
    payload: Mapping[str, Any],
    *,
    at: datetime,
    country: str | None,
    value_sets: Mapping[str, Any],
    iat: float | None,
    exp: float | None,
    cert_type: str | None,
    lang: str = "en",
) -> list[RuleResult]:
    """Evaluate the applicable rules against a DCC payload.

    :param at: the validation clock (aware).
    :param value_sets: valueSetId → list of codes (``external.valueSets``).
    :param iat: CWT issued-at, seconds since the epoch (or None).
    :param exp: CWT expiry, seconds since the epoch (or None).
    :returns: one :class:`RuleResult` per applied rule (never raises for bad rules).
    """
    data = rule_data(payload, at=at, country=country, value_sets=value_sets, iat=iat, exp=exp)
    chosen = select_rules(
        rules,
        at=at,
        country=country,
        cert_type=cert_type,
        issuing_country=_issuing_country(payload),
    )
    results: list[RuleResult] = []
    for rule in chosen:
        descriptions = _descriptions(rule)
        description = descriptions.get(lang) or next(iter(descriptions.values()), "")
        error: str | None = None
        try:
            value = evaluate(rule.get("Logic"), data, budget=RULE_BUDGET)
            outcome = "passed" if value not in (False, None, 0, "", [], {}) else "failed"
        except CertLogicError as exc:
            outcome, error = "open", exc.message
        fields = rule.get("AffectedFields")
        results.append(
            RuleResult(
                identifier=str(rule.get("Identifier", "")),
                version=str(rule.get("Version", "")),
                type=str(rule.get("Type", "Acceptance")),
                country=str(rule.get("Country", "")),
                result=outcome,
                description=description,
                descriptions=descriptions,
                affected_fields=tuple(str(f) for f in fields) if isinstance(fields, list) else (),
                error=error,
            )
        )
    return results


def first_error(failed: Sequence[RuleResult]) -> RuleFailed:
    """The exception recorded for the ``rules`` stage: names the first failed rule."""
    first = failed[0]
    return RuleFailed(f"{first.identifier}: {first.description}")
