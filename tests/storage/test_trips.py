"""The trip card in the product: records stored, cards built, stored and queried, stars from
the risk areas in the database, the ``trip_stays`` facts of the health-code rules, and
retention — on SQLite and PostgreSQL.

Expected facts come from outside the program where the data allow: the GeoLife
PROVENANCE (user 010's Tianjin stay of 2007-08-28 → 08-30) and the independently
derived ``city_daily_risk.csv`` (哈尔滨 listed on 2022-05-11, not on 2022-05-22).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, date, datetime, timedelta

import pyarrow.compute as pc
import pytest
from sqlalchemy import func, select

from healthcode.clock import FixedClock
from healthcode.config import Settings
from healthcode.errors import InvalidPhone
from healthcode.facts.service import gather_facts
from healthcode.holders import status as status_svc
from healthcode.holders.identity import gb11643_check_char
from healthcode.rules.engine import evaluate
from healthcode.service import HealthCode
from healthcode.storage.models import (
    AuditEntry,
    Holder,
    ImportRun,
    LocationRecord,
    OtpChallenge,
    TripCardRow,
    TripPhone,
    TripSession,
)
from healthcode.trips import (
    EpisodeRiskLookup,
    RecordsRejected,
    ServiceEnded,
    build_cards,
    cards_to_jsonl,
    read_records,
)
from healthcode.trips.store import DbRiskLookup
from tests.support.shared import shared_path, shared_root

PLACES = {
    "北京": (116.40, 39.90),
    "天津": (117.20, 39.13),
    "上海": (121.47, 31.23),
    "杭州": (120.16, 30.27),
    "香港": (114.17, 22.30),
}
LONG_010 = "19900001010"  # GeoLife subset geolife_long_10_MB, user 010 (GeolifePhoneMap)
SHIFT_010 = 5392  # days: user 010's Harbin stay of 2007-08-05 lands on 2022-05-10


def make_svc(db_url, at):
    return HealthCode(Settings(db=db_url, shared=str(shared_root())), clock=FixedClock(at))


@pytest.fixture
def svc(db_url):
    app = make_svc(db_url, "2022-11-20T04:00:00Z")
    yield app
    app.close()


def write_csv(path, rows):
    """``[(phone, "2022-11-15T08:00:00+08:00", place name or (lon, lat)), …]`` → CSV file."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["phone", "time", "lon", "lat"])
        for phone, when, where in rows:
            lon, lat = PLACES[where] if isinstance(where, str) else where
            w.writerow([phone, when, lon, lat])
    return path


def count(svc, model, *where):
    with svc.db.read() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def rid(n):
    first17 = f"110105198001010{n:02d}"
    return first17 + gb11643_check_char(first17)


# a Shanghai stay of 6 h and a Hangzhou visit of 1 h for one phone, a Beijing stay for another
STAYS = [
    ("13911110001", "2022-11-15T08:00:00+08:00", "上海"),
    ("13911110001", "2022-11-15T11:00:00+08:00", "上海"),
    ("13911110001", "2022-11-15T14:00:00+08:00", "上海"),
    ("13911110001", "2022-11-15T16:00:00+08:00", "杭州"),
    ("13911110001", "2022-11-15T16:30:00+08:00", "杭州"),
    ("13911110002", "2022-11-16T08:00:00+08:00", "北京"),
    ("13911110002", "2022-11-16T20:00:00+08:00", "北京"),
]


# --- import ----------------------------------------------------------------------------


