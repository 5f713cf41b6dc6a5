"""Trip cards on DuckDB, the embedded default engine.

One in-process connection per run; the records are scanned where they are
(Arrow/pandas in memory, or Parquet files), points are resolved once per 0.001°
grid cell and cell-id records once per site at its exact position, in Python, and
the stay definition of
:mod:`healthcode.trips.stays` runs as SQL.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

import duckdb
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
from healthcode.trips.errors import RecordsRejected
from healthcode.trips.geo import PlaceIndex
from healthcode.trips.model import TripCard
from healthcode.trips.policy import Policy
from healthcode.trips.readers import CellSites
from healthcode.trips.risk import RiskCityLookup
from healthcode.trips.stays import Progress, StayRule, assemble_cards, stay_sql

STEPS = 4


#: ``place`` of a record that gives neither lon/lat nor a cell id (never a real place id).
NOWHERE = -1


def _locate(
    con: duckdb.DuckDBPyConnection,
    columns: set[str],
    where: str,
    geo: PlaceIndex,
    cell_sites: CellSites | None,
) -> str:
    """``(phone, epoch_s, place)`` of the records in range, as a subquery.

    Points without a cell id: once per 0.001° grid cell. Records with a cell id: at their
    exact position, once per distinct position (given lon/lat, else the cell-site table;
    an unknown cell gives place NULL). Neither: :data:`NOWHERE`.

    :raises RecordsRejected: records with neither lon/lat nor cell_id columns.
    """
    has_point = {"lon", "lat"} <= columns
    has_cell = "cell_id" in columns
    if not (has_point or has_cell):
        raise RecordsRejected("records need columns lon, lat or cell_id")
    point = "lon, lat" if has_point else "CAST(NULL AS DOUBLE) AS lon, CAST(NULL AS DOUBLE) AS lat"
    cell = "NULLIF(trim(CAST(cell_id AS VARCHAR)), '')" if has_cell else "CAST(NULL AS VARCHAR)"
    con.execute(
        f"CREATE VIEW base AS SELECT CAST(phone AS VARCHAR) AS phone, epoch_s, {point}, "  # noqa: S608
        f"{cell} AS cell_id FROM src WHERE {where}"
    )
    parts = []
    if has_point:
        con.execute(
            f"CREATE VIEW keyed AS SELECT phone, epoch_s, {KEY_SQL} AS k FROM base "  # noqa: S608
            "WHERE cell_id IS NULL AND lon IS NOT NULL AND lat IS NOT NULL"
        )
        keys = con.execute("SELECT DISTINCT k FROM keyed").fetchnumpy()["k"]
        con.register("keymap", key_places(keys, geo))
        parts.append("SELECT phone, epoch_s, place FROM keyed JOIN keymap USING (k)")
    if has_point and has_cell:
        con.execute(
            "CREATE VIEW pinned AS SELECT phone, epoch_s, lon, lat FROM base "
            "WHERE cell_id IS NOT NULL AND lon IS NOT NULL AND lat IS NOT NULL"
        )
        pos = con.execute("SELECT DISTINCT lon, lat FROM pinned").fetchnumpy()
        con.register("pointmap", point_places(pos["lon"], pos["lat"], geo))
        parts.append("SELECT phone, epoch_s, place FROM pinned JOIN pointmap USING (lon, lat)")
    if has_cell:
        sites = site_places(cell_sites, geo) if cell_sites is not None else None
        con.register("sitemap", sites if sites is not None else _NO_SITES)
        con.execute(
            "CREATE VIEW celled AS SELECT phone, epoch_s, cell_id FROM base "
            "WHERE cell_id IS NOT NULL AND (lon IS NULL OR lat IS NULL)"
        )
        parts.append("SELECT phone, epoch_s, place FROM celled LEFT JOIN sitemap USING (cell_id)")
    parts.append(
        f"SELECT phone, epoch_s, {NOWHERE} AS place FROM base "  # noqa: S608
        "WHERE cell_id IS NULL AND (lon IS NULL OR lat IS NULL)"
    )
    return "(" + " UNION ALL ".join(parts) + ")"


_NO_SITES = pa.table({"cell_id": pa.array([], pa.string()), "place": pa.array([], pa.int64())})


def _check(con: duckdb.DuckDBPyConnection, have_sites: bool) -> None:
    """:raises RecordsRejected: records without a location, unknown cell ids (or cell ids
    without lon/lat and no cell-site table), or phones that are not mobile numbers."""
    row = con.execute(
        "SELECT count(*) FILTER (WHERE place IS NULL), "  # noqa: S608 - constants only
        f"count(*) FILTER (WHERE place = {NOWHERE}), "
        "count(*) FILTER (WHERE phone IS NULL OR phone NOT BETWEEN 13000000000 AND 19999999999) "
        "FROM r"
    ).fetchall()[0]
    unknown, nowhere, bad_phone = int(row[0]), int(row[1]), int(row[2])
    if unknown and not have_sites:
        raise RecordsRejected(
            f"records give cell_id but no cell-site table was given ({unknown} record(s))",
            details={"error_count": unknown, "errors": []},
        )
    if unknown:
        example = con.execute(
            "SELECT min(cell_id) FROM celled ANTI JOIN sitemap USING (cell_id)"
        ).fetchall()[0][0]
        raise RecordsRejected(
            f"{unknown} record(s) name cell ids missing from the cell-site table (e.g. {example!r})",
            details={"error_count": unknown, "errors": []},
        )
    if nowhere:
        raise RecordsRejected(
            f"{nowhere} record(s) give neither lon/lat nor cell_id",
            details={"error_count": nowhere, "errors": []},
        )
    if bad_phone:
        raise RecordsRejected(
            f"{bad_phone} record(s) with a phone that is not an 11-digit mainland mobile number",
            details={"error_count": bad_phone, "errors": []},
        )


def _text_phone(table: pa.Table) -> pa.Table:
    i = table.schema.get_field_index("phone")
    return table.set_column(i, "phone", pc.cast(table.column("phone"), pa.string()))


def _arrow(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """Result as an Arrow table (``to_arrow_table`` from DuckDB 1.4, ``arrow`` before)."""
    method = getattr(relation, "to_arrow_table", None) or relation.arrow
    table: pa.Table = method()
    return table


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
    threads: int | None = None,
    memory_limit: str | None = None,
) -> list[TripCard]:
    """Cards of every phone with records in the window of ``as_of``, sorted by phone.

    :param records: see :data:`healthcode.trips.RecordsInput`.
    :param as_of: query date (Asia/Shanghai); the window ends the day before.
    :param geo: place resolver.
    :param policy: default: the policy in force on ``as_of``.
    :param risk: risk cities for stars / the old red (default: none).
    :param cell_sites: needed when records carry ``cell_id`` instead of lon/lat.
    :param close_contacts: full phone numbers whose card is orange.
    :param phones: only these phones (default: all).
    :param progress: ``progress(stage, step, steps)`` callback.
    :param threads: DuckDB threads (default: all cores).
    :param memory_limit: DuckDB memory limit, e.g. ``"2GB"``.
    :raises ServiceEnded: no policy on ``as_of``.
    :raises RecordsRejected: records name cell ids missing from ``cell_sites``, give
        neither lon/lat nor cell_id, or a phone that is not 11 digits ``1[3-9]…``.
    """
    plan = make_plan(as_of, policy, rule)
    check_risk(plan, risk)
    config: dict[str, str | bool | int | float | list[str]] = {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute("SET enable_progress_bar = false")  # progress goes to `progress`
        con.execute("SET preserve_insertion_order = false")  # cards are sorted afterwards
        report(progress, "read records", 1, STEPS)
        paths = as_paths(records)
        if paths is None:
            con.register("src_in", records)
            con.execute("CREATE VIEW src AS SELECT * FROM src_in")
        else:
            con.read_parquet(paths).create_view("src")
        columns = {row[0] for row in con.execute("DESCRIBE src").fetchall()}
        where = f"epoch_s >= {plan.lookback_s} AND epoch_s < {plan.window_end_s}"
        if phones is not None:
            con.register("wanted", pa.table({"phone": pa.array(sorted(phones), pa.string())}))
            where += " AND CAST(phone AS VARCHAR) IN (SELECT phone FROM wanted)"

        report(progress, "resolve places", 2, STEPS)
        located = _locate(con, columns, where, geo, cell_sites)

        report(progress, "stays", 3, STEPS)
        # phones as BIGINT: sorting and partitioning by a number is faster than by text;
        # only canonical numbers (11 characters, 13000000000-19999999999) survive the cast
        r_sql = (
            "CREATE TEMP TABLE r AS SELECT "
            "CASE WHEN length(phone) = 11 THEN TRY_CAST(phone AS BIGINT) END AS phone, "
            "epoch_s, place FROM "
        )
        con.execute(r_sql + located)
        _check(con, cell_sites is not None)
        queries = stay_sql(plan, "r")
        cities = _text_phone(_arrow(con.sql(queries["cities"])))
        abroad = _text_phone(_arrow(con.sql(queries["abroad"])))
        phone_rows = _text_phone(_arrow(con.sql(queries["phones"])))
    finally:
        con.close()

    report(progress, "cards", 4, STEPS)
    return assemble_cards(
        cities,
        abroad,
        phone_rows,
        plan=plan,
        geo=geo,
        starred=starred_for(plan, risk),
        close_contacts=close_contacts,
    )
