"""Loading EU DCC business rules: every entry is checked against the DCC Gateway rule
format, and a malformed one refuses the whole file with a per-entry report — it is
never silently skipped (a rule that vanished would accept what it should refuse)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from healthcode.credentials import dcc_rules
from healthcode.credentials.dcc_rules import RulesInvalid, check_rules, validate_rules
from healthcode.credentials.trustload import MAX_RULES_BYTES, load_dcc_rules
from healthcode.errors import FileUnreadable

EXAMPLE = Path(dcc_rules.__file__).parents[1] / "rules" / "data" / "dcc-example-rules.json"
RULES: list[dict[str, Any]] = json.loads(EXAMPLE.read_text(encoding="utf-8"))


def one(rule: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(field, message) of the problems of a file holding only ``rule``."""
    return [(p["field"], p["message"]) for p in validate_rules([rule])]


def changed(**fields: Any) -> dict[str, Any]:
    rule = copy.deepcopy(RULES[0])  # TR-CN-0001, Acceptance, Test
    rule.update(fields)
    return rule


def test_the_example_rule_set_is_valid() -> None:
    assert validate_rules(RULES) == []
    assert check_rules(RULES) == RULES
    assert validate_rules([]) == []  # an empty set is a valid (if useless) file


@pytest.mark.parametrize(
    ("doc", "shape"),
    [({"Identifier": "TR-CN-0001"}, "an object"), ("rules", "a string"), (None, "null")],
)
def test_a_file_that_is_not_an_array_is_refused(doc: Any, shape: str) -> None:
    problems = validate_rules(doc)
    assert problems == [
        {
            "index": None,
            "identifier": None,
            "field": None,
            "message": f"business rules are a JSON array of rules, not {shape}",
        }
    ]
    with pytest.raises(RulesInvalid, match=f"rules.json: .*not {shape}") as info:
        check_rules(doc, name="rules.json")
    assert info.value.code == "rules-invalid" and info.value.status == 400


def test_missing_members_are_named_together() -> None:
    rule = changed()
    del rule["Description"], rule["Logic"]
    assert one(rule) == [(None, "missing Description, Logic")]


def test_unknown_members_are_refused_but_region_is_allowed() -> None:
    assert one(changed(Region="BJ")) == []
    assert one(changed(Validto="2030-01-01T00:00:00Z")) == [
        ("Validto", "unknown member (the rule format has no such field)")
    ]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"Identifier": "rule-1"}, "Identifier", "like VR-CN-0001"),
        ({"Identifier": 7}, "Identifier", "not 7"),
        ({"Country": "cn"}, "Country", "ISO 3166-1 alpha-2"),
        ({"Version": "1.0"}, "Version", "x.y.z"),
        ({"SchemaVersion": 1.3}, "SchemaVersion", "x.y.z"),
        ({"EngineVersion": ""}, "EngineVersion", "x.y.z"),
        ({"Type": "acceptance"}, "Type", "Acceptance or Invalidation"),
        ({"CertificateType": "Vaccine"}, "CertificateType", "General, Test, Vaccination"),
        ({"Engine": "JSONLOGIC"}, "Engine", "must be CERTLOGIC"),
        ({"Description": []}, "Description", "non-empty array"),
        ({"Description": "negative test"}, "Description", "non-empty array"),
        ({"Description": [{"lang": "en", "desc": ""}]}, "Description[0]", "non-empty text"),
        ({"Description": [{"lang": "English", "desc": "x"}]}, "Description[0]", "language code"),
        ({"Description": [{"desc": "no language"}]}, "Description[0]", "language code"),
        ({"ValidFrom": "2021-06-01"}, "ValidFrom", "date-time with offset"),
        ({"ValidTo": "2030-06-01T00:00:00"}, "ValidTo", "date-time with offset"),
        ({"ValidTo": "2021-05-01T00:00:00Z"}, "ValidTo", "after ValidFrom"),
        ({"AffectedFields": "t.0.tr"}, "AffectedFields", "array of field paths"),
        ({"AffectedFields": ["t.0", 3]}, "AffectedFields", "array of field paths"),
        ({"Logic": True}, "Logic", "operation object"),
        ({"Logic": {"or": [True, False]}}, "Logic", 'unrecognised operator: "or"'),
        ({"Logic": {"plusTime": [{"var": "x"}, 1, "week"]}}, "Logic", "operand #3"),
    ],
)
def test_each_member_is_checked(fields: dict[str, Any], field: str, words: str) -> None:
    problems = one(changed(**fields))
    assert [f for f, _ in problems] == [field], problems
    assert words in problems[0][1]