def test_import_stores_everything_sealed_and_once(svc, tmp_path):
    path = write_csv(tmp_path / "a.csv", [*STAYS, STAYS[0]])  # one exact duplicate row
    out = svc.import_trip_records([path])
    assert (out["rows"], out["records"], out["duplicates"]) == (8, 7, 1)
    assert (out["stored"], out["already_stored"], out["phones"]) == (7, 0, 2)
    assert out["first"] == "2022-11-15T08:00:00+08:00"
    assert count(svc, LocationRecord) == 7 and count(svc, TripPhone) == 2
    with svc.db.read() as s:
        phones = [tuple(r) for r in s.execute(select(TripPhone.phone_index, TripPhone.phone))]
        indexes = set(s.execute(select(LocationRecord.phone_index)).scalars())
    # numbers only sealed, found by the holders' blind index
    assert (
        {p[0] for p in phones}
        == indexes
        == {
            svc.keys.phone_key("13911110001"),
            svc.keys.phone_key("13911110002"),
        }
    )
    assert all(b"1391111" not in p[1] for p in phones)
    # the same file again stores nothing new
    again = svc.import_trip_records([path])
    assert (again["stored"], again["already_stored"]) == (0, 7)
    assert count(svc, LocationRecord) == 7 and count(svc, TripPhone) == 2
    # the audit holds counts, never a number
    with svc.db.read() as s:
        entries = s.execute(
            select(AuditEntry.data, AuditEntry.subject).where(AuditEntry.tag == "trip:import")
        ).all()
    assert [data["stored"] for data, _ in entries] == [7, 0]
    assert "1391111" not in json.dumps([tuple(e) for e in entries])


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("13911110003,2022-11-15T09:00:00,116.4,39.9", "time-without-offset"),
        ("13911110003,2022-11-15T09:00:00+08:00,216.4,39.9", "invalid-coordinates"),
        ("13911110003,2022-11-15T09:00:00+08:00,116.4,-91", "invalid-coordinates"),
        ("1391111000,2022-11-15T09:00:00+08:00,116.4,39.9", "invalid-phone"),
        ("13911110003,yesterday,116.4,39.9", "invalid-time"),
    ],
)
def test_one_bad_row_imports_nothing(svc, tmp_path, line, code):
    good = write_csv(tmp_path / "good.csv", STAYS)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "phone,time,lon,lat\n13911110003,2022-11-15T08:00:00+08:00,116.4,39.9\n" + line + "\n",
        encoding="utf-8",
    )
    before = [count(svc, m) for m in (LocationRecord, TripPhone, ImportRun, AuditEntry)]
    with pytest.raises(RecordsRejected) as err:
        svc.import_trip_records([good, bad])
    assert [(e["file"], e["line"], e["code"]) for e in err.value.details["errors"]] == [
        (str(bad), 3, code)
    ]
    after = [count(svc, m) for m in (LocationRecord, TripPhone, ImportRun, AuditEntry)]
    assert after == before


def test_unknown_cell_ids_and_empty_files_import_nothing(svc, tmp_path):
    sites = tmp_path / "sites.csv"
    sites.write_text("cell_id,lon,lat\nA1,116.40,39.90\nB2,117.20,39.13\n", encoding="utf-8")
    cells = tmp_path / "cells.csv"
    cells.write_text(
        "phone,time,cell_id\n"
        "13911110004,2022-11-15T08:00:00+08:00,A1\n"
        "13911110004,2022-11-15T09:00:00+08:00,C3\n",
        encoding="utf-8",
    )
    with pytest.raises(RecordsRejected) as err:
        svc.import_trip_records([cells], cell_sites=sites)
    assert [(e["line"], e["code"]) for e in err.value.details["errors"]] == [(3, "unknown-cell-id")]
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(RecordsRejected) as err:
        svc.import_trip_records([empty])
    assert err.value.details["errors"][0]["code"] == "empty-file"
    header_only = tmp_path / "header.csv"
    header_only.write_text("phone,time,lon,lat\n", encoding="utf-8")
    with pytest.raises(RecordsRejected):
        svc.import_trip_records([header_only])
    assert count(svc, LocationRecord) == 0 and count(svc, TripPhone) == 0
    # with every id known, cell records are stored at their site
    cells.write_text(
        "phone,time,cell_id\n"
        "13911110004,2022-11-15T09:00:00+08:00,B2\n"
        "13911110004,2022-11-15T08:00:00+08:00,A1\n",  # unsorted is fine
        encoding="utf-8",
    )
    out = svc.import_trip_records([cells], cell_sites=sites)
    assert out["stored"] == 2
    with svc.db.read() as s:
        rows = s.execute(
            select(LocationRecord.cell_id, LocationRecord.lon).order_by(LocationRecord.epoch_s)
        ).all()
    assert [tuple(r) for r in rows] == [("A1", 116.40), ("B2", 117.20)]


# --- build and query ---------------------------------------------------------------------


def test_build_stores_cards_and_card_reads_them(svc, tmp_path):
    svc.import_trip_records([write_csv(tmp_path / "a.csv", STAYS)])
    result = svc.build_trip_cards(date(2022, 11, 20))
    assert [c.phone for c in result.cards] == ["13911110001", "13911110002"]
    assert result.summary["cards"] == 2 and result.summary["source"] == "records"
    shanghai = json.loads(result.cards[0].to_json())
    assert [c["name"] for c in shanghai["cities"]] == ["上海市"]  # 杭州: 1 h, not listed
    assert count(svc, TripCardRow) == 2
    answer = svc.trip_card("+86 139 1111 0001", as_of=date(2022, 11, 20))
    assert answer.source == "stored"
    assert answer.text == result.cards[0].to_json()
    assert answer.card["phone"] == "139****0001"
    # a card not built yet is computed from the stored records, then stored
    fresh = svc.trip_card("13911110001", as_of=date(2022, 11, 17))
    assert fresh.source == "computed" and [c["code"] for c in fresh.card["cities"]] == ["310000"]
    assert svc.trip_card("13911110001", as_of=date(2022, 11, 17)).source == "stored"
    with svc.db.read() as s:
        stored = s.execute(select(TripCardRow.card)).scalars().all()
    assert all("13911110001" not in c for c in stored)  # only masked numbers in the JSON


