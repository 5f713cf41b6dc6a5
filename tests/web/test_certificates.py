"""E-certificates on the web: downloads behind the holder session, the SHC key set,
and in real chromium a holder showing the QR and downloading the PDF; the PNG of a
test certificate uploaded to the verifier page reads as valid."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import httpx
import pytest

from healthcode.credentials import shc
from healthcode.credentials.qr import decode_image
from tests.web.helpers import enrol, sign_in


def records(service, holder_id: str, *, test: bool = True) -> None:
    service.import_facts(
        "vaccinations",
        [{"holder_id": holder_id, "dose": 1, "date": "2022-03-01", "product": "克尔来福"},
         {"holder_id": holder_id, "dose": 2, "date": "2022-04-01", "product": "克尔来福"}],
        source="test",
    )  # fmt: skip
    if test:
        sampled = (service.now() - timedelta(hours=5)).isoformat()
        service.import_facts(
            "tests",
            [{"holder_id": holder_id, "kind": "pcr", "result": "negative", "sampled_at": sampled}],
            source="test",
        )


@pytest.fixture(scope="module")
def holder(web):
    h = enrol(web.service, name="王小明")
    records(web.service, h["holder_id"])
    return h


@pytest.mark.parametrize(
    "path", ["/holder/certificates/vaccination.pdf", "/holder/certificates/test.png?format=shc",
             "/holder/certificates/test.txt"],
)  # fmt: skip
def test_downloads_need_the_session(client, path):
    # a download link is a page route: the refusal is the error page, in the reader's language
    r = client.get(path)
    assert r.status_code == 401 and "text/html" in r.headers["content-type"]
    assert "sign-in-required" in r.text or "登录" in r.text


def test_downloads_with_the_session(client, web, holder):
    sign_in(client, web.service, holder["phone"])
    txt = client.get("/holder/certificates/vaccination.txt?format=hc1")
    assert txt.status_code == 200 and txt.text.startswith("HC1:")
    assert txt.headers["cache-control"] == "no-store"
    report = web.service.verify([txt.text])
    assert report.verdict == "valid" and report.type == "vaccination"
    assert report.holder["family_name"] == "王"

    png = client.get("/holder/certificates/test.png?format=shc")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    text = decode_image(png.content)[0]
    assert text.startswith("shc:/")
    card = web.service.verify([text])
    assert card.verdict == "valid" and card.type == "test", (
        card.reasons,
        card.stages,
        card.warnings,
    )

    pdf = client.get("/holder/certificates/test.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == 'attachment; filename="healthcode-test-hc1.pdf"'
    if shutil.which("pdftotext"):
        out = subprocess.run(
            ["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True
        )
        assert "王小明" in out.stdout.decode() and "WANG XIAOMING" in out.stdout.decode()

    assert client.get("/holder/certificates/recovery.pdf").status_code == 422
    assert client.get("/holder/certificates/test.pdf?format=hc2").status_code == 422


def test_holder_page_offers_what_is_on_record(client, web):
    h = enrol(web.service, name="赵六")
    sign_in(client, web.service, h["phone"])
    page = client.get("/holder").text
    assert 'id="no-certificates"' in page and "/holder/certificates/" not in page
    records(web.service, h["holder_id"], test=False)
    page = client.get("/holder").text
    assert 'id="cert-vaccination-hc1"' in page and 'id="cert-vaccination-shc"' in page
    assert 'id="cert-test-hc1"' not in page
    assert "电子证照" in page
    r = client.get("/holder/certificates/test.txt")
    assert r.status_code == 404 and "没有可开具证照的记录" in r.text


def test_issuer_key_set(client, web, holder):
    empty = client.get("/issuers/650000/.well-known/jwks.json")
    assert empty.status_code == 200 and empty.json() == {"keys": []}
    assert empty.headers["access-control-allow-origin"] == "*"
    assert client.get("/issuers/999999/.well-known/jwks.json").status_code == 404
    web.service.issue_certificate(holder["holder_id"], kind="test", format="shc")
    keys = client.get("/issuers/110000/.well-known/jwks.json").json()
    iss = "http://127.0.0.1:8000/issuers/110000"
    assert [k["kid"] for k in shc.validate_keyset(keys, iss=iss)] == [
        k["kid"] for k in keys["keys"]
    ]
    # crlVersion: the key's card revocation list (.well-known/crl/{kid}.json) is at version 1
    assert all(
        set(k) == {"kty", "kid", "use", "alg", "crv", "x", "y", "crlVersion"} for k in keys["keys"]
    )


# --- in chromium -----------------------------------------------------------------------
@pytest.mark.browser
def test_holder_shows_the_qr_and_downloads_the_pdf(page, live_server):
    from tests.web.test_browser import browser_sign_in

    h = enrol(live_server.service, name="刘芳芳")
    records(live_server.service, h["holder_id"])
    browser_sign_in(page, live_server, h["phone"])
    section = page.locator("#cert-vaccination-hc1")
    assert page.locator("#certificates h2").inner_text() == "电子证照"
    section.locator(".cert-show").click()
    img = section.locator("img.cert-qr")
    img.wait_for(state="visible")
    # (wait_for_function would evaluate a string: the page's CSP forbids that, rightly)
    for _ in range(200):
        if img.evaluate("el => el.complete && el.naturalWidth > 0"):
            break
        page.wait_for_timeout(50)
    assert img.evaluate("el => el.naturalWidth") > 0
    png = httpx.get(
        live_server.url + img.get_attribute("src"),
        cookies={c["name"]: c["value"] for c in page.context.cookies()},
    )
    assert decode_image(png.content)[0].startswith("HC1:")

    with page.expect_download() as info:
        page.locator("#cert-test-shc .cert-pdf").click()
    download = info.value
    assert download.suggested_filename == "healthcode-test-shc.pdf"
    with open(download.path(), "rb") as f:
        assert f.read(5) == b"%PDF-"


@pytest.mark.browser
def test_verifier_page_reads_the_png_of_a_test_certificate(page, live_server):
    from tests.web.test_browser import upload

    h = enrol(live_server.service, name="孙七")
    records(live_server.service, h["holder_id"])
    cert = live_server.service.issue_certificate(h["holder_id"], kind="test", format="hc1")
    from healthcode.credentials.qr import encode_png

    page.goto(f"{live_server.url}/verifier")
    upload(page, encode_png(cert.text))
    assert page.get_attribute("#verdict", "data-verdict") == "valid"
    assert page.inner_text("#verdict-word").endswith("有效")
