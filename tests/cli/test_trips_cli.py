"""The trip-card command lines of issue 3: shapes, exit codes, reports (click's runner)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from healthcode.cli.main import cli
from tests.support.shared import shared_path, shared_root

CARD_KEYS = [
    "phone", "as_of", "window_days", "window", "updated_at", "colour", "cities", "abroad",
    "policy",
]  # fmt: skip
CITY_KEYS = ["code", "name", "province", "star", "first_seen", "last_seen"]

RECORDS = """phone,time,lon,lat
13912345678,2022-11-15T08:00:00+08:00,121.47,31.23
13912345678,2022-11-15T14:30:00+08:00,121.47,31.23
13800138000,2022-11-16T08:00:00Z,116.40,39.90
13800138000,2022-11-16T06:00:00+08:00,114.17,22.30
13800138000,2022-11-16T20:00:00Z,116.40,39.90
"""


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEALTHCODE_DB", raising=False)
    monkeypatch.setenv("HEALTHCODE_SHARED", str(shared_root().resolve()))
    runner = CliRunner()

    def invoke(*args, db="hc.db"):
        return runner.invoke(cli, [*args, "--db", db], obj={}, catch_exceptions=False)

    return invoke


@pytest.fixture
def records(tmp_path):
    path = tmp_path / "records.csv"
    path.write_text(RECORDS, encoding="utf-8")
    return path


def test_import_build_card(run, records, tmp_path):
    r = run("trips", "import", str(records), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["records"], out["stored"], out["phones"]) == (5, 5, 2)
    assert out["import_id"].startswith("trip-")

    r = run("trips", "build", "--as-of", "2022-11-20", "--out", "cards.jsonl")
    assert r.exit_code == 0, r.output
    assert "built 2 card(s) for 2022-11-20" in r.stdout
    assert "[1/6] load the stored records" in r.stderr  # progress on stderr
    lines = (tmp_path / "cards.jsonl").read_bytes().decode("utf-8").splitlines()
    cards = [json.loads(line) for line in lines]
    assert [c["phone"] for c in cards] == ["138****8000", "139****5678"]  # sorted by phone
    assert all(list(c) == CARD_KEYS for c in cards)
    beijing = cards[0]
    assert beijing["colour"] == "yellow"  # a record in Hong Kong
    assert [a["code"] for a in beijing["abroad"]] == ["HK"]
    assert [list(c) for c in beijing["cities"]] == [CITY_KEYS]
    assert "北京市" in lines[0]  # UTF-8, not \\u escapes

    r = run("trips", "card", "13912345678", "--as-of", "2022-11-20", "--json")
    assert r.exit_code == 0, r.output
    card = json.loads(r.stdout)
    assert list(card) == CARD_KEYS
    assert card["phone"] == "139****5678" and card["window"] == ["2022-11-13", "2022-11-19"]
    assert card["cities"][0]["name"] == "上海市" and "上海市" in r.stdout
    assert card["updated_at"] == "2022-11-15T14:30:00+08:00"
    assert r.stdout.strip() == lines[1]  # the stored card, byte for byte

    r = run("trips", "card", "13912345678", "--as-of", "2022-11-20")
    assert r.exit_code == 0
    assert "上海市" in r.stdout and "139****5678" in r.stdout and "停留4小时以上" in r.stdout


def test_card_of_a_phone_without_records_is_empty_with_a_reason(run, records, tmp_path):
    assert run("trips", "import", str(records)).exit_code == 0
    for _ in ("computed", "stored"):  # the second query reads the stored card back
        r = run("trips", "card", "13700000000", "--as-of", "2022-11-20", "--json")
        assert r.exit_code == 0, r.output
        card = json.loads(r.stdout)
        assert list(card) == CARD_KEYS  # the contract's keys only: no "reason"
        assert card["cities"] == [] and card["updated_at"] is None and card["colour"] == "green"
        assert r.stderr.strip() == "empty card: no location records of this phone [no-records]"
    r = run("trips", "card", "13912345678", "--as-of", "2021-06-01")
    assert r.exit_code == 0
    assert "before this phone's first record" in r.stdout and "[before-data]" in r.stdout
    # from files, not stored: the same shape
    r = run("trips", "card", "13912345678", "--as-of", "2022-11-30", "--records", str(records),
            "--json")  # fmt: skip
    assert r.exit_code == 0 and list(json.loads(r.stdout)) == CARD_KEYS
    assert "[after-data]" in r.stderr
    # the reason is that of the records now: later records make "no records" "before data"
    later = tmp_path / "later.csv"
    later.write_text("phone,time,lon,lat\n13700000000,2022-11-25T08:00:00+08:00,121.47,31.23\n",
                     encoding="utf-8")  # fmt: skip
    assert run("trips", "import", str(later)).exit_code == 0
    r = run("trips", "card", "13700000000", "--as-of", "2022-11-20", "--json")
    assert list(json.loads(r.stdout)) == CARD_KEYS and "[before-data]" in r.stderr


def test_a_stored_card_line_with_a_reason_key_is_read_as_the_contract(run, records, tmp_path):
    """Empty cards stored by an earlier version carried "reason": read back without it."""
    import sqlite3

    assert run("trips", "import", str(records)).exit_code == 0
    r = run("trips", "card", "13912345678", "--as-of", "2021-06-01", "--json")  # before its data
    line = r.stdout.strip()
    old = line[:-1] + ', "reason": {"code": "before-data", "message": "old text"}}'
    with sqlite3.connect(tmp_path / "hc.db") as db:
        assert db.execute("UPDATE trip_cards SET card = ?", (old,)).rowcount == 1
    r = run("trips", "card", "13912345678", "--as-of", "2021-06-01", "--json")
    assert r.stdout.strip() == line and "[before-data]" in r.stderr


def test_card_from_files_with_several_record_files(run, tmp_path):
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    lines = RECORDS.splitlines()
    a.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    b.write_text("\n".join([lines[0], *lines[3:]]) + "\n", encoding="utf-8")
    r = run("trips", "card", "13800138000", "--as-of", "2022-11-20", "--records", str(a), str(b),
            "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["abroad"][0]["name"] == "中国香港"
    r = run("trips", "build", "--as-of", "2022-11-20", "--records", str(a), str(b), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["cards"] == 2


def test_refused_rows_exit_1_with_line_numbers_and_nothing_stored(run, tmp_path, records):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        RECORDS + "13912345678,2022-11-17 08:00:00,121.47,31.23\n13912345678,2022-11-17T09:00:00Z,200,31\n",
        encoding="utf-8",
    )  # fmt: skip
    r = run("trips", "import", str(records), str(bad))
    assert r.exit_code == 1
    assert f"{bad}:7: time-without-offset" in r.stderr
    assert f"{bad}:8: invalid-coordinates" in r.stderr
    r = run("trips", "import", str(bad), "--json")
    assert r.exit_code == 1
    body = json.loads(r.stdout)
    assert body["code"] == "trip-records-rejected"
    assert [e["line"] for e in body["details"]["errors"]] == [7, 8]
    # nothing was imported: the card has no record
    r = run("trips", "card", "13912345678", "--as-of", "2022-11-20", "--json")
    assert json.loads(r.stdout)["cities"] == [] and "[no-records]" in r.stderr


def test_unreadable_files_and_bad_options_exit_2(run, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    assert run("trips", "import", str(junk)).exit_code == 2
    assert run("trips", "import", str(tmp_path / "missing.csv")).exit_code == 2
    assert run("trips", "build", "--as-of", "21 Nov").exit_code == 2
    assert run("trips", "card", "12345", "--as-of", "2022-11-20").exit_code == 2
    assert run("trips", "build").exit_code == 2  # --as-of is required
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really parquet")
    r = run("trips", "import", str(broken))
    assert r.exit_code == 2, r.output
    assert "unreadable-file" in r.stderr


def _plt_file(tmp_path):
    """A real GeoLife trajectory (user 010), in a folder that names its user."""
    src = sorted(shared_path("data", "trajectories_geolife_subset", "plt").rglob("*.plt"))[0]
    dst = tmp_path / "010" / "Trajectory" / src.name
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    return dst


def _parquet_file(tmp_path, records):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = tmp_path / "records.parquet"
    pq.write_table(pacsv.read_csv(records), path)
    return path


@pytest.mark.parametrize(
    ("which", "fmt", "looks_like"),
    [
        ("plt", "csv", "GeoLife .plt trajectory"),
        ("csv", "parquet", "record CSV"),
        ("parquet", "plt", "Parquet file"),
        ("parquet", "csv", "Parquet file"),
        ("csv", "geolife-points", "record CSV"),
    ],
)
def test_import_with_the_wrong_format_is_a_usage_error(run, tmp_path, records, which, fmt,
                                                       looks_like):  # fmt: skip
    path = {"csv": records, "plt": _plt_file(tmp_path),
            "parquet": _parquet_file(tmp_path, records)}[which]  # fmt: skip
    r = run("trips", "import", str(path), "--format", fmt)
    assert r.exit_code == 2, r.output
    assert "error [trip-format-mismatch]" in r.stderr
    line = f"{path}:0: format-mismatch: --format {fmt} was chosen, but the file looks like"
    assert line in r.stderr and looks_like in r.stderr
    assert "Traceback" not in r.output
    r = run("trips", "import", str(path), "--format", fmt, "--json")
    assert r.exit_code == 2
    body = json.loads(r.stdout)
    assert body["code"] == "trip-format-mismatch"
    assert [e["code"] for e in body["details"]["errors"]] == ["format-mismatch"]
    # nothing stored: the import without --format stores everything, not "already stored"
    r = run("trips", "import", str(path), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["stored"] == out["records"] > 0 and out["already_stored"] == 0


def test_records_files_named_for_another_format_exit_2_in_build_and_card(run, tmp_path, records):
    wrong = tmp_path / "records.plt"  # a CSV named .plt
    wrong.write_bytes(records.read_bytes())
    for args in (
        ("trips", "build", "--as-of", "2022-11-20", "--records", str(wrong)),
        ("trips", "card", "13912345678", "--as-of", "2022-11-20", "--records", str(wrong)),
        ("trips", "import", str(wrong)),
    ):
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert f"{wrong}:0: format-mismatch: the name (.plt) says plt" in r.stderr
    # the right name reads; real row errors stay per-row refusals (exit 1) in every command
    bad = tmp_path / "bad.csv"
    bad.write_text(RECORDS + "13912345678,2022-11-17T08:00:00Z,121.47,95\n", encoding="utf-8")
    for args in (
        ("trips", "build", "--as-of", "2022-11-20", "--records", str(bad)),
        ("trips", "card", "13912345678", "--as-of", "2022-11-20", "--records", str(bad)),
        ("trips", "import", str(bad), "--format", "csv"),
    ):
        r = run(*args)
        assert r.exit_code == 1, (args, r.output)
        assert f"{bad}:7: invalid-coordinates" in r.stderr
    assert run("trips", "card", "13912345678", "--as-of", "2022-11-20", "--records",
               str(records)).exit_code == 0  # fmt: skip


def test_empty_file_is_refused(run, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    r = run("trips", "import", str(empty))
    assert r.exit_code == 1
    assert "empty-file" in r.stderr


def test_dates_after_the_service_are_refused(run, records):
    run("trips", "import", str(records))
    r = run("trips", "card", "13912345678", "--as-of", "2022-12-13", "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["code"] == "trip-service-ended"
    r = run("trips", "build", "--as-of", "2023-01-01")
    assert r.exit_code == 1 and "2022-12-13" in r.stderr


def test_geolife_points_and_plt(run, tmp_path):
    points = shared_path("data", "trajectories_geolife_subset", "points.csv.gz")
    r = run("trips", "import", str(points), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["phones"] == 14
    r = run("trips", "card", "19900001010", "--as-of", "2007-09-01", "--json")
    assert [c["name"] for c in json.loads(r.stdout)["cities"]] == ["天津市"]
    plt = sorted(shared_path("data", "trajectories_geolife_subset", "plt").rglob("*.plt"))[0]
    r = run("trips", "import", str(plt), "--format", "plt", "--json", db="plt.db")
    assert r.exit_code == 0, r.output


def _user_010_points():
    """User 010 of geolife_long_10_MB straight from points.csv.gz (csv module, no reader):
    its distinct (time, lon, lat) points."""
    import csv
    import gzip

    path = shared_path("data", "trajectories_geolife_subset", "points.csv.gz")
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return {
            (row["time_utc"], float(row["lon"]), float(row["lat"]))
            for row in csv.DictReader(fh)
            if row["subset"] == "geolife_long_10_MB" and row["user"] == "010"
        }


def _risk_areas_of(tmp_path, province):
    """The real NHC listing episodes of one province, as an importable file."""
    import csv
    import gzip

    src = shared_path("data", "risk_areas_nhc_2022", "risk_area_episodes.csv.gz")
    out = tmp_path / "episodes.csv"
    with (
        gzip.open(src, "rt", encoding="utf-8", newline="") as fh,
        open(out, "w", encoding="utf-8", newline="") as dst,
    ):
        reader = csv.DictReader(fh)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row for row in reader if row["province"] == province)
    return out


def test_shift_moves_geolife_user_010_into_the_risk_lists(run, tmp_path):
    from datetime import UTC, datetime, timedelta

    points = shared_path("data", "trajectories_geolife_subset", "points.csv.gz")
    result = CliRunner().invoke(
        cli, ["trips", "shift", str(points), "--phone", "19900001010", "--days", "5392",
              "--out", "user010.csv"], obj={}, catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    raw = _user_010_points()
    assert f"wrote {len(raw)} record(s) of 1 phone(s) shifted by +5392 day(s)" in result.stdout
    shifted = (tmp_path / "user010.csv").read_text(encoding="utf-8").splitlines()
    assert shifted[0] == "phone,time,lon,lat,cell_id"
    rows = [line.split(",") for line in shifted[1:]]
    assert {p for p, *_ in rows} == {"19900001010"}
    moved = {
        (
            (datetime.fromisoformat(t) - timedelta(days=5392))
            .astimezone(UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            float(lon),
            float(lat),
        )
        for _, t, lon, lat, _ in rows
    }
    assert moved == raw  # every distinct point, exactly 5,392 days later
    # the shifted trace in Harbin on 2022-05-10, starred by the real list of 黑龙江 of 05-11
    r = run("risk-areas", "import", str(_risk_areas_of(tmp_path, "黑龙江省")))
    assert r.exit_code == 0, r.output
    r = run("trips", "import", "user010.csv", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["stored"] == len(raw)
    r = run("trips", "card", "19900001010", "--as-of", "2022-05-12", "--json")
    cities = {c["name"]: c["star"] for c in json.loads(r.stdout)["cities"]}
    assert cities["哈尔滨市"] is True


def test_shift_bad_options_and_no_records(tmp_path, records, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def shift(*args):
        return CliRunner().invoke(cli, ["trips", "shift", str(records), *args], obj={},
                                  catch_exceptions=False)  # fmt: skip

    r = shift("--days", "-2", "--out", "back.parquet")
    assert r.exit_code == 0, r.output
    back = shift("--days", "0", "--out", "same.csv")
    assert back.exit_code == 0
    import pyarrow.parquet as pq

    t = pq.read_table(tmp_path / "back.parquet")
    first = t.column("time")[0].as_py()
    assert first.isoformat() == "2022-11-13T00:00:00+00:00"  # 2022-11-15T08:00+08:00 - 2 days
    r = shift("--days", "1", "--phone", "13700000000", "--out", "x.csv")
    assert r.exit_code == 1 and "error [trip-no-records]" in r.stderr
    assert not (tmp_path / "x.csv").exists()
    for args in (
        ("--days", "400000", "--out", "x.csv"),  # beyond the year 2999
        ("--days", "1", "--out", "x.txt"),
        ("--days", "1", "--phone", "123", "--out", "x.csv"),
        ("--days", "one", "--out", "x.csv"),
        ("--days", "1", "--format", "parquet", "--out", "x.csv"),  # a CSV is not Parquet
    ):
        r = shift(*args)
        assert r.exit_code == 2, (args, r.output)
        assert "Traceback" not in r.output


def test_retention_sweep_json(run, records):
    run("trips", "import", str(records))
    r = run("retention", "sweep", "--at", "2022-12-05T00:00:00+08:00", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["deleted"]["location_records"] == 5 and out["deleted"]["trip_phones"] == 2
    r = run("retention", "sweep")
    assert r.exit_code == 0 and "deleted 0 location record(s)" in r.stdout
    assert "0 expired e-certificate record(s)" in r.stdout


def test_phone_map_names_the_geolife_numbers(run, tmp_path):
    points = shared_path("data", "trajectories_geolife_subset", "points.csv.gz")
    pmap = tmp_path / "map.csv"
    pmap.write_text("subset,user,phone\ngeolife_long_10_MB,010,13912340010\n", encoding="utf-8")
    assert run("trips", "import", str(points), "--phone-map", str(pmap)).exit_code == 0
    r = run("trips", "card", "13912340010", "--as-of", "2007-09-01", "--json")
    assert [c["name"] for c in json.loads(r.stdout)["cities"]] == ["天津市"]
    bad = tmp_path / "bad-map.csv"
    bad.write_text("subset,user,phone\ngeolife_long_10_MB,010,12345\n", encoding="utf-8")
    r = run("trips", "import", str(points), "--phone-map", str(bad), db="other.db")
    assert r.exit_code == 2 and f"{bad}:2: invalid-phone" in r.stderr  # a bad option file


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_engine_gives_the_same_cards_from_the_stored_records(run, tmp_path):
    pytest.importorskip("pyspark")
    import shutil

    if shutil.which("java") is None:
        pytest.skip("Java 17 is needed for the Spark engine")
    points = shared_path("data", "trajectories_geolife_subset", "points.csv.gz")
    assert run("trips", "import", str(points)).exit_code == 0
    for engine in ("duckdb", "spark"):
        r = run(
            "trips",
            "build",
            "--as-of",
            "2008-11-01",
            "--engine",
            engine,
            "--out",
            f"{engine}.jsonl",
        )
        assert r.exit_code == 0, r.output
    duck = (tmp_path / "duckdb.jsonl").read_bytes()
    assert duck.count(b"\n") >= 2
    assert (tmp_path / "spark.jsonl").read_bytes() == duck


def db_count(tmp_path, sql, *args):
    import sqlite3

    with sqlite3.connect(tmp_path / "hc.db") as db:
        return db.execute(sql, args).fetchone()[0]


def test_a_query_of_a_phone_without_records_stores_nothing(run, records, tmp_path):
    """No card and no number of an unknown phone, before and after a retention sweep."""
    assert run("trips", "import", str(records)).exit_code == 0
    phones = db_count(tmp_path, "SELECT COUNT(*) FROM trip_phones")
    for _ in range(2):
        r = run("trips", "card", "13800138001", "--as-of", "2022-11-21", "--json")
        assert r.exit_code == 0 and "[no-records]" in r.stderr
        assert json.loads(r.stdout)["phone"] == "138****8001"
    assert db_count(tmp_path, "SELECT COUNT(*) FROM trip_cards") == 0
    assert db_count(tmp_path, "SELECT COUNT(*) FROM trip_phones") == phones
    # after a sweep the known phones have no records either: nothing is stored for them
    assert run("retention", "sweep", "--at", "2022-12-31").exit_code == 0
    r = run("trips", "card", "13800138000", "--as-of", "2022-11-21")
    assert r.exit_code == 0 and "[no-records]" in r.stdout
    assert db_count(tmp_path, "SELECT COUNT(*) FROM trip_cards") == 0
    assert db_count(tmp_path, "SELECT COUNT(*) FROM trip_phones") == 0


def test_import_and_build_show_their_steps_on_stderr_only(run, records):
    r = run("trips", "import", str(records), "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["stored"] == 5  # stdout is the JSON object alone
    assert r.stderr.splitlines() == [
        "[1/2] read and check 1 record file(s)",
        "[2/2] store 5 record(s)",
        "storing records: 5/5 (100 %)",  # not a terminal: plain lines, no bar
    ]
    r = run("trips", "build", "--as-of", "2022-11-20", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["cards"] == 2
    steps = [line for line in r.stderr.splitlines() if line.startswith("[")]
    assert steps == [
        "[1/6] load the stored records",
        "[2/6] select the records of the window and the 72 h look-back",
        "[3/6] resolve each record's city or place abroad",
        "[4/6] find the stays of 4 h or more",
        "[5/6] assemble the cards",
        "[6/6] store the cards and re-evaluate the holders concerned",
    ]


def test_spark_without_pyspark_fails_before_any_step(run, records, monkeypatch):
    import sys

    assert run("trips", "import", str(records)).exit_code == 0
    monkeypatch.setitem(sys.modules, "pyspark", None)  # not installed
    r = run("trips", "build", "--as-of", "2022-11-20", "--engine", "spark")
    assert r.exit_code == 1
    assert r.stderr.startswith("error [trip-engine-unavailable]: the spark engine needs pyspark")
    assert "[1/6]" not in r.stderr


def test_risk_areas_import_shows_progress_on_stderr(run, tmp_path):
    from tests.storage.test_trips import risk_subset

    r = run("risk-areas", "import", str(risk_subset(tmp_path, {"天津市"})), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] > 0
    lines = r.stderr.splitlines()
    assert lines[0].startswith("reading and checking ")
    assert lines[-1].startswith("storing listings: ") and lines[-1].endswith("(100 %)")


def test_retention_at_is_china_time_and_printed_so(run, records):
    r = run("retention", "sweep", "--at", "2022-11-25")
    assert r.exit_code == 0
    assert r.stdout.rstrip().endswith("(as of 2022-11-25T00:00:00+08:00)")
    r = run("retention", "sweep", "--at", "2022-11-25T00:00:00Z")
    assert r.stdout.rstrip().endswith("(as of 2022-11-25T08:00:00+08:00)")
    help_text = " ".join(run("retention", "sweep", "--help").stdout.split())
    assert "no offset means Asia/Shanghai (UTC+8)" in help_text


def test_cell_sites_is_described_in_build_and_card_help(run):
    for cmd in ("build", "card"):
        help_text = " ".join(run("trips", cmd, "--help").stdout.split())
        assert "--cell-sites FILE With --records: cell_id,lon,lat" in help_text, cmd


def test_text_card_labels_are_chinese_first_with_english(run, tmp_path):
    path = tmp_path / "far.csv"
    path.write_text(
        "phone,time,lon,lat\n"
        "13800138000,2022-11-16T06:00:00+08:00,114.17,22.30\n"
        "13800138000,2022-11-17T09:30:00+08:00,150.0,20.0\n",
        encoding="utf-8",
    )
    assert run("trips", "import", str(path)).exit_code == 0
    r = run("trips", "card", "13800138000", "--as-of", "2022-11-20")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert (
        lines[0]
        == "通信行程卡 trip card 138****8000  查询日期 date 2022-11-20  规则 policy TC-2022-07-08"
    )
    assert lines[2].startswith("颜色 colour: 黄色 yellow — 前7天内")
    assert lines[3] == "停留4小时以上的城市 cities with a stay of 4 h or more: 无 none"
    assert lines[4:] == [
        "境外 places outside mainland China:",
        "  中国香港 Hong Kong (HK)  2022-11-16T06:00:00+08:00 → 2022-11-16T06:00:00+08:00",
        "  境外（未能确定国家/地区） abroad (country not determined) (ZZ)  "
        "2022-11-17T09:30:00+08:00 → 2022-11-17T09:30:00+08:00",
    ]


def test_a_refusal_lists_each_bad_row_once(run, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("phone,time,lon,lat\n12345,2022-11-16T06:00:00+08:00,114.17,22.30\n",
                   encoding="utf-8")  # fmt: skip
    r = run("trips", "import", str(bad))
    assert r.exit_code == 1
    assert r.stderr.count("invalid-phone") == 1, r.stderr
    error = [line for line in r.stderr.splitlines() if line.startswith("error ")]
    assert error == ["error [trip-records-rejected]: 1 bad row(s) in 1 file(s); no record was used"]


def test_shift_says_how_many_duplicate_rows_it_dropped(run, tmp_path):
    src = tmp_path / "dup.csv"
    src.write_text(
        "phone,time,lon,lat\n"
        + "13800138000,2022-11-16T06:00:00+08:00,116.40,39.90\n" * 3
        + "13800138000,2022-11-16T12:00:00+08:00,116.40,39.90\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["trips", "shift", str(src), "--days", "1", "--out", "out.csv"],
                           obj={}, catch_exceptions=False)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "wrote 2 record(s)" in r.stdout
    assert r.stderr.strip() == "2 duplicate row(s) dropped (written once)"


def test_build_of_a_star_date_without_a_risk_list_warns(run, tmp_path):
    (tmp_path / "may.csv").write_text(
        "phone,time,lon,lat\n"
        "13912345678,2022-05-10T08:00:00+08:00,126.64,45.76\n"
        "13912345678,2022-05-10T14:00:00+08:00,126.64,45.76\n",
        encoding="utf-8",
    )  # two records 6 h apart in 哈尔滨市; stars were shown until 2022-06-28
    assert run("trips", "import", "may.csv").exit_code == 0
    r = run("trips", "build", "--as-of", "2022-05-12", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["warnings"] == ["no-risk-list"]
    r = run("trips", "build", "--as-of", "2022-05-12")
    assert "warning [no-risk-list]" in r.stderr
    r = run("trips", "build", "--as-of", "2022-11-20", "--json")  # no stars any more
    assert json.loads(r.stdout)["warnings"] == []
    r = run("risk-areas", "import", str(_risk_areas_of(tmp_path, "黑龙江省")))
    assert r.exit_code == 0, r.output
    r = run("trips", "build", "--as-of", "2022-05-12", "--json")
    assert json.loads(r.stdout)["warnings"] == [] and json.loads(r.stdout)["starred_cards"] == 1
    # the national list as published begins 2022-04-15: a card of 2022-04-12 cannot be starred
    (tmp_path / "april.csv").write_text(
        "phone,time,lon,lat\n"
        "13912345678,2022-04-10T08:00:00+08:00,121.47,31.23\n"
        "13912345678,2022-04-10T14:00:00+08:00,121.47,31.23\n",
        encoding="utf-8",
    )
    r = run("trips", "build", "--as-of", "2022-04-12", "--records", "april.csv", "--json")
    assert json.loads(r.stdout)["warnings"] == ["risk-list-not-covering"], r.output


def test_a_stray_quote_is_exit_1_and_a_doubled_column_exit_2(run, tmp_path):
    rows = "".join(
        f"13912345678,2022-11-15T{h:02d}:00:00+08:00,121.47,31.23,ok\n" for h in range(11)
    )
    stray = tmp_path / "stray.csv"
    stray.write_text(
        'phone,time,lon,lat,note\n13912345678,2022-11-15T08:00:00+08:00,1,2,"x\n' + rows
    )
    r = run("trips", "import", str(stray))
    assert r.exit_code == 1 and f"{stray}:2: newline-in-value" in r.stderr
    dup = tmp_path / "dup.csv"
    dup.write_text("phone,time,lon,lat,LON\n13912345678,2022-11-15T08:00:00+08:00,1,2,3\n")
    r = run("trips", "import", str(dup))
    assert r.exit_code == 2 and f"{dup}:1: duplicate-column" in r.stderr


def test_bad_option_files_are_exit_2(run, tmp_path):
    records = tmp_path / "r.csv"
    records.write_text("phone,time,cell_id\n13912345678,2022-11-15T08:00:00+08:00,A\n")
    empty = tmp_path / "sites.csv"
    empty.write_text("")
    r = run("trips", "import", str(records), "--cell-sites", str(empty))
    assert r.exit_code == 2 and "trip-cell-sites-rejected" in r.stderr
    pmap = tmp_path / "map.csv"
    pmap.write_text("subset,user,phone\ngeolife_long_10_MB\n")
    r = run("trips", "import", str(records), "--phone-map", str(pmap))
    assert r.exit_code == 2 and f"{pmap}:2: malformed-row" in r.stderr


def test_out_of_range_record_times_and_sweep_instants_are_refused(run, tmp_path):
    far = tmp_path / "far.csv"
    far.write_text("phone,time,lon,lat\n13912345678,9999-12-31T23:59:59Z,116.4,39.9\n")
    r = run("trips", "import", str(far))
    assert r.exit_code == 1 and f"{far}:2: time-out-of-range" in r.stderr
    r = run("retention", "sweep", "--at", "9999-12-31T23:59:59Z")
    assert r.exit_code == 2 and "1900 to 2999" in r.output


def test_an_out_file_that_cannot_be_written_is_exit_2_before_any_step(run, tmp_path):
    import os

    records = tmp_path / "r.csv"
    records.write_text(RECORDS)
    missing = tmp_path / "no" / "x.jsonl"
    r = run(
        "trips", "build", "--as-of", "2022-11-20", "--records", str(records), "--out", str(missing)
    )
    assert r.exit_code == 2 and "file-unreadable" in r.stderr and "[1/" not in r.stderr
    r = CliRunner().invoke(
        cli, ["trips", "shift", str(records), "--days", "1", "--out", str(tmp_path / "no" / "s.csv")],
        obj={}, catch_exceptions=False,
    )  # fmt: skip
    assert r.exit_code == 2 and "file-unreadable" in r.stderr
    if os.path.exists("/dev/full"):  # the disk is full when the cards are written
        r = run(
            "trips",
            "build",
            "--as-of",
            "2022-11-20",
            "--records",
            str(records),
            "--out",
            "/dev/full",
        )
        assert r.exit_code == 2 and "cannot write /dev/full" in r.stderr


def test_a_parquet_phone_column_of_non_utf8_bytes_is_exit_2(run, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "b.parquet"
    pq.write_table(
        pa.table({
            "phone": pa.array([b"\xff\xfe13912345678"], pa.binary()),
            "time": ["2022-11-15T08:00:00+08:00"], "lon": [116.4], "lat": [39.9],
        }),
        path,
    )  # fmt: skip
    r = run("trips", "import", str(path))
    assert r.exit_code == 2 and f"{path}:0: not-utf8" in r.stderr


def test_a_gbk_csv_is_exit_2_not_utf8(run, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        "phone,time,lon,lat,note\n13912345678,2022-11-15T08:00:00+08:00,1,1,北京\n".encode("gbk")
    )
    r = run("trips", "import", str(path))
    assert r.exit_code == 2 and "not-utf8: not UTF-8 text: line 2" in r.stderr
    assert "rename" not in r.stderr


def test_a_phone_with_0086_is_the_same_number_in_files_and_on_the_card(run, tmp_path):
    records = tmp_path / "r.csv"
    records.write_text(RECORDS.replace("13912345678,", "008613912345678,"))
    assert run("trips", "import", str(records)).exit_code == 0
    r = run("trips", "card", "0086 139 1234 5678", "--as-of", "2022-11-20", "--json")
    assert r.exit_code == 0, r.output
    assert [c["name"] for c in json.loads(r.stdout)["cities"]] == ["上海市"]


def test_a_lone_plt_file_is_imported_with_phone(run, tmp_path):
    plt = tmp_path / "walk.plt"
    plt.write_text(
        "Geolife trajectory\nWGS 84\nAltitude is in Feet\nReserved 3\n0,2,255,My Track,0,0,2,8421376\n0\n"
        "39.9,116.4,0,500,39322.7,2007-08-28,17:13:02\n39.9,116.4,0,500,39322.9,2007-08-28,22:13:02\n"
    )
    assert run("trips", "import", str(plt)).exit_code == 1  # no folder names the user
    assert run("trips", "import", str(plt), "--phone", "12345").exit_code == 2
    r = run("trips", "import", str(plt), "--phone", "0086 139 1234 5678", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["stored"] == 2 and json.loads(r.stdout)["phones"] == 1
    r = run("trips", "card", "13912345678", "--as-of", "2007-08-30", "--json")
    assert [c["name"] for c in json.loads(r.stdout)["cities"]] == ["北京市"]
    r = run("trips", "build", "--as-of", "2007-08-30", "--records", str(plt), "--phone", "13912345678", "--json", db="files.db")  # fmt: skip
    assert r.exit_code == 0 and json.loads(r.stdout)["phones"] == 1, r.output
    r = run("trips", "build", "--as-of", "2007-08-30", "--records", str(plt), "--phone", "1", db="files.db")  # fmt: skip
    assert r.exit_code == 2
