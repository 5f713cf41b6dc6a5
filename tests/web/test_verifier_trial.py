"""Findings of the new-user trial of the verifier, fixed and kept fixed.

- "Could not check" is never shown as "Invalid": a network failure or a refused request
  (an error shape, not a report) gives the neutral verdict ``unchecked`` with advice.
- The configured trust files (``HEALTHCODE_DCC_TRUST``, ``HEALTHCODE_SHC_ISSUER_KEYS``) and
  rules (``HEALTHCODE_DCC_RULES``) are checked when the server starts: one that cannot be
  used stops it with a config error naming the setting and the file (``healthcode serve``
  exits 2). A file that breaks later leaves our own codes verifying; a foreign credential
  whose signer is then not found says the verifier's trust is incomplete
  (``foreign-trust-unavailable``, shown as "could not check").
- The page evaluates the configured business rules and names the failed ones.
- A DCC's holder is shown by family and given name, labelled, with the transliteration;
  record codes have Chinese names; a valid DCC shows its validity end and a test's
  sampling time; a valid SMART Health Card shows its immunizations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from healthcode.cli.main import cli
from healthcode.config import load_settings
from healthcode.credentials.qr import encode_png
from healthcode.errors import ConfigError
from healthcode.service import HealthCode
from healthcode.web.app import create_app
from tests.support.shared import shared_path, shared_root
from tests.unit.credentials.test_hcert import antigen_test
from tests.web.conftest import make_settings, serve
from tests.web.helpers import enrol
from tests.web.test_certificates import records
from tests.web.test_verifier_international import ForeignIssuer, china_time, msg

EXAMPLE_RULES = (
    Path(__file__).parents[2] / "healthcode" / "rules" / "data" / "dcc-example-rules.json"
)
SPEC_ISS = "https://spec.smarthealth.cards/examples/issuer"


def spec_jwks() -> Path:
    return shared_path("vectors", "shc", "spec-examples", "issuer", ".well-known", "jwks.json")


def positive_test() -> dict[str, Any]:
    sampled = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return antigen_test(sampled, result="260373001")


# --- start-up: configured files are checked -------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("dcc_trust", ("{tmp}/missing.pem",), "HEALTHCODE_DCC_TRUST: {tmp}/missing.pem: cannot read"),
        ("dcc_trust", ("{tmp}/garbage.json",), "HEALTHCODE_DCC_TRUST: {tmp}/garbage.json: not a DCC trust list"),
        ("shc_issuer_keys", (f"{SPEC_ISS}={{tmp}}/garbage.json",), "HEALTHCODE_SHC_ISSUER_KEYS: {tmp}/garbage.json: not JSON"),
        ("shc_issuer_keys", ("{tmp}/rsa.json",), "HEALTHCODE_SHC_ISSUER_KEYS: {tmp}/rsa.json: key set refused"),
        ("dcc_rules", "{tmp}/garbage.json", "HEALTHCODE_DCC_RULES: {tmp}/garbage.json: not JSON"),
        ("dcc_rules", "{tmp}/missing.json", "HEALTHCODE_DCC_RULES: {tmp}/missing.json: cannot read"),
    ],
    ids=["dcc-missing", "dcc-garbage", "shc-not-json", "shc-refused", "rules-not-json", "rules-missing"],
)  # fmt: skip
def test_the_server_refuses_to_start_with_an_unusable_file(tmp_path, setting, value, words):
    (tmp_path / "garbage.json").write_bytes(b"GARBAGE SIGNATURE LINE\n{}")
    (tmp_path / "rsa.json").write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "k1"}]}))
    fill = lambda v: v.replace("{tmp}", str(tmp_path))  # noqa: E731
    value = fill(value) if isinstance(value, str) else tuple(fill(v) for v in value)
    settings = make_settings(tmp_path, **{setting: value})
    with pytest.raises(ConfigError) as info:
        create_app(settings)
    assert info.value.code == "config-invalid"
    assert fill(words) in info.value.message


def test_serve_exits_2_naming_the_setting_and_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEALTHCODE_DCC_TRUST", "/nonexistent.pem")
    result = CliRunner().invoke(cli, ["serve", "--db", "hc.db", "--port", "1"], obj={})
    assert result.exit_code == 2
    assert (
        "error [config-invalid]: HEALTHCODE_DCC_TRUST: /nonexistent.pem: cannot read"
        in result.stderr
    )
    assert "serving on" not in result.stderr


def test_start_up_says_what_foreign_trust_and_rules_it_loaded(tmp_path, caplog):
    foreign = ForeignIssuer(tmp_path)
    settings = make_settings(
        tmp_path,
        dcc_trust=(str(foreign.pem),),
        shc_issuer_keys=(f"{SPEC_ISS}={spec_jwks()}",),
        dcc_rules=str(EXAMPLE_RULES),
    )
    svc = HealthCode(settings)
    try:
        sources = svc.check_server_config()
        from healthcode.cli.verifying import server_trust_lines

        lines = server_trust_lines(settings, sources, svc.verify_options())
    finally:
        svc.close()
    assert lines == [
        f"foreign trust: HEALTHCODE_DCC_TRUST: 1 signer certificate(s) (DSC) from certificate "
        f"file {foreign.pem}",
        f"foreign trust: HEALTHCODE_SHC_ISSUER_KEYS: key set of {SPEC_ISS} (2 key(s)) from "
        f"{spec_jwks()}",
        f"business rules: 9 rule(s) from {EXAMPLE_RULES} (HEALTHCODE_DCC_RULES), destination CN",
    ]


def test_rules_settings_are_read_and_checked():
    rules = load_settings({"HEALTHCODE_DCC_RULES": "rules.json"})
    assert rules.dcc_rules == "rules.json" and rules.rules_country == "CN"
    de = load_settings({"HEALTHCODE_DCC_RULES": "rules.json", "HEALTHCODE_DCC_COUNTRY": " de "})
    assert de.rules_country == "DE"
    assert load_settings({}).rules_country is None
    with pytest.raises(ConfigError, match="HEALTHCODE_DCC_COUNTRY must be an ISO 3166-1"):
        load_settings({"HEALTHCODE_DCC_RULES": "rules.json", "HEALTHCODE_DCC_COUNTRY": "CHN"})
    with pytest.raises(ConfigError, match="HEALTHCODE_DCC_COUNTRY needs HEALTHCODE_DCC_RULES"):
        load_settings({"HEALTHCODE_DCC_COUNTRY": "CN"})


# --- run time: a trust file that breaks later ------------------------------------------------
@dataclass
class Checkpoint:
    url: str
    service: HealthCode
    foreign: ForeignIssuer
    dsc: Path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Iterator[Checkpoint]:
    """A live server trusting a foreign DSC and the SHC spec issuer, with the example rules."""
    folder = tmp_path_factory.mktemp("checkpoint")
    foreign = ForeignIssuer(folder)
    settings = make_settings(
        folder,
        shared=str(shared_root()),
        dcc_trust=(str(foreign.pem),),
        shc_issuer_keys=(f"{SPEC_ISS}={spec_jwks()}",),
        dcc_rules=str(EXAMPLE_RULES),
    )
    app = create_app(settings)
    svc = app.state.hc.service
    try:
        with serve(app) as url:
            yield Checkpoint(url, svc, foreign, foreign.pem)
    finally:
        svc.close()


@pytest.fixture
def broken_trust(checkpoint) -> Iterator[None]:
    """The foreign DSC file unreadable (moved away) until the test ends."""
    aside = checkpoint.dsc.with_suffix(".aside")
    checkpoint.dsc.rename(aside)
    checkpoint.service.forget_trust()
    try:
        yield
    finally:
        aside.rename(checkpoint.dsc)
        checkpoint.service.forget_trust()


def test_a_broken_trust_file_leaves_our_codes_verifying(checkpoint, broken_trust):
    import httpx

    svc = checkpoint.service
    h = enrol(svc)
    token = svc.issue_code(h["holder_id"])["token"]
    r = httpx.post(checkpoint.url + "/verify", json={"text": token})
    assert r.status_code == 200 and r.json()["verdict"] == "valid"
    assert "foreign-trust-unavailable" not in r.json()["warnings"]

    rep = httpx.post(
        checkpoint.url + "/verify", json={"text": checkpoint.foreign.hc1(positive_test())}
    )
    assert rep.status_code == 200
    body = rep.json()
    assert body["failures"]["signer"] == "unknown-kid"
    assert "foreign-trust-unavailable" in body["warnings"]
    assert body["details"]["trust_unavailable"] == [
        {"format": "hc1", "setting": "HEALTHCODE_DCC_TRUST", "file": "foreign-dsc.pem",
         "code": "file-unreadable"}
    ]  # fmt: skip


def test_the_foreign_trust_comes_back_with_its_file(checkpoint):
    checkpoint.service.forget_trust()
    report = checkpoint.service.verify([checkpoint.foreign.hc1(positive_test())], actor="test")
    assert report.stages["signer"] is True and "foreign-trust-unavailable" not in report.warnings


def test_the_server_evaluates_the_configured_rules(checkpoint):
    report = checkpoint.service.verify([checkpoint.foreign.hc1(positive_test())], actor="test")
    assert report.stages["signature"] is True and report.stages["rules"] is False
    failed = [r for r in report.details["rules"] if r["result"] != "passed"]
    assert [r["identifier"] for r in failed] == ["TR-CN-0001"]
    assert failed[0]["descriptions"]["zh"] == "检测结果必须为阴性（未检出）。"


def test_rules_valid_from_2021_06_01_give_no_applicable_rules_before(checkpoint):
    at = datetime(2021, 5, 31, tzinfo=UTC)
    report = checkpoint.service.verify([checkpoint.foreign.hc1(positive_test())], at=at, actor="t")
    assert report.stages["rules"] is None and "no-applicable-rules" in report.warnings


# --- the page, in real chromium ------------------------------------------------------------
@pytest.fixture
def page(page):
    """The page, failing the test on any script error (a refused fetch is logged, expected)."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    yield page
    assert not problems, problems


