"""Holder sign-in: one-time codes, sessions, limits, and that nobody else opens the page."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from healthcode.clock import FixedClock
from healthcode.holders.otp import OtpExpired, OtpLocked, OtpPolicy, session_hash
from healthcode.storage.models import AuditEntry, HolderSession, OtpChallenge
from healthcode.web.app import create_app
from healthcode.web.context import SESSION_COOKIE
from tests.web.conftest import Web, make_settings
from tests.web.helpers import enrol, latest_otp, outbox_count, phone_number, sign_in


@pytest.fixture(scope="module")
def clock() -> FixedClock:
    return FixedClock("2024-05-01T12:00:00Z")


@pytest.fixture(scope="module")
def web(tmp_path_factory, clock):
    """This module's app runs on a fixed clock (expiry is tested by moving it)."""
    settings = make_settings(tmp_path_factory.mktemp("signin"))
    app = create_app(settings, clock=clock)
    service = app.state.hc.service
    yield Web(settings, app, service)
    service.close()


@pytest.fixture
def holder(web):
    return enrol(web.service)


def _request(client, phone):
    return client.post("/holder/sign-in", data={"phone": phone})


def _submit(client, phone, code):
    return client.post(
        "/holder/sign-in/verify", data={"phone": phone, "code": code}, follow_redirects=False
    )


def test_sign_in_flow_sets_a_safe_cookie(client, web, holder):
    r = _request(client, holder["phone"])
    assert r.status_code == 200
    assert 'id="code-sent"' in r.text
    code = latest_otp(web.service, holder["phone"])
    r = _submit(client, holder["phone"], code)
    assert r.status_code == 303
    assert r.headers["location"] == "/holder"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # local mode (plain http); production sets it
    page = client.get("/holder")
    assert page.status_code == 200
    assert holder["name_masked"] in page.text
    assert page.headers["cache-control"] == "no-store"
    code_json = client.get("/holder/code").json()
    assert set(code_json) == {"token", "expires_at", "colour", "status_code"}


def test_sms_goes_to_outbox_and_log_masked(client, web, holder):
    _request(client, holder["phone"])
    masked = holder["phone"][:3] + "****" + holder["phone"][-4:]
    log = Path(web.settings.outbox).read_text(encoding="utf-8")
    assert f"sms to {masked}:" in log
    assert holder["phone"] not in log


def test_code_and_session_are_stored_hashed(client, web, holder):
    _request(client, holder["phone"])
    code = latest_otp(web.service, holder["phone"])
    with web.service.db.session() as s:
        ch = s.execute(select(OtpChallenge).order_by(OtpChallenge.id.desc()).limit(1)).scalar_one()
    assert code not in ch.code_hash
    assert ch.code_hash != hashlib.sha256(code.encode()).hexdigest()
    assert holder["phone"] not in ch.phone_index
    r = _submit(client, holder["phone"], code)
    token = r.cookies.get(SESSION_COOKIE) or client.cookies.get(SESSION_COOKIE)
    with web.service.db.session() as s:
        rows = list(s.execute(select(HolderSession)).scalars())
    assert token not in {row.token_hash for row in rows}
    assert session_hash(token) in {row.token_hash for row in rows}


def test_sign_in_is_audited(client, web, holder):
    sign_in(client, web.service, holder["phone"])
    with web.service.db.session() as s:
        entry = (
            s.execute(
                select(AuditEntry)
                .where(AuditEntry.tag == "holder:sign-in")
                .order_by(AuditEntry.seq.desc())
            )
            .scalars()
            .first()
        )
    assert entry is not None
    assert entry.subject == holder["holder_id"]
    assert holder["phone"] not in str(entry.data)


def test_unknown_phone_gets_the_same_answer_and_no_sms(client, web, holder):
    before = outbox_count(web.service)
    known = _request(client, holder["phone"])
    after_known = outbox_count(web.service)
    unknown_phone = phone_number()
    unknown = _request(client, unknown_phone)
    assert outbox_count(web.service) == after_known == before + 1
    assert unknown.status_code == known.status_code == 200

    def normalise(html: str, phone: str) -> str:
        return html.replace(phone, "PHONE")

    assert normalise(unknown.text, unknown_phone) == normalise(known.text, holder["phone"])
    # Guessing a code for the unknown phone answers exactly like a wrong code.
    r1 = _submit(client, unknown_phone, "123456")
    r2 = _submit(
        client,
        holder["phone"],
        "000000" if latest_otp(web.service, holder["phone"]) != "000000" else "111111",
    )
    assert r1.status_code == r2.status_code == 401
    assert normalise(r1.text, unknown_phone) == normalise(r2.text, holder["phone"])


def test_wrong_code_five_times_locks_the_code(client, web, holder):
    _request(client, holder["phone"])
    right = latest_otp(web.service, holder["phone"])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(5):
        r = _submit(client, holder["phone"], wrong)
        assert r.status_code == 401
        assert 'data-error-code="otp-invalid"' in r.text
    r = _submit(client, holder["phone"], right)  # even the right code is refused now
    assert r.status_code == 401
    assert f'data-error-code="{OtpLocked.code}"' in r.text
    assert client.get("/holder", follow_redirects=False).status_code == 303
    # A new code works again.
    _request(client, holder["phone"])
    assert (
        _submit(client, holder["phone"], latest_otp(web.service, holder["phone"])).status_code
        == 303
    )


