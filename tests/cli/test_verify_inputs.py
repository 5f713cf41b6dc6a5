"""``healthcode verify``: the options and files it reads, attacked with bad input.

Every unusable option or file is a usage error — exit 2, one JSON object with a stable
code under ``--json`` — never a silently ignored option, a dropped rule, a verification
without the revocation list asked for, or an ``internal-error``. The validation clock
without an offset is UTC, and the text output explains refused key sets and failed rules.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from healthcode.cli.main import cli
from healthcode.cli.verifying import ClockInvalid, parse_validation_clock

EXAMPLE_RULES = Path(__file__).resolve().parents[2] / "healthcode/rules/data/dcc-example-rules.json"
RULES: list[dict[str, Any]] = json.loads(EXAMPLE_RULES.read_text(encoding="utf-8"))
BOM = b"\xef\xbb\xbf"
DEEP = b"[" * 100_000
SHC_ISS = "https://spec.smarthealth.cards/examples/issuer"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEALTHCODE_DB", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, [*args, "--db", "hc.db"], obj={}, catch_exceptions=False)

    return invoke


@pytest.fixture
def hc1(shared, tmp_path) -> list[str]:
    """A German test certificate (rapid antigen test sampled 2021-05-30T10:12:22Z, negative)
    and its signer as the only trusted one."""
    vector = json.loads(
        shared("vectors", "dcc", "DE", "2DCode", "raw", "2.json").read_text(encoding="utf-8")
    )
    (tmp_path / "dsc.b64").write_text(vector["TESTCTX"]["CERTIFICATE"], encoding="ascii")
    return [vector["PREFIX"], "--trust-cert", str(tmp_path / "dsc.b64")]


@pytest.fixture
def card(shared) -> tuple[str, Path]:
    folder = shared("vectors", "shc", "spec-examples")
    return (
        str(folder / "example-00-e-file.smart-health-card"),
        folder / "issuer" / ".well-known" / "jwks.json",
    )


def usage_error(result, code: str) -> dict[str, Any]:
    """The result is exit 2 with exactly one JSON error object of ``code``."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    body = json.loads(result.stdout)  # one object, nothing else on stdout
    assert body["ok"] is False and body["code"] == code and body["status"] == 400, body
    assert "Traceback" not in result.stderr and "internal-error" not in result.stdout
    return body


def write(path: Path, data: bytes | str | Any) -> str:
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, bytes):
        data = json.dumps(data, ensure_ascii=False).encode()
    path.write_bytes(data)
    return str(path)


# --- 1. malformed rules refuse the file, with a per-entry report ---------------------------
def test_malformed_rules_are_refused_with_a_report_per_entry(run, hc1, tmp_path):
    bad = copy.deepcopy(RULES)
    bad[1] = {"Identifier": "TR-CN-0002", "Logic": {"===": [1, 1]}}
    bad[4]["Description"] = [{"lang": "en"}]
    bad.append("VR-CN-0009")
    rules = write(tmp_path / "rules.json", bad)
    common = [*hc1, "--rules", rules, "--country", "CN", "--at", "2021-06-01T12:00:00Z"]
    body = usage_error(run("verify", *common, "--json"), "rules-invalid")
    errors = body["details"]["errors"]
    assert [(e["index"], e["identifier"], e["field"]) for e in errors] == [
        (1, "TR-CN-0002", None),
        (4, "VR-CN-0001", "Description[0]"),
        (len(bad) - 1, None, None),
    ]
    assert errors[0]["message"].startswith("missing Type, Country, Version")
    assert "3 of 10 rule(s) are not valid" in body["message"]
    text = run("verify", *common)
    assert text.exit_code == 2 and text.stdout == ""
    assert "error [rules-invalid]:" in text.stderr
    assert "  entry 1 (TR-CN-0002): missing Type, Country" in text.stderr
    assert "  entry 4 (VR-CN-0001): Description[0] must be" in text.stderr
    assert "  entry 9: a rule is a JSON object, not a string" in text.stderr


def test_a_rule_of_another_engine_is_not_skipped_silently(run, hc1, tmp_path):
    rules = write(tmp_path / "rules.json", [dict(RULES[0], Engine="JSONLOGIC"), *RULES[1:]])
    body = usage_error(
        run("verify", *hc1, "--rules", rules, "--country", "CN", "--json"), "rules-invalid"
    )
    assert body["details"]["errors"][0]["field"] == "Engine"


