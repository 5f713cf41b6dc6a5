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
A rule passes when its logic gives the boolean ``true`` and fails on ``false``;
any other result (a date-time, an object, ``null``, a number …: a business
rule's result is a boolean, and CertLogic calls date-times neither truthy nor
falsy) and a rule that cannot be evaluated (invalid logic, wrong types, more work
than :data:`RULE_BUDGET`) are ``open``, with the reason in ``error``, which — as
the CertLogic specification advises — does not accept the certificate (the EU
verifier apps treat a non-boolean result as open too).

Loading: :func:`validate_rules` checks a rule file's content against this
format before anything is evaluated (:func:`check_rules` raises
:class:`RulesInvalid` with one entry per problem), so a malformed rule is
never silently skipped.

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
from healthcode.errors import InputError
from healthcode.rules.logic import CertLogicError, evaluate, validate

__all__ = [
    "RuleResult",
    "RulesInvalid",
    "check_rules",
    "evaluate_rules",
    "first_error",
    "rule_data",
    "select_rules",
    "validate_rules",
]

_UTC_ZONE = ZoneInfo("UTC")
TYPE_NAMES = {"v": "Vaccination", "t": "Test", "r": "Recovery"}
#: Work one rule may do (CertLogic budget: operations, array elements copied,
#: searched or walked; see :func:`healthcode.rules.logic.evaluate`), in units.
RULE_BUDGET = 20_000

