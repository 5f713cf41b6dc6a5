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
from healthcode.trips.stays import Progress, StayRule, assemble_cards, records_sql, stay_sql

STEPS = 4


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
    :raises RecordsRejected: records name cell ids missing from ``cell_sites``, or
        give neither lon/lat nor cell_id.
    """
    plan = make_plan(as_of, policy, rule)
    config: dict[str, str | bool | int | float | list[str]] = {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(":memory:", config=config)
    try:
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
            where += " AND phone IN (SELECT phone FROM wanted)"

        report(progress, "resolve places", 2, STEPS)
        if {"lon", "lat"} <= columns:
            con.execute(
                f"CREATE VIEW keyed AS SELECT phone, epoch_s, {KEY_SQL} AS k FROM src WHERE {where}"  # noqa: S608
            )
            keys = con.execute("SELECT DISTINCT k FROM keyed").fetchnumpy()["k"]
            con.register("keymap", key_places(keys, geo))
            located = "(SELECT phone, epoch_s, place FROM keyed JOIN keymap USING (k))"
        elif "cell_id" in columns:
            if cell_sites is None:
                raise RecordsRejected("records give cell_id but no cell-site table was given")
            con.register("sitemap", site_places(cell_sites, geo))
            celled = (
                "CREATE VIEW celled AS SELECT phone, epoch_s, CAST(cell_id AS VARCHAR) AS cell_id "
                "FROM src WHERE "
            )
            con.execute(celled + where)
            unknown = con.execute(
                "SELECT count(*), min(cell_id) FROM celled ANTI JOIN sitemap USING (cell_id)"
            ).fetchone()
            if unknown and unknown[0]:
                raise RecordsRejected(
                    f"{unknown[0]} record(s) name cell ids missing from the cell-site table "
                    f"(e.g. {unknown[1]!r})",
                    details={"error_count": unknown[0], "errors": []},
                )
            located = "(SELECT phone, epoch_s, place FROM celled JOIN sitemap USING (cell_id))"
        else:
            raise RecordsRejected("records need columns lon, lat or cell_id")

        report(progress, "stays", 3, STEPS)
        con.execute(f"CREATE TEMP TABLE r AS {records_sql(plan, located)}")
        queries = stay_sql(plan, "r")
        cities = _arrow(con.sql(queries["cities"]))
        abroad = _arrow(con.sql(queries["abroad"]))
        phone_rows = _arrow(con.sql(queries["phones"]))
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
