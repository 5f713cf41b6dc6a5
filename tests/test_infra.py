"""The test infrastructure itself works for real: PostgreSQL and chromium answer."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest


@pytest.mark.postgres
def test_postgres_gives_each_test_a_fresh_database(pg_url, pg_db_url):
    import psycopg

    assert urlsplit(pg_url).path == "/healthcode_test"
    with psycopg.connect(pg_db_url) as conn:
        version, dbname = conn.execute("SELECT version(), current_database()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()[0]
        conn.execute("CREATE TABLE t (x int)")  # writable, and gone with the database
    assert version.startswith("PostgreSQL ")
    assert dbname != "healthcode_test"
    assert dbname == urlsplit(pg_db_url).path.lstrip("/")
    assert tables == 0


@pytest.mark.browser
def test_chromium_renders_a_page(page):
    html = '<meta charset="utf-8"><h1 id="t">健康码 ok</h1><script>document.title = 1 + 1</script>'
    page.goto("data:text/html," + quote(html))
    assert page.text_content("#t") == "健康码 ok"
    assert page.title() == "2"  # JavaScript ran
    assert "Chrome/" in page.evaluate("navigator.userAgent")