# --- 2. bad rules options are usage errors ----------------------------------------------------
def test_rules_and_country_go_together(run, hc1):
    body = usage_error(
        run("verify", *hc1, "--rules", str(EXAMPLE_RULES), "--json"), "country-missing"
    )
    assert "--rules needs --country" in body["message"]
    body = usage_error(run("verify", *hc1, "--country", "CN", "--json"), "rules-missing")
    assert "--country needs --rules" in body["message"]
    text = run("verify", *hc1, "--country", "CN")
    assert text.exit_code == 2 and "error [rules-missing]" in text.stderr


@pytest.mark.parametrize("country", ["CHN", "C", "C1", "中国", "", "ÇN"])
def test_country_is_two_letters(run, hc1, country):
    args = [*hc1, "--rules", str(EXAMPLE_RULES), "--country", country, "--json"]
    assert "ISO 3166-1 alpha-2" in usage_error(run("verify", *args), "country-invalid")["message"]


def test_country_in_small_letters_is_read_in_capitals(run, hc1):
    args = [*hc1, "--rules", str(EXAMPLE_RULES), "--country", "cn", "--at", "2021-06-01T08:00:00Z"]
    result = run("verify", *args, "--json")
    assert result.exit_code == 0, result.stdout
    assert [r["result"] for r in json.loads(result.stdout)["details"]["rules"]] == ["passed"] * 4


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        ({"rules": RULES}, "rules-invalid", "JSON array of rules, not an object"),
        ("hello", "rules-invalid", "not JSON"),
        ("", "rules-invalid", "not JSON"),
        (b"\xff\xfe\x00[", "rules-invalid", "not UTF-8"),
        (DEEP, "rules-invalid", "nested too deeply"),
    ],
)
def test_unusable_rules_files(run, hc1, tmp_path, content, code, words):
    rules = write(tmp_path / "rules.json", content)
    body = usage_error(run("verify", *hc1, "--rules", rules, "--country", "CN", "--json"), code)
    assert body["message"].startswith(rules) and words in body["message"]


def test_unreadable_rules_files(run, hc1, tmp_path):
    for path in (str(tmp_path / "missing.json"), str(tmp_path)):
        body = usage_error(
            run("verify", *hc1, "--rules", path, "--country", "CN", "--json"), "file-unreadable"
        )
        assert "cannot read" in body["message"]


def test_rules_file_with_a_bom_is_read(run, hc1, tmp_path):
    rules = write(tmp_path / "rules.json", BOM + EXAMPLE_RULES.read_bytes())
    result = run("verify", *hc1, "--rules", rules, "--country", "CN", "--at", "2021-06-01T08:00Z")
    assert result.exit_code == 0, result.stdout


# --- 3. JSON that cannot be parsed, in every file -------------------------------------------
@pytest.mark.parametrize("option", ["--trust-list", "--issuer-keys", "--revocation", "--rules"])
@pytest.mark.parametrize("content", [DEEP, b"{", b"[" + b"1" * 5000 + b"]"])
def test_unparseable_json_is_a_usage_error_in_every_file(run, hc1, tmp_path, option, content):
    path = write(tmp_path / "file.json", content)
    value = f"{SHC_ISS}={path}" if option == "--issuer-keys" else path
    extra = ["--country", "CN"] if option == "--rules" else []
    code = "rules-invalid" if option == "--rules" else "trust-file-invalid"
    body = usage_error(run("verify", *hc1, option, value, *extra, "--json"), code)
    assert path in body["message"]


def test_a_trust_anchor_that_is_not_a_key(run, hc1, tmp_path):
    trust = write(tmp_path / "trust.json", {"format": "healthcode-trust-list/1"})
    anchor = write(tmp_path / "anchor.pem", DEEP)
    args = [*hc1, "--trust-list", trust, "--trust-anchor", anchor, "--json"]
    body = usage_error(run("verify", *args), "trust-file-invalid")
    assert body["message"] == f"{anchor}: not a PEM or DER public key"


# --- 4. a broken revocation list fails closed -------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [b"{", b'{"revoked": ["URN:UVCI:01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W"]}', b"", b"[5]",
     b'["URN:UVCI:01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W", {}]', b"a, b\n",
     b'{"kid": "k", "method": "rid", "ctr": 1, "rids": ["bad rid!"]}'],
)  # fmt: skip
def test_a_broken_revocation_list_is_refused(run, hc1, tmp_path, content):
    path = write(tmp_path / "revoked.json", content)
    args = [*hc1, "--revocation", path, "--at", "2021-06-01T08:00:00Z"]
    body = usage_error(run("verify", *args, "--json"), "trust-file-invalid")
    assert body["message"].startswith(path)
    text = run("verify", *args)
    assert text.exit_code == 2 and "verdict" not in text.stdout