def test_identifier_agrees_with_country_and_type() -> None:
    assert one(changed(Identifier="TR-DE-0001")) == [
        ("Identifier", "names country DE, but Country is CN")
    ]
    assert one(changed(Identifier="VR-CN-0001")) == [
        ("Identifier", "a Test rule's identifier starts with TR")
    ]
    assert one(changed(Identifier="TR-CN-0009", Type="Invalidation")) == [
        ("Identifier", "an Invalidation rule's identifier starts with IR")
    ]
    assert one(changed(Identifier="IR-CN-0001", Type="Invalidation")) == []
    assert one(changed(Identifier="GR-CN-0001", CertificateType="General")) == []


def test_the_same_identifier_and_version_twice_is_refused() -> None:
    problems = validate_rules([RULES[0], RULES[1], copy.deepcopy(RULES[0])])
    assert problems == [
        {
            "index": 2,
            "identifier": "TR-CN-0001",
            "field": None,
            "message": "same Identifier and Version as entry 0",
        }
    ]
    assert validate_rules([RULES[0], changed(Version="1.1.0")]) == []  # a newer version


def test_the_report_names_every_bad_entry_by_index_and_identifier() -> None:
    doc = [RULES[0], {"Identifier": "VR-CN-0009"}, 5, changed(Identifier="TR-CN-0009", Country="C")]
    with pytest.raises(RulesInvalid) as info:
        check_rules(doc, name="rules.json")
    errors = info.value.details["errors"]
    assert [(e["index"], e["identifier"]) for e in errors] == [
        (1, "VR-CN-0009"),
        (2, None),
        (3, "TR-CN-0009"),
    ]
    assert errors[1]["message"] == "a rule is a JSON object, not a number"
    assert errors[2]["field"] == "Country"
    assert info.value.message == (
        "rules.json: 3 of 4 rule(s) are not valid DCC business rules (3 problem(s)); "
        "nothing was evaluated"
    )


def test_long_values_are_cut_in_messages() -> None:
    (problem,) = one(changed(Version="9" * 5000))
    assert len(problem[1]) < 120


# --- the file loader ---------------------------------------------------------------
def test_load_dcc_rules_reads_the_example_and_a_bom(tmp_path: Path) -> None:
    assert load_dcc_rules(EXAMPLE) == RULES
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert load_dcc_rules(bom) == RULES


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"[" * 100_000, "nested too deeply"),
        (b"{", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b"[NaN]", "NaN is not a JSON value"),
        (b'{"rules": []}', "JSON array of rules, not an object"),
    ],
)
def test_load_dcc_rules_refuses_unusable_files(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "rules.json"
    path.write_bytes(content)
    with pytest.raises(RulesInvalid, match=words):
        load_dcc_rules(path)


def test_load_dcc_rules_bounds_the_size_and_names_unreadable_files(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b"[" + b" " * MAX_RULES_BYTES + b"]")
    with pytest.raises(RulesInvalid, match="larger than"):
        load_dcc_rules(big)
    with pytest.raises(FileUnreadable, match="missing.json: cannot read"):
        load_dcc_rules(tmp_path / "missing.json")
    with pytest.raises(FileUnreadable, match="cannot read"):
        load_dcc_rules(tmp_path)  # a directory
