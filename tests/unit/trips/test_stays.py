"""The stay definition, colours and policy boundaries on small synthetic records.

Every case runs on the DuckDB and the pandas engines (Spark: ``test_spark.py``).
Times are written in China Standard Time.
"""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pytest

from healthcode.trips import (
    Colour,
    RecordsRejected,
    ServiceEnded,
    StaticRiskLookup,
    StayRule,
    build_cards,
    cards_to_jsonl,
    empty_card,
    load_policies,
)
from healthcode.trips.readers import CellSites
from tests.unit.trips.conftest import PLACES, records

ENGINES = ["duckdb", "pandas"]
P = "13912345678"
Q = "13800000002"


def run(engine, geo, rows, as_of=date(2022, 11, 21), **kw):
    return build_cards(records(rows), as_of=as_of, geo=geo, engine=engine, **kw)


def one(engine, geo, rows, as_of=date(2022, 11, 21), **kw):
    cards = run(engine, geo, rows, as_of, **kw)
    assert len(cards) == 1
    return cards[0]


def names(card):
    return [c.name for c in card.cities]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_issue_example_card_exactly(engine, geo):
    card = one(
        engine,
        geo,
        [
            (P, "2022-11-15T08:00:00+08:00", "北京"),
            (P, "2022-11-15T20:00:00+08:00", "北京"),
            (P, "2022-11-16T13:00:00+08:00", "北京"),
            (P, "2022-11-20T21:40:00+08:00", "天津"),  # one record, 4 days later: no stay
        ],
    )
    assert card.to_json() == (
        '{"phone": "139****5678", "as_of": "2022-11-21", "window_days": 7, '
        '"window": ["2022-11-14", "2022-11-20"], "updated_at": "2022-11-20T21:40:00+08:00", '
        '"colour": "green", "cities": [{"code": "110000", "name": "北京市", "province": "北京市", '
        '"star": false, "first_seen": "2022-11-15T08:00:00+08:00", '
        '"last_seen": "2022-11-16T13:00:00+08:00"}], "abroad": [], "policy": "TC-2022-07-08"}'
    )
    assert json.loads(card.to_json())["cities"][0]["name"] == "北京市"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("last", "listed"),
    [("14:00:00", True), ("13:59:59", False)],
)
def test_four_hours_exactly(engine, geo, last, listed):
    card = one(
        engine,
        geo,
        [(P, "2022-11-15T10:00:00+08:00", "杭州"), (P, f"2022-11-15T{last}+08:00", "杭州")],
    )
    assert names(card) == (["杭州市"] if listed else [])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("before", "after", "listed"),
    [
        ("08:00", "14:00", True),  # 2 h span + 1 h + 1 h of bridge (half of 2 h gaps)
        ("04:00", "18:00", True),  # gaps of 6 h: bridges capped at 1 h each
        ("09:00", "13:00", False),  # 2 h + 30 min + 30 min
    ],
)
def test_bridging_half_the_gap_capped(engine, geo, before, after, listed):
    rows = [
        (P, f"2022-11-15T{before}:00+08:00", "上海"),
        (P, "2022-11-15T10:00:00+08:00", "杭州"),
        (P, "2022-11-15T12:00:00+08:00", "杭州"),
        (P, f"2022-11-15T{after}:00+08:00", "上海"),
    ]
    assert ("杭州市" in names(one(engine, geo, rows))) is listed


@pytest.mark.parametrize("engine", ENGINES)
def test_a_silence_longer_than_the_gap_ends_a_visit(engine, geo):
    ok = [
        (P, "2022-11-14T08:00:00+08:00", "北京"),
        (P, "2022-11-17T07:00:00+08:00", "北京"),
    ]  # 71 h
    split = [
        (P, "2022-11-14T08:00:00+08:00", "北京"),
        (P, "2022-11-17T09:00:00+08:00", "北京"),
    ]  # 73 h
    assert names(one(engine, geo, ok)) == ["北京市"]
    assert names(one(engine, geo, split)) == []
    shorter = StayRule(max_gap_hours=24)
    assert names(one(engine, geo, ok, rule=shorter)) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_a_train_through_a_city_with_records_every_20_minutes(engine, geo):
    rows = [(P, f"2022-11-15T{h:02d}:00:00+08:00", "北京") for h in range(6, 12)]
    rows += [
        (P, t, "廊坊")
        for t in (
            "2022-11-15T12:20:00+08:00",
            "2022-11-15T12:40:00+08:00",
            "2022-11-15T13:00:00+08:00",
        )
    ]
    rows += [(P, f"2022-11-15T{h:02d}:20:00+08:00", "天津") for h in range(13, 19)]
    card = one(engine, geo, rows)
    assert names(card) == ["北京市", "天津市"]  # 廊坊: 40 min + 2 × 10 min


