"""Each shipped rule against its own case file (tests/rules/cases/<rule id>.json)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from healthcode.clock import parse_instant
from healthcode.credentials.model import Colour
from healthcode.rules.engine import RuleSetInvalid, evaluate, load_default_ruleset, parse_rule

CASES = Path(__file__).with_name("cases")
RULESET = load_default_ruleset()


def all_cases():
    for rule in RULESET.rules:
        path = CASES / f"{rule.id}.json"
        for case in json.loads(path.read_text(encoding="utf-8")):
            yield pytest.param(rule, case, id=f"{rule.id}: {case['name']}")


def test_every_rule_has_a_case_file_and_no_orphans():
    ids = {r.id for r in RULESET.rules}
    files = {p.stem for p in CASES.glob("*.json")}
    assert ids == files


@pytest.mark.parametrize("rule, case", list(all_cases()))
def test_rule_case(rule, case):
    only = replace(RULESET, rules=(rule,))
    verdict = evaluate(only, case["facts"], at=parse_instant(case["at"]))
    if case["expect"]["fires"]:
        assert verdict.colour is rule.colour
        assert [r.rule_id for r in verdict.reasons] == [rule.id]
        assert verdict.clears_at == parse_instant(case["expect"]["clears_at"])
        assert verdict.reasons[0].facts  # the facts used are reported
    else:
        assert verdict.colour is Colour.GREEN and verdict.reasons == ()


def test_most_severe_colour_wins_and_clears_when_the_last_reason_clears():
    facts = {
        "contacts": [{"kind": "secondary", "listed_at": "2022-11-19T12:00:00+08:00"}],
        "tests": [{"kind": "pcr", "result": "positive", "sampled_at": "2022-11-18T12:00:00+08:00"}],
    }
    v = evaluate(RULESET, facts, at=parse_instant("2022-11-20T12:00:00+08:00"))
    assert v.colour is Colour.RED and v.status_code == "10"
    assert {r.rule_id for r in v.reasons} == {"HC-R-0002", "HC-R-0004"}
    assert v.clears_at == parse_instant("2022-11-26T12:00:00+08:00")


def test_no_facts_is_green_00():
    v = evaluate(RULESET, {}, at=parse_instant("2022-11-20T12:00:00+08:00"))
    assert (v.colour, v.status_code, v.reasons, v.clears_at) == (Colour.GREEN, "00", (), None)


def test_every_rule_names_its_source_and_summaries():
    for r in RULESET.rules:
        assert r.source and r.summary["zh"] and r.summary["en"]


@pytest.mark.parametrize(
    "bad",
    [
        {"colour": "green"},
        {"facts": "passwords"},
        {"match": {"eval": ["__import__('os')"]}},
        {"summary": {"en": "no chinese"}},
    ],
)
def test_invalid_rule_data_is_refused(bad):
    good = json.loads(
        (Path("healthcode/rules/data/default") / "HC-R-0004.json").read_text(encoding="utf-8")
    )
    with pytest.raises(RuleSetInvalid):
        parse_rule({**good, **bad})