def paste(page, text: str) -> None:
    page.fill("#text", text)
    page.click("#paste-form button[type=submit]")
    page.wait_for_selector("#result:not([hidden])")


def upload(page, png: bytes) -> None:
    page.set_input_files(
        "#image", files=[{"name": "c.png", "mimeType": "image/png", "buffer": png}]
    )
    page.wait_for_selector("#result:not([hidden])")


def holder_rows(page) -> dict[str, list[str]]:
    """The holder box's rows: label → values (a label may repeat, e.g. records)."""
    rows: dict[str, list[str]] = {}
    labels = page.locator("#verdict-holder dt").all_inner_texts()
    values = page.locator("#verdict-holder dd").all_inner_texts()
    for k, v in zip(labels, values, strict=True):
        rows.setdefault(k, []).append(v)
    return rows


def assert_unchecked(page, locale: str) -> None:
    assert page.get_attribute("#verdict", "data-verdict") == "unchecked"
    assert "verdict-unchecked" in page.get_attribute("#verdict", "class")
    word = page.inner_text("#verdict-word")
    assert word.endswith(msg(locale, "verdict.unchecked"))
    assert msg(locale, "verdict.invalid") not in word
    assert page.is_visible("#verdict-unchecked") and page.is_hidden("#verdict-failures")


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_no_connection_is_could_not_check_never_invalid(page, checkpoint, locale):
    page.goto(checkpoint.url + "/verifier" + ("?lang=en" if locale == "en" else ""))
    page.route("**/verify", lambda route: route.abort())
    paste(page, "HC1:ANYTHING")
    assert_unchecked(page, locale)
    assert page.inner_text("#unchecked-advice") == msg(locale, "js.unchecked-network")
    assert page.inner_text("#unchecked-code") == "network-error"


