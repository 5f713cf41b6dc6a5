"""The trip-card page (/trips): SMS code, the card, languages, dates, limits (TestClient).

Data: user 010 of GeoLife shifted into May 2022 (Harbin on 2022-05-10) with the
real risk lists of 黑龙江 and 上海 (哈尔滨 listed on 2022-05-11; 上海 on 2022-06-27
and 06-28, by the independently derived ``city_daily_risk.csv``), a synthetic phone
that was in Shanghai and Hong Kong in May, and one that stayed in Shanghai in June;
the app's clock is 2022-05-12 12:00 +08:00.

What a card must say on a date comes from the trip-card history (``DESIGN.md``):
red for risk cities until 2021-01-08 20:30, stars from then until 2022-06-29, a
14-day window until 2022-07-08 and 7 days from then.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from healthcode.clock import FixedClock
from healthcode.storage.models import (
    AuditEntry,
    ImportRun,
    OtpChallenge,
    TripCardRow,
    TripPhone,
    TripSession,
)
from healthcode.web.app import create_app
from healthcode.web.context import SESSION_COOKIE
from healthcode.web.trips import TRIP_COOKIE
from tests.storage.test_trips import LONG_010, SHIFT_010, risk_subset, shifted_csv, write_csv
from tests.support.shared import shared_root
from tests.web.conftest import Web, make_settings
from tests.web.helpers import enrol, latest_otp, outbox_count, sign_in

TRAVELLER = "13955550001"  # Shanghai 2022-05-08, Hong Kong 2022-05-09
JUNE = "13955550006"  # Shanghai 2022-06-20 08:00 – 15:00
FAR = "13955550007"  # Shanghai 2022-05-07, then the open Pacific (no country near) on 2022-05-08
DEMO_PHONE = "17000000009"  # DEMO records (imported as `healthcode demo` does), demo date 05-11


@pytest.fixture(scope="module")
def clock() -> FixedClock:
    return FixedClock("2022-05-12T04:00:00Z")


@pytest.fixture(scope="module")
def web(tmp_path_factory, clock):
    tmp = tmp_path_factory.mktemp("trips")
    settings = make_settings(tmp, shared=str(shared_root()))
    app = create_app(settings, clock=clock)
    svc = app.state.hc.service
    svc.import_risk_areas(risk_subset(tmp, {"黑龙江省", "上海市"}))
    svc.import_trip_records([shifted_csv(tmp, LONG_010, SHIFT_010)])
    svc.import_trip_records(
        [
            write_csv(
                tmp / "traveller.csv",
                [
                    (TRAVELLER, "2022-05-08T08:00:00+08:00", "上海"),
                    (TRAVELLER, "2022-05-08T15:00:00+08:00", "上海"),
                    (TRAVELLER, "2022-05-09T10:00:00+08:00", "香港"),
                    (JUNE, "2022-06-20T08:00:00+08:00", "上海"),
                    (JUNE, "2022-06-20T15:00:00+08:00", "上海"),
                    (FAR, "2022-05-07T08:00:00+08:00", "上海"),
                    (FAR, "2022-05-08T09:30:00+08:00", (150.0, 20.0)),
                    (FAR, "2022-05-08T21:45:00+08:00", (150.0, 20.0)),
                ],
            )
        ]
    )
    svc.import_trip_records(
        [write_csv(tmp / "demo.csv", [(DEMO_PHONE, "2022-05-09T09:00:00+08:00", "北京"),
                                      (DEMO_PHONE, "2022-05-09T19:00:00+08:00", "北京")])],
        actor="demo",
    )  # fmt: skip
    with svc.db.session() as s:  # the marker `healthcode demo` writes with its date
        s.add(ImportRun(id="demo-trips-test", kind="demo-trips", source="healthcode demo",
                        sha256="", rows=1, created_at=clock.now(), summary={"day": "2022-05-11"}))  # fmt: skip
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


def text_of(html, element_id):
    """The text of the element with ``id`` (tags dropped, white space collapsed)."""
    m = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert m is not None, f"no #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", m.group(2)).split())


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
    star_note = text_of(html, "trip-star-note")
    assert "2022-05-11（查询日期前一天）" in star_note  # the risk list of D−1, not "currently"
    assert "并不表示用户实际到访过这些中高风险地区" in star_note
    assert 'id="trip-colour-label">绿色行程卡<' in html
    assert "前14天" in text_of(html, "trip-meaning")  # the window of the date
    assert "2022-04-28 至 2022-05-11（共 14 天）" in text_of(html, "trip-lag-note")
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
    assert text_of(html, "trip-updated") == "Updated at 2022-05-11 01:13:10 (China time)"
    assert "stayed 4 hours or more" in text_of(html, "trip-lead")
    assert "Green trip card" in html
    # the English name with the official Chinese name alongside; the JSON name stays Chinese
    harbin = re.search(r'<li[^>]*data-code="230100".*?</li>', html, re.S).group(0)
    assert " ".join(re.sub(r"<[^>]+>", " ", harbin).split()).startswith("Harbin 哈尔滨市 *")
    assert 'lang="zh-CN">哈尔滨市<' in harbin
    star_note = text_of(html, "trip-star-note")
    assert "on 2022-05-11, the day before the card's date" in star_note
    assert "does not mean that the user visited those areas" in star_note
    assert "currently" not in html
    lag = text_of(html, "trip-lag-note")
    assert "one day behind" in lag and "2022-04-28 to 2022-05-11 (14 days)" in lag
    stay = text_of(html, "trip-stay-note")
    assert "4 hours or more" in stay and "passed through in less time is not" in stay
    legend = text_of(html, "trip-legend")
    assert "close contact" in legend and "batch job" not in legend and "window" not in legend
    assert "In the 14 days" in text_of(html, "trip-meaning")


def test_english_names_of_places_abroad(client, web):
    open_card(client, web, TRAVELLER)
    html = client.get("/trips?lang=en").text
    assert text_of(html, "trip-abroad-title") == "Places outside mainland China:"
    assert text_of(html, "trip-abroad") == "Hong Kong 中国香港 05-09 10:00 – 05-09 10:00"
    assert "Shanghai" in text_of(html, "trip-cities") and "上海市" in text_of(html, "trip-cities")


@pytest.mark.parametrize(
    ("day", "policy", "days", "colours", "star_era"),
    [
        ("2020-06-01", "TC-2020-03-06", 14, ["green", "yellow", "orange", "red"], False),
        ("2021-06-01", "TC-2021-01-08", 14, ["green", "yellow", "orange"], True),
        ("2022-07-01", "TC-2022-06-29", 14, ["green", "yellow", "orange"], False),
        ("2022-07-08", "TC-2022-07-08", 7, ["green", "yellow", "orange"], False),
    ],
)
def test_colour_meaning_and_legend_follow_the_policy_of_the_date(
    client, web, day, policy, days, colours, star_era
):
    open_card(client, web, LONG_010)
    zh = client.get(f"/trips?date={day}&lang=zh-CN").text
    en = client.get(f"/trips?date={day}&lang=en").text
    assert f'data-policy="{policy}"' in zh
    other = 21 - days  # 14 ↔ 7
    meaning_zh, meaning_en = text_of(zh, "trip-meaning"), text_of(en, "trip-meaning")
    assert f"前{days}天" in meaning_zh and f"前{other}天" not in meaning_zh
    assert f"In the {days} days" in meaning_en
    assert ("中高风险" in meaning_zh) is ("red" in colours)  # green: no risk city, while red
    assert ("星号" in meaning_zh) is star_era and ("starred" in meaning_en) is star_era
    assert re.findall(r'class="dot colour-(\w+)"', zh) == colours
    assert ("Red trip card" in text_of(en, "trip-legend")) is ("red" in colours)


def test_star_footnote_only_under_a_policy_with_stars(client, web):
    """上海 had a listed medium-risk area on 2022-06-27 and 06-28 (city_daily_risk.csv):
    starred on the card of 06-28; stars were abolished from 06-29, so no star, no note."""
    open_card(client, web, JUNE)
    before = client.get("/trips?date=2022-06-28").text
    assert 'data-code="310000" data-star="true"' in before
    assert "2022-06-27（查询日期前一天）" in text_of(before, "trip-star-note")
    after = client.get("/trips?date=2022-06-29").text
    assert 'data-policy="TC-2022-06-29"' in after
    assert 'data-code="310000" data-star="false"' in after
    assert 'id="trip-star-note"' not in after and "trip-star" not in after
    en = client.get("/trips?date=2022-06-29&lang=en").text
    assert 'id="trip-star-note"' not in en and "risk area" not in text_of(en, "trip-notes")


def test_language_links_keep_the_date(client, web):
    open_card(client, web, LONG_010)
    html = client.get("/trips?date=2022-05-23").text
    assert 'href="/trips?date=2022-05-23&amp;lang=en"' in html
    en = client.get("/trips?date=2022-05-23&lang=en").text
    assert 'href="/trips?date=2022-05-23&amp;lang=zh-CN"' in en
    assert 'value="2022-05-23"' in en


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
    assert "年-月-日" in text_of(bad.text, "trip-error-hint")
    for far in ("0001-01-01", "0001-01-14", "1899-12-31"):  # no window before year 1: not a 500
        r = client.get(f"/trips?date={far}")
        assert r.status_code == 422 and 'data-error-code="invalid-date"' in r.text, far
        assert 'id="trip-date"' in r.text
    assert 'max="2022-12-12"' in later  # the last day with a card


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
    # today's date, and no claim of a "latest card" or of a date chosen from records
    assert 'value="2022-05-12"' in html
    assert "最近的一张" not in html and 'id="trip-default-note"' not in html


def stored_rows(web, model, phone):
    index = web.service.keys.phone_key(phone)
    with web.service.db.read() as s:
        return s.execute(select(model).where(model.phone_index == index)).all()


def test_a_query_of_a_phone_without_records_stores_nothing(client, web):
    """Personal-data minimisation: no card and no number of a phone the service has no
    record of, however often it is asked for (page and service, any date)."""
    unknown = "13800008000"
    open_card(client, web, unknown)
    client.get("/trips?date=2022-05-01")
    web.service.trip_card(unknown, as_of=date(2022, 5, 12))
    assert stored_rows(web, TripCardRow, unknown) == []
    assert stored_rows(web, TripPhone, unknown) == []
    # a phone with records still gets its card stored (the cache of its records)
    open_card(client, web, TRAVELLER)
    assert stored_rows(web, TripCardRow, TRAVELLER) != []


def test_default_date_is_the_day_after_the_newest_record(client, web):
    """Not the newest stored card (that depends on what was built or asked before)."""
    web.service.build_trip_cards(date(2022, 5, 9))  # an older stored card of TRAVELLER
    html = open_card(client, web, TRAVELLER)  # newest record 2022-05-09 10:00
    assert 'value="2022-05-10"' in html
    note = text_of(html, "trip-default-note")
    assert note == "未选择日期：显示 2022-05-10 的行程卡，即该号码最新一条位置记录的次日。"
    assert "中国香港" in text_of(html, "trip-abroad")  # the record of 05-09 is on it
    en = client.get("/trips?lang=en").text
    assert text_of(en, "trip-default-note") == (
        "No date chosen: this is the card of 2022-05-10, the day after this number's newest "
        "location record."
    )
    # records after today (the app's clock, 2022-05-12): today's card, said so
    open_card(client, web, LONG_010)  # records run to 2022-06-12
    html = client.get("/trips?lang=zh-CN").text
    assert 'value="2022-05-12"' in html
    assert "今天（2022-05-12）" in text_of(html, "trip-default-note")
    # a chosen date: no note
    assert 'id="trip-default-note"' not in client.get("/trips?date=2022-05-20").text


def test_places_abroad_have_times_and_an_undetermined_country_is_named(client, web):
    html = open_card(client, web, FAR)  # default date 2022-05-09
    assert 'value="2022-05-09"' in html
    place = re.search(r'<li[^>]*data-code="ZZ".*?</li>', html, re.S).group(0)
    text = " ".join(re.sub(r"<[^>]+>", " ", place).split())
    assert text == "境外（未能确定国家/地区） 05-08 09:30 – 05-08 21:45"
    assert "地点后的时间" in text_of(html, "trip-times-note")
    en = client.get("/trips?lang=en").text
    place = re.search(r'<li[^>]*data-code="ZZ".*?</li>', en, re.S).group(0)
    assert " ".join(re.sub(r"<[^>]+>", " ", place).split()) == (
        "Abroad (country or region not determined) 境外（未能确定国家/地区） 05-08 09:30 – 05-08 21:45"
    )


def test_demo_records_carry_a_demo_ribbon_and_the_demo_date(client, web):
    html = open_card(client, web, DEMO_PHONE)
    assert 'value="2022-05-11"' in html  # the demo date, not the day after the records
    ribbon = text_of(html, "trip-demo-ribbon")
    assert ribbon.startswith("DEMO") and "2022-05-11" in ribbon and "演示" in ribbon
    assert "演示日期 2022-05-11" in text_of(html, "trip-default-note")
    assert "北京市" in text_of(html, "trip-cities")
    # any date of a DEMO phone says DEMO; a real phone's card does not
    assert 'id="trip-demo-ribbon"' in client.get("/trips?date=2022-05-10").text
    assert 'id="trip-demo-ribbon"' not in open_card(client, web, TRAVELLER)


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
    # a missing or overlong field is the form's own error, on the form (not a validation page)
    for data in ({}, {"phone": "1" * 40}):
        r = client.post("/trips", data=data)
        assert r.status_code == 422 and 'data-error-code="invalid-phone"' in r.text, data
        assert 'id="phone"' in r.text
    request_code(client, LONG_010)
    r = client.post("/trips/verify", data={"phone": LONG_010})  # no code field
    assert r.status_code == 401 and 'data-error-code="otp-invalid"' in r.text
    assert 'id="code"' in r.text
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


def test_a_server_without_reference_data_says_so_in_the_holders_words(tmp_path, caplog):
    settings = make_settings(tmp_path, shared=str(tmp_path / "empty"))
    app = create_app(settings, clock=FixedClock("2022-05-12T04:00:00Z"))
    svc = app.state.hc.service
    try:
        with Web(settings, app, svc).client() as c:
            html_ok = open_card_status(c, svc, LONG_010)
            assert html_ok.status_code == 503
            assert 'data-error-code="trip-card-unavailable"' in html_ok.text
            assert "请稍后再试" in html_ok.text
            assert "HEALTHCODE_SHARED" not in html_ok.text  # the cause is for the log
            assert 'id="trip-date"' in html_ok.text
    finally:
        svc.close()
    assert "shared-file-missing" in caplog.text


def open_card_status(client, service, phone):
    """The SMS-code flow; returns the card page's response whatever its status."""
    assert request_code(client, phone).status_code == 200
    assert verify(client, phone, latest_otp(service, phone)).status_code == 303
    return client.get("/trips")
