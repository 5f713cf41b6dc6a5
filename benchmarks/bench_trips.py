"""Trip cards at 10 million records: DuckDB vs vectorised pandas vs Spark local mode.

Run on demand (not a test)::

    python benchmarks/bench_trips.py                 # 10M records, all three engines
    python benchmarks/bench_trips.py --records 1000000 --no-spark

Generates the records once (``benchmarks/gen_cell_records.py``, cached under
``--work``), then runs each engine in its own process on the same Parquet file
and cell-site table, computing every phone's card for the last day of the
period: read → cell → city (once per site) → stays → all cards in memory.
Prints wall time, peak resident memory of the process (``ru_maxrss``), the
ratio pandas : DuckDB (median of ``--repeat`` alternating runs: the machine is
shared), the time of one card on demand, and checks that the three JSON Lines
outputs are identical.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

CHILD = r"""
import hashlib, json, resource, sys, time
from datetime import date
t0 = time.perf_counter()
from healthcode.trips import PlaceIndex, build_cards, cards_to_jsonl, read_cell_sites
engine, records, sites, as_of = sys.argv[1], sys.argv[2], sys.argv[3], date.fromisoformat(sys.argv[4])
geo = PlaceIndex.load()
cell_sites = read_cell_sites(sites)
t1 = time.perf_counter()
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
extra = {}
if engine == "duckdb-one":
    # one card on demand (as `healthcode trips card PHONE --records FILE` would): p50/p99
    import pyarrow.parquet as pq, random
    phones = sorted(set(pq.read_table(records, columns=["phone"]).column("phone").to_pylist()))
    sample = random.Random(1).sample(phones, 40)
    lat = []
    for p in sample:
        s = time.perf_counter()
        (card,) = build_cards(records, as_of=as_of, geo=geo, cell_sites=cell_sites, phones={p})
        lat.append(time.perf_counter() - s)
    lat.sort()
    extra = {"p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[-1]}
    cards = []
elif engine == "spark":
    from healthcode.trips.engine_spark import local_session
    spark = local_session(driver_memory="6g")
    spark.sparkContext.setLogLevel("ERROR")
    t_session = time.perf_counter() - t1
    t1 = time.perf_counter()
    from healthcode.trips import engine_spark
    cards = engine_spark.build_cards(records, as_of=as_of, geo=geo, cell_sites=cell_sites, spark=spark)
    extra["session_s"] = t_session
else:
    cards = build_cards(records, as_of=as_of, geo=geo, cell_sites=cell_sites, engine=engine)
t2 = time.perf_counter()
cpu2 = resource.getrusage(resource.RUSAGE_SELF)
extra["cpu_s"] = cpu2.ru_utime + cpu2.ru_stime - cpu1.ru_utime - cpu1.ru_stime
text = cards_to_jsonl(cards)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"engine": engine, "setup_s": t1 - t0, "build_s": t2 - t1, "peak_mb": peak,
                  "cards": len(cards), "sha256": hashlib.sha256(text.encode()).hexdigest(), **extra}))
"""


def run(engine: str, records: Path, sites: Path, as_of: date) -> dict[str, float | str]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, engine, str(records), str(sites), as_of.isoformat()],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float | str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "healthcode-bench-trips"
    )
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="DuckDB and pandas runs each")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).parent))
    import gen_cell_records as gen

    from healthcode.trips import PlaceIndex

    start, days = date(2022, 11, 7), 14
    folder = args.work / f"{args.records}"
    records, sites = folder / "records.parquet", folder / "cell_sites.csv"
    if not records.exists():
        t = time.perf_counter()
        data = gen.generate(args.records, start=start, days=days, seed=0, geo=PlaceIndex.load())
        gen.write(data, folder)
        print(
            f"generated {data.records.num_rows:,} records, {data.phones:,} phones in {time.perf_counter() - t:.1f} s"
        )
    import pyarrow.parquet as pq

    meta = pq.read_metadata(records)
    as_of = start + timedelta(days=days)  # the window is the 7 days before: all data used
    print(
        f"{meta.num_rows:,} records ({records.stat().st_size / 2**20:.0f} MiB Parquet), cards as of {as_of}"
    )

    engines = ["duckdb"] + ([] if args.no_pandas else ["pandas"])
    runs: dict[str, list[dict[str, float | str]]] = {e: [] for e in engines}
    for i in range(args.repeat):  # alternate, so a noisy neighbour hits both
        for engine in engines:
            r = run(engine, records, sites, as_of)
            runs[engine].append(r)
            print(
                f"  run {i + 1}: {engine:7s} build {r['build_s']:6.1f} s (CPU {r['cpu_s']:5.1f} s)  "
                f"(+ polygons/sites {r['setup_s']:.1f} s)  peak {r['peak_mb']:6.0f} MB  "
                f"{r['cards']:,} cards  sha256 {str(r['sha256'])[:12]}"
            )
    results: dict[str, dict[str, float | str]] = {}
    for engine, rs in runs.items():
        times = sorted(float(r["build_s"]) for r in rs)
        results[engine] = rs[0]
        print(
            f"{engine:7s} median {statistics.median(times):5.1f} s, best {times[0]:5.1f} s, "
            f"peak {max(float(r['peak_mb']) for r in rs):5.0f} MB"
        )
    if "pandas" in results:
        med = {e: statistics.median(float(r["build_s"]) for r in rs) for e, rs in runs.items()}
        best = {e: min(float(r["build_s"]) for r in rs) for e, rs in runs.items()}
        cpu = {e: statistics.median(float(r["cpu_s"]) for r in rs) for e, rs in runs.items()}
        print(
            f"DuckDB vs pandas: {med['pandas'] / med['duckdb']:.1f}x faster (medians), "
            f"{best['pandas'] / best['duckdb']:.1f}x (best runs); CPU time "
            f"{cpu['duckdb']:.1f} s vs {cpu['pandas']:.1f} s ({cpu['pandas'] / cpu['duckdb']:.1f}x less work)"
        )
    if not args.no_spark:
        r = run("spark", records, sites, as_of)
        results["spark"] = r
        print(
            f"spark   build {r['build_s']:5.1f} s (+ session start {r['session_s']:.1f} s); "
            f"driver Python peak {r['peak_mb']:.0f} MB (the JVM is a separate process)"
        )
    r = run("duckdb-one", records, sites, as_of)
    print(
        f"one card on demand from the Parquet file (DuckDB, 40 phones): "
        f"p50 {r['p50_ms']:.0f} ms, max {r['p99_ms']:.0f} ms"
    )
    digests = {str(r["sha256"]) for r in results.values()}
    print("identical JSON Lines from all engines:", len(digests) == 1)
    if len(digests) != 1:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
