"""`healthcode demo` on the real national risk-area list (SQLite)."""

import json
from datetime import date

import pytest

from healthcode.clock import parse_instant
from healthcode.config import Settings
from healthcode.demo import load_demo
from healthcode.service import HealthCode
from tests.support.shared import shared_root


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tests.support.shared import shared_path

    shared_path("data", "risk_areas_nhc_2022", "risk_area_episodes.csv.gz")  # skip/fail when absent
    shared_path("data", "admin_divisions_cn")
    settings = Settings(
        db=str(tmp_path_factory.mktemp("demo") / "demo.db"), shared=str(shared_root())
    )
    svc = HealthCode(settings)
    summary = load_demo(svc)
    yield svc, summary
    svc.close()


def test_yellow_from_real_listings_and_green_otherwise(demo):
    svc, summary = demo
    colours = [h["colour"] for h in summary["holders"]]
    assert colours == ["yellow", "yellow", "green", "green"]
    at = parse_instant(summary["as_of"])
    listed = {
        (a["province"], a["city"], a["county"], a["community"]) for a in svc.list_risk_areas(at=at)
    }
    for h in summary["holders"][:2]:
        status = svc.holder_view(h["holder_id"], actor="test")["status"]
        (reason,) = status["reasons"]
        assert reason["rule"] == "HC-R-0005"
        fact = reason["facts"][0]
        # the reason names a community the national list really had on the demo date
        assert (fact["province"], fact["city"], fact["county"], fact["community"]) in listed


def test_demo_codes_are_marked_and_refused_in_production(demo):
    svc, summary = demo
    token = svc.issue_code(summary["holders"][0]["holder_id"])["token"]
    report = svc.verify([token])
    assert report.verdict == "valid" and report.colour == "yellow" and "demo" in report.warnings
    store = svc.trust_store()
    store.production = True
    assert svc.verify([token], trust=store).reasons == ["demo-key-rejected"]


def test_demo_trip_cards_and_a_second_load_changes_nothing(demo):
    svc, summary = demo
    card = svc.trip_card("17000000001", as_of=date.fromisoformat(summary["trip_cards"]))
    assert [c["name"] for c in json.loads(card.text)["cities"]] == ["北京市"]
    again = load_demo(svc)
    assert [h["holder_id"] for h in again["holders"]] == [
        h["holder_id"] for h in summary["holders"]
    ]
    assert again["trip_cards"] == ""


def test_bad_demo_date(demo):
    from healthcode.errors import InputError

    svc, _ = demo
    with pytest.raises(InputError):
        load_demo(svc, demo_date="2023-02-01")
    with pytest.raises(InputError):
        load_demo(svc, demo_date="tomorrow")


def test_demo_holders_have_records_to_certify(demo):
    from healthcode.demo import RECORDS

    svc, summary = demo
    by_phone = {h["phone"]: h for h in summary["holders"]}
    assert {p: h["certificates"] for p, h in by_phone.items()} == {
        "17000000001": ["vaccination"],
        "17000000002": ["vaccination"],
        "17000000003": ["vaccination", "test"],
        "17000000004": ["vaccination", "test"],
    }
    for phone, h in by_phone.items():
        view = svc.holder_view(h["holder_id"], actor="test")
        assert view["doses"] == len(RECORDS[phone][0])
        if h["colour"] == "green":
            assert view["latest_test"]["result"] == "negative"
        for kind in h["certificates"]:
            for fmt in ("hc1", "shc"):
                cert = svc.issue_certificate(h["holder_id"], kind=kind, format=fmt, reuse=True)
                report = svc.verify([cert.text])
                assert report.verdict == "valid" and "demo" in report.warnings, report.reasons
    # the Uyghur DEMO holder's name, as the formats want it
    aygul = by_phone["17000000004"]["holder_id"]
    dcc = svc.issue_certificate(aygul, kind="test", format="hc1", reuse=True)
    nam = svc.verify([dcc.text]).claims["hcert"]["nam"]
    assert nam == {"fn": "买买提", "fnt": "MAIMAITI", "gn": "阿依古丽", "gnt": "AYIGULI"}
    # loading again adds no second set of records
    load_demo(svc)
    assert svc.holder_view(aygul, actor="test")["doses"] == len(RECORDS["17000000004"][0])