@pytest.mark.parametrize(
    "content",
    [
        b"URN:UVCI:01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W\n",
        BOM + b'["URN:UVCI:01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W"]',
    ],
)
def test_a_good_revocation_list_revokes(run, hc1, tmp_path, content):
    path = write(tmp_path / "revoked.txt", content)
    result = run("verify", *hc1, "--revocation", path, "--at", "2021-06-01T08:00:00Z", "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == 1 and out["stages"]["revocation"] is False
    assert out["reasons"] == ["revoked"]


# --- 5. key sets: a BOM is fine, a refused set is explained ------------------------------------
def test_a_key_set_with_a_bom_is_accepted(run, card, tmp_path):
    card_file, jwks = card
    keys = write(tmp_path / "jwks.json", BOM + jwks.read_bytes())
    result = run("verify", card_file, "--issuer-keys", f"{SHC_ISS}={keys}", "--at", "2023-07-01")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.startswith("verdict: VALID") and "key set refused" not in result.stdout


def test_a_refused_key_set_is_explained_in_text_and_json(run, card, tmp_path):
    card_file, jwks = card
    doc = json.loads(jwks.read_text(encoding="utf-8"))
    doc["keys"][0]["alg"] = "ES384"
    keys = write(tmp_path / "jwks.json", doc)
    args = [card_file, "--issuer-keys", f"{SHC_ISS}={keys}", "--at", "2023-07-01"]
    text = run("verify", *args)
    assert text.exit_code == 1
    assert "reasons: issuer-keys-invalid" in text.stdout
    assert re.search(
        rf"key set refused: {re.escape(SHC_ISS)}: key \S+: alg must be ES256", text.stdout
    )
    out = json.loads(run("verify", *args, "--json").stdout)
    assert out["reasons"] == ["issuer-keys-invalid"]
    (refused,) = out["details"]["refused_key_sets"]
    assert refused["issuer"] == SHC_ISS and refused["reason"].endswith("alg must be ES256")


def test_a_bare_key_set_file_that_names_no_issuer_is_a_usage_error(run, card, tmp_path):
    card_file, jwks = card
    doc = json.loads(jwks.read_text(encoding="utf-8"))
    for key in doc["keys"]:
        key.pop("x5c", None)  # no x5c URI, no top-level iss: the set names no issuer
    keys = write(tmp_path / "jwks.json", doc)
    body = usage_error(
        run("verify", card_file, "--issuer-keys", keys, "--json"), "trust-file-invalid"
    )
    assert "give it as ISS=FILE" in body["message"]


# --- 6. the validation clock: no offset means UTC ----------------------------------------------
def _rule_48h(run, hc1, at: str) -> str:
    """The 48-hour antigen rule's result at ``at`` (sampled 2021-05-30T10:12:22Z, so the
    limit is 2021-06-01T10:12:22Z)."""
    args = [*hc1, "--rules", str(EXAMPLE_RULES), "--country", "CN", "--at", at, "--json"]
    result = run("verify", *args)
    rules = {r["identifier"]: r["result"] for r in json.loads(result.stdout)["details"]["rules"]}
    assert result.exit_code == (0 if rules["TR-CN-0002"] == "passed" else 1)
    return rules["TR-CN-0002"]


@pytest.mark.parametrize(
    ("at", "result"),
    [
        ("2021-06-01T12:00:00", "failed"),  # 12:00 UTC (as Asia/Shanghai it would be 04:00 UTC)
        ("2021-06-01 10:00", "passed"),
        ("2021-06-01T10:13:00", "failed"),
        ("2021-06-01", "passed"),  # 00:00 UTC
        ("2021-06-01T12:00:00Z", "failed"),
        ("2021-06-01T18:00:00+08:00", "passed"),  # 10:00 UTC
        ("2021-06-01T18:00:00+0800", "passed"),
        ("2021-06-01T18:13:00+08", "failed"),  # 10:13 UTC
        ("2021-06-01T10:12:21.9999999Z", "passed"),
    ],
)
def test_at_without_offset_is_utc(run, hc1, at, result):
    assert _rule_48h(run, hc1, at) == result


@pytest.mark.parametrize(
    "at",
    ["tomorrow", "2021-06-31", "2021-06-01T25:00", "2021-06-01T10:00+24:00", "2021-6-1",
     "0001-01-01T00:00+01:00", "2021-06-01T10:00:00 UTC", ""],
)  # fmt: skip
def test_bad_validation_clocks_are_usage_errors(run, hc1, at):
    body = usage_error(run("verify", *hc1, "--at", at, "--json"), "clock-invalid")
    assert "no offset means UTC" in body["message"]


def test_help_says_no_offset_means_utc(run):
    help_text = " ".join(run("verify", "--help").stdout.split())
    assert "no offset means UTC" in help_text and "2021-06-01 (00:00 UTC)" in help_text


def test_the_clock_reads_the_conformance_spellings_as_the_runner_does(shared):
    """Every VALIDATIONCLOCK of the DCC test files gives the same instant through ``--at``
    as through the conformance runner's own parser."""
    from tests.conformance.test_dcc_vectors import parse_clock

    clocks = set()
    for path in shared("vectors", "dcc").rglob("*.json"):
        try:
            ctx = json.loads(path.read_text(encoding="utf-8")).get("TESTCTX") or {}
        except (ValueError, AttributeError):
            continue
        if isinstance(ctx, dict) and isinstance(ctx.get("VALIDATIONCLOCK"), str):
            clocks.add(ctx["VALIDATIONCLOCK"])
    assert len(clocks) > 50
    for text in clocks:
        assert parse_validation_clock(text) == parse_clock(text), text
    with pytest.raises(ClockInvalid):
        parse_validation_clock("2021-06-01T10:00:00+25:00")


# --- 7. the text output names the failed rules ---------------------------------------------------
def test_text_output_names_each_failed_rule(run, hc1, tmp_path):
    rules = copy.deepcopy(RULES)
    rules[0]["Description"] = [{"lang": "zh", "desc": "检测结果必须为阴性。"}]  # no English
    rules[0]["Logic"] = {"===": [{"var": "payload.t.0.tr"}, "260373001"]}  # now fails
    path = write(tmp_path / "rules.json", rules)
    result = run("verify", *hc1, "--rules", path, "--country", "CN", "--at", "2021-06-01T12:00:00Z")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "reasons: rule-failed" in lines
    assert "rules:   2 of 4 applicable rule(s) passed" in lines
    assert "  FAILED TR-CN-0001 v1.0.0: 检测结果必须为阴性。" in lines
    assert (
        "  FAILED TR-CN-0002 v1.1.0: A rapid antigen test (LP217198-3) is accepted until 48 hours "
        "after its sampling time; this rule accepts every other test type." in lines
    )


def test_text_output_names_a_rule_that_could_not_be_evaluated(run, hc1, tmp_path):
    rules = copy.deepcopy(RULES)
    rules[0]["Logic"] = {"plusTime": [{"var": "payload.t.0.tr"}, 1, "day"]}  # not a date
    path = write(tmp_path / "rules.json", rules)
    result = run("verify", *hc1, "--rules", path, "--country", "CN", "--at", "2021-06-01T08:00:00Z")
    assert result.exit_code == 1
    (line,) = [ln for ln in result.stdout.splitlines() if "TR-CN-0001" in ln]
    assert line.startswith("  NOT EVALUATED TR-CN-0001 v1.0.0: The test result must be negative")


# --- 8. the text output gives the dates the report carries ----------------------------------------
def test_text_output_prints_the_dates_of_an_expired_certificate(run, hc1):
    """Without dates, ``reasons: signer-certificate-expired, expired`` left the reader to guess."""
    details = json.loads(run("verify", *hc1, "--json").stdout)["details"]
    result = run("verify", *hc1)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "reasons: signer-certificate-expired, expired" in lines

    def utc(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    assert (
        f"dates:   validity ended {utc(details['valid_until'])}; "
        f"signer certificate expired {utc(details['signer_valid_until'])}"
    ) in lines


def test_text_output_prints_the_validity_end_of_a_valid_certificate(run, hc1):
    result = run("verify", *hc1, "--at", "2021-06-01T12:00:00Z")
    assert result.exit_code == 0
    (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("dates:")]
    assert line == "dates:   valid until 2022-01-28 07:47:53 UTC"  # the certificate's exp


def test_the_default_trust_with_an_unusable_configured_file_is_a_usage_error(run, monkeypatch, hc1):
    """The server goes on without a broken HEALTHCODE_DCC_TRUST file; the command does not."""
    monkeypatch.setenv("HEALTHCODE_DCC_TRUST", "/nonexistent.pem")
    result = run("verify", hc1[0], "--json")
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["code"] == "config-invalid"
    assert "HEALTHCODE_DCC_TRUST: nonexistent.pem (file-unreadable)" in body["message"]
    # trust named on the command line does not need it
    assert run("verify", *hc1, "--at", "2021-06-01T12:00:00Z").exit_code == 0
