"""Rules → status: evaluate a rule set over a holder's facts at an instant. Pure.

``evaluate(ruleset, facts, at=...)``: for each rule in force at ``at``, the
rule's ``match`` expression (CertLogic, :mod:`healthcode.rules.logic`, with the
``some``/``all`` extensions and an operation budget) is evaluated for every
element of the fact list it names, with data ``{"fact": element, "at": at}``.
The colour is the most severe of the fired rules (green when none fires); the
status clears when the last fired element clears (``clears``), or never by time
when some fired element has no clearing instant.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from healthcode.clock import parse_instant
from healthcode.credentials.model import SEVERITY, Colour
from healthcode.errors import InputError
from healthcode.rules import logic
from healthcode.rules.model import Reason, Rule, RuleSet, Verdict

#: CertLogic operations one rule may spend on one fact element.
RULE_BUDGET = 2_000
FACT_LISTS = {
    "tests", "vaccinations", "declarations", "contacts", "quarantine", "risk_stays", "trip_stays",
}  # fmt: skip


class RuleSetInvalid(InputError):
    code = "ruleset-invalid"


def _instant(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_instant(str(value))
    except ValueError as exc:
        raise RuleSetInvalid(f"{what}: not an ISO-8601 instant with offset: {value!r}") from exc


def parse_rule(d: dict[str, Any]) -> Rule:
    """Validate one rule's JSON.

    :raises RuleSetInvalid: missing fields, unknown colour or fact list, invalid logic.
    """
    try:
        colour = Colour(d["colour"])
        if colour is Colour.GREEN:
            raise RuleSetInvalid(f"{d['id']}: a rule gives yellow or red; green is the default")
        if d["facts"] not in FACT_LISTS:
            raise RuleSetInvalid(f"{d['id']}: unknown fact list {d['facts']!r}")
        for part in ("match", "clears"):
            problems = logic.validate(d[part], extensions=True)
            if problems:
                raise RuleSetInvalid(f"{d['id']}.{part}: {'; '.join(problems)}")
        summary = d["summary"]
        if not isinstance(summary, dict) or not {"zh", "en"} <= set(summary):
            raise RuleSetInvalid(f"{d['id']}: summary needs zh and en")
        return Rule(
            id=str(d["id"]),
            version=str(d["version"]),
            colour=colour,
            facts=d["facts"],
            match=d["match"],
            clears=d["clears"],
            summary={"zh": str(summary["zh"]), "en": str(summary["en"])},
            source=str(d.get("source", "")),
            effective_from=_instant(d.get("effective_from"), f"{d['id']}.effective_from"),
            effective_until=_instant(d.get("effective_until"), f"{d['id']}.effective_until"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RuleSetInvalid(f"rule {d.get('id', '?')!r}: {exc}") from exc


def parse_ruleset(d: dict[str, Any], rules: list[dict[str, Any]]) -> RuleSet:
    """Build a :class:`RuleSet` from its header and its rules' JSON.

    :raises RuleSetInvalid: invalid header or rule, duplicate rule id.
    """
    parsed = [parse_rule(r) for r in rules]
    ids = [r.id for r in parsed]
    if len(set(ids)) != len(ids):
        raise RuleSetInvalid("duplicate rule id in rule set")
    try:
        return RuleSet(
            id=str(d["id"]),
            version=str(d["version"]),
            rules=tuple(parsed),
            summary=dict(d.get("summary", {})),
            effective_from=_instant(d.get("effective_from"), "effective_from"),
            effective_until=_instant(d.get("effective_until"), "effective_until"),
        )
    except KeyError as exc:
        raise RuleSetInvalid(f"rule set header: missing {exc}") from exc


def load_default_ruleset() -> RuleSet:
    """The shipped rule set (``healthcode/rules/data/default/``); see ``docs/rules.md``."""
    folder = resources.files("healthcode.rules").joinpath("data", "default")
    header = json.loads(folder.joinpath("ruleset.json").read_text(encoding="utf-8"))
    rules = [
        json.loads(folder.joinpath(f"{rid}.json").read_text(encoding="utf-8"))
        for rid in header["rules"]
    ]
    return parse_ruleset(header, rules)


def _in_force(start: datetime | None, end: datetime | None, at: datetime) -> bool:
    return (start is None or start <= at) and (end is None or at < end)


def evaluate(ruleset: RuleSet, facts: dict[str, list[dict[str, Any]]], *, at: datetime) -> Verdict:
    """Evaluate ``ruleset`` over ``facts`` at ``at`` (aware UTC).

    :param facts: fact-list name → list of JSON-like dicts; times are ISO-8601 strings with offsets.
    :raises RuleSetInvalid: a rule's logic fails at run time (bad types, budget exceeded).
    """
    at_s = at.isoformat()
    reasons: list[Reason] = []
    for rule in ruleset.rules:
        if not _in_force(rule.effective_from, rule.effective_until, at):
            continue
        used: list[dict[str, Any]] = []
        clears: list[datetime | None] = []
        for element in facts.get(rule.facts, ()):
            data = {"fact": element, "at": at_s}
            try:
                fired = logic.evaluate(
                    rule.match, data, budget=RULE_BUDGET, extensions=True, checked=True
                )
                if not _truthy(fired):
                    continue
                until = logic.evaluate(
                    rule.clears, data, budget=RULE_BUDGET, extensions=True, checked=True
                )
            except logic.CertLogicError as exc:
                raise RuleSetInvalid(f"{rule.id}: {exc}") from exc
            used.append(element)
            clears.append(_instant(until, f"{rule.id}.clears") if until else None)
        if used:
            clears_at = None if any(c is None for c in clears) else max(c for c in clears if c)
            reasons.append(Reason(rule.id, rule.colour, rule.summary, tuple(used), clears_at))
    if not reasons:
        return Verdict(Colour.GREEN, (), None, ruleset.ref)
    colour = max((r.colour for r in reasons), key=lambda c: SEVERITY[c])
    all_clear = [r.clears_at for r in reasons]
    clears_at = None if any(c is None for c in all_clear) else max(c for c in all_clear if c)
    return Verdict(colour, tuple(reasons), clears_at, ruleset.ref)


def _truthy(value: Any) -> bool:
    """CertLogic truthiness (spec §"Truthy and falsy")."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True
