"""The trip-card page (/trips): SMS code, the card, languages, dates, limits (TestClient).

Data: user 010 of GeoLife shifted into May 2022 (Harbin on 2022-05-10) with the
real risk list of 黑龙江 (哈尔滨 listed on 2022-05-11), and a synthetic phone that
was in Shanghai and Hong Kong; the app's clock is 2022-05-12 12:00 +08:00.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from healthcode.clock import FixedClock
from healthcode.storage.models import AuditEntry, OtpChallenge, TripSession
from healthcode.web.app import create_app
from healthcode.web.context import SESSION_COOKIE
from healthcode.web.trips import TRIP_COOKIE
from tests.storage.test_trips import LONG_010, SHIFT_010, risk_subset, shifted_csv, write_csv
from tests.support.shared import shared_root
from tests.web.conftest import Web, make_settings
from tests.web.helpers import enrol, latest_otp, outbox_count, sign_in

TRAVELLER = "13955550001"  # Shanghai 2022-05-08, Hong Kong 2022-05-09


@pytest.fixture(scope="module")
def clock() -> FixedClock:
    return FixedClock("2022-05-12T04:00:00Z")


@pytest.fixture(scope="module")
def web(tmp_path_factory, clock):
    tmp = tmp_path_factory.mktemp("trips")
    settings = make_settings(tmp, shared=str(shared_root()))
    app = create_app(settings, clock=clock)
    svc = app.state.hc.service
    svc.import_risk_areas(risk_subset(tmp, {"黑龙江省"}))
    svc.import_trip_records([shifted_csv(tmp, LONG_010, SHIFT_010)])
    svc.import_trip_records(
        [
            write_csv(
                tmp / "traveller.csv",
                [
                    (TRAVELLER, "2022-05-08T08:00:00+08:00", "上海"),
                    (TRAVELLER, "2022-05-08T15:00:00+08:00", "上海"),
                    (TRAVELLER, "2022-05-09T10:00:00+08:00", "香港"),
                ],
            )
        ]
    )
    yield Web(settings, app, svc)
    svc.close()


@pytest.fixture(autouse=True)
def _next_quarter_hour(clock):
    """Each test 16 minutes after the last: the per-phone code limit (5 in 15 min) starts afresh."""
    clock.advance(16 * 60)


def request_code(client, phone):
    return client.post("/trips", data={"phone": phone})


def verify(client, phone, code):
    return client.post("/trips/verify", data={"phone": phone, "code": code}, follow_redirects=False)


def open_card(client, web, phone):
    """The SMS-code flow: returns the card page's HTML."""
    r = request_code(client, phone)
    assert r.status_code == 200, r.text
    assert 'id="code-sent"' in r.text
    r = verify(client, phone, latest_otp(web.service, phone))
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/trips"
    r = client.get("/trips")
    assert r.status_code == 200
    return r.text


def test_start_page_links_to_the_trip_card(client):
    assert 'href="/trips">我的行程卡<' in client.get("/").text


def test_form_first(client):
    r = client.get("/trips")
    assert r.status_code == 200
    assert 'action="/trips"' in r.text and 'id="phone"' in r.text
    assert "行程卡" in r.text and '<html lang="zh-CN">' in r.text


def test_card_through_the_sms_code(client, web):
    before = outbox_count(web.service)
    html = open_card(client, web, LONG_010)
    assert outbox_count(web.service) == before + 1
    # masked phone, updated at, the starred city, the footnotes, colour, policy
    assert "199****1010的动态行程卡" in html
    assert "更新于：2022.05.11" in html
    assert "哈尔滨市" in html
    assert 'data-code="230100" data-star="true"' in html
    assert '<span class="trip-star"' in html
    assert "停留4小时以上" in html
    assert "并不表示用户实际到访过这些中高风险地区" in html
    assert 'id="trip-colour-label">绿色行程卡<' in html
    assert "前14天" in html  # the meaning of green under the policy of the date
    assert "TC-2021-01-08" in html
    assert "19900001010" not in html
    assert client.get("/trips").headers["cache-control"] == "no-store"


def test_cookie_is_scoped_and_short(client, web):
    request_code(client, LONG_010)
    r = verify(client, LONG_010, latest_otp(web.service, LONG_010))
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{TRIP_COOKIE}=")
    assert "HttpOnly" in cookie and "Path=/trips" in cookie and "Max-Age=600" in cookie
    assert "samesite=lax" in cookie.lower()


def test_english(client, web):
    open_card(client, web, LONG_010)
    html = client.get("/trips?lang=en").text
    assert '<html lang="en">' in html
    assert "Trip card of 199****1010" in html
    assert "Updated at 2022.05.11" in html
    assert "stays of 4 hours or more" in html
    assert "Green trip card" in html
    assert "this does not mean the user visited those areas" in html


