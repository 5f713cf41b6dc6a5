"""``healthcode verify`` with trust options built to be ignored or to crash it.

- ``--trust-anchor`` is never silently ignored: with a trust list that is not our signed
  one (our exported list's DSCs copied into an EU DCC list, dropping its revocations) or
  without ``--trust-list`` it is a usage error.
- A key set with a non-string ``x5c`` entry, a DSC of an unknown key algorithm: refused
  with a reason, never an ``internal-error``.
- ``--at`` reads ASCII digits only.
"""

from __future__ import annotations

import json

import pytest

from healthcode.cli.verifying import ClockInvalid, parse_validation_clock
from tests.cli.test_cli import run  # noqa: F401 - the run fixture
from tests.cli.test_ecerts_cli import holder_id  # noqa: F401 - the holder fixture
from tests.support.shared import shared_path
from tests.unit.credentials.test_trust_attacks import ISS, spec_jwks, unknown_algorithm_der


def _json(result) -> dict:
    assert "Traceback" not in result.output and "internal-error" not in result.output
    return json.loads(result.stdout)


def test_the_trust_anchor_is_never_ignored(run, holder_id, tmp_path):  # noqa: F811
    r = run("certificate", holder_id, "--kind", "test", "--json")
    assert r.exit_code == 0, r.output
    dcc = json.loads(r.stdout)
    assert run("certificate", "revoke", dcc["id"], "--reason", "issued in error").exit_code == 0
    assert run("trust", "export", "--out", "trust.json").exit_code == 0
    assert run("trust", "anchor", "--out", "anchor.pem").exit_code == 0
    signed = json.loads((tmp_path / "trust.json").read_text(encoding="utf-8"))
    stripped = [  # the same DSCs as an unsigned EU DCC list: no revocations
        {"kid": e["kid"], "rawData": e["certificate"]}
        for issuer in signed["payload"]["issuers"]
        for e in issuer.get("dcc") or []
    ]
    assert stripped
    (tmp_path / "dcc-list.json").write_text(json.dumps(stripped), encoding="utf-8")
    verify = ("verify", dcc["text"], "--json")

    # our signed list, checked against the anchor: the certificate is revoked
    r = run(*verify, "--trust-list", "trust.json", "--trust-anchor", "anchor.pem", db="other.db")
    assert r.exit_code == 1 and _json(r)["reasons"] == ["revoked"]
    # the stripped list with the anchor: refused, never read as if the anchor had checked it
    r = run(*verify, "--trust-list", "dcc-list.json", "--trust-anchor", "anchor.pem", db="other.db")
    body = _json(r)
    assert r.exit_code == 2 and body["code"] == "trust-list-invalid"
    assert "--trust-anchor applies only to" in body["message"]
    assert "signed healthcode trust list" in body["message"]
    # an anchor without a trust list is not ignored either
    r = run(*verify, "--trust-anchor", "anchor.pem", db="other.db")
    assert r.exit_code == 2 and _json(r)["code"] == "trust-list-invalid"
    # without an anchor an unsigned DCC list is the operator's choice: it carries no
    # revocations (documented), so the revocation stage is not run
    r = run(*verify, "--trust-list", "dcc-list.json", db="other.db")
    report = _json(r)
    assert report["stages"]["signature"] is True and report["stages"]["revocation"] is None


def test_a_key_set_with_a_non_string_x5c_entry_is_refused_with_a_reason(run, tmp_path):  # noqa: F811
    doc = spec_jwks()
    doc["keys"] = [dict(doc["keys"][0], x5c=[123])]
    (tmp_path / "jwks.json").write_text(json.dumps(doc), encoding="utf-8")
    card = str(
        shared_path("vectors", "shc", "spec-examples", "example-00-e-file.smart-health-card")
    )
    for spec in ("jwks.json", f"{ISS}=jwks.json"):
        r = run("verify", card, "--issuer-keys", spec, "--json")
        report = _json(r)
        assert r.exit_code == 1 and report["verdict"] == "invalid"
        (refused,) = report["details"]["refused_key_sets"]
        assert "x5c holds an entry that is not a base64 string" in refused["reason"]


def test_a_dsc_of_an_unknown_key_algorithm_is_a_usage_error(run, tmp_path):  # noqa: F811
    (tmp_path / "dsc.der").write_bytes(unknown_algorithm_der())
    r = run("verify", "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH", "--trust-cert", "dsc.der", "--json")
    body = _json(r)
    assert r.exit_code == 2 and body["code"] == "trust-file-invalid"
    assert body["message"].startswith("dsc.der: certificate 1 (CN=Attack DSC, kid ")


@pytest.mark.parametrize(
    "text",
    [
        "\uff12\uff10\uff12\uff14-05-01",  # full-width digits
        "\u0662\u0660\u0662\u0664-05-01",  # Arabic-Indic digits
        "2024-05-01T\uff11\uff12:00:00Z",
        "2024-05-01T12:00:00+\uff10\uff18:00",
        "2024-05-01T12:00:00.\u0661Z",
    ],
)
def test_the_clock_reads_ascii_digits_only(run, text):  # noqa: F811
    with pytest.raises(ClockInvalid):
        parse_validation_clock(text)
    r = run("verify", "HP1:XX", "--at", text, "--json")
    assert r.exit_code == 2 and _json(r)["code"] == "clock-invalid"
