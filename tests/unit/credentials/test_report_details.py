"""What reports carry for display: a DCC's validity end and transliterated name parts, an
SHC's immunizations and lab results, and a note when the verifier's own configured trust
could not be loaded."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from healthcode.credentials import shc
from healthcode.credentials.report import VerificationReport
from healthcode.credentials.trust import TrustStore
from tests.support.shared import shared_path
from tests.unit.credentials.test_hcert import AT, Issuer, check, vaccination


# --- EU DCC ------------------------------------------------------------------------------------
def test_a_dcc_names_its_parts_and_their_transliteration_and_its_end() -> None:
    issuer = Issuer()
    payload = vaccination(
        nam={"fn": "买买提", "fnt": "MAIMAITI", "gn": "阿依古丽", "gnt": "AYIGULI"}
    )
    report = check(issuer.code(payload, exp=AT + timedelta(days=30)), issuer.trust)
    assert report.verdict == "valid"
    assert report.holder["family_name"] == "买买提" and report.holder["given_name"] == "阿依古丽"
    assert report.holder["family_name_transliterated"] == "MAIMAITI"
    assert report.holder["given_name_transliterated"] == "AYIGULI"
    assert report.details["expires_at"] == (AT + timedelta(days=30)).isoformat()
    assert "valid_until" not in report.details  # that one only says when validity ended


def test_a_latin_name_has_no_transliteration_twice() -> None:
    issuer = Issuer()
    report = check(issuer.code(vaccination(nam={"fnt": "ZHANG", "gnt": "SAN"})), issuer.trust)
    assert report.holder["family_name"] == "ZHANG"
    assert "family_name_transliterated" not in report.holder


# --- SMART Health Cards ------------------------------------------------------------------------
def test_records_of_the_spec_example_card() -> None:
    payload = json.loads(
        shared_path(
            "vectors", "shc", "spec-examples", "example-00-b-jws-payload-expanded.json"
        ).read_text(encoding="utf-8")
    )
    records = shc.describe_bundle(payload["vc"]["credentialSubject"])
    assert records[0] == {
        "type": "immunization",
        "vaccine": {"system": "http://hl7.org/fhir/sid/cvx", "code": "207"},
        "date": "2021-01-01",
        "lot": "0000001",
        "performer": "ABC General Hospital",
    }
    assert [r["vaccine"]["code"] for r in records] == ["207", "207", "229"]


def _bundle(*resources: Any) -> dict[str, Any]:
    entries = [{"fullUrl": f"resource:{i}", "resource": r} for i, r in enumerate(resources)]
    return {"fhirBundle": {"resourceType": "Bundle", "type": "collection", "entry": entries}}


def test_lab_results_with_a_coded_or_a_written_result() -> None:
    coded = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://loinc.org", "code": "94558-4"}]},
        "effectiveDateTime": "2024-05-01T08:00:00Z",
        "valueCodeableConcept": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "260385009", "display": "Negative"}
            ]
        },
        "performer": [{"display": "Lab"}],
    }
    written = {"resourceType": "Observation", "code": {"text": "PCR"}, "valueString": "negative"}
    assert shc.describe_bundle(_bundle({"resourceType": "Patient"}, coded, written)) == [
        {
            "type": "observation",
            "test": {"system": "http://loinc.org", "code": "94558-4"},
            "result": {"system": "http://snomed.info/sct", "code": "260385009", "display": "Negative"},
            "date": "2024-05-01T08:00:00Z",
            "performer": "Lab",
        },
        {"type": "observation", "test": {"text": "PCR"}, "value": "negative"},
    ]  # fmt: skip


def test_records_of_hostile_bundles_never_raise_and_are_bounded() -> None:
    for subject in ({}, {"fhirBundle": []}, {"fhirBundle": {"entry": "x"}}, _bundle(1, None, [])):
        assert shc.describe_bundle(subject) == []
    odd = {
        "resourceType": "Immunization",
        "vaccineCode": [],
        "occurrenceDateTime": 5,
        "performer": [1],
    }
    assert shc.describe_bundle(_bundle(odd)) == [{"type": "immunization", "vaccine": {}}]
    many = _bundle(*[{"resourceType": "Immunization"}] * 50)
    assert len(shc.describe_bundle(many)) == shc.MAX_RECORDS


# --- the verifier's own trust ---------------------------------------------------------------
UNAVAILABLE = [{"format": "hc1", "setting": "HEALTHCODE_DCC_TRUST", "file": "de.pem", "code": "x"}]


def test_unavailable_trust_is_noted_only_when_the_signer_was_not_found() -> None:
    unknown = Issuer()
    report = check(unknown.code(), TrustStore())
    report.note_unavailable_trust(UNAVAILABLE)
    assert "foreign-trust-unavailable" in report.warnings
    assert report.details["trust_unavailable"] == UNAVAILABLE

    trusted = Issuer()
    ok = check(trusted.code(), trusted.trust)
    ok.note_unavailable_trust(UNAVAILABLE)  # not the reason of anything
    assert "foreign-trust-unavailable" not in ok.warnings

    shc_report = VerificationReport.start("shc", ["signer"])
    shc_report.fail("signer", "unknown-issuer")
    shc_report.note_unavailable_trust(UNAVAILABLE)  # DCC trust says nothing about an SHC
    assert shc_report.warnings == []


def test_a_dcc_lists_its_entries_without_value_sets_too() -> None:
    issuer = Issuer()
    report = check(issuer.code(), issuer.trust)  # no value sets: codes are not named
    (entry,) = report.details["certificate"]
    assert entry["mp"] == "EU/1/20/1528" and "mp_name" not in entry
