"""``POST /verify``, ``GET /healthz``, ``GET /trust-list``: good and bad input."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from healthcode.credentials.qr import encode_png
from tests.web.helpers import enrol


@pytest.fixture(scope="module")
def token(web) -> str:
    h = enrol(web.service)
    return web.service.issue_code(h["holder_id"], actor="test")["token"]


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"ok": True}


def test_trust_list_is_the_signed_list(client, web):
    r = client.get("/trust-list")
    assert r.status_code == 200
    body = r.json()
    assert body["format"] == "healthcode-trust-list/1"
    codes = {i["code"] for i in body["payload"]["issuers"]}
    assert {"100000", "110000", "310000"} <= codes
    assert len(codes) == 35


def test_verify_json_text_valid(client, token):
    r = client.post("/verify", json={"text": token})
    assert r.status_code == 200
    rep = r.json()
    assert rep["verdict"] == "valid"
    assert rep["format"] == "native"
    assert rep["colour"] == "green"
    assert rep["status_code"] == "00"
    assert rep["stages"]["signature"] is True
    assert rep["stages"]["picture"] is None
    assert rep["holder"]["name_masked"] == "张*三"
    assert r.headers["cache-control"] == "no-store"


def test_only_a_scanners_trailing_newline_is_dropped_as_on_the_cli(client, token):
    assert client.post("/verify", json={"text": token + "\r\n"}).json()["verdict"] == "valid"
    # Base45 has a space in its alphabet: the server trims nothing else, like `verify`
    leading = client.post("/verify", json={"text": "  " + token}).json()
    assert leading["verdict"] == "invalid" and leading["format"] == "unknown"
    trailing = client.post("/verify", json={"text": token + " "}).json()
    assert trailing["verdict"] == "invalid"


def test_verify_json_texts_and_plain_text(client, token):
    assert client.post("/verify", json={"texts": [token]}).json()["verdict"] == "valid"
    r = client.post("/verify", content=token.encode(), headers={"content-type": "text/plain"})
    assert r.status_code == 200
    assert r.json()["verdict"] == "valid"


def test_verify_image_upload(client, token):
    files = {"image": ("code.png", encode_png(token), "image/png")}
    r = client.post("/verify", files=files)
    assert r.status_code == 200
    rep = r.json()
    assert rep["verdict"] == "valid"
    assert rep["stages"]["picture"] is True


def test_verify_jpeg_upload(client, token):
    img = Image.open(io.BytesIO(encode_png(token))).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    r = client.post("/verify", files={"image": ("code.jpg", buf.getvalue(), "image/jpeg")})
    assert r.json()["verdict"] == "valid"


def test_tampered_token_is_invalid_without_colour(client, token):
    i = len(token) // 2
    tampered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    r = client.post("/verify", json={"text": tampered})
    assert r.status_code == 200
    rep = r.json()
    assert rep["verdict"] == "invalid"
    assert rep["colour"] is None
    assert rep["status_code"] is None
    assert rep["reasons"]
    assert False in rep["stages"].values()


@pytest.mark.parametrize("text", ["garbage", "HC2:XYZ", "shc:/99", "HP1:::::"])
def test_garbage_text_is_a_report(client, text):
    r = client.post("/verify", json={"text": text})
    assert r.status_code == 200
    assert r.json()["verdict"] == "invalid"


def test_non_image_upload_is_a_report(client):
    r = client.post("/verify", files={"image": ("x.png", b"not a picture at all", "image/png")})
    assert r.status_code == 200
    rep = r.json()
    assert rep["verdict"] == "invalid"
    assert rep["stages"]["picture"] is False
    assert rep["reasons"] == ["picture-unreadable"]


def test_image_without_qr_is_a_report(client):
    buf = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buf, format="PNG")
    r = client.post("/verify", files={"image": ("blank.png", buf.getvalue(), "image/png")})
    assert r.status_code == 200
    assert r.json()["reasons"] == ["no-qr-found"]


def test_oversized_upload_413(client, web):
    big = b"\x89PNG" + b"\0" * web.settings.max_upload_bytes
    r = client.post("/verify", files={"image": ("big.png", big, "image/png")})
    assert r.status_code == 413
    assert r.json()["code"] == "payload-too-large"
    assert r.json()["ok"] is False


def test_oversized_body_refused_before_reading(client, web):
    body = b"x" * (web.settings.max_upload_bytes + 200_000)
    r = client.post("/verify", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 413
    assert r.json()["code"] == "payload-too-large"


def test_oversized_chunked_body_refused_while_streaming(client, web):
    def chunks():
        for _ in range(80):
            yield b"y" * 65536  # ≈ 5 MiB, no Content-Length

    r = client.post("/verify", content=chunks(), headers={"content-type": "text/plain"})
    assert r.status_code == 413
    assert r.json()["code"] == "payload-too-large"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{bad json", "malformed JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"HP1:..."', "JSON object"),
        (b"{}", "exactly one"),
        (b'{"text": "a", "texts": ["b"]}', "exactly one"),
        (b'{"text": 42}', "must be a string"),
        (b'{"text": "   "}', "empty"),
        (b'{"texts": "HP1:"}', "non-empty array"),
        (b'{"texts": []}', "non-empty array"),
        (b'{"texts": ["a", 5]}', "texts[1]"),
        (b'{"text": "a", "colour": "green"}', "unknown field"),
        (b"[" * 100_000, "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
    ],
)
def test_bad_json_422(client, body, fragment):
    r = client.post("/verify", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    out = r.json()
    assert out["ok"] is False
    assert out["status"] == 422
    assert out["code"] == "invalid-input"
    assert fragment in out["message"]
    assert "Traceback" not in r.text


def test_too_long_text_413(client):
    r = client.post("/verify", json={"text": "HP1:" + "A" * 10_000})
    assert r.status_code == 413


def test_too_many_chunks_422(client):
    r = client.post("/verify", json={"texts": ["shc:/1"] * 40})
    assert r.status_code == 422


def test_wrong_content_type_422(client):
    r = client.post("/verify", content=b"<x/>", headers={"content-type": "application/xml"})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid-input"
    r = client.post("/verify")
    assert r.status_code == 422


def test_multipart_without_image_field_422(client):
    r = client.post("/verify", data={"text": "HP1:..."}, files={"other": ("a.txt", b"x")})
    assert r.status_code == 422
    assert "image" in r.json()["message"]
    r = client.post("/verify", files={"image": ("empty.png", b"", "image/png")})
    assert r.status_code == 422


def test_malformed_multipart_422(client):
    r = client.post(
        "/verify",
        content=b"--xyz\r\nnot a header\r\n\r\n",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "invalid-input"


def test_server_keeps_serving_after_bad_input(client, token):
    for body in (b"{", b"null", b"[" * 50_000):
        client.post("/verify", content=body, headers={"content-type": "application/json"})
    assert client.get("/healthz").status_code == 200
    assert client.post("/verify", json={"text": token}).json()["verdict"] == "valid"


def test_verifications_are_audited_without_the_token(client, web, token):
    from sqlalchemy import select

    from healthcode.storage.models import AuditEntry

    client.post("/verify", json={"text": token})
    with web.service.db.session() as s:
        last = s.execute(
            select(AuditEntry)
            .where(AuditEntry.tag == "credential:verify")
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).scalar_one()
    assert last.actor == "web"
    assert last.data["verdict"] == "valid"
    assert token not in json.dumps(last.data)


def test_security_headers(client):
    r = client.get("/verifier")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_openapi_documents_verify(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/verify"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data", "text/plain"} <= set(body)
