"""Location-record import and ``--records`` reading: time, CPU and peak memory, new vs old.

Run on demand (not a test)::

    python benchmarks/bench_trip_import.py                        # this checkout only
    python benchmarks/bench_trip_import.py --baseline 0321636     # and an older commit's code

Two inputs, made once from the synthetic cell-signalling records of
``benchmarks/gen_cell_records.py`` (cached under ``--work``):

* ``records-<N>.csv``: ``--csv-records`` records (default 1,000,000, about 59 MB) as
  a user would import them: ``phone,time,lon,lat``, times ISO-8601 ``+08:00``, the
  cell sites' coordinates;
* ``records-import.parquet``: ``--records`` records (default 10,000,000) in the
  import format ``phone, time (timestamp UTC), cell_id``, with the cell-site table —
  what ``trips build --records`` reads.

Measured, each in a fresh process (peak = ``ru_maxrss`` of that process):

* ``read csv`` / ``read parquet``: ``read_records`` (every row checked, duplicates
  dropped), as ``trips import``, ``trips build --records`` and ``trips card --records``
  do before anything else;
* ``import csv``: ``HealthCode.import_trip_records`` into a new SQLite file (read,
  check, seal the numbers, store the records), as ``healthcode trips import``.

With ``--baseline REV`` the same children also run the package as it was at commit
``REV`` (``git archive``, put first on ``PYTHONPATH``), alternating with this
checkout, so that load from other jobs on the machine hits both; medians are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
what, path, sites, db = sys.argv[1:5]
t0 = time.perf_counter()
c0 = resource.getrusage(resource.RUSAGE_SELF)
import healthcode
if what == "import":
    from healthcode.config import load_settings
    from healthcode.service import HealthCode
    svc = HealthCode(load_settings().with_db(db))
    t0 = time.perf_counter()
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    out = svc.import_trip_records([path])
    rows = out["stored"]
else:
    from healthcode.trips import read_cell_sites, read_records
    cell_sites = read_cell_sites(sites) if sites != "-" else None
    rows = read_records([path], cell_sites=cell_sites).num_rows
t1 = time.perf_counter()
c1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": t1 - t0, "cpu_s": c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime,
                  "peak_mb": c1.ru_maxrss / 1024, "rows": rows, "code": healthcode.__file__}))
"""


def make_inputs(work: Path, n_csv: int, n_parquet: int) -> tuple[Path, Path, Path]:
    """The CSV, the Parquet file and the cell-site table (generated once)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import gen_cell_records as gen
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from healthcode.trips import PlaceIndex, read_cell_sites

    def records(n: int) -> tuple[Path, Path]:
        folder = work / str(n)
        raw, sites = folder / "records.parquet", folder / "cell_sites.csv"
        if not raw.exists():
            data = gen.generate(n, start=date(2022, 11, 7), days=14, seed=0, geo=PlaceIndex.load())
            gen.write(data, folder)
        return raw, sites

    raw, sites = records(n_parquet)
    parquet = raw.with_name("records-import.parquet")
    if not parquet.exists():
        t = pq.read_table(raw)
        stamps = t.column("epoch_s").cast(pa.timestamp("s", tz="UTC"))
        pq.write_table(
            pa.table({"phone": t.column("phone"), "time": stamps, "cell_id": t.column("cell_id")}),
            parquet,
            row_group_size=1_000_000,
        )
    raw_csv, sites_csv = records(n_csv)
    csv_path = raw_csv.with_name(f"records-{n_csv}.csv")
    if not csv_path.exists():
        t = pq.read_table(raw_csv)
        table = read_cell_sites(sites_csv).table
        at = pc.index_in(t.column("cell_id"), value_set=table.column("cell_id"))
        local = pc.add(t.column("epoch_s"), 8 * 3600).cast(pa.timestamp("s"))
        when = pc.binary_join_element_wise(
            pc.strftime(local, format="%Y-%m-%dT%H:%M:%S"), "+08:00", ""
        )
        out = pa.table(
            {
                "phone": t.column("phone"),
                "time": when,
                "lon": pc.round(pc.take(table.column("lon"), at), 6),
                "lat": pc.round(pc.take(table.column("lat"), at), 6),
            }
        )
        with open(csv_path, "wb") as fh:
            fh.write(b"phone,time,lon,lat\n")
            pacsv.write_csv(out, fh, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return csv_path, parquet, sites


def export(rev: str, into: Path) -> Path:
    """The ``healthcode`` package as it was at commit ``rev``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "healthcode"],
        check=True,
        capture_output=True,
    ).stdout
    target = into / rev
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def run(
    what: str, path: Path, sites: Path | None, code: Path | None, work: Path
) -> dict[str, float]:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    db = work / f"import-{time.time_ns()}.db"
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, what, str(path), str(sites or "-"), str(db)],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,  # not the checkout: `python -c` puts the working directory first
        )
        if out.returncode != 0:
            raise SystemExit(f"{what} {path} failed:\n{out.stderr[-3000:]}")
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if code is not None and not str(result["code"]).startswith(str(code)):
        raise SystemExit(f"the baseline run imported {result['code']}, not {code}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-records", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=10_000_000, help="Parquet records")
    parser.add_argument("--baseline", default=None, help="git revision of the old path")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[], choices=["read csv", "import csv", "read parquet"])  # fmt: skip
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "healthcode-bench-trips"
    )
    args = parser.parse_args()
    csv_path, parquet, sites = make_inputs(args.work, args.csv_records, args.records)
    print(
        f"CSV {csv_path.stat().st_size / 1e6:.0f} MB ({args.csv_records:,} records); "
        f"Parquet {parquet.stat().st_size / 1e6:.0f} MB ({args.records:,} records); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    versions: dict[str, Path | None] = {"new": None}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            versions = {f"old ({args.baseline})": export(args.baseline, Path(tmp)), "new": None}
        cases = [
            ("read csv", "read", csv_path, None),
            ("import csv", "import", csv_path, None),
            ("read parquet", "read", parquet, sites),
        ]
        for name, what, path, cell_sites in cases:
            if name in args.skip:
                continue
            runs: dict[str, list[dict[str, Any]]] = {v: [] for v in versions}
            for i in range(args.repeat):
                for label, code in versions.items():
                    r = run(what, path, cell_sites, code, args.work)
                    runs[label].append(r)
                    print(
                        f"  {name:12s} {label:18s} run {i + 1}: {r['wall_s']:6.1f} s wall, "
                        f"{r['cpu_s']:6.1f} s CPU, peak {r['peak_mb']:6.0f} MB, {r['rows']:,} rows"
                    )
            med = {
                label: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s", "peak_mb")}
                for label, rs in runs.items()
            }  # fmt: skip
            for label, m in med.items():
                print(
                    f"{name:12s} {label:18s} median {m['wall_s']:6.1f} s wall, "
                    f"{m['cpu_s']:6.1f} s CPU, peak {m['peak_mb']:6.0f} MB"
                )
            if len(med) == 2:
                old, new = (med[label] for label in versions)
                print(
                    f"{name:12s} new vs old: {old['wall_s'] / new['wall_s']:.1f}x faster (wall), "
                    f"{old['cpu_s'] / new['cpu_s']:.1f}x less CPU, "
                    f"{old['peak_mb'] / new['peak_mb']:.1f}x less peak memory"
                )


if __name__ == "__main__":
    main()