def test_expired_code_is_refused(client, web, holder, clock):
    _request(client, holder["phone"])
    code = latest_otp(web.service, holder["phone"])
    clock.advance(5 * 60 + 1)
    r = _submit(client, holder["phone"], code)
    assert r.status_code == 401
    assert f'data-error-code="{OtpExpired.code}"' in r.text
    assert "验证码已过期" in r.text


def test_code_is_single_use(client, web, holder):
    _request(client, holder["phone"])
    code = latest_otp(web.service, holder["phone"])
    assert _submit(client, holder["phone"], code).status_code == 303
    with web.client() as other:
        r = _submit(other, holder["phone"], code)
    assert r.status_code == 401
    assert f'data-error-code="{OtpExpired.code}"' in r.text


def test_a_new_code_replaces_the_old_one(client, web, holder):
    _request(client, holder["phone"])
    first = latest_otp(web.service, holder["phone"])
    _request(client, holder["phone"])
    second = latest_otp(web.service, holder["phone"])
    if first != second:
        assert _submit(client, holder["phone"], first).status_code == 401
    assert _submit(client, holder["phone"], second).status_code == 303


def test_rate_limit_per_phone(web, holder, clock):
    for i in range(5):
        with web.client() as c:  # different client addresses: only the phone limit applies
            assert _request(c, holder["phone"]).status_code == 200, i
    with web.client() as c:
        r = _request(c, holder["phone"])
    assert r.status_code == 429
    assert 'data-error-code="rate-limited"' in r.text
    assert "请求过于频繁" in r.text
    clock.advance(15 * 60 + 1)
    with web.client() as c:
        assert _request(c, holder["phone"]).status_code == 200


def test_rate_limit_per_client_address(web):
    with web.client() as c:
        for _ in range(20):
            assert _request(c, phone_number()).status_code == 200
        r = _request(c, phone_number())
    assert r.status_code == 429


def test_invalid_phone_422(client):
    r = _request(client, "12345")
    assert r.status_code == 422
    assert 'data-error-code="invalid-phone"' in r.text
    r = _submit(client, "abc", "123456")
    assert r.status_code == 422


def test_missing_form_fields_422(client):
    r = client.post("/holder/sign-in/verify", data={"phone": "13900000000"})
    assert r.status_code == 422


def test_no_session_no_access(web):
    with web.client() as c:
        r = c.get("/holder", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/holder/sign-in"
        assert c.get("/holder/code").status_code == 401
    with web.client(cookies={SESSION_COOKIE: "forged-token"}) as c:
        assert c.get("/holder", follow_redirects=False).status_code == 303
        assert c.get("/holder/code").status_code == 401


def test_session_expires_after_12_hours(client, web, holder, clock):
    sign_in(client, web.service, holder["phone"])
    assert client.get("/holder/code").status_code == 200
    clock.advance(12 * 3600 + 1)
    assert client.get("/holder/code").status_code == 401


def test_sign_out_ends_the_session(client, web, holder):
    sign_in(client, web.service, holder["phone"])
    token = client.cookies.get(SESSION_COOKIE)
    r = client.post("/holder/sign-out", follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/holder/code").status_code == 401
    with web.client(cookies={SESSION_COOKIE: token}) as c:  # the old cookie is dead too
        assert c.get("/holder/code").status_code == 401


def test_each_session_sees_only_its_own_holder(web):
    a, b = enrol(web.service, name="李四"), enrol(web.service, name="王小五")
    with web.client() as ca, web.client() as cb:
        sign_in(ca, web.service, a["phone"])
        sign_in(cb, web.service, b["phone"])
        pa, pb = ca.get("/holder").text, cb.get("/holder").text
    assert a["id_masked"] in pa and b["id_masked"] not in pa
    assert b["id_masked"] in pb and a["id_masked"] not in pb


def test_signed_in_visitor_skips_the_form(client, web, holder):
    sign_in(client, web.service, holder["phone"])
    r = client.get("/holder/sign-in", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/holder"


def test_production_cookie_is_secure(tmp_path, clock):
    import base64
    import os

    settings = make_settings(
        tmp_path, environment="prod", master_key=os.urandom(32), admin_token="t" * 32
    )
    assert base64.b64encode(settings.master_key)
    app = create_app(settings, clock=clock, otp_policy=OtpPolicy())
    svc = app.state.hc.service
    try:
        h = enrol(svc)
        with TestClient(app) as c:
            _request(c, h["phone"])
            r = _submit(c, h["phone"], latest_otp(svc, h["phone"]))
        assert "Secure" in r.headers["set-cookie"]
    finally:
        svc.close()


def test_forms_posted_from_another_site_are_refused(client, web, holder):
    evil = {"origin": "https://evil.example"}
    r = client.post("/holder/sign-in", data={"phone": holder["phone"]}, headers=evil)
    assert r.status_code == 403
    assert 'data-error-code="cross-site-request"' in r.text
    r = client.post(
        "/holder/sign-in/verify", data={"phone": holder["phone"], "code": "1"}, headers=evil
    )
    assert r.status_code == 403
    same = {"origin": "http://testserver"}
    assert (
        client.post("/holder/sign-in", data={"phone": holder["phone"]}, headers=same).status_code
        == 200
    )


def test_language_links_of_a_form_answer_go_to_the_form(client, holder):
    r = _submit(client, holder["phone"], "999999")
    assert 'href="/holder/sign-in?lang=en"' in r.text
