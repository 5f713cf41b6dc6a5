"""Trip cards on Apache Spark (PySpark): local mode in tests, ``spark-submit`` on a cluster.

The stay definition is the same SQL text as the DuckDB engine's
(:func:`healthcode.trips.stays.stay_sql`), run by Spark SQL; points are resolved
once per distinct 0.001° grid cell (collected to the driver, resolved with
shapely, broadcast back), cell-id records once per site at its exact position. :func:`build_cards` collects
the three small result relations to the driver and assembles cards exactly as
the other engines do, so the JSON Lines are byte-identical.

For national scale, :func:`write_cards` never collects: cards are rendered on
the executors (the same :func:`~healthcode.trips.stays.assemble_cards`, per
partition) and written as text part files in phone order. As a job::

    spark-submit --master yarn --py-files healthcode.zip \\
        healthcode/trips/engine_spark.py --as-of 2022-11-21 \\
        --records hdfs:///signalling/2022-11-1*/ --cell-sites cell_sites.csv \\
        --out hdfs:///cards/2022-11-21/

Records are Parquet in the import layout (``phone``, ``time`` ISO-8601 with an offset
or a timestamp with time zone, ``lon``/``lat`` or ``cell_id``: what ``healthcode trips
shift`` writes) or the internal one (``epoch_s`` instead of ``time``). Dates whose
policy uses the risk list need ``--risk-areas`` (or ``--no-risk-areas``).

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
from typing import TYPE_CHECKING, Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from healthcode.trips._engine import (
    KEY_SQL,
    RecordsInput,
    as_paths,
    check_risk,
    key_places,
    make_plan,
    point_places,
    report,
    site_places,
    starred_for,
)
from healthcode.trips.errors import EngineUnavailable, RecordsRejected, UnknownRecordFormat
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


#: An ISO-8601 time's UTC offset as the importer reads it (``Z``, ``+08``, ``+0800``, ``+08:00``).
_OFFSET_RE: Final = r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$"
_SHAPE_RE: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
LAYOUTS: Final = (
    "the import layout (phone, time: ISO-8601 with offset or a timestamp with time zone, "
    "lon/lat or cell_id) or the internal layout (phone, epoch_s: int UTC seconds, "
    "lon/lat or cell_id)"
)


def _source(spark: SparkSession, records: RecordsInput, plan: CardPlan) -> DataFrame:
    if isinstance(records, pd.DataFrame):
        table = pa.Table.from_pandas(records, preserve_index=False)
    elif isinstance(records, pa.Table):
        table = records
    else:
        return normalise(spark.read.parquet(*(as_paths(records) or [])))
    keep = [c for c in ("phone", "epoch_s", "lon", "lat", "cell_id") if c in table.column_names]
    # ship only the records of the run's time range to the JVM
    epoch = table.column("epoch_s")
    in_range = pc.and_(pc.greater_equal(epoch, plan.lookback_s), pc.less(epoch, plan.window_end_s))
    return spark.createDataFrame(
        table.select(keep).filter(in_range), schema=_schema(table.select(keep))
    )


def normalise(df: DataFrame) -> DataFrame:
    """Records read from files → ``phone`` (text), ``epoch_s`` (long) and the location
    columns (``lon``/``lat`` double, ``cell_id`` text; names case-insensitive).

    Takes the import layout (``time`` ISO-8601 text with a UTC offset, or a timestamp
    with time zone; as ``healthcode trips import`` reads it) or the internal layout
    (``epoch_s``). Times are checked on the executors in one pass, before the run's time
    range is applied.

    :raises UnknownRecordFormat: the columns are of neither layout.
    :raises RecordsRejected: times without an offset, or malformed (counted).
    """
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import StringType, TimestampNTZType, TimestampType

    cols = {c.lower(): c for c in df.columns}
    kinds = {f.name.lower(): f.dataType for f in df.schema.fields}
    location = {"lon", "lat"} <= cols.keys() or "cell_id" in cols
    if "phone" not in cols or not ({"time", "epoch_s"} & cols.keys()) or not location:
        raise UnknownRecordFormat(
            f"records with columns {sorted(df.columns)} are of no known layout: expected {LAYOUTS}"
        )
    out = [F.col(cols["phone"]).cast("string").alias("phone")]
    if "epoch_s" in cols:
        out.append(F.col(cols["epoch_s"]).cast("long").alias("epoch_s"))
    else:
        t = F.col(cols["time"])
        kind = kinds["time"]
        if isinstance(kind, TimestampNTZType):
            raise RecordsRejected(
                "records: the time column is a timestamp without time zone; "
                "write an instant (timestamp with time zone) or ISO-8601 text with an offset",
                details={"error_count": 1, "errors": []},
            )
        if isinstance(kind, TimestampType):
            bad = df.where(t.isNull()).count()
            if bad:
                raise RecordsRejected(
                    f"{bad} record(s) without a time", details={"error_count": bad, "errors": []}
                )
            out.append(F.unix_seconds(t).alias("epoch_s"))
        elif isinstance(kind, StringType):
            text = F.trim(t)
            # Spark parses ISO-8601 with an offset; give it seconds and an upper-case Z
            fixed = F.regexp_replace(
                F.regexp_replace(text, "z$", "Z"),
                "^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2})(?=[Z+-])",
                "$1:00",
            )
            stamp = F.expr("try_cast(hc_fixed AS TIMESTAMP)")
            checked = df.withColumn("hc_fixed", fixed).select(
                "*",
                text.rlike(_OFFSET_RE).alias("hc_offset"),
                (text.rlike(_SHAPE_RE) & stamp.isNotNull()).alias("hc_ok"),
                stamp.alias("hc_stamp"),
            )
            counts = checked.agg(
                F.sum(F.when(~F.col("hc_ok") | F.col("hc_ok").isNull(), 1).otherwise(0)),
                F.sum(F.when(F.col("hc_ok") & ~F.col("hc_offset"), 1).otherwise(0)),
            ).first()
            malformed = int((counts[0] if counts else 0) or 0)
            no_offset = int((counts[1] if counts else 0) or 0)
            if malformed or no_offset:
                parts = []
                if no_offset:
                    parts.append(
                        f"{no_offset} record(s) with a time without a UTC offset "
                        "(time-without-offset: write Z or +08:00)"
                    )
                if malformed:
                    parts.append(f"{malformed} record(s) with a time that is not ISO-8601")
                raise RecordsRejected(
                    "; ".join(parts),
                    details={"error_count": malformed + no_offset, "errors": []},
                )
            df = checked
            out.append(F.unix_seconds(F.col("hc_stamp")).alias("epoch_s"))
        else:
            raise UnknownRecordFormat(
                f"records: the time column is {kind.simpleString()}; expected {LAYOUTS}"
            )
    if {"lon", "lat"} <= cols.keys():
        out += [F.col(cols[c]).cast("double").alias(c) for c in ("lon", "lat")]
    if "cell_id" in cols:
        out.append(F.col(cols["cell_id"]).cast("string").alias("cell_id"))
    return df.select(*out)


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

    Places: points without a cell id once per 0.001° grid cell; records with a cell id
    at their exact position (given, or the site's from ``cell_sites``), once per position.

    :raises RecordsRejected: unknown cell ids, records without a location, phones that
        are not mobile numbers, or no location columns.
    """
    from pyspark.sql import functions as F  # noqa: N812

    report(progress, "read records", 1, STEPS)
    src = _source(spark, records, plan)
    cols = set(src.columns)
    has_point = {"lon", "lat"} <= cols
    has_cell = "cell_id" in cols
    if not (has_point or has_cell):
        raise RecordsRejected("records need columns lon, lat or cell_id")
    point_cols = (
        [F.col("lon").cast("double").alias("lon"), F.col("lat").cast("double").alias("lat")]
        if has_point
        else [F.lit(None).cast("double").alias("lon"), F.lit(None).cast("double").alias("lat")]
    )
    cell_col = (
        F.when(
            F.trim(F.col("cell_id").cast("string")) != "", F.trim(F.col("cell_id").cast("string"))
        )
        if has_cell
        else F.lit(None).cast("string")
    )
    src = src.select(
        F.col("phone").cast("string").alias("phone"),
        F.col("epoch_s").cast("long").alias("epoch_s"),
        *point_cols,
        cell_col.alias("cell_id"),
    ).where((F.col("epoch_s") >= plan.lookback_s) & (F.col("epoch_s") < plan.window_end_s))
    if phones is not None:
        src = src.where(F.col("phone").isin(sorted(phones)))
    src.createOrReplaceTempView("hc_base")
    point = "lon IS NOT NULL AND lat IS NOT NULL"
    counts = spark.sql(
        "SELECT "  # noqa: S608 - constants only
        f"count_if(NOT (phone RLIKE '^{PHONE_RE}$') OR phone IS NULL), "
        f"count_if(cell_id IS NULL AND NOT ({point})), "
        f"count_if(cell_id IS NOT NULL AND NOT ({point})) FROM hc_base"
    ).first()
    bad_phone, nowhere, by_site = (int(c or 0) for c in (counts or (0, 0, 0)))
    if bad_phone:
        raise RecordsRejected(
            f"{bad_phone} record(s) with a phone that is not an 11-digit mainland mobile number",
            details={"error_count": bad_phone, "errors": []},
        )
    if nowhere:
        raise RecordsRejected(
            f"{nowhere} record(s) give neither lon/lat nor cell_id",
            details={"error_count": nowhere, "errors": []},
        )

    report(progress, "resolve places", 2, STEPS)
    parts: list[DataFrame] = []
    if has_point:  # points without a cell id: once per grid cell
        keyed = spark.sql(
            f"SELECT phone, epoch_s, {KEY_SQL} AS k FROM hc_base "  # noqa: S608
            f"WHERE cell_id IS NULL AND {point}"
        )
        keys = keyed.select("k").distinct().toArrow().column("k").to_numpy()
        if len(keys):
            keymap = spark.createDataFrame(key_places(keys, geo))
            parts.append(keyed.join(F.broadcast(keymap), "k").select("phone", "epoch_s", "place"))
    if has_point and has_cell:  # cell-id records with the site's position: exact, once each
        pinned = spark.sql(
            f"SELECT phone, epoch_s, lon, lat FROM hc_base WHERE cell_id IS NOT NULL AND {point}"  # noqa: S608
        )
        pos = pinned.select("lon", "lat").distinct().toArrow()
        if pos.num_rows:
            pointmap = spark.createDataFrame(
                point_places(pos.column("lon").to_numpy(), pos.column("lat").to_numpy(), geo)
            )
            parts.append(
                pinned.join(F.broadcast(pointmap), ["lon", "lat"]).select(
                    "phone", "epoch_s", "place"
                )
            )
    if by_site:  # cell ids without a position: the site's, from the table
        if cell_sites is None:
            raise RecordsRejected(
                f"records give cell_id but no cell-site table was given ({by_site} record(s))",
                details={"error_count": by_site, "errors": []},
            )
        sitemap = spark.createDataFrame(site_places(cell_sites, geo))
        celled = spark.sql(
            f"SELECT phone, epoch_s, cell_id FROM hc_base WHERE cell_id IS NOT NULL AND NOT ({point})"  # noqa: S608
        )
        unknown = celled.join(F.broadcast(sitemap), "cell_id", "left_anti")
        n_unknown = unknown.count()
        if n_unknown:
            example = unknown.agg(F.min("cell_id")).first()
            raise RecordsRejected(
                f"{n_unknown} record(s) name cell ids missing from the cell-site table"
                f" (e.g. {example[0] if example else None!r})",
                details={"error_count": n_unknown, "errors": []},
            )
        parts.append(
            celled.join(F.broadcast(sitemap), "cell_id").select("phone", "epoch_s", "place")
        )
    if parts:
        located = parts[0]
        for part in parts[1:]:
            located = located.unionByName(part)
    else:  # nothing in range
        located = spark.sql("SELECT phone, epoch_s, CAST(0 AS BIGINT) AS place FROM hc_base")

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
    check_risk(plan, risk)
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
    check_risk(plan, risk)
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


