"""Trip cards on Apache Spark (PySpark): local mode in tests, ``spark-submit`` on a cluster.

The stay definition is the same SQL text as the DuckDB engine's
(:func:`healthcode.trips.stays.stay_sql`), run by Spark SQL; points are resolved
once per distinct 0.001° grid cell (collected to the driver, resolved with
shapely, broadcast back), cell sites once per site. :func:`build_cards` collects
the three small result relations to the driver and assembles cards exactly as
the other engines do, so the JSON Lines are byte-identical.

For national scale, :func:`write_cards` never collects: cards are rendered on
the executors (the same :func:`~healthcode.trips.stays.assemble_cards`, per
partition) and written as text part files in phone order. As a job::

    spark-submit --master yarn --py-files healthcode.zip \\
        healthcode/trips/engine_spark.py --as-of 2022-11-21 \\
        --records hdfs:///signalling/2022-11-1*/ --cell-sites cell_sites.csv \\
        --out hdfs:///cards/2022-11-21/

(local files such as the cell-site table go with ``--files``; see docs/trip-card.md).

Needs the ``spark`` extra (``pip install -e '.[spark]'``) and Java 17
(Debian: ``openjdk-17-jre-headless``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from healthcode.trips._engine import (
    KEY_SQL,
    RecordsInput,
    as_paths,
    key_places,
    make_plan,
    report,
    site_places,
    starred_for,
)
from healthcode.trips.errors import EngineUnavailable, RecordsRejected
from healthcode.trips.geo import Place, PlaceIndex
from healthcode.trips.model import TripCard
from healthcode.trips.policy import Policy
from healthcode.trips.readers import CellSites
from healthcode.trips.risk import RiskCityLookup
from healthcode.trips.stays import (
    PHONE_RE,
    CardPlan,
    Progress,
    StayRule,
    assemble_cards,
    records_sql,
    stay_sql,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

STEPS = 4


def local_session(cores: int = 2, *, driver_memory: str = "2g") -> SparkSession:
    """A local-mode session for tests and single machines (UI off, UTC, few partitions).

    :raises EngineUnavailable: pyspark is not installed or no Java runtime is found.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineUnavailable(
            "the spark engine needs pyspark: pip install -e '.[spark]'"
        ) from exc
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise EngineUnavailable(
            "the spark engine needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"
        )
    # PySpark starts its Python workers with $PYSPARK_PYTHON (default: python3 on PATH,
    # which may lack this environment's packages): default it to this interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder: Any = SparkSession.builder
    session: SparkSession = (
        builder.master(f"local[{cores}]")
        .appName("healthcode-trips")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(max(2, 2 * cores)))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.adaptive.enabled", "true")
        .getOrCreate()
    )
    return session


def _source(spark: SparkSession, records: RecordsInput, plan: CardPlan) -> DataFrame:
    if isinstance(records, pd.DataFrame):
        table = pa.Table.from_pandas(records, preserve_index=False)
    elif isinstance(records, pa.Table):
        table = records
    else:
        return spark.read.parquet(*(as_paths(records) or []))
    keep = [c for c in ("phone", "epoch_s", "lon", "lat", "cell_id") if c in table.column_names]
    # ship only the records of the run's time range to the JVM
    epoch = table.column("epoch_s")
    in_range = pc.and_(pc.greater_equal(epoch, plan.lookback_s), pc.less(epoch, plan.window_end_s))
    return spark.createDataFrame(
        table.select(keep).filter(in_range), schema=_schema(table.select(keep))
    )


def _schema(table: pa.Table) -> Any:
    """Spark schema of the record columns (also right for an empty table)."""
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    kinds = {"epoch_s": LongType(), "lon": DoubleType(), "lat": DoubleType()}
    fields = []
    for f in table.schema:
        kind = kinds.get(f.name, StringType())
        if f.name == "phone" and pa.types.is_integer(f.type):
            kind = LongType()  # cast to text after loading
        fields.append(StructField(f.name, kind, True))
    return StructType(fields)