def test_empty_cards_say_why(svc, tmp_path):
    svc.import_trip_records([write_csv(tmp_path / "a.csv", STAYS)])
    nobody = svc.trip_card("13800000000", as_of=date(2022, 11, 20))
    assert nobody.card["cities"] == [] and nobody.card["updated_at"] is None
    assert nobody.card["phone"] == "138****0000"
    assert nobody.reason["code"] == "no-records"
    before = svc.trip_card("13911110001", as_of=date(2022, 10, 1)).reason
    assert before["code"] == "before-data" and "2022-11-15T08:00:00+08:00" in before["message"]
    after = svc.trip_card("13911110001", as_of=date(2022, 12, 10)).reason
    assert after["code"] == "after-data"
    # a 7-day window between two stays of the phone
    gap = write_csv(tmp_path / "b.csv", [("13911110005", "2022-10-01T08:00:00+08:00", "北京"),
                                         ("13911110005", "2022-12-01T08:00:00+08:00", "北京")])  # fmt: skip
    svc.import_trip_records([gap])
    inside = svc.trip_card("13911110005", as_of=date(2022, 11, 1)).reason
    assert inside["code"] == "no-records-in-window"
    with pytest.raises(ServiceEnded):
        svc.trip_card("13911110001", as_of=date(2022, 12, 13))
    with pytest.raises(InvalidPhone):
        svc.trip_card("12345", as_of=date(2022, 11, 20))


def test_importing_records_makes_later_cards_stale(svc, tmp_path):
    svc.import_trip_records([write_csv(tmp_path / "a.csv", STAYS)])
    svc.build_trip_cards(date(2022, 11, 20))
    first = svc.trip_card("13911110002", as_of=date(2022, 11, 20))
    assert [c["code"] for c in first.card["cities"]] == ["110000"]
    later = write_csv(
        tmp_path / "b.csv",
        [("13911110002", "2022-11-18T08:00:00+08:00", "天津"),
         ("13911110002", "2022-11-18T18:00:00+08:00", "天津")],
    )  # fmt: skip
    out = svc.import_trip_records([later])
    assert out["cards_invalidated"] == 1
    second = svc.trip_card("13911110002", as_of=date(2022, 11, 20))
    assert second.source == "computed"
    assert [c["code"] for c in second.card["cities"]] == ["110000", "120000"]
    # the other phone's card was not touched
    assert svc.trip_card("13911110001", as_of=date(2022, 11, 20)).source == "stored"


def test_close_contact_card_is_orange(svc, tmp_path):
    h = svc.enrol(name="张三丰", id_number=rid(1), phone="13911110002", region="110000")
    svc.import_facts(
        "contacts",
        [{"holder_id": h["holder_id"], "kind": "close", "listed_at": "2022-11-16T10:00:00+08:00"}],
        source="test",
    )
    svc.import_trip_records([write_csv(tmp_path / "a.csv", STAYS)])
    result = svc.build_trip_cards(date(2022, 11, 20))
    assert {c.phone: c.colour.value for c in result.cards} == {
        "13911110001": "green",
        "13911110002": "orange",
    }


def test_build_from_stored_geolife_equals_build_from_the_files(svc, tmp_path):
    points = shared_path("data", "trajectories_geolife_subset", "points.csv.gz")
    out = svc.import_trip_records([points])
    assert (out["phones"], out["stored"]) == (14, out["records"])  # 13 users, 010 twice
    as_of = date(2007, 9, 1)
    from_db = svc.build_trip_cards(as_of)
    from_files = svc.build_trip_cards(as_of, records=[points])
    direct = build_cards(read_records(points), as_of=as_of, geo=svc.trips.geo)
    assert cards_to_jsonl(from_db.cards) == cards_to_jsonl(from_files.cards)
    assert cards_to_jsonl(from_db.cards) == cards_to_jsonl(direct)
    # PROVENANCE.md: user 010 stayed in Tianjin 2007-08-28 17:54 → 08-30 20:55 UTC
    card = svc.trip_card(LONG_010, as_of=as_of).card
    tianjin = next(c for c in card["cities"] if c["code"] == "120000")
    first = datetime.fromisoformat(tianjin["first_seen"]).astimezone(UTC)
    last = datetime.fromisoformat(tianjin["last_seen"]).astimezone(UTC)
    assert first <= datetime(2007, 8, 28, 18, 30, tzinfo=UTC)
    assert last >= datetime(2007, 8, 30, 20, 30, tzinfo=UTC)


