"""Policy by date: window, delay, stars, colours, boundaries, service end."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from healthcode.clock import SHANGHAI
from healthcode.trips import Colour, PolicyDataInvalid, ServiceEnded, load_policies
from healthcode.trips.policy import parse_policies

BOOK = load_policies()


def test_issue_example_window():
    policy = BOOK.for_date(date(2022, 11, 21))
    assert policy.id == "TC-2022-07-08"
    assert policy.window_days == 7
    assert policy.window(date(2022, 11, 21)) == (date(2022, 11, 14), date(2022, 11, 20))
    start, end = policy.window_instants(date(2022, 11, 21))
    assert start == datetime(2022, 11, 14, tzinfo=SHANGHAI)
    assert end == datetime(2022, 11, 21, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("as_of", "policy_id", "window_days", "star", "red"),
    [
        (date(2019, 12, 1), "TC-2020-03-06", 14, False, True),  # before the first: the first
        (date(2020, 3, 6), "TC-2020-03-06", 14, False, True),
        (date(2021, 1, 8), "TC-2020-03-06", 14, False, True),  # change at 20:30 that day
        (date(2021, 1, 9), "TC-2021-01-08", 14, True, False),
        (date(2022, 6, 28), "TC-2021-01-08", 14, True, False),
        (date(2022, 6, 29), "TC-2022-06-29", 14, False, False),  # stars abolished
        (date(2022, 7, 7), "TC-2022-06-29", 14, False, False),
        (date(2022, 7, 8), "TC-2022-07-08", 7, False, False),  # 7-day window
        (date(2022, 12, 12), "TC-2022-07-08", 7, False, False),  # last day of the service
    ],
)
def test_policy_of_each_date(as_of, policy_id, window_days, star, red):
    policy = BOOK.for_date(as_of)
    assert policy.id == policy_id
    assert policy.window_days == window_days
    assert policy.star is star
    assert (policy.risk_city_colour is Colour.RED) is red
    assert policy.delay_days == 1 and policy.min_stay_hours == 4


def test_query_instant_inside_the_day_of_a_change():
    day = date(2021, 1, 8)
    assert (
        BOOK.for_date(day, at=datetime(2021, 1, 8, 20, 29, tzinfo=SHANGHAI)).id == "TC-2020-03-06"
    )
    assert (
        BOOK.for_date(day, at=datetime(2021, 1, 8, 20, 30, tzinfo=SHANGHAI)).id == "TC-2021-01-08"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        BOOK.for_date(day, at=datetime(2021, 1, 8, 21, 0))


def test_service_end():
    with pytest.raises(ServiceEnded, match="2022-12-13") as info:
        BOOK.for_date(date(2022, 12, 13))
    assert info.value.code == "trip-service-ended" and info.value.status == 422


def test_colours_in_force_and_their_meanings():
    early = BOOK.for_date(date(2020, 6, 1))
    late = BOOK.for_date(date(2022, 8, 1))
    assert set(early.colour_names) == {Colour.GREEN, Colour.YELLOW, Colour.ORANGE, Colour.RED}
    assert set(late.colour_names) == {Colour.GREEN, Colour.YELLOW, Colour.ORANGE}
    red = next(c for c in early.colours if c.colour is Colour.RED)
    assert red.until == datetime(2021, 1, 8, 20, 30, tzinfo=SHANGHAI)
    assert late.precedence == (Colour.RED, Colour.ORANGE, Colour.YELLOW, Colour.GREEN)
    assert all(p.sources for p in BOOK.policies)
    assert "not a health status" in BOOK.notice_en


@pytest.mark.parametrize(
    ("as_of", "days", "red_in_force", "star_era"),
    [
        (date(2020, 6, 1), 14, True, False),  # risk cities made the card red
        (date(2021, 1, 8), 14, True, False),  # the change came at 20:30
        (date(2021, 1, 9), 14, False, True),  # stars instead of red
        (date(2022, 6, 28), 14, False, True),
        (date(2022, 6, 29), 14, False, False),  # stars abolished
        (date(2022, 7, 8), 7, False, False),  # 7-day window
        (date(2022, 12, 12), 7, False, False),
    ],
)
def test_colour_meanings_are_those_of_the_date(as_of, days, red_in_force, star_era):
    policy = BOOK.for_date(as_of)
    green_zh, green_en = policy.meaning("green", "zh_CN"), policy.meaning(Colour.GREEN, "en")
    yellow_zh, yellow_en = policy.meaning("yellow", "zh_CN"), policy.meaning("yellow", "en")
    # the window of the date, and only that one
    assert f"前{days}天" in green_zh and f"前{days}天" in yellow_zh
    assert f"{21 - days}天" not in green_zh + yellow_zh  # 14 ↔ 7
    assert f"{days} days" in green_en and f"{days} days" in yellow_en
    # green excludes risk cities only while they made the card red
    assert ("中高风险" in green_zh) is red_in_force
    assert ("medium- or high-risk" in green_en) is red_in_force
    assert (Colour.RED in policy.colour_names) is red_in_force
    # while stars were shown, green says a star does not change the colour
    assert ("星号" in green_zh) is star_era and ("starred" in green_en) is star_era
    for c in policy.colours:
        for text in (c.meaning_zh, c.meaning_en):
            assert "{" not in text and "batch job" not in text and "window" not in text
        assert c.sources, c
    with pytest.raises(KeyError):
        BOOK.for_date(date(2022, 8, 1)).meaning("red", "en")


def test_star_day_is_the_day_before():
    assert BOOK.for_date(date(2022, 5, 12)).star_day(date(2022, 5, 12)) == date(2022, 5, 11)


def test_malformed_policy_data_is_rejected(tmp_path):
    good = json.loads(json.dumps(_raw()))
    parse_policies(good)
    bad = _raw()
    bad["policies"].reverse()
    with pytest.raises(PolicyDataInvalid, match="date order"):
        parse_policies(bad)
    bad = _raw()
    bad["policies"][-1]["risk_city_colour"] = "red"  # red had ended by 2022
    with pytest.raises(PolicyDataInvalid, match="not in force"):
        parse_policies(bad)
    bad = _raw()
    bad["colours"].append(dict(bad["colours"][-1], colour="green"))  # a second green in 2020
    with pytest.raises(PolicyDataInvalid, match="two meanings of green"):
        parse_policies(bad)
    bad = _raw()
    bad["colours"][0]["meaning_en"] = "in the {days} days"  # unknown placeholder
    with pytest.raises(PolicyDataInvalid, match="placeholder"):
        parse_policies(bad)
    bad = _raw()
    bad["colours"] = [c for c in bad["colours"] if c["colour"] != "green"]
    with pytest.raises(PolicyDataInvalid, match="no meaning of green"):
        parse_policies(bad)
    bad = _raw()
    del bad["policies"][0]["window_days"]
    with pytest.raises(PolicyDataInvalid):
        parse_policies(bad)
    path = tmp_path / "p.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(PolicyDataInvalid, match="not JSON"):
        load_policies(path)


def _raw():
    from importlib import resources

    return json.loads(
        resources.files("healthcode.trips").joinpath("data/policies.json").read_text("utf-8")
    )
