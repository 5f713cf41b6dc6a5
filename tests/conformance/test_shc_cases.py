"""SMART Health Cards conformance: one test per case of ``vectors/shc/CASES.json``.

Each case runs at its ``validation_time`` with the issuers of the file's table
(``iss`` → local ``jwks.json``; CRLs found next to each key set are loaded too):

- ``accept`` → valid, no warnings; ``accept-with-warnings`` → valid with warnings;
  ``reject`` → invalid; ``reject-key`` → loading the key set refuses it.
- Skipped with their reason: ``unasserted`` cases, inputs out of scope (unsigned
  ``jwspayload``/``fhirbundle`` documents, SMART Health Links, SVG images) and
  cases whose ``requires`` asks for the QR symbol's segment/mode structure.

Input types: ``jws`` and ``qrnumeric`` text files, ``healthcard`` files (every
card in the file must meet the outcome), ``fhirhealthcard`` Parameters, ``qr``
PNG/JPEG images (decoded with :mod:`healthcode.credentials.qr`), ``keyset``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from healthcode.credentials import shc
from healthcode.credentials.errors import CredentialError, IssuerKeysInvalid
from healthcode.credentials.pipeline import verify
from healthcode.credentials.qr import decode_image
from healthcode.credentials.report import VerificationReport
from healthcode.credentials.trust import TrustStore
from healthcode.credentials.trustload import load_shc_crls, load_shc_keysets
from tests.conformance.tally import TALLY
from tests.support.shared import shared_root

SUITE = "shc"
ROOT = shared_root() / "vectors" / "shc"
OUT_OF_SCOPE_TYPES = {
    "jwspayload": "an unsigned JWS payload document is not a credential a verifier scans",
    "fhirbundle": "an unsigned FHIR bundle is not a credential a verifier scans",
    "shlink": "SMART Health Links are out of scope",
    "shlpayload": "SMART Health Links are out of scope",
    "shlmanifest": "SMART Health Links are out of scope",
    "shlfile": "SMART Health Links are out of scope",
}


def load_cases() -> tuple[list[dict[str, Any]], dict[str, str]]:
    path = ROOT / "CASES.json"
    if not path.exists():
        return [], {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    return doc["cases"], doc["issuers"]


CASES, ISSUERS = load_cases()


def skip_reason(case: dict[str, Any]) -> str | None:
    if case["expected_outcome"] == "unasserted":
        return f"unasserted upstream: {case.get('notes', '')}"
    if case["input_type"] in OUT_OF_SCOPE_TYPES:
        return OUT_OF_SCOPE_TYPES[case["input_type"]]
    for need in case.get("requires") or []:
        if "SVG" in need:
            return "SVG images are out of scope"
        if "segment" in need:
            return "needs the QR symbol's segment/mode structure (out of scope)"
        if "SMART Health Links" in need:
            return "SMART Health Links are out of scope"
    return None


def trust_for(case: dict[str, Any]) -> TrustStore:
    """Issuers from the table (``<case>`` templates expanded over existing folders)."""
    specs: list[tuple[str, Path]] = []
    for iss, rel in ISSUERS.items():
        if "<case>" in iss:
            base = rel.split("<case>")[0]
            for folder in sorted((ROOT / base).iterdir()):
                jwks = ROOT / rel.replace("<case>", folder.name)
                if jwks.exists():
                    specs.append((iss.replace("<case>", folder.name), jwks))
        elif (ROOT / rel).exists():
            specs.append((iss, ROOT / rel))
    directory = (case.get("options") or {}).get("issuer_directory")
    if directory is not None:
        listed: set[str] = set()
        if (ROOT / directory).is_file():
            doc = json.loads((ROOT / directory).read_text(encoding="utf-8"))
            listed = {i["iss"] for i in doc.get("participating_issuers", [])}
        specs = [(iss, p) for iss, p in specs if iss in listed]
    trust = load_shc_keysets(specs)
    crls = [p for _, jwks in specs for p in sorted((jwks.parent / "crl").glob("*.json"))]
    return load_shc_crls(crls, trust=trust)


def reports_for(case: dict[str, Any], trust: TrustStore, at: datetime) -> list[VerificationReport]:
    inputs = [ROOT / p for p in case["inputs"]]
    kind = case["input_type"]
    if kind in ("jws", "qrnumeric"):
        cards = [p for p in inputs if ".well-known" not in p.parts]
        texts = [p.read_bytes().decode("utf-8", errors="replace") for p in cards]
        return [verify(texts, trust=trust, at=at)]
    if kind == "healthcard":
        return shc.verify_file(inputs[0].read_bytes(), name=inputs[0].name, trust=trust, at=at)
    if kind == "fhirhealthcard":
        texts = shc.texts_from_parameters(inputs[0].read_bytes())
        return [verify([t], trust=trust, at=at) for t in texts]
    if kind == "qr":
        texts: list[str] = []
        try:
            images = [path.read_bytes() for path in inputs if path.suffix != ".json"]
            for image in images:
                texts.extend(decode_image(image))
            shc.check_qr_symbols(images)
        except CredentialError as exc:
            report = VerificationReport.start("unknown", ["picture", "prefix"])
            report.fail("picture", exc.code)
            return [report]
        return [verify(texts, trust=trust, at=at, picture=True)]
    raise AssertionError(f"unhandled input type {kind}")


@pytest.mark.skipif(not CASES, reason="SHC cases not found (set HEALTHCODE_SHARED)")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_shc_case(case: dict[str, Any]) -> None:
    reason = skip_reason(case)
    if reason:
        TALLY.skip(SUITE, f"{case['id']}: {reason}")
        pytest.skip(reason)
    expected = case["expected_outcome"]
    at = datetime.fromtimestamp(case["validation_time"], UTC)

    if case["input_type"] == "keyset":
        san = (case.get("options") or {}).get("expected_subject_alt_name")
        data = (ROOT / case["inputs"][0]).read_bytes()
        try:
            shc.validate_keyset(shc.parse_keyset(data), iss=None, expected_san=san)
            refused = None
        except IssuerKeysInvalid as exc:
            refused = exc.message
        ok = (refused is not None) == (expected == "reject-key")
        TALLY.record(SUITE, "keyset", ok, case["id"])
        assert ok, f"{case['id']}: expected {expected}, key set refused={refused}"
        return

    trust = trust_for(case)
    reports = reports_for(case, trust, at)
    problems = []
    for report in reports:
        valid = report.verdict == "valid"
        if expected == "accept":
            good = valid and not report.warnings
        elif expected == "accept-with-warnings":
            good = valid and bool(report.warnings)
        else:
            good = not valid
        if not good:
            problems.append(report.to_dict())
        for stage, value in report.stages.items():
            if value is not None:
                TALLY.record(SUITE, stage, value is not False or expected != "accept", case["id"])
    TALLY.record(SUITE, f"outcome:{expected}", not problems, case["id"])
    assert not problems, f"{case['id']}: expected {expected}, got {problems}"
