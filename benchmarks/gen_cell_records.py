"""Generate realistic synthetic cell-signalling records for the trip-card benchmark.

    python benchmarks/gen_cell_records.py --records 10000000 --out /tmp/trips-10m

writes ``records.parquet`` and ``cell_sites.csv`` (cell_id, lon, lat; the real
Shanghai Telecom sites for 上海市 when
``HEALTHCODE_SHARED`` has them, synthetic sites around real city seats
elsewhere). See :mod:`healthcode.trips.synthetic` for the model: phones living
in real cities, trips by train through other cities, stays of hours to days,
a few trips abroad, records every few seconds to hours, thinner at night.

``--layout import`` (default) writes the documented import layout — ``phone``,
``time`` (timestamp with time zone, UTC), ``cell_id`` — which ``healthcode trips
import --cell-sites``, ``--records`` and the Spark job read; ``--layout internal``
writes ``phone, epoch_s, cell_id``, the engines' own columns (what the benchmarks
use through :func:`write`, and the Spark job reads too).
"""

from __future__ import annotations

import argparse
import csv
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from healthcode.config import load_settings
from healthcode.errors import MissingSharedFile
from healthcode.trips import PlaceIndex, read_cell_sites
from healthcode.trips.synthetic import SyntheticSet, generate_cell_records

SHANGHAI_SITES = ("data", "cell_sites_shanghai_telecom_2014", "base_stations.csv")


def generate(n_records: int, *, start: date, days: int, seed: int, geo: PlaceIndex) -> SyntheticSet:
    try:
        shanghai = read_cell_sites(load_settings().shared_path(*SHANGHAI_SITES))
    except MissingSharedFile:
        shanghai = None
    return generate_cell_records(
        n_records=n_records, start=start, days=days, seed=seed, geo=geo, shanghai_sites=shanghai
    )


LAYOUTS = ("import", "internal")


def import_layout(records: pa.Table) -> pa.Table:
    """``phone, epoch_s, cell_id`` → the import layout ``phone, time, cell_id``."""
    when = records.column("epoch_s").cast(pa.timestamp("s", tz="UTC"))
    return pa.table(
        {"phone": records.column("phone"), "time": when, "cell_id": records.column("cell_id")}
    )


def write(data: SyntheticSet, out: Path, *, layout: str = "internal") -> tuple[Path, Path]:
    """``records.parquet`` (``layout``: ``internal`` = ``phone, epoch_s, cell_id``, the
    benchmarks' input; ``import`` = ``phone, time, cell_id``) and ``cell_sites.csv``."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}: one of {LAYOUTS}")
    out.mkdir(parents=True, exist_ok=True)
    records = out / "records.parquet"
    table = import_layout(data.records) if layout == "import" else data.records
    pq.write_table(table, records, row_group_size=1_000_000)
    sites = out / "cell_sites.csv"
    t = data.sites.table
    with open(sites, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["cell_id", "lon", "lat"])
        w.writerows(
            zip(
                t.column("cell_id").to_pylist(),
                t.column("lon").to_pylist(),
                t.column("lat").to_pylist(),
                strict=True,
            )
        )
    return records, sites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2022, 11, 7))
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="import",
        help="import: phone,time,cell_id (trips import / --records read it); "
        "internal: phone,epoch_s,cell_id (the engines' columns)",
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = generate(
        args.records, start=args.start, days=args.days, seed=args.seed, geo=PlaceIndex.load()
    )
    records, sites = write(data, args.out, layout=args.layout)
    print(
        f"{data.records.num_rows:,} records of {data.phones:,} phones in {len(data.cities)} cities, "
        f"{len(data.sites):,} cell sites, {args.days} days from {args.start} "
        f"({time.perf_counter() - t0:.1f} s) → {records}, {sites}"
    )


if __name__ == "__main__":
    main()
