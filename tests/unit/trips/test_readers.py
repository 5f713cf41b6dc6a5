"""Readers: formats, row errors with line numbers and stable codes, all-or-nothing."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from healthcode.errors import ImportRejected
from healthcode.trips import (
    FormatMismatch,
    GeolifePhoneMap,
    RecordFormat,
    RecordsRejected,
    RowErrorCode,
    UnknownRecordFormat,
    detect_format,
    inspect_records,
    read_cell_sites,
    read_records,
    record_span,
)
from tests.support.shared import shared_path


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def epoch(text):
    return int(datetime.fromisoformat(text).timestamp())


def codes(report):
    return [(e.line, e.code) for e in report.errors]


def test_csv_with_offsets_reads_utc_seconds(tmp_path):
    path = write(
        tmp_path,
        "r.csv",
        "phone,time,lon,lat\n"
        "13912345678,2022-11-20T21:40:00+08:00,116.4,39.9\n"
        "+8613912345678,2022-11-20T13:41:00Z,116.4,39.9\n"
        "13912345679,2022-11-20 21:42:30.9+0800,121.47,31.23\n",
    )
    table = read_records(path)
    assert table.column("phone").to_pylist() == ["13912345678", "13912345678", "13912345679"]
    assert table.column("epoch_s").to_pylist() == [
        epoch("2022-11-20T13:40:00+00:00"),
        epoch("2022-11-20T13:41:00+00:00"),
        epoch("2022-11-20T13:42:30+00:00"),  # sub-seconds dropped
    ]
    assert table.column("cell_id").null_count == 3


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_read(tmp_path):
    path = write(
        tmp_path,
        "bad.csv",
        "phone,time,lon,lat\n"
        "13912345678,2022-11-20T21:40:00+08:00,116.4,39.9\n"  # 2 good
        "13912345678,2022-11-20T21:40:00,116.4,39.9\n"  # 3 no offset
        "\n"  # 4 blank: skipped
        "13912345678,yesterday,116.4,39.9\n"  # 5 not a time
        "13912345678,2022-11-20T21:40:00+08:00,200,39.9\n"  # 6 lon out of range
        "13912345678,2022-11-20T21:40:00+08:00,abc,39.9\n"  # 7 not a number
        "12345,2022-11-20T21:40:00+08:00,116.4,39.9\n"  # 8 not a mobile number
        "13912345678,2022-11-20T21:40:00+08:00,116.4\n"  # 9 missing field
        "13912345678,2022-11-20T21:40:00+08:00,,\n",  # 10 no location
    )
    report = inspect_records(path)
    assert not report.ok
    assert codes(report) == [
        (3, RowErrorCode.TIME_WITHOUT_OFFSET),
        (5, RowErrorCode.INVALID_TIME),
        (6, RowErrorCode.INVALID_COORDINATES),
        (7, RowErrorCode.INVALID_COORDINATES),
        (8, RowErrorCode.INVALID_PHONE),
        (9, RowErrorCode.MALFORMED_ROW),
        (10, RowErrorCode.MISSING_LOCATION),
    ]
    assert report.records.num_rows == 0  # all or nothing
    with pytest.raises(RecordsRejected) as info:
        read_records(path)
    assert isinstance(info.value, ImportRejected)
    assert info.value.code == "trip-records-rejected"
    assert info.value.details["error_count"] == 7
    assert info.value.details["errors"][0] == {
        "file": str(path),
        "line": 3,
        "code": "time-without-offset",
        "message": "time has no UTC offset (add Z or ±HH:MM)",
    }


def test_error_list_is_capped_but_counted(tmp_path):
    rows = "".join(f"13912345678,2022-11-20T21:{i % 60:02d}:00,116.4,39.9\n" for i in range(50))
    path = write(tmp_path, "many.csv", "phone,time,lon,lat\n" + rows)
    report = inspect_records(path, max_errors=5)
    assert report.error_count == 50 and len(report.errors) == 5


def test_quoted_newline_is_refused_and_line_numbers_stay_physical(tmp_path):
    path = write(
        tmp_path,
        "q.csv",
        'phone,time,lon,lat,note\n13912345678,2022-11-20T21:40:00+08:00,116.4,39.9,"a\nb"\n'
        "13912345678,bad,116.4,39.9,x\n",
    )
    assert codes(inspect_records(path)) == [
        (2, RowErrorCode.NEWLINE_IN_VALUE),
        (4, RowErrorCode.INVALID_TIME),
    ]


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_stray_quote_cannot_swallow_the_rows_after_it(tmp_path, suffix):
    rows = "".join(
        f"13912345678,2022-11-15T{h:02d}:00:00+08:00,121.47,31.23,ok\n" for h in range(11)
    )
    text = (
        'phone,time,lon,lat,note\n13912345678,2022-11-15T08:00:00+08:00,116.4,39.9,"stray\n' + rows
    )
    path = tmp_path / f"stray{suffix}"
    path.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())
    report = inspect_records(path)
    assert codes(report) == [(2, RowErrorCode.NEWLINE_IN_VALUE)]
    assert report.records.num_rows == 0
    with pytest.raises(RecordsRejected):
        read_records(path)


@pytest.mark.parametrize(
    "header", ["phone,time,lon,lat,lon", "phone,time,lon,lat,LON ", "Phone,phone,time,lon,lat"]
)
def test_a_header_naming_a_column_twice_is_refused(tmp_path, header):
    path = write(tmp_path, "dup.csv", header + "\n13912345678,2022-11-15T08:00:00+08:00,1,2,3\n")
    assert [(e.line, e.code) for e in inspect_records(path).errors] == [
        (1, RowErrorCode.DUPLICATE_COLUMN)
    ]


def test_a_parquet_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "dup.parquet"
    table = pa.table(
        [["13912345678"], ["2022-11-15T08:00:00+08:00"], [116.4], [39.9], [121.0]],
        names=["phone", "time", "lon", "lat", "LON"],
    )
    pq.write_table(table, path)
    assert [e.code for e in inspect_records(path).errors] == [RowErrorCode.DUPLICATE_COLUMN]


def test_empty_and_header_only_files_are_file_errors(tmp_path):
    empty = write(tmp_path, "empty.csv", "")
    header = write(tmp_path, "header.csv", "phone,time,lon,lat\n")
    report = inspect_records([empty, header])
    assert [(e.file, e.line, e.code) for e in report.errors] == [
        (str(empty), 0, RowErrorCode.EMPTY_FILE),
        (str(header), 0, RowErrorCode.EMPTY_FILE),
    ]


def test_csv_layouts_refuse_unreadable_empty_and_headless_files_alike(tmp_path):
    """Record CSVs and GeoLife points files share one check of the whole file."""
    points_header = "subset,user,trajectory_file,seq,lat,lon,altitude_ft,time_utc\n"
    for fmt, header, missing in (
        ("csv", "phone,time,lon,lat\n", "phone,lon,lat\n"),
        ("geolife-points", points_header, "subset,user,lat,lon\n"),
    ):
        broken_gz = tmp_path / f"broken-{fmt}.csv.gz"  # cut off after its header
        whole = gzip.compress((header + "".join(f"{i},x\n" for i in range(5000))).encode())
        broken_gz.write_bytes(whole[: len(whole) // 2])
        empty = write(tmp_path, f"empty-{fmt}.csv", "\n\n")
        only = write(tmp_path, f"header-{fmt}.csv", header)
        lacking = write(tmp_path, f"lacking-{fmt}.csv", missing + "1,2,3,4\n5,6,7,8\n")
        report = inspect_records([empty, only, lacking, broken_gz], fmt=fmt)
        assert [(e.file, e.line, e.code) for e in report.errors] == [
            (str(empty), 0, RowErrorCode.EMPTY_FILE),
            (str(only), 0, RowErrorCode.EMPTY_FILE),
            (str(lacking), 1, RowErrorCode.MISSING_COLUMN),
            (str(broken_gz), 0, RowErrorCode.UNREADABLE),
        ]
        assert report.rows == 2  # the data rows of the file without the columns
        assert "missing column(s)" in report.errors[2].message


def test_one_bad_file_rejects_the_whole_import(tmp_path):
    good = write(
        tmp_path, "a.csv", "phone,time,lon,lat\n13912345678,2022-11-20T21:40:00+08:00,116.4,39.9\n"
    )
    bad = write(
        tmp_path, "b.csv", "phone,time,lon,lat\n13912345678,2022-11-20T21:40:00,116.4,39.9\n"
    )
    report = inspect_records([good, bad])
    assert report.rows == 2 and report.error_count == 1 and report.records.num_rows == 0


def test_missing_columns(tmp_path):
    path = write(tmp_path, "m.csv", "phone,time,lon\n13912345678,2022-11-20T21:40:00+08:00,116.4\n")
    assert codes(inspect_records(path)) == [(1, RowErrorCode.MISSING_COLUMN)]


def test_duplicates_dropped_and_order_kept(tmp_path):
    path = write(
        tmp_path,
        "d.csv",
        "phone,time,lon,lat\n"
        "13912345678,2022-11-20T22:00:00+08:00,116.4,39.9\n"
        "13912345678,2022-11-20T21:00:00+08:00,116.4,39.9\n"
        "13912345678,2022-11-20T13:00:00Z,116.4,39.9\n",  # same instant as row 2
    )
    report = inspect_records(path)
    assert report.ok and report.duplicates == 1 and report.records.num_rows == 2


def test_cell_ids_join_the_site_table(tmp_path):
    sites = read_cell_sites(
        write(tmp_path, "sites.csv", "cell_id,lon,lat\nA1,116.4,39.9\nB2,121.47,31.23\n")
    )
    path = write(
        tmp_path,
        "c.csv",
        "phone,time,cell_id\n"
        "13912345678,2022-11-20T21:40:00+08:00,B2\n"
        "13912345678,2022-11-20T21:50:00+08:00,ZZ9\n",
    )
    assert codes(inspect_records(path, cell_sites=sites)) == [(3, RowErrorCode.UNKNOWN_CELL_ID)]
    assert codes(inspect_records(path)) == [
        (2, RowErrorCode.CELL_SITES_REQUIRED),
        (3, RowErrorCode.CELL_SITES_REQUIRED),
    ]
    ok = write(tmp_path, "ok.csv", "phone,time,cell_id\n13912345678,2022-11-20T21:40:00+08:00,B2\n")
    table = read_records(ok, cell_sites=sites)
    assert table.column("lon").to_pylist() == [121.47] and table.column("cell_id").to_pylist() == [
        "B2"
    ]


def test_cell_site_table_errors(tmp_path):
    path = write(tmp_path, "s.csv", "cell_id,lon,lat\nA,116.4,39.9\nA,116.5,39.9\nB,116.4,99\n")
    with pytest.raises(RecordsRejected) as info:
        read_cell_sites(path)
    assert [(e["line"], e["code"]) for e in info.value.details["errors"]] == [
        (3, "duplicate-cell-id"),
        (4, "invalid-coordinates"),
    ]


def test_shanghai_cell_sites_layout_and_datum():
    path = shared_path("data", "cell_sites_shanghai_telecom_2014", "base_stations.csv")
    wgs = read_cell_sites(path)
    assert len(wgs) == 3042 and wgs.table.column("cell_id")[0].as_py() == "0"
    assert wgs.table.column("lat")[0].as_py() == pytest.approx(31.237872)
    gcj = read_cell_sites(path, datum="gcj02")
    # GCJ-02 → WGS-84 moves Shanghai points ≈ 450 m west and ≈ 200 m north
    d_lon = wgs.table.column("lon")[0].as_py() - gcj.table.column("lon")[0].as_py()
    d_lat = wgs.table.column("lat")[0].as_py() - gcj.table.column("lat")[0].as_py()
    assert 0.004 < d_lon < 0.005 and -0.0025 < d_lat < -0.0015


def test_parquet_with_string_and_timestamp_times(tmp_path):
    p1 = tmp_path / "s.parquet"
    pq.write_table(
        pa.table(
            {
                "phone": ["13912345678"],
                "time": ["2022-11-20T21:40:00+08:00"],
                "lon": [116.4],
                "lat": [39.9],
            }
        ),
        p1,
    )
    p2 = tmp_path / "t.parquet"
    when = datetime(2022, 11, 20, 13, 40, tzinfo=UTC)
    pq.write_table(
        pa.table(
            {
                "phone": ["13912345678"],
                "time": pa.array([when], pa.timestamp("ms", tz="Asia/Shanghai")),
                "lon": [116.4],
                "lat": [39.9],
            }
        ),
        p2,
    )
    table = read_records([p1, p2])
    assert table.column("epoch_s").to_pylist() == [int(when.timestamp())]  # the duplicate dropped
    p3 = tmp_path / "naive.parquet"
    pq.write_table(
        pa.table(
            {
                "phone": ["13912345678"],
                "time": pa.array([when.replace(tzinfo=None)]),
                "lon": [1.0],
                "lat": [1.0],
            }
        ),
        p3,
    )
    assert codes(inspect_records(p3)) == [(0, RowErrorCode.TIME_WITHOUT_OFFSET)]
    p4 = tmp_path / "bad.parquet"
    pq.write_table(
        pa.table(
            {
                "phone": ["13912345678", "x"],
                "time": ["2022-11-20T21:40:00+08:00"] * 2,
                "lon": [1.0, 1.0],
                "lat": [1.0, 1.0],
            }
        ),
        p4,
    )
    assert codes(inspect_records(p4)) == [(2, RowErrorCode.INVALID_PHONE)]


def test_detect_format(tmp_path):
    assert detect_format(write(tmp_path, "a.csv", "phone,time,lon,lat\n")) is RecordFormat.CSV
    pts = tmp_path / "p.csv.gz"
    with gzip.open(pts, "wt", encoding="utf-8") as fh:
        fh.write("subset,user,trajectory_file,seq,lat,lon,altitude_ft,time_utc\n")
    assert detect_format(pts) is RecordFormat.GEOLIFE_POINTS
    assert detect_format(write(tmp_path, "x.plt", "Geolife trajectory\n")) is RecordFormat.PLT
    parquet = tmp_path / "noext"
    pq.write_table(pa.table({"a": [1]}), parquet)
    assert detect_format(parquet) is RecordFormat.PARQUET
    with pytest.raises(UnknownRecordFormat):
        detect_format(write(tmp_path, "what.csv", "name,age\n"))
    with pytest.raises(UnknownRecordFormat):
        detect_format(tmp_path / "missing.csv")
    # the content decides; an extension that says otherwise is refused
    assert detect_format(write(tmp_path, "r.txt", "phone,time,lon,lat\n")) is RecordFormat.CSV
    with pytest.raises(FormatMismatch):
        detect_format(write(tmp_path, "r.plt", "phone,time,lon,lat\n"))


def _parquet(path):
    pq.write_table(
        pa.table({"phone": ["13912345678"], "time": ["2022-11-20T21:40:00+08:00"],
                  "lon": [116.4], "lat": [39.9]}),
        path,
    )  # fmt: skip
    return path


PLT_HEADER = (
    "Geolife trajectory\nWGS 84\nAltitude is in Feet\nReserved 3\n"
    "0,2,255,My Track,0,0,2,8421376\n0\n"
)


@pytest.mark.parametrize(
    ("name", "fmt", "looks_like"),
    [
        ("user/010/Trajectory/t.plt", "csv", "a GeoLife .plt trajectory"),
        ("r.csv", "parquet", "a record CSV (header 'phone,time,lon,lat')"),
        ("r.parquet", "plt", "a Parquet file"),
        ("r.parquet", "csv", "a Parquet file"),
        ("r.csv", "geolife-points", "a record CSV"),
        ("points.csv", "csv", "a GeoLife points CSV"),
        ("junk.csv", "parquet", "text beginning 'name,age'"),
        ("junk.bin", "csv", "binary data"),
    ],
)
def test_a_file_given_as_another_format_is_refused_whole(tmp_path, name, fmt, looks_like):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".parquet"):
        _parquet(path)
    elif name.endswith(".plt"):
        path.write_text(PLT_HEADER + "39.9,116.4,0,500,39322.7,2007-08-28,17:13:02\n")
    elif name.startswith("points"):
        path.write_text("subset,user,trajectory_file,seq,lat,lon,altitude_ft,time_utc\n"
                        "geolife_modes,010,x.plt,1,39.9,116.4,0,2007-08-28T17:13:02\n")  # fmt: skip
    elif name.startswith("junk.csv"):
        path.write_text("name,age\nA,3\n")
    elif name.endswith(".bin"):
        path.write_bytes(bytes(range(128, 256)) * 8)
    else:
        path.write_text("phone,time,lon,lat\n13912345678,2022-11-20T21:40:00+08:00,116.4,39.9\n")
    with pytest.raises(FormatMismatch) as info:
        inspect_records(path, fmt=fmt)
    err = info.value
    assert err.code == "trip-format-mismatch" and err.status == 422
    assert err.details["error_count"] == 1
    [entry] = err.details["errors"]
    assert (entry["file"], entry["line"], entry["code"]) == (str(path), 0, "format-mismatch")
    assert f"--format {fmt} was chosen" in entry["message"] and looks_like in entry["message"]


def test_format_mismatch_lists_every_file_and_the_right_format_reads(tmp_path):
    plt = tmp_path / "010" / "Trajectory" / "t.plt"
    plt.parent.mkdir(parents=True)
    plt.write_text(PLT_HEADER + "39.9,116.4,0,500,39322.7,2007-08-28,17:13:02\n")
    pq_file = _parquet(tmp_path / "r.parquet")
    good = write(tmp_path, "good.csv", "phone,time,lon,lat\n13912345678,2022-11-20T21:40:00Z,1,1\n")
    with pytest.raises(FormatMismatch) as info:
        read_records([plt, good, pq_file], fmt="csv")  # nothing is read, not even good.csv
    assert [e["file"] for e in info.value.details["errors"]] == [str(plt), str(pq_file)]
    assert read_records(plt, fmt="plt").num_rows == 1
    assert read_records(pq_file, fmt="parquet").num_rows == 1
    # a file named for one format holding another is refused without --format too
    renamed = tmp_path / "records.plt"
    renamed.write_bytes(pq_file.read_bytes())
    with pytest.raises(FormatMismatch, match="format given"):
        read_records(renamed)
    assert read_records(renamed, fmt="parquet").num_rows == 1  # an explicit format wins


def test_real_row_errors_are_not_format_errors(tmp_path):
    # the right format with bad rows: per-row codes, never format-mismatch
    path = write(tmp_path, "r.csv", "phone,time,lon,lat\n13912345678,2022-11-20T21:40:00,1,1\n")
    assert codes(inspect_records(path, fmt="csv")) == [(2, RowErrorCode.TIME_WITHOUT_OFFSET)]
    header = write(tmp_path, "h.csv", "phone,time,lon\n13912345678,2022-11-20T21:40:00Z,1\n")
    assert codes(inspect_records(header, fmt="csv")) == [(1, RowErrorCode.MISSING_COLUMN)]
    empty = write(tmp_path, "e.csv", "")
    assert codes(inspect_records(empty, fmt="csv")) == [(0, RowErrorCode.EMPTY_FILE)]


def test_geolife_phone_map_is_documented_and_distinguishes_user_010():
    m = GeolifePhoneMap()
    assert m.phone_for("geolife_long_10_MB", "010") == "19900001010"
    assert m.phone_for("geolife_modes", "10") == "19900002010"
    assert m.phone_for("geolife", "181") == "19900000181"
    with pytest.raises(ValueError, match="give a phone map"):
        m.phone_for("other", "001")


def test_phone_map_overrides(tmp_path):
    path = write(tmp_path, "map.csv", "subset,user,phone\ngeolife_modes,010,13800000001\n")
    assert GeolifePhoneMap.from_csv(path).phone_for("geolife_modes", "010") == "13800000001"
    bad = write(tmp_path, "bad.csv", "subset,user,phone\ngeolife_modes,010,123\n")
    with pytest.raises(RecordsRejected):
        GeolifePhoneMap.from_csv(bad)


def test_record_span(geolife):
    first, last = record_span(geolife)
    assert first == datetime(2007, 8, 4, 3, 30, 32, tzinfo=UTC)
    assert last.year == 2011
    assert record_span(geolife.slice(0, 0)) is None


def test_geolife_points_file(geolife):
    phones = set(geolife.column("phone").to_pylist())
    assert len(phones) == 14  # 13 users: long 000-010, modes 010, 020, 178 (010 twice)
    assert {"19900001010", "19900002010"} <= phones
    first = geolife.slice(0, 1).to_pylist()[0]
    assert first["epoch_s"] == epoch("2008-10-23T02:53:04+00:00")
    assert (first["lat"], first["lon"]) == (39.984702, 116.318417)


def test_plt_files_match_points_csv(geolife):
    folder = shared_path("data", "trajectories_geolife_subset", "plt", "modes_010", "Trajectory")
    files = sorted(folder.glob("*.plt"))
    table = read_records(files)
    assert set(table.column("phone").to_pylist()) == {"19900002010"}
    mine = geolife.filter(pa.compute.equal(geolife.column("phone"), "19900002010"))
    assert sorted(table.column("epoch_s").to_pylist()) == sorted(mine.column("epoch_s").to_pylist())


def test_plt_bad_line(tmp_path):
    user = tmp_path / "010" / "Trajectory"
    user.mkdir(parents=True)
    path = user / "x.plt"
    header = "Geolife trajectory\nWGS 84\nAltitude is in Feet\nReserved 3\n0,2,255,My Track,0,0,2,8421376\n0\n"
    path.write_text(header + "39.9,116.4,0,500,39322.7,2007-08-28,17:13:02\n39.9,116.4,0,500\n")
    report = inspect_records(path)
    assert codes(report) == [(8, RowErrorCode.MALFORMED_ROW)]
    path.write_text(header + "39.9,116.4,0,500,39322.7,2007-08-28,17:13:02\n")
    assert read_records(path).column("phone").to_pylist() == ["19900000010"]
    assert read_records(path, phone="13912345678").column("phone").to_pylist() == ["13912345678"]


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.parquet"])
def test_shifted_records_written_read_back_the_same(tmp_path, name):
    from healthcode.trips.readers import shift_records, write_records

    sites = read_cell_sites(write(tmp_path, "s.csv", 'cell_id,lon,lat\n"A,1",121.47,31.23\n'))
    path = write(
        tmp_path,
        "in.csv",
        "phone,time,lon,lat,cell_id\n"
        "13912345678,2022-11-20T21:40:00+08:00,116.318417,39.984702,\n"
        '13912345678,2022-11-20T23:59:59+08:00,,,"A,1"\n',  # a cell id with a comma
    )
    table = read_records(path, cell_sites=sites)
    later = shift_records(table, 5392)
    assert [e - f for e, f in zip(later.column("epoch_s").to_pylist(),
                                  table.column("epoch_s").to_pylist(), strict=True)] == [
        5392 * 86400
    ] * 2  # fmt: skip
    assert write_records(later, tmp_path / name) == 2
    back = read_records(tmp_path / name)
    assert back.to_pylist() == later.to_pylist()
    assert shift_records(later, -5392).to_pylist() == table.to_pylist()
    with pytest.raises(ValueError, match=".csv, .csv.gz or .parquet"):
        write_records(later, tmp_path / "out.json")


def test_times_read_by_arrow_are_read_as_pandas_reads_them():
    """The fast (Arrow) parse of the common ISO-8601 shapes gives pandas' seconds, and any
    value Arrow refuses is read by pandas (``format="ISO8601"``), the definition."""
    import random

    import pandas as pd

    from healthcode.trips.readers import _parse_times

    rng = random.Random(7)

    def two(hi):
        return str(rng.randint(0, hi)).zfill(2)

    values, as_utc = [], []
    for _ in range(3000):
        year = rng.choice(["2022", "1969", "1900", "2999", "0001", "1970", "2262", "2263"])
        v = f"{year}-{two(13)}-{two(32)}{rng.choice('T ')}{two(25)}:{two(61)}"
        if rng.random() < 0.8:
            v += f":{two(61)}"
            if rng.random() < 0.3:
                # up to 6 digits: with 7-9 pandas reads a whole column in nanoseconds, and
                # then calls a year outside 1677-2262 invalid, which Arrow (microseconds) reads
                v += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 6)))
        offset = rng.choice(
            ["Z", f"+{two(26)}:{two(61)}", f"-{two(26)}{two(61)}", f"+{two(15)}", ""]
        )
        values.append(v + offset)
        as_utc.append(v + (offset or "Z"))  # a time without offset is read as UTC
    expected = pd.to_datetime(
        pd.Series(as_utc, dtype="string"), format="ISO8601", utc=True, errors="coerce"
    )
    checked = 0
    for v, want in zip(values, expected, strict=True):
        epoch, ok, _ = _parse_times(pa.chunked_array([[v]]), offset_required=False)
        if pd.isna(want):
            assert not ok[0], v
        else:
            micro = want.tz_convert(None).as_unit("us").asm8.astype("int64")
            assert ok[0] and epoch[0] == micro // 1_000_000, v
            checked += 1
    assert checked > 500  # a fair share of the values are valid times
    nano = pa.chunked_array(
        [["2022-11-20T21:40:00.123456789+08:00", "1969-12-31T23:59:59.9999999Z"]]
    )
    assert _parse_times(nano, offset_required=True)[0].tolist() == [1668951600, -1]


def test_a_clean_file_read_fast_equals_the_exact_reading(tmp_path):
    """A file without bad rows is read by Arrow's CSV reader; BOM, CRLF, blank lines, quoted
    fields with commas, gzip: the same records as the line-by-line reading."""
    from healthcode.trips.readers import _read_csv_fast, _read_csv_file

    text = (
        "\ufeffphone,time,lon,lat,note\r\n\r\n"
        '13912345678,2022-11-20T21:40:00+08:00,116.4,39.9,"a,b"\r\n'
        "\r\n"
        " 139 1234 5679 ,2022-11-20T21:41:00Z, 121.47 ,31.23,\r\n"
        '"13912345678","2022-11-20T21:42:00+08:00","116.4","39.9",x\r\n'
    )
    plain = tmp_path / "r.csv"
    plain.write_bytes(text.encode("utf-8"))
    packed = tmp_path / "r.csv.gz"
    packed.write_bytes(gzip.compress(text.encode("utf-8")))
    for path in (plain, packed):
        fast = _read_csv_fast(path, ("phone", "time"))
        exact, lines, bad = _read_csv_file(path, ("phone", "time"))
        assert fast is not None and not bad.any() and lines == [3, 5, 6]
        assert {k: v.to_pylist() for k, v in fast.items()} == {
            k: v.to_pylist() for k, v in exact.items()
        }
        table = read_records(path)
        assert table.column("phone").to_pylist() == ["13912345678", "13912345679", "13912345678"]
    # one short row: the whole file is read line by line, the row named by its line
    broken = tmp_path / "broken.csv"
    broken.write_bytes(text.encode("utf-8") + b"13912345678,2022-11-20T21:43:00Z\r\n")
    assert _read_csv_fast(broken, ("phone", "time")) is None
    assert codes(inspect_records(broken)) == [(7, RowErrorCode.MALFORMED_ROW)]


def test_phone_digits_must_be_ascii():
    """Full-width or other non-ASCII digits are not a mobile number (as holders'
    numbers); prefixes and separators are removed."""
    from healthcode.trips.readers import _normalise_phones

    raw = ["+86 139-1234-5678", "0086 13912345678", "\u3000139 1234 5678\xa0", "1391234567８",
           "１３９１２３４５６７８", "+86139123456789", "8613912345678", None]  # fmt: skip
    assert _normalise_phones(pa.chunked_array([raw])).to_pylist() == [
        "13912345678", "13912345678", "13912345678", "1391234567８", "１３９１２３４５６７８",
        "+86139123456789", "13912345678", "",
    ]  # fmt: skip


def test_full_width_digits_are_an_invalid_phone(tmp_path):
    path = write(
        tmp_path,
        "w.csv",
        "phone,time,lon,lat\n"
        "1391234567８,2022-11-20T21:40:00+08:00,116.4,39.9\n"
        "13912345678,2022-11-20T21:40:00+08:00,116.4,39.9\n",
    )
    assert codes(inspect_records(path)) == [(2, RowErrorCode.INVALID_PHONE)]


def test_duplicates_are_rows_equal_in_every_column(tmp_path):
    path = write(
        tmp_path,
        "d.csv",
        "phone,time,lon,lat,cell_id\n"
        "13912345678,2022-11-20T21:40:00Z,0.0,39.9,\n"  # 2
        "13912345678,2022-11-20T21:40:00Z,-0.0,39.9,\n"  # 3 = 2 (the same degree)
        "13912345678,2022-11-20T21:40:00Z,0.0,39.9,C1\n"  # 4 another cell: kept
        "13912345678,2022-11-20T21:40:00Z,0.5,39.9,\n"  # 5 another place: kept
        "13912345679,2022-11-20T21:40:00Z,0.0,39.9,\n"  # 6 another phone: kept
        "13912345678,2022-11-20T21:40:01Z,0.0,39.9,\n"  # 7 another second: kept
        "13912345678,2022-11-20T21:40:00Z,0.5,39.9,\n",  # 8 = 5
    )
    report = inspect_records(path)
    assert report.ok and report.duplicates == 2
    assert report.records.column("lon").to_pylist() == [0.0, 0.0, 0.5, 0.0, 0.0]
    assert report.records.column("cell_id").to_pylist() == [None, "C1", None, None, None]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subset,user,phone\ngeolife_long_10_MB,000,13900000001\ngeolife_long_10_MB,001,13900000001\n",
         [(3, RowErrorCode.PHONE_CONFLICT)]),
        ("subset,user,phone\ngeolife_long_10_MB,000,19900001001\n", [(2, RowErrorCode.PHONE_CONFLICT)]),
        ("subset,user,phone\ngeolife_long_10_MB,002,13900000002\ngeolife_long_10_MB,2,13900000003\n",
         [(3, RowErrorCode.DUPLICATE_USER)]),
        ("subset,user,phone\ngeolife_long_10_MB,abc,13900000001\ngeolife_long_10_MB,0001,13900000002\n",
         [(2, RowErrorCode.INVALID_USER), (3, RowErrorCode.INVALID_USER)]),
        ("subset,user,phone\ngeolife_long_10_MB,000,13900000001,x\ngeolife_long_10_MB\n",
         [(2, RowErrorCode.MALFORMED_ROW), (3, RowErrorCode.MALFORMED_ROW)]),
        ("subset,user,phone\n", [(0, RowErrorCode.EMPTY_FILE)]),
        ("", [(0, RowErrorCode.EMPTY_FILE)]),
    ],
)  # fmt: skip
def test_a_phone_map_with_conflicts_or_bad_rows_is_refused(tmp_path, text, expected):
    from healthcode.trips.errors import PhoneMapRejected

    path = write(tmp_path, "map.csv", text)
    with pytest.raises(PhoneMapRejected) as info:
        GeolifePhoneMap.from_csv(path)
    assert [(e["line"], e["code"]) for e in info.value.details["errors"]] == expected
    assert info.value.code == "trip-phone-map-rejected"


def test_a_phone_map_mapping_a_default_number_and_its_owner_is_fine(tmp_path):
    path = write(
        tmp_path, "map.csv",
        "subset,user,phone\ngeolife_long_10_MB,000,19900001001\ngeolife_long_10_MB,1,13900000001\n",
    )  # fmt: skip
    pmap = GeolifePhoneMap.from_csv(path)
    assert pmap.phone_for("geolife_long_10_MB", "001") == "13900000001"


@pytest.mark.parametrize("kind", ["gbk", "utf16"])
def test_option_files_not_utf8_are_refused_naming_line_and_offset(tmp_path, kind):
    from healthcode.trips.errors import CellSitesRejected, PhoneMapRejected

    sites = tmp_path / "sites.csv"
    pmap = tmp_path / "map.csv"
    if kind == "gbk":
        sites.write_bytes("cell_id,lon,lat\n基站,121.4,31.2\n".encode("gbk"))
        pmap.write_bytes("subset,user,phone\n北京,000,13900000001\n".encode("gbk"))
        where = "line 2, byte offset 1"  # 16 and 18: after the header
    else:
        sites.write_text("cell_id,lon,lat\nA,121.4,31.2\n", encoding="utf-16")
        pmap.write_text("subset,user,phone\n", encoding="utf-16")
        where = "line 1, byte offset 0"
    for path, read, error in (
        (sites, read_cell_sites, CellSitesRejected),
        (pmap, GeolifePhoneMap.from_csv, PhoneMapRejected),
    ):
        with pytest.raises(error) as info:
            read(path)
        [entry] = info.value.details["errors"]
        assert entry["code"] == "not-utf8" and where in entry["message"]


def test_cell_sites_unreadable_parquet_or_empty_are_option_errors(tmp_path):
    from healthcode.trips.errors import CellSitesRejected

    trunc = tmp_path / "s.csv.gz"
    trunc.write_bytes(gzip.compress(b"cell_id,lon,lat\n" + b"A,121.4,31.2\n" * 1000)[:-30])
    parquet = _parquet(tmp_path / "s.parquet")
    empty = write(tmp_path, "e.csv", "")
    header = write(tmp_path, "h.csv", "cell_id,lon,lat\n")
    for path, code in ((trunc, "unreadable-file"), (parquet, "unreadable-file"),
                       (empty, "empty-file"), (header, "empty-file")):  # fmt: skip
        with pytest.raises(CellSitesRejected) as info:
            read_cell_sites(path)
        assert [e["code"] for e in info.value.details["errors"]] == [code]


@pytest.mark.parametrize(
    "when", ["0001-01-01T07:00:00+08:00", "9999-12-31T23:59:59Z", "1899-12-31T23:59:59Z",
             "3000-01-01T00:00:00Z", "1899-12-31 23:59:59.5-00:00"],
)  # fmt: skip
def test_record_times_outside_1900_2999_are_row_errors(tmp_path, when):
    path = write(
        tmp_path, "t.csv",
        f"phone,time,lon,lat\n13912345678,1900-01-01T00:00:00Z,1,1\n13912345678,{when},1,1\n"
        "13912345678,2999-12-31T23:59:59Z,1,1\n",
    )  # fmt: skip
    assert codes(inspect_records(path)) == [(3, RowErrorCode.TIME_OUT_OF_RANGE)]


@pytest.mark.parametrize(
    ("unit", "values"),
    [("ns", [-(2**62)]), ("ms", [10**14, -(10**14)]), ("s", [10**15]), ("us", [253402300799000000])],
)  # fmt: skip
def test_parquet_timestamps_outside_1900_2999_are_row_errors(tmp_path, unit, values):
    n = len(values) + 1
    path = tmp_path / "t.parquet"
    ok = {"s": 1_668_470_400, "ms": 1_668_470_400_000, "us": 1_668_470_400_000_000,
          "ns": 1_668_470_400_000_000_000}[unit]  # fmt: skip
    table = pa.table({
        "phone": ["13912345678"] * n,
        "time": pa.array([ok, *values], pa.timestamp(unit, tz="UTC")),
        "lon": [116.4] * n, "lat": [39.9] * n,
    })  # fmt: skip
    pq.write_table(table, path)
    report = inspect_records(path)
    assert codes(report) == [(i, RowErrorCode.TIME_OUT_OF_RANGE) for i in range(2, n + 1)]


def test_compressed_bombs_are_refused_with_bounded_work(tmp_path, monkeypatch):
    from healthcode.trips import readers

    long_line = tmp_path / "zeros.csv.gz"
    long_line.write_bytes(gzip.compress(b"phone,time,lon,lat\n" + b"0" * (8 << 20)))
    blanks = tmp_path / "blank.csv.gz"
    blanks.write_bytes(gzip.compress(b"phone,time,lon,lat\n" + b"\r\n" * 1_100_000))
    big = tmp_path / "big.csv.gz"
    row = b"13912345678,2022-11-20T21:40:00Z,116.4,39.9\n"
    big.write_bytes(gzip.compress(b"phone,time,lon,lat\n" + row * 2000))
    for path, code in ((long_line, RowErrorCode.LINE_TOO_LONG),
                       (blanks, RowErrorCode.LINE_TOO_LONG), (big, RowErrorCode.FILE_TOO_LARGE)):  # fmt: skip
        if path is big:
            monkeypatch.setattr(readers, "MAX_UNPACKED_BYTES", 50_000)
        assert [(e.line, e.code) for e in inspect_records(path).errors] == [(0, code)], path
    monkeypatch.setattr(readers, "MAX_UNPACKED_BYTES", 2 << 30)
    assert read_records(big).num_rows == 1


@pytest.mark.parametrize(
    ("encoding", "where"),
    [("gbk", "line 2, byte offset 19"), ("latin-1", "line 2, byte offset 19"),
     ("utf-16", "line 1, byte offset 0")],
)  # fmt: skip
def test_a_record_csv_that_is_not_utf8_says_so_and_where(tmp_path, encoding, where):
    path = tmp_path / "r.csv"
    path.write_bytes(
        "phone,time,lon,lat\né北,2022-11-20T21:40:00Z,1,1\n".encode(encoding, "replace")
    )
    report = inspect_records(path)
    [error] = report.errors
    assert error.code == RowErrorCode.NOT_UTF8 and where in error.message, error.message


def test_record_files_and_holders_normalise_phones_alike():
    """One normalisation: a number a record file accepts is the one `trips card` and the
    /trips form accept (holders.identity.normalise_phone), and the other way round."""
    import re

    from healthcode.errors import InvalidPhone
    from healthcode.holders.identity import normalise_phone
    from healthcode.trips.readers import _PHONE_RE, _normalise_phones

    raw = ["008613912345678", "+8613912345678", "8613912345678", "139-1234-5678",
           " 139 1234 5678\u3000", "+86 139 1234 5678", "0086139123456789", "+86139123456",
           "86139123456789", "13912345678", "1391234567８", "0013912345678", "+0086 13912345678"]  # fmt: skip
    column = _normalise_phones(pa.chunked_array([pa.array(raw, pa.string())])).to_pylist()
    for value, by_reader in zip(raw, column, strict=True):
        try:
            held: str | None = normalise_phone(value)
        except InvalidPhone:
            held = None
        assert held == (by_reader if re.fullmatch(_PHONE_RE, by_reader) else None), value
