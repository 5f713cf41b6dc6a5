"""A HealthCode service on SQLite and on a real PostgreSQL (same tests, both backends)."""

import pytest

from healthcode.clock import FixedClock
from healthcode.config import Settings
from healthcode.service import HealthCode


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "hc.db")
    return request.getfixturevalue("pg_db_url")


@pytest.fixture
def fixed_clock():
    return FixedClock("2022-11-20T04:00:00Z")


@pytest.fixture
def svc(db_url, fixed_clock):
    app = HealthCode(Settings(db=db_url), clock=fixed_clock)
    yield app
    app.close()
