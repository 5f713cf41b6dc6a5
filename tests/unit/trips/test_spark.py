"""Spark (local mode) gives byte-identical JSON Lines to DuckDB (and pandas).

One session for the whole run (``spark`` fixture, ≈10 s to start); every test
here is ``slow``.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from healthcode.trips import RecordsRejected, build_cards, cards_to_jsonl
from healthcode.trips.synthetic import generate_cell_records
from tests.unit.trips.conftest import records
from tests.unit.trips.test_geolife import LONG_010, SHIFT_006, SHIFT_010, shifted

pytestmark = [
    pytest.mark.slow,
    # PySpark 4.x warns that pandas >= 3 is not fully supported; we exchange Arrow only
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


def both(table, spark, **kw):
    from healthcode.trips import engine_spark

    duck = cards_to_jsonl(build_cards(table, engine="duckdb", **kw))
    spk = cards_to_jsonl(engine_spark.build_cards(table, spark=spark, **kw))
    return duck, spk


@pytest.mark.parametrize("as_of", [date(2007, 9, 8), date(2008, 4, 3), date(2008, 11, 1)])
def test_geolife_unshifted(spark, geo, geolife, as_of):
    duck, spk = both(geolife, spark, as_of=as_of, geo=geo)
    assert duck and spk == duck


def test_geolife_shifted_with_stars(spark, geo, geolife, nhc):
    table = pa.concat_tables(
        [shifted(geolife, LONG_010, SHIFT_010), shifted(geolife, "19900001006", SHIFT_006)]
    )
    duck, spk = both(table, spark, as_of=date(2022, 5, 12), geo=geo, risk=nhc)
    assert '"star": true' in duck and spk == duck
    duck, spk = both(table, spark, as_of=date(2022, 6, 28), geo=geo, risk=nhc)
    assert '"star": true' in duck and spk == duck


def test_synthetic_cell_records_all_engines_and_distributed_writer(spark, geo, tmp_path):
    data = generate_cell_records(n_records=60_000, start=date(2022, 11, 7), geo=geo, seed=5)
    contacts = {"13000000003", "13000000007"}
    kw = {
        "as_of": date(2022, 11, 21),
        "geo": geo,
        "cell_sites": data.sites,
        "close_contacts": contacts,
    }
    duck, spk = both(data.records, spark, **kw)
    assert spk == duck
    assert cards_to_jsonl(build_cards(data.records, engine="pandas", **kw)) == duck
    for colour in ("green", "yellow", "orange"):
        assert f'"colour": "{colour}"' in duck
    from healthcode.trips import engine_spark

    out = tmp_path / "cards"
    engine_spark.write_cards(spark, data.records, str(out), **kw)
    parts = sorted(out.glob("part-*"))
    assert "".join(p.read_text("utf-8") for p in parts) == duck


def test_synthetic_edge_cases(spark, geo):
    rows = [
        ("13912345678", "2022-11-15T08:00:00+08:00", "上海"),
        ("13912345678", "2022-11-15T10:00:00+08:00", "杭州"),
        ("13912345678", "2022-11-15T12:00:00+08:00", "杭州"),
        ("13912345678", "2022-11-15T14:00:00+08:00", "上海"),  # bridged to exactly 4 h
        ("13912345678", "2022-11-15T14:00:00+08:00", "嘉兴"),  # a tie at the same second
        ("13800000002", "2022-11-12T10:00:00+08:00", "北京"),  # under way at the window start
        ("13800000002", "2022-11-14T10:00:00+08:00", "北京"),
        ("13800000002", "2022-11-16T10:00:00+08:00", "香港"),
        ("13800000002", "2022-11-21T10:00:00+08:00", "东京"),  # the query day: not used
        ("13700000003", "2022-11-14T00:00:00+08:00", "天津"),
        ("13700000003", "2022-11-17T00:00:01+08:00", "天津"),  # 72 h + 1 s: two visits
    ]
    table = records(rows + rows[:3])  # with duplicates
    duck, spk = both(table, spark, as_of=date(2022, 11, 21), geo=geo)
    assert spk == duck and '"杭州市"' in duck and '"HK"' in duck and "天津" not in duck


def test_spark_rejects_bad_input(spark, geo):
    from healthcode.trips import engine_spark

    table = records([("13912345678", "2022-11-15T08:00:00+08:00", "上海")])
    with pytest.raises(RecordsRejected, match="not an 11-digit"):
        engine_spark.build_cards(
            table.set_column(0, "phone", pa.array(["+8613912345678"])),
            spark=spark,
            as_of=date(2022, 11, 21),
            geo=geo,
        )
    celled = pa.table(
        {"phone": ["13912345678"], "epoch_s": table.column("epoch_s"), "cell_id": ["X"]}
    )
    with pytest.raises(RecordsRejected, match="no cell-site table"):
        engine_spark.build_cards(celled, spark=spark, as_of=date(2022, 11, 21), geo=geo)