def relations(
    spark: SparkSession,
    records: RecordsInput,
    *,
    plan: CardPlan,
    geo: PlaceIndex,
    cell_sites: CellSites | None = None,
    phones: Collection[str] | None = None,
    progress: Progress | None = None,
) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame]:
    """The stay relations as Spark DataFrames: ``cities``, ``abroad``, ``phones`` and
    the cached deduplicated records ``r`` (unpersist it when done).

    :raises RecordsRejected: unknown cell ids, or no location columns.
    """
    from pyspark.sql import functions as F  # noqa: N812

    report(progress, "read records", 1, STEPS)
    src = _source(spark, records, plan)
    cols = set(src.columns)
    src = src.withColumn("phone", F.col("phone").cast("string")).where(
        (F.col("epoch_s") >= plan.lookback_s) & (F.col("epoch_s") < plan.window_end_s)
    )
    if phones is not None:
        src = src.where(F.col("phone").isin(sorted(phones)))
    bad_phone = src.where(~F.col("phone").rlike(f"^{PHONE_RE}$")).count()
    if bad_phone:
        raise RecordsRejected(
            f"{bad_phone} record(s) with a phone that is not an 11-digit mainland mobile number",
            details={"error_count": bad_phone, "errors": []},
        )

    report(progress, "resolve places", 2, STEPS)
    if {"lon", "lat"} <= cols:
        keyed = src.selectExpr("phone", "epoch_s", f"{KEY_SQL} AS k")
        keys = keyed.select("k").distinct().toArrow().column("k").to_numpy()
        keymap = spark.createDataFrame(key_places(keys, geo))
        located = keyed.join(F.broadcast(keymap), "k").select("phone", "epoch_s", "place")
    elif "cell_id" in cols:
        if cell_sites is None:
            raise RecordsRejected("records give cell_id but no cell-site table was given")
        sitemap = spark.createDataFrame(site_places(cell_sites, geo))
        celled = src.select("phone", "epoch_s", F.col("cell_id").cast("string").alias("cell_id"))
        unknown = celled.join(F.broadcast(sitemap), "cell_id", "left_anti").count()
        if unknown:
            raise RecordsRejected(
                f"{unknown} record(s) name cell ids missing from the cell-site table",
                details={"error_count": unknown, "errors": []},
            )
        located = celled.join(F.broadcast(sitemap), "cell_id").select("phone", "epoch_s", "place")
    else:
        raise RecordsRejected("records need columns lon, lat or cell_id")

    report(progress, "stays", 3, STEPS)
    located.createOrReplaceTempView("hc_located")
    r = spark.sql(records_sql(plan, "hc_located")).cache()
    r.createOrReplaceTempView("hc_r")
    queries = stay_sql(plan, "hc_r")
    return (
        spark.sql(queries["cities"]),
        spark.sql(queries["abroad"]),
        spark.sql(queries["phones"]),
        r,
    )


_PLACE_SCHEMA = pa.schema(
    [("phone", pa.string()), ("place", pa.int64()), ("first_s", pa.int64()), ("last_s", pa.int64())]
)
_PHONE_SCHEMA = pa.schema([("phone", pa.string()), ("updated_s", pa.int64())])


def build_cards(
    records: RecordsInput,
    *,
    as_of: date,
    geo: PlaceIndex,
    policy: Policy | None = None,
    risk: RiskCityLookup | None = None,
    cell_sites: CellSites | None = None,
    close_contacts: Collection[str] = frozenset(),
    rule: StayRule | None = None,
    phones: Collection[str] | None = None,
    progress: Progress | None = None,
    spark: SparkSession | None = None,
) -> list[TripCard]:
    """Same contract as :func:`healthcode.trips.engine_duckdb.build_cards`.

    :param spark: a session (default: :func:`local_session`, left running for reuse).
    :raises EngineUnavailable: no pyspark or Java.
    """
    plan = make_plan(as_of, policy, rule)
    session = spark or local_session()
    cities, abroad, phone_rows, r = relations(
        session,
        records,
        plan=plan,
        geo=geo,
        cell_sites=cell_sites,
        phones=phones,
        progress=progress,
    )
    try:
        city_t = cities.toArrow().cast(_PLACE_SCHEMA)
        abroad_t = abroad.toArrow().cast(_PLACE_SCHEMA)
        phone_t = phone_rows.toArrow().cast(_PHONE_SCHEMA)
    finally:
        r.unpersist()
    report(progress, "cards", 4, STEPS)
    return assemble_cards(
        city_t,
        abroad_t,
        phone_t,
        plan=plan,
        geo=geo,
        starred=starred_for(plan, risk),
        close_contacts=close_contacts,
    )


class _Places:
    """The few hundred places, shipped to executors instead of the polygon index."""

    def __init__(self, places: dict[int, Place]) -> None:
        self._places = places

    def place(self, place_id: int) -> Place:
        return self._places[int(place_id)]