# --- stars from the risk areas in the database, and the health-code rule -------------------


def risk_subset(tmp_path, provinces):
    """The real NHC listing episodes of some provinces, as an importable file."""
    src = shared_path("data", "risk_areas_nhc_2022", "risk_area_episodes.csv.gz")
    out = io.StringIO()
    with gzip.open(src, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in reader:
            if row["province"] in provinces:
                writer.writerow(row)
    path = tmp_path / "episodes.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def shifted_csv(tmp_path, phone, days):
    """One GeoLife user's points moved by ``days`` days, as a CSV import (times UTC)."""
    table = read_records(shared_path("data", "trajectories_geolife_subset", "points.csv.gz"))
    t = table.filter(pc.equal(table.column("phone"), phone))
    path = tmp_path / f"{phone}.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["phone", "time", "lon", "lat"])
        for e, lon, lat in zip(
            t.column("epoch_s").to_pylist(),
            t.column("lon").to_pylist(),
            t.column("lat").to_pylist(),
            strict=True,
        ):
            when = datetime.fromtimestamp(e + days * 86400, UTC).isoformat()
            w.writerow([phone, when, repr(lon), repr(lat)])
    return path


@pytest.fixture
def harbin(db_url, tmp_path):
    """User 010 shifted into May 2022, real risk lists of 黑龙江 and 北京, a holder with that phone.

    The service clock is 2022-05-12 12:00 +08:00.
    """
    app = make_svc(db_url, "2022-05-12T04:00:00Z")
    app.import_risk_areas(risk_subset(tmp_path, {"黑龙江省", "北京市"}))
    app.import_trip_records([shifted_csv(tmp_path, LONG_010, SHIFT_010)])
    holder = app.enrol(name="李小龙", id_number=rid(7), phone=LONG_010, region="230000")
    yield app, holder
    app.close()


def test_star_comes_from_the_risk_areas_in_the_database(harbin):
    svc, _ = harbin
    # city_daily_risk.csv: 哈尔滨 listed on 2022-05-11, not on 2022-05-22
    day1 = svc.trip_card(LONG_010, as_of=date(2022, 5, 12)).card
    day2 = svc.trip_card(LONG_010, as_of=date(2022, 5, 23)).card
    star = {c["code"]: c["star"] for c in day1["cities"]}
    assert star["230100"] is True
    assert {c["code"]: c["star"] for c in day2["cities"]}["230100"] is False
    assert day1["colour"] == day2["colour"] == "green"  # a star never changes the colour
    assert day1["policy"] == "TC-2021-01-08"


def test_a_new_risk_list_makes_starred_cards_stale(harbin, tmp_path):
    svc, _ = harbin
    assert svc.trip_card(LONG_010, as_of=date(2022, 5, 12)).source == "computed"
    assert svc.trip_card(LONG_010, as_of=date(2022, 5, 12)).source == "stored"
    svc.import_risk_areas(risk_subset(tmp_path, {"北京市"}))  # 哈尔滨 no longer listed
    again = svc.trip_card(LONG_010, as_of=date(2022, 5, 12))
    assert again.source == "computed"
    assert {c["code"]: c["star"] for c in again.card["cities"]}["230100"] is False


def test_starred_stay_turns_the_holder_yellow_by_rule_hc_r_0008(harbin):
    svc, holder = harbin
    hid = holder["holder_id"]
    assert svc.holder_view(hid, actor="test")["status"]["colour"] == "green"
    result = svc.build_trip_cards(date(2022, 5, 12))
    assert result.summary["holders_reevaluated"] == 1 and result.summary["status_changes"] == 1
    status = svc.holder_view(hid, actor="test")["status"]
    assert status["colour"] == "yellow"
    (reason,) = status["reasons"]
    assert reason["rule"] == "HC-R-0008"
    (fact,) = reason["facts"]
    assert (fact["city_code"], fact["city"], fact["star"]) == ("230100", "哈尔滨市", True)
    last_seen = datetime.fromisoformat(fact["last_seen"])
    assert last_seen.astimezone(UTC).date() == date(2022, 5, 10)  # 2007-08-05 + 5392 days
    assert datetime.fromisoformat(reason["clears_at"]) == last_seen + timedelta(days=7)
    # the bulk path (reevaluate_many, used by the build) and the one-holder path agree
    with svc.db.session() as s:
        h = s.get(Holder, hid)
        single = evaluate(svc.ruleset, gather_facts(s, svc.keys, h), at=svc.now())
        status_svc.reevaluate_many(
            s, svc.keys, svc.ruleset, [hid], as_of=svc.now(), at=svc.now(), trigger="test"
        )
        bulk = status_svc.current_status(s, hid)
    assert [r.to_dict() for r in single.reasons] == bulk.reasons
    assert single.clears_at == bulk.clears_at


def test_db_risk_lookup_matches_the_episode_lookup(db_url, tmp_path):
    svc = make_svc(db_url, "2022-06-01T00:00:00Z")
    path = risk_subset(tmp_path, {"北京市", "上海市", "黑龙江省", "吉林省", "新疆维吾尔自治区"})
    svc.import_risk_areas(path)
    names = svc.trips.geo.names
    reference = EpisodeRiskLookup.from_csv(path, names)
    with svc.db.read() as s:
        lookup = DbRiskLookup(s, names)
        for day in (date(2022, 4, 16), date(2022, 5, 11), date(2022, 5, 22), date(2022, 11, 20)):
            assert lookup.starred_cities(day) == reference.starred_cities(day), day
        assert "110000" in lookup.starred_cities(date(2022, 5, 11))  # 北京: district in `city`
    svc.close()


# --- retention ---------------------------------------------------------------------------


def test_retention_sweep_deletes_old_records_cards_codes_and_sessions(svc, tmp_path):
    svc.import_trip_records([write_csv(tmp_path / "a.csv", STAYS)])
    svc.build_trip_cards(date(2022, 11, 17))
    svc.build_trip_cards(date(2022, 11, 20))
    svc.trips.open_session("13911110001")
    at = datetime(2022, 12, 2, 4, 0, tzinfo=UTC)  # 12:00 +08:00
    # records: 11-15 is 17 days old (deleted), 11-16 16 days minus 4 h (deleted);
    # cards: 11-17 is 15 days before 12-02 (kept), nothing older
    out = svc.retention_sweep(at=at)
    assert out["deleted"]["location_records"] == 7
    assert out["deleted"]["trip_cards"] == 0
    assert out["deleted"]["trip_phones"] == 0  # cards still refer to both phones
    assert out["deleted"]["trip_sessions"] == 1
    later = svc.retention_sweep(at=at + timedelta(days=4))
    assert later["deleted"]["trip_cards"] == 2 * 2  # both dates, both phones
    assert later["deleted"]["trip_phones"] == 2
    assert count(svc, LocationRecord) == count(svc, TripCardRow) == count(svc, TripPhone) == 0
    assert count(svc, TripSession) == 0
    with svc.db.read() as s:
        tags = (
            s.execute(select(AuditEntry.data).where(AuditEntry.tag == "retention:sweep"))
            .scalars()
            .all()
        )
    assert [t["deleted"]["location_records"] for t in tags] == [7, 0]


def test_retention_keeps_what_is_still_in_use(svc, tmp_path):
    svc.import_trip_records([write_csv(tmp_path / "a.csv", STAYS)])
    # 2022-11-30 08:00 +08:00: the records of 11-15 08:00 are exactly 15 days old
    out = svc.retention_sweep(at=datetime(2022, 11, 30, 0, 0, tzinfo=UTC))
    assert out["deleted"]["location_records"] == 0
    out = svc.retention_sweep(at=datetime(2022, 11, 30, 0, 0, 1, tzinfo=UTC))
    assert out["deleted"]["location_records"] == 1
    assert out["policy"]["location_records_days"] == 15  # 14-day window + 1 day delay


def test_retention_deletes_old_sms_codes(svc):
    from healthcode.holders.otp import PURPOSE_TRIP_CARD, DevSmsSender, OtpService

    otp = OtpService(
        svc.db, svc.keys, master_key=svc.settings.master_key,
        sender=DevSmsSender(svc.db, None), clock=svc.clock,
    )  # fmt: skip
    otp.request_code("13911110001", client="1.2.3.4", purpose=PURPOSE_TRIP_CARD)
    assert count(svc, OtpChallenge) == 1
    assert (
        svc.retention_sweep(at=svc.now() + timedelta(minutes=14))["deleted"]["otp_challenges"] == 0
    )
    assert (
        svc.retention_sweep(at=svc.now() + timedelta(minutes=15))["deleted"]["otp_challenges"] == 1
    )
