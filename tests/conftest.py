"""Base fixtures: fixed clock, temporary settings/database, shared-data lookup."""

from __future__ import annotations

import pytest

from healthcode.clock import FixedClock
from tests.support.shared import shared_path

# Fixtures pg_url and pg_db_url (PostgreSQL), browser and page (chromium).
pytest_plugins = ["tests.support.postgres", "tests.support.browser"]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock("2024-05-01T12:00:00Z")


@pytest.fixture
def shared():
    """``shared("vectors", "dcc")`` → Path, skipping (failing in CI) when missing."""
    return shared_path