@pytest.mark.parametrize("engine", ENGINES)
def test_window_clipping_and_the_data_delay(engine, geo):
    rows = [
        # a visit ending 02:00 on the first window day: 2 h inside the window
        (P, "2022-11-12T10:00:00+08:00", "上海"),
        (P, "2022-11-14T02:00:00+08:00", "上海"),
        # a visit under way at the window start: first_seen is the window start
        (Q, "2022-11-12T10:00:00+08:00", "杭州"),
        (Q, "2022-11-14T10:00:00+08:00", "杭州"),
        # records of the query day itself are not used (data a day behind)
        (Q, "2022-11-20T22:00:00+08:00", "北京"),
        (Q, "2022-11-21T09:00:00+08:00", "北京"),
    ]
    p, q = run(engine, geo, rows)
    assert (p.phone, names(p)) == (Q, ["杭州市"])  # sorted by phone: 138… first
    assert p.cities[0].first_seen.isoformat() == "2022-11-14T00:00:00+08:00"
    assert p.updated_at.isoformat() == "2022-11-20T22:00:00+08:00"
    assert (q.phone, names(q)) == (P, [])


@pytest.mark.parametrize("engine", ENGINES)
def test_phones_without_records_in_the_window_get_no_card(engine, geo):
    rows = [(P, "2022-11-01T10:00:00+08:00", "上海"), (P, "2022-11-01T20:00:00+08:00", "上海")]
    assert run(engine, geo, rows) == []
    assert run(engine, geo, []) == []
    card = empty_card(
        P, as_of=date(2022, 11, 21), policy=load_policies().for_date(date(2022, 11, 21))
    )
    assert json.loads(card.to_json())["updated_at"] is None and card.colour is Colour.GREEN


