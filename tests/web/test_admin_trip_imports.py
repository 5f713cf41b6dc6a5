"""The admin page's table of location-record imports counts what was stored, apart from
duplicate rows and records an earlier import already stored (as the CLI's import report)."""

from __future__ import annotations

import re

HEADER = "phone,time,lon,lat\n"
A = (
    "13912345678,2022-11-15T08:00:00+08:00,121.47,31.23\n"
    "13912345678,2022-11-15T14:30:00+08:00,121.47,31.23\n"
    "13912345678,2022-11-15T14:30:00+08:00,121.47,31.23\n"  # exact duplicate of the row above
    "13800138000,2022-11-16T08:00:00Z,116.40,39.90\n"
)
B = (
    "13912345678,2022-11-15T08:00:00+08:00,121.47,31.23\n"  # stored by the import of A
    "13800138000,2022-11-16T08:00:00Z,116.40,39.90\n"  # stored by the import of A
    "13800138000,2022-11-17T08:00:00Z,116.40,39.90\n"  # new
    "13800138000,2022-11-17T08:00:00Z,116.40,39.90\n"  # duplicate of the new one
)


def cells(html: str, import_id: str) -> dict[str, str]:
    row = re.search(rf'<tr class="trip-import" data-import="{import_id}">(.*?)</tr>', html, re.S)
    assert row, import_id
    return dict(re.findall(r'<td class="([a-z-]+)">([^<]*)</td>', row.group(1)))


def test_trip_imports_show_stored_duplicates_and_already_stored(client, web, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEADER + A, encoding="utf-8")
    b.write_text(HEADER + B, encoding="utf-8")
    first = web.service.import_trip_records([a])["import_id"]
    second = web.service.import_trip_records([b])["import_id"]
    html = client.get("/admin").text
    table = html[html.index('id="trip-imports"') :]
    table = table[: table.index("</section>")]
    assert cells(table, first) == {
        "small": "a.csv", "rows": "4", "stored": "3", "duplicates": "1", "already-stored": "0",
        "phones": "2",
    }  # fmt: skip
    assert cells(table, second) == {
        "small": "b.csv", "rows": "4", "stored": "1", "duplicates": "1", "already-stored": "2",
        "phones": "2",
    }  # fmt: skip
    assert table.index(second) < table.index(first)  # newest first
    # the table of the other imports no longer lists them (with rows counting duplicates)
    others = html[html.index('id="imports"') :]
    others = others[: others.index("</section>")]
    assert first not in others and second not in others


def test_trip_import_table_in_chinese_and_english(client):
    html = client.get("/admin").text
    assert "位置记录导入" in html and "新存入记录" in html
    english = client.get("/admin?lang=en").text
    assert "Location-record imports" in english and "Records stored" in english