def _renderer(
    plan: CardPlan, places: _Places, starred: set[str], close_contacts: frozenset[str]
) -> Callable[[Iterable[Any]], Iterator[str]]:
    def render(rows: Iterable[Any]) -> Iterator[str]:
        city: list[tuple[str, int, int, int]] = []
        abroad: list[tuple[str, int, int, int]] = []
        updated: list[tuple[str, int]] = []
        for row in rows:
            updated.append((row.phone, row.updated_s))
            for kind, items in (("c", row.cities), ("a", row.abroad)):
                for it in items or ():
                    (city if kind == "c" else abroad).append(
                        (row.phone, it.place, it.first_s, it.last_s)
                    )

        def table(items: list[tuple[str, int, int, int]]) -> pa.Table:
            cols = {name: [it[i] for it in items] for i, name in enumerate(_PLACE_SCHEMA.names)}
            return pa.table(cols, schema=_PLACE_SCHEMA)

        phone_t = pa.table(
            {"phone": [u[0] for u in updated], "updated_s": [u[1] for u in updated]},
            schema=_PHONE_SCHEMA,
        )
        cards = assemble_cards(
            table(city),
            table(abroad),
            phone_t,
            plan=plan,
            geo=places,
            starred=starred,
            close_contacts=close_contacts,
        )
        for card in cards:
            yield card.to_json()

    return render


def write_cards(
    spark: SparkSession,
    records: RecordsInput,
    out_dir: str,
    *,
    as_of: date,
    geo: PlaceIndex,
    policy: Policy | None = None,
    risk: RiskCityLookup | None = None,
    cell_sites: CellSites | None = None,
    close_contacts: Collection[str] = frozenset(),
    rule: StayRule | None = None,
    progress: Progress | None = None,
) -> None:
    """Write all cards as JSON Lines part files under ``out_dir``, without collecting.

    Cards are range-partitioned by phone, so ``cat out_dir/part-*`` (in name
    order) is the same byte stream as the other engines' JSON Lines.
    Close contacts are broadcast as a set: fine up to millions of numbers.
    """
    from pyspark.sql import functions as F  # noqa: N812

    plan = make_plan(as_of, policy, rule)
    cities, abroad, phone_rows, r = relations(
        spark, records, plan=plan, geo=geo, cell_sites=cell_sites, progress=progress
    )
    report(progress, "cards", 4, STEPS)
    item = F.struct("place", "first_s", "last_s")
    c = cities.groupBy("phone").agg(F.collect_list(item).alias("cities"))
    a = abroad.groupBy("phone").agg(F.collect_list(item).alias("abroad"))
    joined = phone_rows.join(c, "phone", "left").join(a, "phone", "left").orderBy("phone")
    places = _Places({pid: geo.place(pid) for pid in geo.place_ids()})
    render = _renderer(plan, places, starred_for(plan, risk), frozenset(close_contacts))
    joined.rdd.mapPartitions(render).saveAsTextFile(out_dir)
    r.unpersist()


def main(argv: Sequence[str] | None = None) -> int:
    """``spark-submit engine_spark.py --as-of DATE --records PATH... --out DIR [--cell-sites CSV]``."""
    parser = argparse.ArgumentParser(description="Trip cards on Spark (JSON Lines part files).")
    parser.add_argument("--as-of", required=True, type=date.fromisoformat)
    parser.add_argument("--records", required=True, nargs="+", help="Parquet files or folders")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument("--cell-sites", help="cell-site CSV (cell_id,lon,lat)")
    parser.add_argument("--polygons", help="city polygon GeoJSON (default under HEALTHCODE_SHARED)")
    parser.add_argument("--adcodes", help="code/name CSV (default under HEALTHCODE_SHARED)")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    from healthcode.trips.readers import read_cell_sites

    builder: Any = SparkSession.builder
    spark = builder.appName("healthcode-trips").getOrCreate()
    geo = PlaceIndex.load(args.polygons, args.adcodes)
    sites = read_cell_sites(args.cell_sites) if args.cell_sites else None
    write_cards(
        spark,
        list(args.records),
        args.out,
        as_of=args.as_of,
        geo=geo,
        cell_sites=sites,
        progress=lambda stage, i, n: print(f"[{i}/{n}] {stage}", file=sys.stderr),
    )
    spark.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover - spark-submit entry point
    raise SystemExit(main())
