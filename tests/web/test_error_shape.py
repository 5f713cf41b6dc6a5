"""The one JSON error shape, exactly, for one error of each kind (STYLE.md practice 2).

API routes answer ``{"ok": false, "status", "code", "message"}``; page routes show
an HTML page with the same status; nothing ever carries a stack trace.
"""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter

from healthcode.errors import HolderExists, RateLimited
from healthcode.web.errors import PAGE_TAG
from tests.web.conftest import make_settings


@pytest.fixture(scope="module")
def boom_web(tmp_path_factory):
    """An app with two extra routes that fail on purpose."""
    from healthcode.web.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("boom")))
    router = APIRouter()

    @router.get("/_boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    @router.get("/_boom-page", tags=[PAGE_TAG])
    def boom_page() -> None:
        raise ZeroDivisionError("page secret")

    @router.get("/_conflict")
    async def conflict() -> None:
        raise HolderExists("a holder with this ID document is already enrolled")

    app.include_router(router)
    yield app
    app.state.hc.service.close()


@pytest.fixture
def boom_client(boom_web):
    from starlette.testclient import TestClient

    with TestClient(boom_web, raise_server_exceptions=False) as c:
        yield c


def test_422_invalid_input_exact(client):
    r = client.post("/verify", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json() == {
        "ok": False,
        "status": 422,
        "code": "invalid-input",
        "message": 'give exactly one of "text" and "texts"',
    }


def test_422_on_a_page_form_is_an_html_page(client):
    r = client.post("/holder/sign-in", data={}, headers={"accept": "application/json"})
    assert r.status_code == 422
    # A page route: the error is an HTML page, with the code in it.
    assert r.headers["content-type"].startswith("text/html")
    assert 'data-error-code="invalid-input"' in r.text


def test_404_not_found_exact(client):
    r = client.get("/no/such/route")
    assert r.status_code == 404
    assert r.json() == {
        "ok": False,
        "status": 404,
        "code": "not-found",
        "message": "no such page: /no/such/route",
    }


def test_404_page_for_browsers(client):
    r = client.get("/no/such/page", headers={"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "页面不存在" in r.text
    assert 'data-error-code="not-found"' in r.text


def test_405_method_not_allowed_exact(client):
    r = client.delete("/verify")
    assert r.status_code == 405
    assert r.json() == {
        "ok": False,
        "status": 405,
        "code": "method-not-allowed",
        "message": "DELETE is not allowed on /verify",
    }


def test_401_sign_in_required_exact(client):
    r = client.get("/holder/code")
    assert r.status_code == 401
    assert r.json() == {
        "ok": False,
        "status": 401,
        "code": "sign-in-required",
        "message": "sign in first: POST /holder/sign-in",
    }


def test_413_payload_too_large_exact(client, web):
    limit = web.settings.max_upload_bytes
    r = client.post("/verify", files={"image": ("a.png", b"\x89PNG" + b"0" * limit, "image/png")})
    assert r.status_code == 413
    assert r.json() == {
        "ok": False,
        "status": 413,
        "code": "payload-too-large",
        "message": f"image larger than {limit} bytes",
    }


def test_409_conflict_exact(boom_client):
    r = boom_client.get("/_conflict")
    assert r.status_code == 409
    assert r.json() == {
        "ok": False,
        "status": 409,
        "code": "holder-exists",
        "message": "a holder with this ID document is already enrolled",
    }


def test_429_rate_limited_exact(boom_web):
    from starlette.testclient import TestClient

    @boom_web.router.get("/_limited")
    async def limited() -> None:
        raise RateLimited("too many sign-in codes requested; try again later")

    with TestClient(boom_web) as c:
        r = c.get("/_limited")
    assert r.status_code == 429
    assert r.json() == {
        "ok": False,
        "status": 429,
        "code": "rate-limited",
        "message": "too many sign-in codes requested; try again later",
    }


def test_500_internal_error_exact_and_logged(boom_client, caplog):
    with caplog.at_level(logging.ERROR, logger="healthcode.web"):
        r = boom_client.get("/_boom")
    assert r.status_code == 500
    assert r.json() == {
        "ok": False,
        "status": 500,
        "code": "internal-error",
        "message": "internal error",
    }
    assert "secret" not in r.text
    assert "Traceback" not in r.text
    logged = [rec for rec in caplog.records if rec.name == "healthcode.web"]
    assert logged and logged[0].exc_info is not None
    assert "secret internal detail" in str(logged[0].exc_info[1])
    # ... and the server keeps serving.
    assert boom_client.get("/healthz").json() == {"ok": True}


def test_500_on_a_page_is_an_html_page(boom_client, caplog):
    with caplog.at_level(logging.ERROR, logger="healthcode.web"):
        r = boom_client.get("/_boom-page")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "page secret" not in r.text
    assert "服务器出错了" in r.text


def test_503_not_ready(boom_web, monkeypatch):
    from starlette.testclient import TestClient

    engine = boom_web.state.hc.service.db.engine

    def down(*a, **k):
        raise OSError("connection refused")

    monkeypatch.setattr(engine, "connect", down)
    with TestClient(boom_web) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    assert r.json() == {
        "ok": False,
        "status": 503,
        "code": "not-ready",
        "message": "database unavailable",
    }