def test_other_dates(client, web):
    open_card(client, web, LONG_010)
    later = client.get("/trips?date=2022-05-23").text
    assert 'data-code="230100" data-star="false"' in later  # 哈尔滨 delisted after 05-20
    ended = client.get("/trips?date=2023-01-01")
    assert ended.status_code == 422
    assert 'data-error-code="trip-service-ended"' in ended.text
    assert "服务已于 2022-12-13 下线" in ended.text
    assert 'id="trip-date"' in ended.text  # another date can be chosen
    bad = client.get("/trips?date=May")
    assert bad.status_code == 422 and 'data-error-code="invalid-date"' in bad.text


def test_yellow_card_abroad(client, web):
    html = open_card(client, web, TRAVELLER)
    assert "139****0001的动态行程卡" in html
    assert "上海市" in html and "中国香港" in html
    assert 'id="trip-colour-label">黄色行程卡<' in html


def test_phone_without_records_gets_an_empty_card_with_the_reason(client, web):
    html = open_card(client, web, "13800000009")  # any number gets a code
    assert "138****0009的动态行程卡" in html
    assert 'data-reason="no-records"' in html
    assert "没有该号码的位置记录" in html
    assert 'id="trip-cities-none"' in html


def test_wrong_code_and_sign_out(client, web):
    request_code(client, LONG_010)
    code = latest_otp(web.service, LONG_010)
    wrong = "000000" if code != "000000" else "111111"
    r = verify(client, LONG_010, wrong)
    assert r.status_code == 401 and 'data-error-code="otp-invalid"' in r.text
    assert verify(client, LONG_010, code).status_code == 303
    assert "哈尔滨市" in client.get("/trips").text
    r = client.post("/trips/sign-out", follow_redirects=False)
    assert r.status_code == 303
    assert 'id="phone"' in client.get("/trips").text


def test_codes_are_hashed_and_purpose_bound(client, web):
    request_code(client, LONG_010)
    code = latest_otp(web.service, LONG_010)
    with web.service.db.read() as s:
        rows = s.execute(select(OtpChallenge.purpose, OtpChallenge.code_hash)).all()
    assert ("trip-card", code) not in rows and "trip-card" in {p for p, _ in rows}
    # a trip-card code does not sign a holder in
    holder = enrol(web.service, phone="13955550002")
    request_code(client, holder["phone"])
    trip_code = latest_otp(web.service, holder["phone"])
    r = client.post(
        "/holder/sign-in/verify", data={"phone": holder["phone"], "code": trip_code},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 401


def test_signed_in_holder_opens_their_own_card_from_the_code_page(web):
    holder = enrol(web.service, phone=TRAVELLER)
    with web.client() as c:
        sign_in(c, web.service, TRAVELLER)
        page = c.get("/holder").text
        assert 'id="trip-link-button" href="/trips"' in page
        html = c.get("/trips").text
        assert "139****0001的动态行程卡" in html and "上海市" in html
        assert 'href="/holder"' in html  # back to the code, no trip sign-out
        assert c.cookies.get(SESSION_COOKIE)
    with web.service.db.read() as s:
        reads = (
            s.execute(
                select(AuditEntry.data).where(
                    AuditEntry.tag == "holder:read", AuditEntry.subject == holder["holder_id"]
                )
            )
            .scalars()
            .all()
        )
    assert {"purpose": "trip card"} in reads


def test_each_session_sees_only_its_own_card(web):
    with web.client() as a, web.client() as b:
        open_card(a, web, LONG_010)
        open_card(b, web, TRAVELLER)
        assert "199****1010" in a.get("/trips").text
        assert "199****1010" not in b.get("/trips").text
    with web.client(cookies={TRIP_COOKIE: "forged-token"}) as forged:
        assert 'id="phone"' in forged.get("/trips").text


def test_session_rows_are_hashed_tokens(client, web):
    open_card(client, web, LONG_010)
    token = client.cookies.get(TRIP_COOKIE)
    with web.service.db.read() as s:
        hashes = s.execute(select(TripSession.token_hash)).scalars().all()
    assert token not in hashes and len(hashes) >= 1


def test_invalid_phone_and_cross_site_posts(client):
    r = request_code(client, "12345")
    assert r.status_code == 422 and 'data-error-code="invalid-phone"' in r.text
    r = client.post("/trips", data={"phone": LONG_010}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403


def test_rate_limit_per_phone_shared_with_sign_in(web, clock):
    phone = "13955550003"
    for i in range(5):
        with web.client() as c:
            assert request_code(c, phone).status_code == 200, i
    with web.client() as c:
        r = request_code(c, phone)
        assert r.status_code == 429 and 'data-error-code="rate-limited"' in r.text
        r = c.post("/holder/sign-in", data={"phone": phone})
        assert r.status_code == 429


def test_code_expires_after_five_minutes(web, clock):
    with web.client() as c:
        request_code(c, "13955550004")
        code = latest_otp(web.service, "13955550004")
        clock.advance(5 * 60 + 1)
        try:
            r = verify(c, "13955550004", code)
        finally:
            clock.advance(-(5 * 60 + 1))
    assert r.status_code == 401 and 'data-error-code="otp-expired"' in r.text
