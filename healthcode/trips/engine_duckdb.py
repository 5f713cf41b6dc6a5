"""Trip cards on DuckDB, the embedded default engine.

One in-process connection per run; the records are scanned where they are
(Arrow/pandas in memory, or Parquet files), points are resolved once per 0.001°
grid cell (or cell sites once per site) in Python, and the stay definition of
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
    key_places,
    make_plan,
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


def _check(con: duckdb.DuckDBPyConnection, by_cell: bool) -> None:
    """:raises RecordsRejected: unknown cell ids, or phones that are not mobile numbers."""
    row = con.execute(
        "SELECT count(*) FILTER (WHERE place IS NULL), "
        "count(*) FILTER (WHERE phone IS NULL OR phone NOT BETWEEN 13000000000 AND 19999999999) "
        "FROM r"
    ).fetchall()[0]
    unknown, bad_phone = int(row[0]), int(row[1])
    if unknown and by_cell:
        example = con.execute(
            "SELECT min(cell_id) FROM celled ANTI JOIN sitemap USING (cell_id)"
        ).fetchall()[0][0]
        raise RecordsRejected(
            f"{unknown} record(s) name cell ids missing from the cell-site table (e.g. {example!r})",
            details={"error_count": unknown, "errors": []},
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
        if {"lon", "lat"} <= columns:
            con.execute(
                f"CREATE VIEW keyed AS SELECT CAST(phone AS VARCHAR) AS phone, epoch_s, {KEY_SQL} AS k FROM src WHERE {where}"  # noqa: S608
            )
            keys = con.execute("SELECT DISTINCT k FROM keyed").fetchnumpy()["k"]
            con.register("keymap", key_places(keys, geo))
            located = "(SELECT phone, epoch_s, place FROM keyed JOIN keymap USING (k))"
        elif "cell_id" in columns:
            if cell_sites is None:
                raise RecordsRejected("records give cell_id but no cell-site table was given")
            con.register("sitemap", site_places(cell_sites, geo))
            celled = (
                "CREATE VIEW celled AS SELECT CAST(phone AS VARCHAR) AS phone, epoch_s, "
                "CAST(cell_id AS VARCHAR) AS cell_id "
                "FROM src WHERE "
            )
            con.execute(celled + where)
            located = "(SELECT phone, epoch_s, place, cell_id FROM celled LEFT JOIN sitemap USING (cell_id))"
        else:
            raise RecordsRejected("records need columns lon, lat or cell_id")

        report(progress, "stays", 3, STEPS)
        # phones as BIGINT: sorting and partitioning by a number is faster than by text;
        # only canonical numbers (11 characters, 13000000000-19999999999) survive the cast
        r_sql = (
            "CREATE TEMP TABLE r AS SELECT "
            "CASE WHEN length(phone) = 11 THEN TRY_CAST(phone AS BIGINT) END AS phone, "
            "epoch_s, place FROM "
        )
        con.execute(r_sql + located)
        _check(con, "cell_id" in columns and not {"lon", "lat"} <= columns)
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