@pytest.mark.browser
@pytest.mark.parametrize(
    ("status", "code", "advice"),
    [(500, "config-invalid", "js.unchecked-ask-operator"), (500, "internal-error", "js.unchecked-ask-operator"),
     (422, "invalid-input", "js.unchecked-input"), (502, None, "js.unchecked-ask-operator")],
)  # fmt: skip
def test_a_refused_request_is_could_not_check(page, checkpoint, status, code, advice):
    body = {"ok": False, "status": status, "code": code, "message": "x"} if code else None
    page.goto(checkpoint.url + "/verifier")
    page.route(
        "**/verify",
        lambda route: route.fulfill(status=status, json=body) if body else route.fulfill(status=status, body="Bad Gateway"),
    )  # fmt: skip
    paste(page, "HP1:ANYTHING")
    assert_unchecked(page, "zh_CN")
    assert page.inner_text("#unchecked-advice") == msg("zh_CN", advice)
    if code:
        assert msg("zh_CN", f"error.{code}") in page.inner_text("#unchecked-reason")


@pytest.mark.browser
def test_a_broken_trust_file_is_could_not_check_on_the_page(page, checkpoint, broken_trust):
    page.goto(checkpoint.url + "/verifier")
    paste(page, checkpoint.foreign.hc1(positive_test()))
    assert_unchecked(page, "zh_CN")
    assert "HEALTHCODE_DCC_TRUST: foreign-dsc.pem" in page.inner_text("#unchecked-reason")
    assert page.inner_text("#unchecked-advice") == msg("zh_CN", "js.unchecked-ask-operator")


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_failed_rules_by_identifier_and_description(page, checkpoint, locale):
    page.goto(checkpoint.url + "/verifier" + ("?lang=en" if locale == "en" else ""))
    paste(page, checkpoint.foreign.hc1(positive_test()))
    assert page.get_attribute("#verdict", "data-verdict") == "invalid"
    assert page.is_visible("#verdict-rules")
    rules = page.locator("#rule-list li").all_inner_texts()
    words = (
        "检测结果必须为阴性（未检出）。"
        if locale == "zh_CN"
        else "The test result must be negative (not detected)."
    )
    assert rules == [f"TR-CN-0001 v1.0.0 {words}"]
    assert msg(locale, "reason.rule-failed") in page.inner_text("#failure-list")


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_dcc_names_labelled_records_named_and_dates_shown(page, checkpoint, locale):
    svc = checkpoint.service
    h = enrol(svc, name="阿依古丽·买买提")
    records(svc, h["holder_id"])
    cert = svc.issue_certificate(h["holder_id"], kind="test", format="hc1", actor="test")
    report = svc.verify([cert.text], actor="test").to_dict()
    (entry,) = report["details"]["certificate"]

    page.goto(checkpoint.url + "/verifier" + ("?lang=en" if locale == "en" else ""))
    upload(page, encode_png(cert.text))
    assert page.get_attribute("#verdict", "data-verdict") == "valid"
    rows = holder_rows(page)
    assert rows[msg(locale, "js.family-name")] == ["买买提 (MAIMAITI)"]
    assert rows[msg(locale, "js.given-name")] == ["阿依古丽 (AYIGULI)"]
    assert "买买提阿依古丽" not in page.inner_text("#verdict-holder")  # no guessed composition
    record = {
        "zh_CN": "核酸检测（核酸扩增探针法）：未检出（阴性）",
        "en": "Nucleic acid amplification with probe detection: Not detected",
    }[locale]
    assert rows[msg(locale, "js.record")] == [record]
    assert rows[msg(locale, "js.sampled-at")] == [china_time(entry["sc"])]
    assert rows[msg(locale, "js.valid-until-label")] == [
        china_time(report["details"]["expires_at"])
    ]


