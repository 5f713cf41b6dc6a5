"""The web verifier on EU DCC (``HC1:``) and SMART Health Cards.

- The server verifies with the options of ``healthcode verify``: the DCC schemas and
  value sets of ``$HEALTHCODE_SHARED/vectors/dcc-schema`` (missing: ``schema`` null with
  ``schema-unavailable``), so an uploaded or pasted certificate whose payload deviates
  from the schema gets the ``schema-deviation`` warning on the page too.
- E-certificates signed with our DEMO keys carry the warning ``demo``, from the
  database's trust and from the signed trust list, and the page marks them DEMO.
- In real chromium: the PNG of a real German test certificate (``vectors/dcc/DE``),
  trusted through ``HEALTHCODE_DCC_TRUST``, is explained in plain words in Chinese and
  English — the validity and the signer certificate ended on their dates, never the
  "ask the holder to refresh" advice of our own short-lived codes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from healthcode.clock import SHANGHAI
from healthcode.credentials import hcert
from healthcode.credentials.qr import encode_png
from healthcode.issuers.service import trust_store_from_list
from healthcode.web.app import create_app
from healthcode.web.i18n import I18n
from tests.support.shared import shared_path, shared_root
from tests.unit.credentials.test_hcert import make_cert, vaccination
from tests.web.conftest import make_settings, serve
from tests.web.helpers import enrol
from tests.web.test_certificates import records

MESSAGES = I18n.load()


def msg(locale: str, key: str, **params: str) -> str:
    text = MESSAGES.message(locale, key)
    assert text is not None, key
    for k, v in params.items():
        text = text.replace("{" + k + "}", v)
    return text


def china_time(iso: str) -> str:
    """What the page shows for an instant: China Standard Time, to the minute."""
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


class ForeignIssuer:
    """Another country's document signer: a DSC (PEM file) and certificates valid now."""

    def __init__(self, tmp_path) -> None:
        now = datetime.now(UTC)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = make_cert(
            self.key, not_before=now - timedelta(days=30), not_after=now + timedelta(days=300)
        )
        self.kid = hcert.certificate_kid(self.cert)
        self.pem = tmp_path / "foreign-dsc.pem"
        self.pem.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def hc1(self, payload: dict[str, Any]) -> str:
        now = datetime.now(UTC)
        return hcert.encode(
            payload,
            key=self.key,
            kid=self.kid,
            issuer_country="DE",
            issued_at=now - timedelta(days=1),
            expires_at=now + timedelta(days=30),
        )


def deviating_payload() -> dict[str, Any]:
    """A vaccination whose entry lacks the required certificate identifier ``ci``."""
    payload = vaccination()
    del payload["v"][0]["ci"]
    return payload


@pytest.fixture(scope="module")
def foreign(tmp_path_factory) -> ForeignIssuer:
    return ForeignIssuer(tmp_path_factory.mktemp("foreign"))


@pytest.fixture(scope="module")
def intl(tmp_path_factory, foreign) -> Iterator[Any]:
    """An app whose verifier also trusts the foreign DSC (``HEALTHCODE_DCC_TRUST``)."""
    settings = make_settings(
        tmp_path_factory.mktemp("intl"), dcc_trust=(str(foreign.pem),), shared=str(shared_root())
    )
    app = create_app(settings)
    try:
        yield app
    finally:
        app.state.hc.service.close()


@pytest.fixture
def intl_client(intl):
    from starlette.testclient import TestClient

    with TestClient(intl, raise_server_exceptions=False) as c:
        yield c


# --- the server's options ---------------------------------------------------------------
def test_pasted_certificate_whose_schema_deviates_is_warned(intl_client, foreign, shared):
    shared("vectors", "dcc-schema", "eu-dcc-schema")
    rep = intl_client.post("/verify", json={"text": foreign.hc1(deviating_payload())}).json()
    assert rep["format"] == "hc1"
    assert rep["stages"]["schema"] is False
    assert "schema-deviation" in rep["warnings"]
    assert rep["details"]["schema_version"] == "1.3.0"
    assert any("ci" in e for e in rep["details"]["schema_errors"])
    assert rep["verdict"] == "valid"  # a deviation alone is a warning, as real issuers deviate


def test_uploaded_certificate_whose_schema_deviates_is_warned(intl_client, foreign, shared):
    shared("vectors", "dcc-schema", "eu-dcc-schema")
    png = encode_png(foreign.hc1(deviating_payload()))
    rep = intl_client.post("/verify", files={"image": ("dcc.png", png, "image/png")}).json()
    assert rep["stages"]["picture"] is True and rep["stages"]["schema"] is False
    assert "schema-deviation" in rep["warnings"]