#: Members every rule must have (DCC Gateway validation-rule format); ``Region`` is optional.
REQUIRED_FIELDS = (
    "Identifier",
    "Type",
    "Country",
    "Version",
    "SchemaVersion",
    "Engine",
    "EngineVersion",
    "CertificateType",
    "Description",
    "ValidFrom",
    "ValidTo",
    "AffectedFields",
    "Logic",
)
OPTIONAL_FIELDS = ("Region",)
RULE_TYPES = ("Acceptance", "Invalidation")
CERTIFICATE_TYPES = ("General", "Test", "Vaccination", "Recovery")
#: Identifier prefix of each certificate type (``IR`` is for ``Invalidation`` rules).
ID_PREFIXES = {"General": "GR", "Test": "TR", "Vaccination": "VR", "Recovery": "RR"}
_IDENTIFIER = re.compile(r"^(GR|VR|TR|RR|IR)-([A-Z]{2})-\d{4}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SEMVER = re.compile(r"^\d{1,9}\.\d{1,9}\.\d{1,9}$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_REGION = re.compile(r"^[A-Z0-9]{0,5}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


class RulesInvalid(InputError):
    """A business-rule file that cannot be used: not a JSON array, or entries that are
    not rules of the DCC Gateway format. ``details["errors"]`` lists every problem as
    ``{"index", "identifier", "field", "message"}`` (``index``: 0-based position in the
    array; ``identifier``: the entry's ``Identifier`` when it has a string one, else None;
    ``field``: the member concerned, None for the entry as a whole). Exit code 2.
    """

    code = "rules-invalid"
    status = 400


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
            "descriptions": dict(self.descriptions),
            "affected_fields": list(self.affected_fields),
            **({"error": self.error} if self.error else {}),
        }


def _rule_problems(rule: Any) -> list[tuple[str | None, str]]:
    """``(field, message)`` for everything that keeps ``rule`` from being a valid rule."""
    if not isinstance(rule, Mapping):
        return [(None, f"a rule is a JSON object, not {_json_type(rule)}")]
    out: list[tuple[str | None, str]] = []
    missing = [name for name in REQUIRED_FIELDS if name not in rule]
    if missing:
        out.append((None, "missing " + ", ".join(missing)))
    for name in rule:
        if name not in REQUIRED_FIELDS and name not in OPTIONAL_FIELDS:
            out.append((str(name), "unknown member (the rule format has no such field)"))

    def text(name: str, pattern: re.Pattern[str], shape: str) -> str | None:
        value = rule.get(name)
        if name not in rule:
            return None
        if not isinstance(value, str) or not pattern.match(value):
            out.append((name, f"must be {shape}, not {_show(value)}"))
            return None
        return value

    ident = text("Identifier", _IDENTIFIER, "like VR-CN-0001 (GR|VR|TR|RR|IR, country, 4 digits)")
    country = text("Country", _COUNTRY, "an ISO 3166-1 alpha-2 code in capitals")
    text("Version", _SEMVER, "a version x.y.z")
    text("SchemaVersion", _SEMVER, "a DCC schema version x.y.z")
    text("EngineVersion", _SEMVER, "a version x.y.z")
    if "Region" in rule:
        text("Region", _REGION, "up to 5 capitals or digits")
    rule_type = rule.get("Type")
    if "Type" in rule and rule_type not in RULE_TYPES:
        out.append(("Type", f"must be Acceptance or Invalidation, not {_show(rule_type)}"))
    cert_type = rule.get("CertificateType")
    if "CertificateType" in rule and cert_type not in CERTIFICATE_TYPES:
        out.append(
            (
                "CertificateType",
                f"must be General, Test, Vaccination or Recovery, not {_show(cert_type)}",
            )
        )
    if "Engine" in rule and rule.get("Engine") != "CERTLOGIC":
        out.append(
            ("Engine", f"must be CERTLOGIC (the only engine), not {_show(rule.get('Engine'))}")
        )
    match = _IDENTIFIER.match(ident) if ident is not None else None
    if match is not None:
        prefix, id_country = match.groups()
        if country is not None and id_country != country:
            out.append(("Identifier", f"names country {id_country}, but Country is {country}"))
        if rule_type == "Invalidation" and prefix != "IR":
            out.append(("Identifier", "an Invalidation rule's identifier starts with IR"))
        elif rule_type == "Acceptance" and isinstance(cert_type, str):
            wanted = ID_PREFIXES.get(cert_type)
            if wanted and prefix != wanted:
                out.append(("Identifier", f"a {cert_type} rule's identifier starts with {wanted}"))
    if "Description" in rule:
        items = rule.get("Description")
        if not isinstance(items, list) or not items:
            out.append(("Description", 'must be a non-empty array of {"lang", "desc"}'))
        else:
            for i, item in enumerate(items):
                if (
                    not isinstance(item, Mapping)
                    or set(item) != {"lang", "desc"}
                    or not isinstance(item.get("lang"), str)
                    or not _LANG.match(item["lang"])
                    or not isinstance(item.get("desc"), str)
                    or not item["desc"].strip()
                ):
                    out.append(
                        (
                            f"Description[{i}]",
                            'must be {"lang": a language code such as "en", '
                            f'"desc": non-empty text}}, not {_show(item)}',
                        )
                    )
    instants: dict[str, datetime] = {}
    for name in ("ValidFrom", "ValidTo"):
        if name not in rule:
            continue
        value = rule.get(name)
        moment = _instant(value) if isinstance(value, str) and _DATE_TIME.match(value) else None
        if moment is None:
            out.append(
                (
                    name,
                    f"must be an ISO 8601 date-time with offset (2021-06-01T00:00:00Z), not {_show(value)}",
                )
            )
        else:
            instants[name] = moment
    if len(instants) == 2 and instants["ValidTo"] <= instants["ValidFrom"]:
        out.append(("ValidTo", "must be after ValidFrom (the rule would never apply)"))
    if "AffectedFields" in rule:
        fields = rule.get("AffectedFields")
        if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
            out.append(("AffectedFields", f"must be an array of field paths, not {_show(fields)}"))
    if "Logic" in rule:
        logic = rule.get("Logic")
        if not isinstance(logic, Mapping):
            out.append(("Logic", f"must be a CertLogic operation object, not {_show(logic)}"))
        else:
            issues = validate(logic)
            if issues:
                out.append(("Logic", f"invalid CertLogic: {issues[0]}"))
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _show(value: Any) -> str:
    """A short description of a JSON value for messages (never the whole of a large one)."""
    if isinstance(value, str):
        return repr(value[:40] + ("…" if len(value) > 40 else ""))
    if value is None or isinstance(value, bool | int | float):
        return repr(value) if value is not None else "null"
    return _json_type(value)


def validate_rules(doc: Any) -> list[dict[str, Any]]:
    """Every problem of a business-rule file's parsed JSON against the DCC Gateway format.

    Checks (see the module docstring for the format): ``doc`` is an array; each entry is an
    object with exactly the required members (``Region`` optional); ``Identifier`` matches
    ``(GR|VR|TR|RR|IR)-CC-NNNN`` with ``CC`` = ``Country`` and the prefix of its type;
    ``Type``, ``CertificateType``, ``Engine`` (``CERTLOGIC``) from their value lists;
    versions ``x.y.z``; ``Description`` a non-empty array of ``{"lang", "desc"}``;
    ``ValidFrom`` < ``ValidTo``, date-times with offset; ``AffectedFields`` strings;
    ``Logic`` valid CertLogic (:func:`healthcode.rules.logic.validate`); no
    ``Identifier``/``Version`` pair twice.

    :param doc: the parsed JSON of the file.
    :returns: ``[{"index", "identifier", "field", "message"}, ...]`` in file order (index
        0-based; identifier None when the entry has no string one; field None for the
        entry as a whole); empty when every rule is valid. An array that is not a list
        gives one problem with index None.
    """
    if not isinstance(doc, list):
        return [
            {
                "index": None,
                "identifier": None,
                "field": None,
                "message": f"business rules are a JSON array of rules, not {_json_type(doc)}",
            }
        ]
    problems: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, rule in enumerate(doc):
        ident = rule.get("Identifier") if isinstance(rule, Mapping) else None
        ident = ident if isinstance(ident, str) else None
        found = _rule_problems(rule)
        if ident is not None and isinstance(rule, Mapping):
            key = (ident, str(rule.get("Version")))
            if key in seen:
                found.append((None, f"same Identifier and Version as entry {seen[key]}"))
            else:
                seen[key] = index
        problems.extend(
            {"index": index, "identifier": ident, "field": field_name, "message": message}
            for field_name, message in found
        )
    return problems


def check_rules(doc: Any, *, name: str = "rules") -> list[dict[str, Any]]:
    """``doc`` as a rule list when :func:`validate_rules` finds nothing wrong.

    :param name: the file's name, for the message.
    :returns: the rules (the same list).
    :raises RulesInvalid: any problem; ``details["errors"]`` holds all of them.
    """
    problems = validate_rules(doc)
    if problems:
        if problems[0]["index"] is None:
            raise RulesInvalid(f"{name}: {problems[0]['message']}")
        entries = len({p["index"] for p in problems})
        raise RulesInvalid(
            f"{name}: {entries} of {len(doc)} rule(s) are not valid DCC business rules "
            f"({len(problems)} problem(s)); nothing was evaluated",
            details={"errors": problems},
        )
    return list(doc)


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
            if value is True or value is False:
                outcome = "passed" if value else "failed"
            else:
                outcome = "open"
                error = f"the rule's logic gave {_result_type(value)}, not true or false"
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


def _result_type(value: Any) -> str:
    if isinstance(value, datetime):
        return "a date-time"
    return _json_type(value)


def first_error(failed: Sequence[RuleResult]) -> RuleFailed:
    """The exception recorded for the ``rules`` stage: names the first failed rule."""
    first = failed[0]
    return RuleFailed(f"{first.identifier}: {first.description}")