@pytest.mark.browser
def test_dcc_vaccination_product_in_chinese(page, live_server):
    # no rules here: the example rules refuse a dose of 2022 (VR-CN-0003, 270 days)
    svc = live_server.service
    h = enrol(svc, name="赵接种")
    records(svc, h["holder_id"], test=False)
    cert = svc.issue_certificate(h["holder_id"], kind="vaccination", format="hc1", actor="test")
    page.goto(live_server.url + "/verifier")
    paste(page, cert.text)
    assert page.get_attribute("#verdict", "data-verdict") == "valid"
    (line,) = holder_rows(page)[msg("zh_CN", "js.record")]
    assert line.startswith(
        "克尔来福 CoronaVac（北京科兴中维，新冠病毒灭活疫苗），第 2 剂（共 2 剂），2022-04-01"
    )


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_a_valid_smart_health_card_shows_its_immunizations(page, checkpoint, locale):
    numeric = shared_path(
        "vectors", "shc", "spec-examples", "example-00-f-qr-code-numeric-value-0.txt"
    )
    page.goto(checkpoint.url + "/verifier" + ("?lang=en" if locale == "en" else ""))
    paste(page, numeric.read_text(encoding="ascii").strip())
    assert page.get_attribute("#verdict", "data-verdict") == "valid"
    rows = holder_rows(page)
    assert rows[msg(locale, "js.family-name")] == ["Anyperson"]
    assert rows[msg(locale, "js.given-name")] == ["John B."]
    moderna = {"zh_CN": "莫德纳新冠 mRNA 疫苗", "en": "COVID-19 vaccine, mRNA (Moderna)"}[locale]
    expected = [
        msg(
            locale, "js.summary-immunization-lot", vaccine=moderna, date="2021-01-01", lot="0000001"
        ),
        msg(
            locale, "js.summary-immunization-lot", vaccine=moderna, date="2021-01-29", lot="0000007"
        ),
        msg(locale, "js.summary-immunization-lot", vaccine="229", date="2022-09-05", lot="0000001"),
    ]
    assert rows[msg(locale, "js.record")] == expected


