"""The HTML pages over HTTP: holder page content, languages, verifier and admin pages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from starlette.testclient import TestClient

from healthcode.storage.models import ImportRun
from healthcode.web.app import create_app
from healthcode.web.i18n import LANG_COOKIE
from tests.web.conftest import make_settings
from tests.web.helpers import enrol, sign_in

DEMO_AS_OF = "2022-11-20T04:00:00+00:00"  # 12:00 in Beijing


@pytest.fixture(scope="module")
def yellow(web):
    """A DEMO holder, yellow from a secondary-contact listing, with a test and three doses."""
    svc = web.service
    with svc.db.session() as s:  # what the demo loader records: the demo evaluation date
        s.add(
            ImportRun(
                id="imp-demo-test",
                kind="demo",
                source="test",
                sha256="0" * 64,
                rows=0,
                created_at=svc.now(),
                summary={"as_of": DEMO_AS_OF},
            )
        )
    h = enrol(svc, name="欧阳小明", demo=True)
    hid = h["holder_id"]
    svc.import_facts(
        "contacts",
        [{"holder_id": hid, "kind": "secondary", "listed_at": "2022-11-19T08:00:00+08:00"}],
        source="test",
    )
    # a DEMO holder's hours since sampling count from the demo evaluation date
    sampled = (datetime.fromisoformat(DEMO_AS_OF) - timedelta(hours=30)).isoformat()
    svc.import_facts(
        "tests",
        [{"holder_id": hid, "kind": "pcr", "result": "negative", "sampled_at": sampled}],
        source="test",
    )
    svc.import_facts(
        "vaccinations", [{"holder_id": hid, "dose": 3, "date": "2022-01-10"}], source="test"
    )
    return h


@pytest.fixture(scope="module")
def yellow_client(web, yellow):
    with web.client() as c:
        sign_in(c, web.service, yellow["phone"])
        yield c


RISK_AREAS = """level,province,city,county,community,first_listed,last_listed,first_absent
high,北京市,朝阳区,望京街道,望京花园社区,2022-11-15T10:00:00+08:00,2022-11-25T10:00:00+08:00,2022-11-26T10:00:00+08:00
"""


@pytest.fixture(scope="module")
def risk_client(web, yellow, tmp_path_factory):
    """A DEMO holder who declared a stay in a listed high-risk community (evaluated 2022-11-20)."""
    svc = web.service
    csv = tmp_path_factory.mktemp("ra") / "episodes.csv"
    csv.write_text(RISK_AREAS, encoding="utf-8")
    svc.import_risk_areas(csv)
    h = enrol(svc, demo=True)
    stay = {
        "holder_id": h["holder_id"],
        "declared_at": "2022-11-18T09:00:00+08:00",
        "province": "北京市",
        "city": "朝阳区",
        "county": "望京街道",
        "community": "望京花园社区",
        "start": "2022-11-16T09:00:00+08:00",
        "end": "2022-11-17T18:00:00+08:00",
    }
    svc.import_facts("declarations", [stay], source="test")
    with web.client() as c:
        sign_in(c, svc, h["phone"])
        yield c


def test_holder_page_shows_the_listed_community_and_dates(risk_client):
    html = risk_client.get("/holder").text
    reasons = html[html.index('id="reasons"') : html.index('id="history"')]
    assert "HC-R-0005" in reasons
    assert "7 天内到过中、高风险地区" in reasons
    for text in (
        "高风险",
        "朝阳区",
        "望京花园社区",
        "停留开始</dt><dd>2022-11-16 09:00",
        "停留结束</dt><dd>2022-11-17 18:00",
        "列入时间</dt><dd>2022-11-15 10:00",
        "解除时间</dt><dd>2022-11-26 10:00",
    ):
        assert text in reasons, text
    assert "2022-11-24 18:00" in reasons  # clears 7 days after the stay ended
    en = risk_client.get("/holder?lang=en").text
    assert "Stay in a listed medium- or high-risk area" in en
    assert "high risk" in en and "Stay from" in en
    risk_client.get("/holder?lang=zh-CN")


def test_start_page(client):
    r = client.get("/")
    assert r.status_code == 200
    assert 'lang="zh-CN"' in r.text
    for href in ('href="/holder"', 'href="/verifier"', 'href="/admin"'):
        assert href in r.text


def test_holder_page_shows_the_code_face(yellow_client, yellow):
    html = yellow_client.get("/holder").text
    assert "北京健康宝" in html
    assert 'data-colour="yellow"' in html
    assert re.search(r'id="colour-label">\s*黄码\s*<', html)  # colour with its text label
    assert "状态码 01" in html
    assert yellow["name_masked"] in html
    assert yellow["id_masked"] in html
    assert 'id="clock"' in html
    assert '<canvas id="qr"' in html
    assert "/static/vendor/qrcode-generator.js" in html


def test_holder_page_never_shows_full_identity(yellow_client, yellow):
    html = yellow_client.get("/holder").text
    assert "欧阳小明" not in html
    assert yellow["phone"] not in html


def test_holder_page_explains_the_colour(yellow_client):
    html = yellow_client.get("/holder").text
    assert "HC-R-0004" in html
    assert "次密接或时空伴随者" in html  # the rule's zh summary
    assert "次密切接触者" in html  # the fact used, translated
    assert "2022-11-19 08:00" in html  # its listing time, in Beijing time
    assert "状态历史" in html
    assert html.count('class="dot colour-') >= 2  # history: green at enrolment, then yellow


def test_holder_page_latest_test_and_doses(yellow_client):
    html = yellow_client.get("/holder").text
    assert "核酸 阴性" in html
    assert "48小时内阴性" in html
    assert "（30 小时前）" in html
    assert "已接种 3 剂" in html
    assert "加强免疫" in html


def test_demo_ribbon_and_evaluation_date(yellow_client):
    html = yellow_client.get("/holder").text
    assert 'id="demo-ribbon"' in html
    assert "状态按 2022-11-20 12:00 评估" in html


def test_no_demo_ribbon_for_a_real_holder(web):
    h = enrol(web.service)
    with web.client() as c:
        sign_in(c, web.service, h["phone"])
        html = c.get("/holder").text
    assert 'id="demo-ribbon"' not in html
    assert re.search(r'id="colour-label">\s*绿码\s*<', html)
    assert "暂无检测记录" in html
    assert "未触发任何规则：绿码。" in html


def test_holder_page_links_to_the_trip_card(yellow_client):
    html = yellow_client.get("/holder").text
    assert 'id="trip-link-button" href="/trips"' in html
    assert "打开我的行程卡" in html


def test_holder_code_json(yellow_client, web):
    r = yellow_client.get("/holder/code")
    assert r.status_code == 200
    body = r.json()
    assert body["colour"] == "yellow"
    assert body["status_code"] == "01"
    assert body["token"].startswith("HP1:")
    assert r.headers["cache-control"] == "no-store"
    rep = web.service.verify([body["token"]], actor="test").to_dict()
    assert rep["verdict"] == "valid"
    assert rep["colour"] == "yellow"


def test_english_with_lang_parameter_and_cookie(yellow_client):
    r = yellow_client.get("/holder?lang=en")
    html = r.text
    assert 'lang="en"' in html
    assert "Yellow code" in html
    assert "Latest test" in html
    assert "Secondary contact or spatio-temporal companion" in html
    assert "secondary contact" in html
    assert "3 doses" in html
    assert "Demonstration holder: status evaluated as of 2022-11-20 12:00" in html
    assert "黄码" not in html
    assert f"{LANG_COOKIE}=en" in r.headers["set-cookie"]
    # The choice sticks (cookie), until changed back.
    assert "Yellow code" in yellow_client.get("/holder").text
    assert "黄码" in yellow_client.get("/holder?lang=zh-CN").text
    assert "黄码" in yellow_client.get("/holder").text


def test_unsupported_language_falls_back_to_chinese(client):
    r = client.get("/verifier?lang=fr")
    assert 'lang="zh-CN"' in r.text
    assert "set-cookie" not in r.headers


def test_verifier_page(client):
    html = client.get("/verifier").text
    assert "查验健康码" in html
    assert 'id="image"' in html and 'accept="image/png,image/jpeg"' in html
    assert 'id="text"' in html
    assert 'id="camera-start"' in html
    assert "/static/vendor/jsQR.js" in html
    en = client.get("/verifier?lang=en").text
    assert "Verify a health code" in en
    assert "Start camera" in en


def test_page_messages_for_scripts_follow_the_language(client):
    import json

    def messages(html):
        m = re.search(
            r'<script type="application/json" id="hc-messages">(.*?)</script>', html, re.S
        )
        return json.loads(m.group(1))

    zh = messages(client.get("/verifier").text)
    en = messages(client.get("/verifier?lang=en").text)
    assert zh["verdict.invalid"] == "无效" and en["verdict.invalid"] == "Invalid"
    assert zh["reason.signature-invalid"].startswith("数字签名不符")
    assert zh.keys() == en.keys()


def test_static_files(client):
    for path in (
        "/static/css/app.css",
        "/static/js/common.js",
        "/static/js/holder.js",
        "/static/js/verifier.js",
        "/static/vendor/jsQR.js",
        "/static/vendor/qrcode-generator.js",
    ):
        assert client.get(path).status_code == 200, path


def test_admin_page_local_mode(client, web, yellow):
    html = client.get("/admin").text
    assert 'id="local-mode"' in html
    assert "本地开发" in html
    assert html.count("<tr>") >= 35 + 7  # 35 issuers, 7 rules
    assert "北京健康宝" in html and "防疫健康信息码" in html
    overview = web.service.admin_overview()
    kid = overview["issuers"][1]["keys"][0]["kid"]
    assert kid in html
    assert "DEMO" in html
    assert "health-code" in html
    for rule in ("HC-R-0001", "HC-R-0004", "HC-R-0007"):
        assert rule in html
    assert overview["ruleset"]["ref"] in html
    assert "密接名单" in html  # the contacts import, by kind


def test_admin_outbox_newest_first(client, web):
    a, b = enrol(web.service), enrol(web.service)
    for h in (a, b):
        with web.client() as c:
            c.post("/holder/sign-in", data={"phone": h["phone"]})
    html = client.get("/admin").text
    outbox = html[html.index('id="outbox"') :]
    masked = [p[:3] + "****" + p[-4:] for p in (a["phone"], b["phone"])]
    assert outbox.index(masked[1]) < outbox.index(masked[0])
    assert a["phone"] not in html


@pytest.fixture(scope="module")
def prod_app(tmp_path_factory):
    import os

    settings = make_settings(
        tmp_path_factory.mktemp("prod"),
        environment="prod",
        master_key=os.urandom(32),
        admin_token="s3cret-admin-token-0123456789",
    )
    app = create_app(settings)
    yield app
    app.state.hc.service.close()


def test_admin_page_production_needs_the_token(prod_app):
    with TestClient(prod_app) as c:
        r = c.get("/admin")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert 'data-error-code="admin-token-required"' in r.text
        assert c.get("/admin", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/admin", headers={"Authorization": "Basic czNjcmV0"}).status_code == 401
        ok = c.get("/admin", headers={"Authorization": "Bearer s3cret-admin-token-0123456789"})
        assert ok.status_code == 200
        assert 'id="local-mode"' not in ok.text
        assert "本地开发" not in ok.text


def test_admin_page_production_without_a_token_is_closed(tmp_path):
    import os

    settings = make_settings(tmp_path, environment="prod", master_key=os.urandom(32))
    app = create_app(settings)
    try:
        with TestClient(app) as c:
            assert c.get("/admin").status_code == 401
            assert c.get("/admin", headers={"Authorization": "Bearer "}).status_code == 401
    finally:
        app.state.hc.service.close()
