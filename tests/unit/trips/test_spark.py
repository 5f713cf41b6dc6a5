"""Spark (local mode) gives byte-identical JSON Lines to DuckDB (and pandas).

One session for the whole run (``spark`` fixture, ≈10 s to start); every test
here is ``slow``.
"""

from __future__ import annotations

from datetime import date, datetime

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


def test_spark_resolves_cell_records_at_the_site(spark, geo, tmp_path):
    from healthcode.trips import engine_spark, read_cell_sites
    from tests.unit.trips.test_engine_places import AS_OF, HUANGGANG, _codes, _sites, _table

    sites = read_cell_sites(_sites(tmp_path))
    kw = {"as_of": AS_OF, "geo": geo, "cell_sites": sites}
    with_position = _table("421100-0002")
    cell_only = with_position.select(["phone", "epoch_s", "cell_id"])
    for table in (with_position, cell_only):
        assert _codes(engine_spark.build_cards(table, spark=spark, **kw)) == [HUANGGANG]
        duck, spk = both(table, spark, **kw)
        assert spk == duck


def test_cluster_job_reads_the_import_layout(spark, geo, geolife, tmp_path, capsys):
    """`engine_spark.py` (the spark-submit entry) on what `trips shift` writes, with the
    published risk list: the same bytes as DuckDB on the same records."""
    import pyarrow.parquet as pq

    from healthcode.trips import EpisodeRiskLookup, engine_spark, read_records
    from healthcode.trips.readers import write_records
    from healthcode.trips.risk import RISK_EPISODES
    from tests.support.shared import shared_path
    from tests.unit.trips.test_engine_places import SITE, TIMES, _sites

    as_of = date(2022, 5, 12)
    site_rows = pa.table(  # the boundary site, by cell id with its position
        {
            "phone": ["13912345678"] * 3,
            "epoch_s": [
                int(datetime.fromisoformat(t.replace("2022-11-15", "2022-05-09")).timestamp())
                for t in TIMES
            ],
            "lon": [SITE[1]] * 3,
            "lat": [SITE[2]] * 3,
            "cell_id": [SITE[0]] * 3,
        }
    )
    user = shifted(geolife, LONG_010, SHIFT_010)
    table = pa.concat_tables([user, site_rows.cast(user.schema)])
    shifted_file = tmp_path / "u010.parquet"
    write_records(table, shifted_file)  # phone, time (timestamp UTC), lon, lat, cell_id
    risk_file = shared_path(*RISK_EPISODES)
    expected = cards_to_jsonl(
        build_cards(
            read_records(shifted_file),
            as_of=as_of,
            geo=geo,
            risk=EpisodeRiskLookup.from_csv(risk_file, geo.names),
        )
    )
    assert '"230100", "name": "哈尔滨市", "province": "黑龙江省", "star": true' in expected
    assert '"421100"' in expected

    def run(*args: str) -> tuple[int, str]:
        code = engine_spark.main(["--as-of", str(as_of), *args])
        return code, capsys.readouterr().err

    out = tmp_path / "cards"
    code, _ = run("--records", str(shifted_file), "--out", str(out), "--risk-areas", str(risk_file))
    assert code == 0
    assert "".join(p.read_text("utf-8") for p in sorted(out.glob("part-*"))) == expected

    # ISO-8601 text times with offsets (the CSV shape) read the same
    text_file = tmp_path / "text.parquet"
    t = pq.read_table(shifted_file)
    local = pa.compute.strftime(
        pa.compute.add(t.column("time"), pa.scalar(8 * 3600, pa.duration("s"))),
        format="%Y-%m-%dT%H:%M:%S+08:00",
    )
    pq.write_table(t.set_column(1, "time", local), text_file)
    out2 = tmp_path / "cards2"
    code, _ = run("--records", str(text_file), "--out", str(out2), "--risk-areas", str(risk_file))
    assert code == 0
    assert "".join(p.read_text("utf-8") for p in sorted(out2.glob("part-*"))) == expected

    # no risk list on a star date: refused before any work
    code, err = run("--records", str(shifted_file), "--out", str(tmp_path / "x"))
    assert code == 1 and "error [trip-risk-list-required]" in err and "Traceback" not in err

    # times without an offset: counted, like the importer
    naive = t.set_column(1, "time", pa.array(["2022-05-10T08:00:00"] * 2 + local.to_pylist()[2:]))
    pq.write_table(naive, tmp_path / "naive.parquet")
    code, err = run(
        "--records", str(tmp_path / "naive.parquet"), "--out", str(tmp_path / "y"),
        "--no-risk-areas",
    )  # fmt: skip
    assert code == 1 and "error [trip-records-rejected] 2 record(s) with a time without" in err
    assert "Traceback" not in err

    # a file of neither layout
    pq.write_table(pa.table({"msisdn": ["13912345678"], "ts": [1]}), tmp_path / "other.parquet")
    code, err = run(
        "--records", str(tmp_path / "other.parquet"), "--out", str(tmp_path / "z"),
        "--no-risk-areas", "--cell-sites", str(_sites(tmp_path)),
    )  # fmt: skip
    assert code == 1 and "error [trip-format-unknown]" in err and "no known layout" in err
    assert not (tmp_path / "z").exists()