def test_conforming_certificate_passes_the_schema_and_codes_are_named(intl_client, foreign, shared):
    shared("vectors", "dcc-schema", "eu-dcc-valuesets")
    rep = intl_client.post("/verify", json={"text": foreign.hc1(vaccination())}).json()
    assert rep["verdict"] == "valid" and rep["warnings"] == []
    assert rep["stages"]["schema"] is True
    (entry,) = rep["details"]["certificate"]
    assert entry["mp_name"] == "Comirnaty"  # value sets loaded, as the CLI loads them


def test_server_options_are_the_cli_options(intl, foreign, shared):
    from healthcode.cli.verifying import build_options

    shared("vectors", "dcc-schema")
    svc = intl.state.hc.service
    cli = build_options(svc.settings, rules_file=None, country=None, lenient_prefix=False)
    for payload in (vaccination(), deviating_payload()):
        text = foreign.hc1(payload)
        at = svc.now()
        assert (
            svc.verify([text], at=at).to_dict() == svc.verify([text], at=at, options=cli).to_dict()
        )


def test_missing_schema_folder_gives_schema_null_with_a_warning(tmp_path, foreign):
    settings = replace(
        make_settings(tmp_path, dcc_trust=(str(foreign.pem),)), shared=str(tmp_path / "no-shared")
    )
    app = create_app(settings)
    svc = app.state.hc.service
    try:
        report = svc.verify([foreign.hc1(deviating_payload())])
    finally:
        svc.close()
    assert report.stages["schema"] is None
    assert report.warnings == ["schema-unavailable"]
    assert report.verdict == "valid"


# --- DEMO e-certificates -------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_certs(web) -> dict[str, str]:
    h = enrol(web.service, name="赵演示")
    records(web.service, h["holder_id"])
    return {
        f"{kind}-{fmt}": web.service.issue_certificate(
            h["holder_id"], kind=kind, format=fmt, actor="test"
        ).text
        for kind in ("vaccination", "test")
        for fmt in ("hc1", "shc")
    }


@pytest.mark.parametrize("which", ["vaccination-hc1", "test-hc1", "vaccination-shc", "test-shc"])
def test_demo_e_certificates_carry_the_demo_warning(client, demo_certs, which):
    rep = client.post("/verify", json={"text": demo_certs[which]}).json()
    assert rep["verdict"] == "valid", rep
    assert "demo" in rep["warnings"]


def test_demo_warning_with_only_the_signed_trust_list(web, demo_certs):
    svc = web.service
    store = trust_store_from_list(
        svc.trust_list(actor="test"),
        at=svc.now(),
        production=False,
        clock_skew_seconds=30,
        anchors=svc.anchor_keys(),
    )
    for text in demo_certs.values():
        report = svc.verify([text], trust=store)
        assert report.verdict == "valid" and "demo" in report.warnings


def test_foreign_certificates_are_not_demo(intl_client, foreign):
    rep = intl_client.post("/verify", json={"text": foreign.hc1(vaccination())}).json()
    assert rep["verdict"] == "valid" and "demo" not in rep["warnings"]


