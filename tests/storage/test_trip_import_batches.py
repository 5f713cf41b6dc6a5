"""Record imports larger than one insert batch, on SQLite and PostgreSQL: every record is
stored once with its exact values, and a second import that overlaps the first counts
the records already stored."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from healthcode.storage.models import LocationRecord
from healthcode.trips import store

PHONES = [f"1391111{i:04d}" for i in range(37)]


def write(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("phone,time,lon,lat,cell_id\n")
        for phone, epoch, lon, lat in rows:
            fh.write(f"{phone},{epoch_text(epoch)},{lon!r},{lat!r},\n")
    return path


def epoch_text(epoch):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


def test_an_import_of_several_batches_stores_each_record_once(svc, tmp_path):
    rng = random.Random(3)
    n = store._INSERT_BATCH * 2 + 1234  # three batches
    start = 1_668_470_400  # 2022-11-15T00:00:00Z
    rows = [
        (rng.choice(PHONES), start + rng.randrange(0, 14 * 86400), rng.uniform(73, 135),
         rng.uniform(18, 53))
        for _ in range(n)
    ]  # fmt: skip
    distinct = list(dict.fromkeys(rows))  # in first-seen order
    half = len(distinct) // 2
    first = write(tmp_path / "first.csv", distinct[: half + 500])
    out = svc.import_trip_records([first])
    assert (out["stored"], out["already_stored"]) == (half + 500, 0)
    # the second import overlaps the first by 500 records and repeats its last 100 rows
    second = write(tmp_path / "second.csv", distinct[half:] + distinct[-100:])
    out = svc.import_trip_records([second])
    rest = len(distinct) - half
    assert (out["rows"], out["records"], out["duplicates"]) == (rest + 100, rest, 100)
    assert (out["stored"], out["already_stored"]) == (rest - 500, 500)
    with svc.db.read() as s:
        assert s.execute(select(func.count()).select_from(LocationRecord)).scalar_one() == len(
            distinct
        )
        stored = s.execute(
            select(LocationRecord.epoch_s, LocationRecord.lon, LocationRecord.lat)
        ).all()
    # exact values: seconds and degrees as written (the doubles round-trip)
    assert sorted(tuple(r) for r in stored) == sorted((e, lo, la) for _, e, lo, la in distinct)
