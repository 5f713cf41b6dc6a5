"""PostgreSQL fixtures: the server ``scripts/test`` starts, and a fresh database per test.

``scripts/test`` starts a throwaway server and exports ``HEALTHCODE_TEST_PG_URL``
(``postgresql://postgres@127.0.0.1:PORT/healthcode_test``). Without it a test that
needs PostgreSQL skips, saying so; in CI (``CI=true``) it fails instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

PG_URL_VAR = "HEALTHCODE_TEST_PG_URL"


def _unavailable(msg: str) -> NoReturn:
    # Same rule as tests/support/shared.py: fail in CI, skip elsewhere.
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` instead (user, host, port and query kept)."""
    return urlsplit(url)._replace(path="/" + dbname).geturl()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the test server's ``healthcode_test`` database (shared by the session)."""
    url = os.environ.get(PG_URL_VAR)
    if not url:
        _unavailable(
            f"{PG_URL_VAR} is not set: run the tests with scripts/test, which starts "
            "a throwaway PostgreSQL server (or point the variable at one)"
        )
    return url


@pytest.fixture
def pg_db_url(pg_url: str) -> Iterator[str]:
    """URL of a new, empty database made for this test and dropped after it."""
    import psycopg
    from psycopg import sql

    name = f"hc_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(pg_url, name)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            # FORCE ends connections the test (or a pool) left open.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
