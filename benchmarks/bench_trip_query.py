"""One trip-card query from the stored cards: p50 / p90 / p99 latency.

Run on demand (not a test)::

    python benchmarks/bench_trip_query.py                      # SQLite file, 2M records
    python benchmarks/bench_trip_query.py --db postgresql://user@host/db
    python benchmarks/bench_trip_query.py --records 10000000 --queries 5000

Set-up, through the product's own path: synthetic cell-signalling records
(``benchmarks/gen_cell_records.py``, phones living in real cities) are written to
Parquet and built with ``HealthCode.build_trip_cards(records=…)``, which stores
one card per phone; the stored cards are then copied to the ``--days − 1``
previous query dates, so the table holds what a retention period of cards
holds (phones × days rows). Each query asks for a random phone and date.

Three timings per query, in this order, each over the same random sample:

* ``card`` — ``HealthCode.trip_card(phone, as_of=…)`` as ``healthcode trips card`` and
  the web page call it: number normalised, blind index, card row read, freshness
  checked, and the read audited (``trip:read``, with the signed checkpoint every
  audited write gets);
* ``card, no audit`` — the same with ``audit_read=False``;
* ``row`` — the indexed ``SELECT`` of the card row alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path


def percentiles(samples: list[float]) -> str:
    ms = sorted(1000 * s for s in samples)

    def q(p: float) -> float:
        return ms[min(len(ms) - 1, int(p * len(ms)))]

    return (
        f"p50 {q(0.50):6.2f} ms  p90 {q(0.90):6.2f} ms  p99 {q(0.99):6.2f} ms  "
        f"max {ms[-1]:6.2f} ms  mean {statistics.fmean(ms):6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=15, help="query dates with stored cards")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--db", default=None, help="database URL (default: a new SQLite file)")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "healthcode-bench-trip-query"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).parent))
    import gen_cell_records as gen
    from sqlalchemy import func, insert, select

    from healthcode.config import load_settings
    from healthcode.service import HealthCode
    from healthcode.storage.models import TripCardRow
    from healthcode.trips import PlaceIndex
    from healthcode.trips.store import get_card

    start, days = date(2022, 11, 7), 14
    as_of = start + timedelta(days=days)
    folder = args.work / f"{args.records}"
    records, sites = folder / "records.parquet", folder / "cell_sites.csv"
    if not records.exists():
        t = time.perf_counter()
        data = gen.generate(args.records, start=start, days=days, seed=0, geo=PlaceIndex.load())
        gen.write(data, folder)
        print(f"generated {data.records.num_rows:,} records in {time.perf_counter() - t:.1f} s")

    importable = folder / "records-import.parquet"  # the import format: `time`, not `epoch_s`
    if not importable.exists():
        import pyarrow as pa
        import pyarrow.parquet as pq

        raw = pq.read_table(records)
        stamps = raw.column("epoch_s").cast(pa.timestamp("s", tz="UTC"))
        pq.write_table(
            pa.table(
                {"phone": raw.column("phone"), "time": stamps, "cell_id": raw.column("cell_id")}
            ),
            importable,
            row_group_size=1_000_000,
        )
    db = args.db or str(folder / f"cards-{time.time_ns()}.db")
    svc = HealthCode(load_settings().with_db(db))
    t = time.perf_counter()
    built = svc.build_trip_cards(as_of, records=[importable], cell_sites=sites, actor="bench")
    print(
        f"built and stored {built.summary['cards']:,} cards for {as_of} from "
        f"{built.summary['records']:,} records in {time.perf_counter() - t:.1f} s "
        f"({svc.db.dialect})"
    )
    phones = [c.phone for c in built.cards]
    with svc.db.session() as s:
        rows = [
            dict(r._mapping)
            for r in s.execute(select(TripCardRow.__table__).where(TripCardRow.as_of == as_of))
        ]
        for k in range(1, args.days):
            s.execute(
                insert(TripCardRow),
                [{**r, "as_of": as_of - timedelta(days=k)} for r in rows],
            )
        total = s.execute(select(func.count()).select_from(TripCardRow)).scalar_one()
    dates = [as_of - timedelta(days=k) for k in range(args.days)]
    print(f"{total:,} stored cards ({len(phones):,} phones × {args.days} dates)")

    rng = random.Random(1)
    sample = [(rng.choice(phones), rng.choice(dates)) for _ in range(args.queries)]
    keys = svc.keys
    for phone, day in sample[:100]:  # warm caches and connections
        svc.trip_card(phone, as_of=day, audit_read=False)

    timings: dict[str, list[float]] = {"card": [], "card, no audit": [], "row": []}
    for phone, day in sample:
        s0 = time.perf_counter()
        answer = svc.trip_card(phone, as_of=day, actor="bench")
        timings["card"].append(time.perf_counter() - s0)
        assert answer.source == "stored", answer.source  # noqa: S101 - a benchmark self-check
    for phone, day in sample:
        s0 = time.perf_counter()
        svc.trip_card(phone, as_of=day, audit_read=False)
        timings["card, no audit"].append(time.perf_counter() - s0)
    indexes = [(keys.phone_key(p), d) for p, d in sample]
    with svc.db.read() as s:
        for idx, day in indexes:
            s0 = time.perf_counter()
            get_card(s, idx, day)
            timings["row"].append(time.perf_counter() - s0)
    print(f"{args.queries:,} queries of random (phone, date), one at a time:")
    for name, samples in timings.items():
        print(f"  {name:15s} {percentiles(samples)}")
    svc.close()


if __name__ == "__main__":
    main()