# --- in real chromium ------------------------------------------------------------------------
@pytest.fixture
def page(page):
    """The page, failing the test on any script error."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    yield page
    assert not problems, problems


def upload(page, png: bytes) -> None:
    page.set_input_files(
        "#image", files=[{"name": "dcc.png", "mimeType": "image/png", "buffer": png}]
    )
    page.wait_for_selector("#result:not([hidden])")


@pytest.fixture(scope="module")
def german(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A live server trusting the German test DSC of ``vectors/dcc/DE/2DCode/raw/1.json``."""
    vector = json.loads(
        shared_path("vectors", "dcc", "DE", "2DCode", "raw", "1.json").read_text(encoding="utf-8")
    )
    folder = tmp_path_factory.mktemp("german")
    dsc = folder / "de-dsc.b64"
    dsc.write_text(vector["TESTCTX"]["CERTIFICATE"], encoding="ascii")
    app = create_app(make_settings(folder, dcc_trust=(str(dsc),), shared=str(shared_root())))
    try:
        with serve(app) as url:
            yield {"url": url, "png": base64.b64decode(vector["2DCODE"]), "vector": vector}
    finally:
        app.state.hc.service.close()


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_real_german_certificate_png_in_plain_words(page, german, locale):
    report = httpx.post(
        german["url"] + "/verify",
        files={"image": ("de.png", german["png"], "image/png")},
    ).json()
    # the German test certificate of 2021 and its DSC have expired by the real clock
    assert report["failures"] == {"signer": "signer-certificate-expired", "expiry": "expired"}
    assert report["stages"]["schema"] is True  # the server ran the schema check

    lang = "?lang=en" if locale == "en" else ""
    page.goto(f"{german['url']}/verifier{lang}")
    upload(page, german["png"])
    assert page.get_attribute("#verdict", "data-verdict") == "invalid"
    failures = page.inner_text("#failure-list")
    ended = china_time(report["details"]["valid_until"])
    signer_ended = china_time(report["details"]["signer_valid_until"])
    assert msg(locale, "reason.hc1.expired", date=ended) in failures
    assert msg(locale, "reason.hc1.signer-certificate-expired", date=signer_ended) in failures
    assert msg(locale, "stage.hc1.signer") in failures and msg(locale, "stage.expiry") in failures
    # never the advice for our own short-lived codes
    assert msg(locale, "reason.native.expired") not in page.inner_text("#result")
    holder = page.inner_text("#verdict-holder")
    assert msg(locale, "format.hc1") in holder and msg(locale, "js.type-vaccination") in holder
    assert page.get_attribute("#stage-list [data-stage=schema]", "class") == "stage stage-passed"
    assert page.is_hidden("#verdict-demo") and page.is_hidden("#verdict-warnings")


@pytest.mark.browser
def test_untrusted_foreign_certificate_says_what_is_missing(page, live_server, shared):
    vector = json.loads(
        shared("vectors", "dcc", "DE", "2DCode", "raw", "1.json").read_text(encoding="utf-8")
    )
    page.goto(f"{live_server.url}/verifier?lang=en")
    upload(page, base64.b64decode(vector["2DCODE"]))
    failures = page.inner_text("#failure-list")
    assert msg("en", "reason.hc1.unknown-kid", kid="DEsVUSvpFAE=") in failures


@pytest.mark.browser
@pytest.mark.parametrize("fmt", ["hc1", "shc"])
def test_demo_e_certificate_is_marked_on_the_page(page, live_server, fmt):
    svc = live_server.service
    h = enrol(svc, name="钱演示")
    records(svc, h["holder_id"])
    text = svc.issue_certificate(h["holder_id"], kind="test", format=fmt, actor="test").text
    page.goto(f"{live_server.url}/verifier")
    upload(page, encode_png(text))
    assert page.get_attribute("#verdict", "data-verdict") == "valid"
    assert page.is_visible("#verdict-demo")
    assert "DEMO" in page.inner_text("#verdict-demo")
    assert msg("zh_CN", f"warning.{fmt}.demo") in page.inner_text("#warning-list")
    assert msg("zh_CN", "js.type-test") in page.inner_text("#verdict-holder")


def _report(fmt: str, code: str, details: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "format": fmt,
        "verdict": "invalid",
        "colour": None,
        "status_code": None,
        "stages": {"prefix": True, "expiry": False},
        "reasons": [code],
        "warnings": [],
        "holder": {},
        "type": None,
        "failures": {"expiry": code},
        **({"details": details} if details else {}),
    }


@pytest.mark.browser
@pytest.mark.parametrize(
    ("report", "key", "params"),
    [
        (_report("native", "expired"), "reason.native.expired", {}),
        (_report("hc1", "expired"), "reason.expired", {}),  # no date: the generic words
        (
            _report("shc", "not-yet-valid", {"valid_from": "2024-05-01T16:30:00+00:00"}),
            "reason.shc.not-yet-valid",
            {"date": "2024-05-02 00:30"},
        ),
    ],
    ids=["hp1-expired", "hc1-expired-undated", "shc-not-yet-valid"],
)
def test_words_follow_the_format_and_what_the_report_knows(page, live_server, report, key, params):
    page.route("**/verify", lambda route: route.fulfill(json=report))
    page.goto(f"{live_server.url}/verifier")
    page.fill("#text", "HC1:ANYTHING")
    page.click("#paste-form button[type=submit]")
    page.wait_for_selector("#result:not([hidden])")
    failures = page.inner_text("#failure-list")
    assert msg("zh_CN", key, **params) in failures
    assert "{" not in failures  # never a placeholder left unfilled
    if report["format"] != "native":
        assert msg("zh_CN", "reason.native.expired") not in failures