@pytest.mark.parametrize("engine", ENGINES)
def test_abroad_is_listed_on_any_record_and_makes_the_card_yellow(engine, geo):
    rows = [
        (P, "2022-11-15T10:00:00+08:00", "香港"),
        (P, "2022-11-16T10:00:00+08:00", "东京"),
        (P, "2022-11-16T11:00:00+08:00", "东京"),
    ]
    card = one(engine, geo, rows)
    assert card.colour is Colour.YELLOW
    assert [(a.code, a.name) for a in card.abroad] == [("HK", "中国香港"), ("JP", "日本")]
    assert json.loads(card.to_json())["abroad"][0] == {
        "code": "HK",
        "name": "中国香港",
        "first_seen": "2022-11-15T10:00:00+08:00",
        "last_seen": "2022-11-15T10:00:00+08:00",
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_close_contact_is_orange_and_outranks_yellow(engine, geo):
    rows = [(P, "2022-11-15T10:00:00+08:00", "香港"), (Q, "2022-11-15T10:00:00+08:00", "北京")]
    cards = run(engine, geo, rows, close_contacts={P, Q})
    assert [c.colour for c in cards] == [Colour.ORANGE, Colour.ORANGE]


def _beijing_stay(day):
    return [(P, f"{day}T08:00:00+08:00", "北京"), (P, f"{day}T18:00:00+08:00", "北京")]


@pytest.mark.parametrize("engine", ENGINES)
def test_policy_2021_01_08_red_becomes_a_star(engine, geo):
    # before 2021-01-08 20:30 a city with a listed area made the card red
    risk = StaticRiskLookup({date(2021, 1, 7): {"110000"}, date(2021, 1, 8): {"110000"}})
    old = one(engine, geo, _beijing_stay("2021-01-05"), as_of=date(2021, 1, 8), risk=risk)
    new = one(engine, geo, _beijing_stay("2021-01-05"), as_of=date(2021, 1, 9), risk=risk)
    assert (old.colour, old.cities[0].star, old.policy) == (Colour.RED, False, "TC-2020-03-06")
    assert (new.colour, new.cities[0].star, new.policy) == (Colour.GREEN, True, "TC-2021-01-08")
    # the star looks at the day before the query date only
    assert (
        not one(engine, geo, _beijing_stay("2021-01-05"), as_of=date(2021, 1, 10), risk=risk)
        .cities[0]
        .star
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_policy_2022_06_29_stars_abolished(engine, geo):
    risk = StaticRiskLookup({date(2022, 6, 27): {"110000"}, date(2022, 6, 28): {"110000"}})
    before = one(engine, geo, _beijing_stay("2022-06-25"), as_of=date(2022, 6, 28), risk=risk)
    after = one(engine, geo, _beijing_stay("2022-06-25"), as_of=date(2022, 6, 29), risk=risk)
    assert [c.star for c in before.cities] == [True] and before.starred
    assert [c.star for c in after.cities] == [False] and after.colour is Colour.GREEN


@pytest.mark.parametrize("engine", ENGINES)
def test_policy_2022_07_08_seven_day_window(engine, geo):
    rows = _beijing_stay("2022-06-28")  # 10 days before 2022-07-08
    on_7th = one(engine, geo, rows, as_of=date(2022, 7, 7))
    assert (on_7th.window_days, on_7th.window, names(on_7th)) == (
        14,
        (date(2022, 6, 23), date(2022, 7, 6)),
        ["北京市"],
    )
    assert run(engine, geo, rows, as_of=date(2022, 7, 8)) == []  # outside the 7-day window
    with pytest.raises(ServiceEnded):
        run(engine, geo, rows, as_of=date(2022, 12, 13))


@pytest.mark.parametrize("engine", ENGINES)
def test_order_and_duplicates_do_not_matter(engine, geo):
    rows = [
        (P, "2022-11-15T10:00:00+08:00", "上海"),
        (P, "2022-11-15T16:00:00+08:00", "上海"),
        (P, "2022-11-15T17:00:00+08:00", "杭州"),
        (Q, "2022-11-16T10:00:00+08:00", "北京"),
        (Q, "2022-11-16T15:00:00+08:00", "北京"),
    ]
    expected = cards_to_jsonl(run(engine, geo, rows))
    assert cards_to_jsonl(run(engine, geo, list(reversed(rows)) + rows)) == expected
    only_q = run(engine, geo, rows, phones={Q})
    assert [c.phone for c in only_q] == [Q]


@pytest.mark.parametrize("engine", ENGINES)
def test_cell_id_records_give_the_same_cards(engine, geo):
    rows = [
        (P, "2022-11-15T10:00:00+08:00", "上海"),
        (P, "2022-11-15T16:00:00+08:00", "上海"),
        (P, "2022-11-15T17:00:00+08:00", "杭州"),
        (P, "2022-11-15T23:00:00+08:00", "杭州"),
    ]
    by_point = run(engine, geo, rows)
    sites = CellSites(
        pa.table(
            {
                "cell_id": ["SH-1", "HZ-1"],
                "lon": [PLACES["上海"][0], PLACES["杭州"][0]],
                "lat": [PLACES["上海"][1], PLACES["杭州"][1]],
            }
        )
    )
    t = records(rows)
    celled = pa.table(
        {
            "phone": t.column("phone"),
            "epoch_s": t.column("epoch_s"),
            "cell_id": ["SH-1", "SH-1", "HZ-1", "HZ-1"],
        }
    )
    by_cell = build_cards(
        celled, as_of=date(2022, 11, 21), geo=geo, engine=engine, cell_sites=sites
    )
    assert cards_to_jsonl(by_cell) == cards_to_jsonl(by_point)
    unknown = celled.set_column(2, "cell_id", pa.array(["SH-1", "XX", "HZ-1", "HZ-1"]))
    with pytest.raises(RecordsRejected, match="cell ids missing"):
        build_cards(unknown, as_of=date(2022, 11, 21), geo=geo, engine=engine, cell_sites=sites)
    with pytest.raises(RecordsRejected, match="no cell-site table"):
        build_cards(celled, as_of=date(2022, 11, 21), geo=geo, engine=engine)


def test_progress_is_reported(geo):
    seen = []
    run(
        "duckdb",
        geo,
        _beijing_stay("2022-11-15"),
        progress=lambda stage, i, n: seen.append((stage, i, n)),
    )
    assert [s[0] for s in seen] == ["read records", "resolve places", "stays", "cards"]
    assert all(n == 4 for _, _, n in seen)


def test_rule_validation(geo):
    with pytest.raises(ValueError, match="bridge_cap_hours"):
        run("duckdb", geo, [], rule=StayRule(bridge_cap_hours=4))
    with pytest.raises(ValueError, match="unknown engine"):
        run("sqlite", geo, [])


def test_parquet_paths_are_engine_input(geo, tmp_path):
    import pyarrow.parquet as pq

    rows = _beijing_stay("2022-11-15")
    path = tmp_path / "r.parquet"
    pq.write_table(records(rows), path)
    expected = cards_to_jsonl(run("duckdb", geo, rows))
    for engine in ENGINES:
        assert (
            cards_to_jsonl(build_cards(path, as_of=date(2022, 11, 21), geo=geo, engine=engine))
            == expected
        )
        assert (
            cards_to_jsonl(build_cards([path], as_of=date(2022, 11, 21), geo=geo, engine=engine))
            == expected
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_reject_phones_that_are_not_canonical(engine, geo):
    rows = _beijing_stay("2022-11-15")
    table = records(rows)
    for bad in ("+8613912345678", " 3912345678", "1391234567x", "12912345678"):
        t = table.set_column(0, "phone", pa.array([bad, P]))
        with pytest.raises(RecordsRejected, match="1 record.*not an 11-digit"):
            build_cards(t, as_of=date(2022, 11, 21), geo=geo, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_numeric_phone_columns_are_read_as_text(engine, geo):
    table = records(_beijing_stay("2022-11-15"))
    numeric = table.set_column(0, "phone", pa.array([int(P)] * table.num_rows, pa.int64()))
    expected = cards_to_jsonl(run(engine, geo, _beijing_stay("2022-11-15")))
    got = build_cards(numeric, as_of=date(2022, 11, 21), geo=geo, engine=engine, phones={P})
    assert cards_to_jsonl(got) == expected
