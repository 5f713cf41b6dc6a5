"""DEMO data on the real risk-area lists: ``healthcode demo`` / ``healthcode serve --demo``.

Imports the real national list (``$HEALTHCODE_SHARED/data/risk_areas_nhc_2022/``)
when it is not in the database yet, then enrols a few holders marked DEMO whose
declared travel includes real communities listed on the demo date. The lists end
in January 2023, so DEMO statuses are evaluated *as of* the demo date (default
2022-11-20, 12:00 Asia/Shanghai); tokens are still issued and verified on the
real clock, carry ``demo: true`` and are signed with DEMO keys that a production
verifier rejects. Loading twice is harmless (holders are found by ID).

The DEMO holders also have DEMO vaccination and test records (:data:`RECORDS`), so
each shows e-certificates (电子证照) on their page: every one has doses (a
vaccination certificate); the green ones also a negative test (a test
certificate). Negative tests and doses change no colour, so the yellow holders
keep their reasons. A database loaded before the records existed gets them on the
next load (a holder without doses gets the doses, without tests the test).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.clock import SHANGHAI
from healthcode.errors import InputError, InvalidDate
from healthcode.facts.service import gather_facts
from healthcode.holders.identity import gb11643_check_char, mask_name
from healthcode.holders.service import find_by_id
from healthcode.holders.status import evaluate_holder
from healthcode.storage.models import ImportRun

DEFAULT_DEMO_DATE = "2022-11-20"


def _resident_id(prefix17: str) -> str:
    return prefix17 + gb11643_check_char(prefix17)


#: (name, region, id 17 digits, phone, travel: (province, city-as-listed) or "unlisted" or None)
PEOPLE: list[tuple[str, str, str, str, Any]] = [
    ("李明", "110000", "11010519850315001", "17000000001", ("北京市", None)),
    ("陈静", "440000", "44010619900708002", "17000000002", ("广东省", "广州市")),
    ("赵磊", "310000", "31011519780102003", "17000000003", "unlisted"),
    ("阿依古丽·买买提", "650000", "65010219951120004", "17000000004", None),
]


#: DEMO records per phone: (doses as (date, product), test as (kind, result, hours before
#: the demo instant) or None). Products are recorded the way Chinese vaccination records
#: name them; e-certificates map them to EU and CVX codes.
RECORDS: dict[str, tuple[list[tuple[str, str]], tuple[str, str, int] | None]] = {
    "17000000001": ([("2021-04-12", "克尔来福 CoronaVac"), ("2021-05-10", "克尔来福 CoronaVac"),
                     ("2021-12-06", "克尔来福 CoronaVac")], None),
    "17000000002": ([("2021-06-01", "北京生物 BBIBP-CorV"),
                     ("2021-06-29", "北京生物 BBIBP-CorV")], None),
    "17000000003": ([("2021-05-20", "北京生物 BBIBP-CorV"), ("2021-06-17", "北京生物 BBIBP-CorV"),
                     ("2022-01-10", "克威莎 Convidecia")], ("antigen", "negative", 30)),
    "17000000004": ([("2021-07-02", "克尔来福 CoronaVac"), ("2021-07-30", "克尔来福 CoronaVac"),
                     ("2022-02-15", "克尔来福 CoronaVac")], ("pcr", "negative", 20)),
}  # fmt: skip


def _add_records(svc: Any, hid: str, phone: str, as_of: datetime) -> None:
    """Import the DEMO doses and test of ``phone`` that the holder does not have yet (by kind)."""
    from healthcode.holders.service import get_holder

    doses, test = RECORDS.get(phone, ([], None))
    with svc.db.read() as s:
        facts = gather_facts(s, svc.keys, get_holder(s, hid))
    if doses and not facts.get("vaccinations"):
        rows = [
            {"holder_id": hid, "dose": n, "date": day, "product": product}
            for n, (day, product) in enumerate(doses, start=1)
        ]
        svc.import_facts("vaccinations", rows, source="demo", actor="demo")
    if test is not None and not facts.get("tests"):
        kind, result, hours = test
        row = {
            "holder_id": hid, "kind": kind, "result": result, "lab": "DEMO lab",
            "sampled_at": (as_of - timedelta(hours=hours)).isoformat(),
        }  # fmt: skip
        svc.import_facts("tests", [row], source="demo", actor="demo")


def _pick_area(svc: Any, at: datetime, province: str, city: str | None) -> dict[str, Any] | None:
    for level in ("high", "medium"):
        areas = svc.list_risk_areas(at=at, province=province, city=city, level=level, limit=1)
        if areas:
            return dict(areas[0])
    return None


def load_demo(svc: Any, *, demo_date: str | None = None, progress: Any = None) -> dict[str, Any]:
    """Load the DEMO data into ``svc`` (a :class:`healthcode.service.HealthCode`).

    :returns: ``{"as_of", "demo", "trip_cards", "holders": [{"holder_id", "name_masked",
        "phone", "colour", "reasons_text", "certificates"}]}`` — ``certificates``: the
        e-certificate kinds the holder's records allow (``vaccination``, ``test``)
    :raises InvalidDate: malformed ``demo_date``; :raises MissingSharedFile: no risk-area list.
    """
    try:
        day = date.fromisoformat(demo_date or DEFAULT_DEMO_DATE)
    except ValueError as exc:
        raise InvalidDate(f"--demo-date must be YYYY-MM-DD, not {demo_date!r}") from exc
    as_of = datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI)
    with svc.db.session() as s:
        have_list = s.execute(
            select(ImportRun.id).where(ImportRun.kind == "risk-areas").limit(1)
        ).first()
    if not have_list:
        path = svc.settings.shared_path("data", "risk_areas_nhc_2022", "risk_area_episodes.csv.gz")
        svc.import_risk_areas(path, actor="demo", progress=progress)
    if not svc.list_risk_areas(at=as_of, limit=1):
        raise InputError(
            f"no risk area is listed on {day}; choose a demo date between 2022-04-16 and 2022-12-29 (the lists were emptied after that)"
        )
    now = svc.now()
    with svc.db.session() as s:
        s.add(
            ImportRun(
                id="demo-" + secrets.token_hex(6), kind="demo", source="healthcode demo", sha256="",
                rows=len(PEOPLE), created_at=now, summary={"as_of": as_of.isoformat()},
            )
        )  # fmt: skip
        audit.append(
            s, tag=AuditTag.DEMO_LOAD, actor="demo", at=now, data={"as_of": as_of.isoformat()}
        )
    out: list[dict[str, Any]] = []
    for name, region, id17, phone, travel in PEOPLE:
        id_number = _resident_id(id17)
        with svc.db.session() as s:
            existing = find_by_id(s, svc.keys, "resident-id", id_number)
            hid = existing.id if existing else None
        if hid is None:
            hid = svc.enrol(
                name=name, id_number=id_number, phone=phone, region=region, demo=True, actor="demo"
            )["holder_id"]
            rows: list[dict[str, Any]] = []
            if isinstance(travel, tuple):
                area = _pick_area(svc, as_of, travel[0], travel[1])
                if area is not None:
                    # stay one day inside the listing period, ending before the demo instant
                    listed = datetime.fromisoformat(area["first_listed"])
                    start = max(listed + timedelta(hours=1), as_of - timedelta(days=3))
                    end = min(start + timedelta(days=1), as_of - timedelta(hours=1))
                    rows.append(
                        _stay(
                            hid,
                            as_of,
                            area["province"],
                            area["city"],
                            area["county"],
                            area["community"],
                            start,
                            end,
                        )
                    )
            elif travel == "unlisted":
                rows.append(
                    _stay(hid, as_of, "上海市", "上海市", "浦东新区", "DEMO 未列入名单的小区",
                          as_of - timedelta(days=3), as_of - timedelta(days=2))
                )  # fmt: skip
            if rows:
                svc.import_facts("declarations", rows, source="demo", actor="demo")
        _add_records(svc, hid, phone, as_of)
        with svc.db.session() as s:
            from healthcode.holders.service import get_holder

            h = get_holder(s, hid)
            st, _ = evaluate_holder(
                s, svc.keys, h, svc.ruleset, as_of=as_of, at=now, trigger="demo"
            )
            reasons = [
                f"{r['rule']} {r['summary']['zh']}: "
                + ", ".join(
                    f"{f.get('city', '')}{f.get('county', '')}{f.get('community', '')}"
                    for f in r["facts"]
                )
                for r in st.reasons
            ]
            facts = gather_facts(s, svc.keys, h)
            certificates = [
                kind for kind, key in (("vaccination", "vaccinations"), ("test", "tests"))
                if facts.get(key)
            ]  # fmt: skip
            out.append({
                "holder_id": hid, "name_masked": mask_name(name),
                "phone": phone, "colour": st.colour, "reasons_text": reasons,
                "certificates": certificates,
            })  # fmt: skip
    trip_day = _demo_trip_cards(svc, as_of)
    return {"as_of": as_of.isoformat(), "demo": True, "holders": out, "trip_cards": trip_day}


#: DEMO location records: (phone, lon, lat) of a city where the phone stayed a day.
TRIP_STAYS = [
    ("17000000001", 116.3972, 39.9075),  # 北京市
    ("17000000002", 113.2644, 23.1291),  # 广州市
    ("17000000003", 121.4737, 31.2304),  # 上海市
    ("17000000004", 87.6168, 43.8256),  # 乌鲁木齐市
]


def _demo_trip_cards(svc: Any, as_of: datetime) -> str:
    """Store DEMO location records (hourly, 09:00–19:00 two days before the demo date)
    and build the trip cards of the demo date, so ``/trips`` shows them.

    :returns: the card date (ISO), or "" when records for the DEMO phones exist already.
    """
    import csv
    import tempfile
    from pathlib import Path

    day = as_of.astimezone(SHANGHAI).date()
    with svc.db.session() as s:
        if s.execute(select(ImportRun.id).where(ImportRun.kind == "demo-trips")).first():
            return ""
        s.add(
            ImportRun(
                id="demo-trips-" + secrets.token_hex(4), kind="demo-trips", source="healthcode demo",
                sha256="", rows=len(TRIP_STAYS), created_at=svc.now(), summary={"day": day.isoformat()},
            )
        )  # fmt: skip
    start = datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI) - timedelta(days=2)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "demo-trips.csv")
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["phone", "time", "lon", "lat"])
            for phone, lon, lat in TRIP_STAYS:
                for h in range(11):
                    w.writerow([phone, (start + timedelta(hours=h)).isoformat(), lon, lat])
        svc.import_trip_records([path], actor="demo")
    svc.build_trip_cards(day, actor="demo")
    return day.isoformat()


def _stay(
    hid: str, as_of: datetime, province: str, city: str, county: str, community: str,
    start: datetime, end: datetime,
) -> dict[str, Any]:  # fmt: skip
    return {
        "holder_id": hid,
        "declared_at": (as_of - timedelta(hours=6)).isoformat(),
        "symptoms": "",
        "province": province,
        "city": city,
        "county": county,
        "community": community,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
