"""E-certificates on the web: downloads behind the holder session, one certificate per
kind and format whatever is clicked (its QR, PNG, PDF and text are the same certificate),
the holder's list, the SHC key set, and in real chromium a holder issuing one, showing
the QR and downloading the PNG and PDF of that same certificate; the PNG of a test
certificate uploaded to the verifier page reads as valid."""

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


def register(service, holder_id):
    return service.list_certificates(holder_id)


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


def test_every_rendition_is_the_same_certificate(client, web):
    h = enrol(web.service, name="阿依古丽·买买提")
    records(web.service, h["holder_id"])
    sign_in(client, web.service, h["phone"])
    for fmt in ("hc1", "shc"):
        base = f"/holder/certificates/test.{{}}?format={fmt}"
        txt = client.get(base.format("txt"))
        png = client.get(base.format("png"))
        again = client.get(base.format("txt"))
        pdf = client.get(base.format("pdf"))
        ident = txt.headers["x-certificate-id"]
        assert {r.headers["x-certificate-id"] for r in (png, again, pdf)} == {ident}
        # byte for byte: the signature is deterministic, so showing it again is the same text
        assert again.text == txt.text and decode_image(png.content) == [txt.text]
        report = web.service.verify([txt.text])
        assert report.verdict == "valid"
        (record,) = [r for r in register(web.service, h["holder_id"]) if r["format"] == fmt]
        assert record["id"] == ident
        # the verifier's report names the certificate as the register does
        if fmt == "hc1":
            assert report.details["uvci"] == record["uvci"] and record["uvci"] in pdf_text(pdf)
        else:
            assert report.details["rid"] == record["rid"]
        by_id = client.get(base.format("png") + f"&id={ident}")
        assert by_id.status_code == 200 and decode_image(by_id.content) == [txt.text]
    assert len(register(web.service, h["holder_id"])) == 2  # one per format, not one per click


def pdf_text(response) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", "-", "-"], input=response.content, capture_output=True, check=True
    ).stdout.decode()


def test_the_pdf_prints_the_name_as_written(client, web):
    h = enrol(web.service, name="阿依古丽·买买提")
    records(web.service, h["holder_id"], test=False)
    sign_in(client, web.service, h["phone"])
    text = pdf_text(client.get("/holder/certificates/vaccination.pdf?format=hc1"))
    assert "阿依古丽·买买提" in text and "MAIMAITI AYIGULI" in text
    assert "买买提阿依古丽" not in text and "买买提 阿依古丽" not in text


def test_issue_form_then_list_then_a_change(client, web):
    h = enrol(web.service, name="钱七")
    records(web.service, h["holder_id"])
    sign_in(client, web.service, h["phone"])
    page = client.get("/holder").text
    assert page.count('class="button cert-issue"') == 4 and 'id="cert-list"' not in page
    assert "/holder/certificates/test.png" not in page  # nothing issued on page load
    for _ in range(2):  # a second click (or a resubmitted form) issues nothing new
        r = client.post(
            "/holder/certificates", data={"kind": "test", "format": "hc1"}, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == "/holder#cert-test-hc1"
    (record,) = register(web.service, h["holder_id"])
    page = client.get("/holder").text
    assert page.count('class="button cert-issue"') == 3
    assert f'data-certificate="{record["id"]}"' in page
    assert f"/holder/certificates/test.png?format=hc1&amp;id={record['id']}" in page
    assert f"/holder/certificates/test.txt?format=hc1&amp;id={record['id']}" in page
    # the list: kind, format, issued, valid until, UVCI, status
    assert 'id="cert-list"' in page and record["uvci"] in page and "有效" in page

    # new records: the certificate shown so far is no longer current, a new one is offered
    records(web.service, h["holder_id"], test=True)
    stale = client.get(f"/holder/certificates/test.txt?format=hc1&id={record['id']}")
    assert stale.status_code == 409 and "certificate-not-current" in stale.text
    page = client.get("/holder").text
    assert page.count('class="button cert-issue"') == 4
    # a revoked certificate is listed as revoked
    web.service.revoke_certificate(record["id"], reason="test")
    page = client.get("/holder").text
    assert "已撤销" in page

    en = client.get("/holder?lang=en").text
    assert "Revoked" in en and "Issue certificate" in en and "My e-certificates" in en


def test_issue_form_refuses_other_sites_and_strangers(client, web, holder):
    r = client.post("/holder/certificates", data={"kind": "test", "format": "hc1"})
    assert r.status_code == 401
    sign_in(client, web.service, holder["phone"])
    r = client.post(
        "/holder/certificates", data={"kind": "test", "format": "hc1"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )  # fmt: skip
    assert r.status_code == 403
    r = client.post("/holder/certificates", data={"kind": "recovery", "format": "hc1"})
    assert r.status_code == 422
    # another holder's certificate is not yours to show
    other = enrol(web.service)
    records(web.service, other["holder_id"])
    theirs = web.service.issue_certificate(other["holder_id"], kind="test", format="shc")
    r = client.get(f"/holder/certificates/test.txt?format=shc&id={theirs.id}")
    assert r.status_code == 404
    mine = client.get("/holder/certificates/test.txt?format=shc").headers["x-certificate-id"]
    # the id must match the kind and format asked for
    assert (
        client.get(f"/holder/certificates/vaccination.txt?format=shc&id={mine}").status_code == 404
    )


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
def test_holder_issues_once_and_every_rendition_is_that_certificate(page, live_server):
    from tests.web.test_browser import browser_sign_in

    h = enrol(live_server.service, name="刘芳芳")
    records(live_server.service, h["holder_id"])
    browser_sign_in(page, live_server, h["phone"])
    assert page.locator("#certificates h2").inner_text() == "电子证照"
    section = page.locator("#cert-vaccination-hc1")
    assert section.locator(".cert-show").count() == 0  # nothing issued yet
    section.locator(".cert-issue").click()
    page.wait_for_url(f"{live_server.url}/holder#cert-vaccination-hc1")
    section = page.locator("#cert-vaccination-hc1")
    ident = section.get_attribute("data-certificate")
    assert ident
    uvci = section.locator(".cert-identifier").inner_text()
    assert uvci.startswith("URN:UVCI:01:XH:110000/" + ident)
    row = page.locator(f"#cert-list tr[data-certificate='{ident}']")
    assert row.get_attribute("data-status") == "valid" and uvci in row.inner_text()

    section.locator(".cert-show").click()
    img = section.locator("img.cert-qr")
    img.wait_for(state="visible")
    # (wait_for_function would evaluate a string: the page's CSP forbids that, rightly)
    for _ in range(200):
        if img.evaluate("el => el.complete && el.naturalWidth > 0"):
            break
        page.wait_for_timeout(50)
    assert img.evaluate("el => el.naturalWidth") > 0
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    shown = httpx.get(live_server.url + img.get_attribute("src"), cookies=cookies)
    on_screen = decode_image(shown.content)[0]
    assert on_screen.startswith("HC1:")

    with page.expect_download() as info:
        section.locator(".cert-png").click()
    with open(info.value.path(), "rb") as f:
        assert decode_image(f.read()) == [on_screen]  # the PNG is the QR on the screen
    with page.expect_download() as info:
        section.locator(".cert-pdf").click()
    download = info.value
    assert download.suggested_filename == "healthcode-vaccination-hc1.pdf"
    with open(download.path(), "rb") as f:
        pdf = f.read()
    assert pdf.startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
        assert uvci in out.stdout.decode()
    # one certificate for all of it
    assert [r["id"] for r in live_server.service.list_certificates(h["holder_id"])] == [ident]


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