def test_the_code_name_table_names_the_codes_our_certificates_use():
    from healthcode.ecerts import mapping
    from healthcode.web.verifier import code_names

    zh, en = code_names("zh_CN"), code_names("en")
    assert en["dcc"] == {}  # English comes from the EU value sets, in the report
    dcc = zh["dcc"]
    for code in mapping.TEST_TYPES.values():
        assert code in dcc["covid-19-lab-test-type"]
    for code in mapping.TEST_RESULTS.values():
        assert code in dcc["covid-19-lab-result"]
    assert mapping.DISEASE_COVID19 in dcc["disease-agent-targeted"]
    for vaccine in mapping.VACCINES:
        assert vaccine.mp in dcc["vaccines-covid-19-names"], vaccine.name
        assert vaccine.vp in dcc["sct-vaccines-covid-19"], vaccine.name
        for names in (zh, en):
            assert vaccine.cvx in names["fhir"]["http://hl7.org/fhir/sid/cvx"], vaccine.name
    for names in (zh, en):
        assert set(mapping.SHC_TEST_CODES.values()) <= set(names["fhir"]["http://loinc.org"])
        assert set(mapping.SHC_RESULTS.values()) <= set(names["fhir"]["http://snomed.info/sct"])
    # every DCC code named is one of the EU value sets
    from healthcode.credentials import valuesets

    sets = valuesets.load_value_sets(shared_path("vectors", "dcc-schema", "eu-dcc-valuesets"))
    for set_id, codes in dcc.items():
        assert set(codes) <= set(sets[set_id]), set_id
