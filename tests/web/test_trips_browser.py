"""The trip-card page in real headless chromium against a live uvicorn server.

A person enters their number, reads the SMS code (from the development outbox
table), enters it and sees the card: masked number, "updated at", the cities
with the star, the 4-hour footnote, the colour; English with ``?lang=en``.
The server runs on the real clock (after the service ended): with no date chosen the
page shows the card of the day after the phone's newest record (2022-06-13), whatever
cards are stored (one is built here for 2022-05-12); a phone with DEMO records shows a
DEMO ribbon and the demo date.
"""

from __future__ import annotations

from datetime import date

import pytest

from healthcode.storage.models import ImportRun
from tests.storage.test_trips import LONG_010, SHIFT_010, risk_subset, shifted_csv, write_csv
from tests.web.helpers import outbox_mark
from tests.web.test_browser import wait_for_otp

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def harbin_card(live_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trips-browser")
    svc = live_server.service
    svc.import_risk_areas(risk_subset(tmp, {"黑龙江省"}))
    svc.import_trip_records([shifted_csv(tmp, LONG_010, SHIFT_010)])
    svc.build_trip_cards(date(2022, 5, 12))
    demo = [(DEMO_PHONE, f"2022-11-18T{h:02d}:00:00+08:00", (87.6168, 43.8256)) for h in (9, 19)]
    svc.import_trip_records([write_csv(tmp / "demo.csv", demo)], actor="demo")
    with svc.db.session() as s:  # the marker `healthcode demo` writes with its date
        s.add(ImportRun(id="demo-trips-browser", kind="demo-trips", source="healthcode demo",
                        sha256="", rows=1, created_at=svc.now(), summary={"day": "2022-11-20"}))  # fmt: skip
    return LONG_010


DEMO_PHONE = "17000000004"  # as `healthcode demo`: a day in 乌鲁木齐, two days before 11-20


def sign_in_trips(page, live_server, phone):
    page.goto(f"{live_server.url}/trips")
    page.fill("#phone", phone)
    mark = outbox_mark(live_server.service)
    page.click("form[action='/trips'] button[type=submit]")
    page.wait_for_selector("#code-sent")
    page.fill("#code", wait_for_otp(live_server.service, phone, after=mark))
    page.click("form[action='/trips/verify'] button[type=submit]")
    page.wait_for_selector("#trip-card")


@pytest.fixture
def page(page):
    """The page fixture, failing the test on any script error or CSP violation."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
    )  # fmt: skip
    yield page
    problems = [p for p in problems if "status of 401" not in p]
    assert not problems, problems


def test_trip_card_through_the_sms_code(page, live_server, harbin_card):
    phone = harbin_card
    page.goto(f"{live_server.url}/trips")
    page.fill("#phone", phone)
    mark = outbox_mark(live_server.service)
    page.click("form[action='/trips'] button[type=submit]")
    page.wait_for_selector("#code-sent")
    assert "199****1010" in page.inner_text("#code-sent")
    page.fill("#code", wait_for_otp(live_server.service, phone, after=mark))
    page.click("form[action='/trips/verify'] button[type=submit]")
    page.wait_for_selector("#trip-card")

    # no date chosen: the day after the newest record (2022-06-12), not the stored card
    assert page.input_value("#trip-date") == "2022-06-13"
    note = page.inner_text("#trip-default-note")
    assert note == "未选择日期：显示 2022-06-13 的行程卡，即该号码最新一条位置记录的次日。"
    assert page.locator("#trip-newest-note").count() == 0 and "最近的一张" not in page.content()
    assert page.locator("#trip-demo-ribbon").count() == 0
    page.fill("#trip-date", "2022-05-12")
    page.click(".trip-date-form button[type=submit]")
    page.wait_for_selector("#trip-star-note")

    assert page.inner_text("#trip-phone") == "199****1010的动态行程卡"
    assert page.inner_text("#trip-updated").startswith("更新于：2022.05.11")
    assert page.get_attribute("#trip-card", "data-colour") == "green"
    assert page.inner_text("#trip-colour-label") == "绿色行程卡"
    harbin = page.locator(".trip-city[data-code='230100']")
    assert harbin.get_attribute("data-star") == "true"
    assert harbin.locator(".trip-star").inner_text() == "*"
    assert "哈尔滨市" in harbin.inner_text()
    assert "停留4小时以上" in page.inner_text("#trip-stay-note")
    star_note = page.inner_text("#trip-star-note")
    assert "2022-05-11（查询日期前一天）" in star_note and "并不表示用户实际到访过" in star_note
    assert "TC-2021-01-08" in page.inner_text("#trip-policy")
    assert page.input_value("#trip-date") == "2022-05-12"
    assert page.locator("#trip-default-note").count() == 0  # a date was chosen
    assert "2022-12-13" in page.inner_text("#trip-date-hint")  # the service ended
    assert page.get_attribute("#trip-date", "max") == "2022-12-12"
    # the colour block is really coloured (green background from the stylesheet)
    bg = page.eval_on_selector("#trip-colour", "e => getComputedStyle(e).backgroundColor")
    assert bg == "rgb(21, 128, 61)"

    page.click("a[hreflang=en]")
    page.wait_for_selector("html[lang=en]")
    assert page.inner_text("#trip-phone") == "Trip card of 199****1010"
    assert page.inner_text("#trip-colour-label") == "Green trip card"
    assert "4 hours or more" in page.inner_text("#trip-stay-note")
    assert harbin.locator(".trip-city-name").inner_text() == "Harbin 哈尔滨市*"
    assert "on 2022-05-11, the day before the card's date" in page.inner_text("#trip-star-note")
    assert page.inner_text("#trip-updated") == "Updated at 2022-05-11 01:13:10 (China time)"

    # another date: 哈尔滨 was delisted after 2022-05-20
    page.fill("#trip-date", "2022-05-23")
    page.click(".trip-date-form button[type=submit]")
    page.wait_for_selector(".trip-city[data-code='230100'][data-star='false']")

    page.click("#trip-sign-out")
    page.wait_for_selector("#phone")


def test_demo_records_show_a_demo_ribbon_and_the_demo_date(page, live_server, harbin_card):
    sign_in_trips(page, live_server, DEMO_PHONE)
    ribbon = page.locator("#trip-demo-ribbon")
    assert ribbon.is_visible()
    assert ribbon.inner_text().startswith("DEMO")
    assert "2022-11-20" in ribbon.inner_text() and "演示" in ribbon.inner_text()
    assert page.input_value("#trip-date") == "2022-11-20"
    assert "乌鲁木齐市" in page.inner_text(".trip-city[data-code='650100']")
    page.click("a[hreflang=en]")
    page.wait_for_selector("html[lang=en]")
    assert "Demonstration location records" in page.inner_text("#trip-demo-ribbon")
    page.click("#trip-sign-out")
    page.wait_for_selector("#phone")