def read_close_contacts(path: str) -> set[str]:
    """Close contacts, one number per line (blank lines and ``#`` comments skipped).

    :raises InputError: a line that is not an 11-digit mainland mobile number.
    """
    import re

    from healthcode.errors import InputError

    out: set[str] = set()
    with open(path, encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            if not re.fullmatch(PHONE_RE, text):
                raise InputError(f"{path}:{n}: not an 11-digit mainland mobile number: {text!r}")
            out.add(text)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``spark-submit engine_spark.py --as-of DATE --records PATH... --out DIR [--cell-sites CSV]
    [--risk-areas CSV] [--close-contacts FILE]``.

    Exit 0 when written; 1 for refused input or missing risk data (``error [code] message``
    on stderr, no traceback); 2 for bad options (argparse).
    """
    parser = argparse.ArgumentParser(
        description="Trip cards on Spark (JSON Lines part files).",
        epilog=f"Records: Parquet files or folders in {LAYOUTS}. See docs/trip-card.md.",
    )
    parser.add_argument("--as-of", required=True, type=date.fromisoformat)
    parser.add_argument("--records", required=True, nargs="+", help="Parquet files or folders")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument("--cell-sites", help="cell-site CSV (cell_id,lon,lat)")
    parser.add_argument(
        "--risk-areas",
        help="the national risk-area list as published (risk_area_episodes.csv[.gz], the file "
        "`healthcode risk-areas import` reads); required for dates whose policy stars cities "
        "(2021-01-08 - 2022-06-28) or makes them red (before 2021-01-08)",
    )
    parser.add_argument(
        "--no-risk-areas",
        action="store_true",
        help="build such dates without a risk list (no stars, no risk red): a deliberate choice",
    )
    parser.add_argument(
        "--close-contacts", help="close contacts (orange card): one 11-digit number per line"
    )
    parser.add_argument("--polygons", help="city polygon GeoJSON (default under HEALTHCODE_SHARED)")
    parser.add_argument("--adcodes", help="code/name CSV (default under HEALTHCODE_SHARED)")
    args = parser.parse_args(argv)
    if args.risk_areas and args.no_risk_areas:
        parser.error("--risk-areas and --no-risk-areas exclude each other")

    from healthcode.errors import HealthCodeError
    from healthcode.trips.readers import read_cell_sites
    from healthcode.trips.risk import EpisodeRiskLookup, NoRiskLookup

    try:
        make_plan(args.as_of, None, None)  # a date after the service: no session started
        geo = PlaceIndex.load(args.polygons, args.adcodes)
        sites = read_cell_sites(args.cell_sites) if args.cell_sites else None
        risk: RiskCityLookup | None = None
        if args.risk_areas:
            risk = EpisodeRiskLookup.from_csv(args.risk_areas, geo.names)
        elif args.no_risk_areas:
            risk = NoRiskLookup()
        check_risk(make_plan(args.as_of, None, None), risk)
        contacts = read_close_contacts(args.close_contacts) if args.close_contacts else set()
    except (HealthCodeError, ValueError, OSError) as exc:
        return _fail(exc)

    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    ours = SparkSession.getActiveSession() is None  # stop only a session started here
    builder: Any = SparkSession.builder
    spark = builder.appName("healthcode-trips").getOrCreate()
    try:
        write_cards(
            spark,
            list(args.records),
            args.out,
            as_of=args.as_of,
            geo=geo,
            risk=risk,
            cell_sites=sites,
            close_contacts=contacts,
            progress=lambda stage, i, n: print(f"[{i}/{n}] {stage}", file=sys.stderr),
        )
    except (HealthCodeError, PySparkException, Py4JJavaError) as exc:
        return _fail(exc)
    finally:
        if ours:
            spark.stop()
    return 0


def _fail(exc: BaseException) -> int:
    """``error [code] message`` on stderr (first line of a Spark message), exit 1."""
    code = getattr(exc, "code", None) or type(exc).__name__
    java = getattr(exc, "java_exception", None)  # Py4JJavaError: the Java exception's line
    text = str(java.toString()) if java is not None else str(exc)
    message = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    print(f"error [{code}] {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover - spark-submit entry point
    raise SystemExit(main())
