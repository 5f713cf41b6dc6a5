"""Trip-card fixtures: the polygon index, GeoLife records, synthetic record builders,
and one Spark session for the whole run (tests using it are marked ``slow``)."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pytest

from healthcode.trips import EpisodeRiskLookup, PlaceIndex, read_records
from healthcode.trips.geo import ADCODES, CITY_POLYGONS
from healthcode.trips.readers import RECORD_SCHEMA
from tests.support.shared import shared_path

# Coordinates (WGS-84) well inside each city, for synthetic records.
PLACES = {
    "北京": (116.40, 39.90),
    "天津": (117.20, 39.13),
    "廊坊": (116.70, 39.52),
    "上海": (121.47, 31.23),
    "杭州": (120.16, 30.27),
    "嘉兴": (120.75, 30.75),
    "苏州": (120.62, 31.30),
    "香港": (114.17, 22.30),
    "东京": (139.69, 35.69),
}
CODES = {"北京": "110000", "天津": "120000", "廊坊": "131000", "上海": "310000", "杭州": "330100"}


@pytest.fixture(scope="session")
def geo() -> PlaceIndex:
    return PlaceIndex.load(shared_path(CITY_POLYGONS), shared_path(ADCODES))


@pytest.fixture(scope="session")
def geolife_points():
    return shared_path("data", "trajectories_geolife_subset", "points.csv.gz")


@pytest.fixture(scope="session")
def geolife(geolife_points) -> pa.Table:
    return read_records(geolife_points)


def records(rows) -> pa.Table:
    """``[(phone, "2022-11-15T08:00+08:00", place name or (lon, lat)), …]`` → record table."""
    phones, epochs, lons, lats = [], [], [], []
    for phone, when, where in rows:
        lon, lat = PLACES[where] if isinstance(where, str) else where
        phones.append(phone)
        epochs.append(int(datetime.fromisoformat(when).timestamp()))
        lons.append(lon)
        lats.append(lat)
    return pa.table(
        {
            "phone": phones,
            "epoch_s": epochs,
            "lon": lons,
            "lat": lats,
            "cell_id": [None] * len(phones),
        },
        schema=RECORD_SCHEMA,
    )


@pytest.fixture(scope="session")
def nhc(geo) -> EpisodeRiskLookup:
    """Risk cities from the real NHC listing episodes (≈3 s to load)."""
    path = shared_path("data", "risk_areas_nhc_2022", "risk_area_episodes.csv.gz")
    return EpisodeRiskLookup.from_csv(path, geo.names)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local Spark session (≈10 s to start); skips without Java (fails in CI)."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        import os

        msg = "Java 17 is needed for the Spark engine (apt-get install openjdk-17-jre-headless)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    from healthcode.trips.engine_spark import local_session

    with warnings.catch_warnings():
        # PySpark 4.x warns that pandas >= 3 is not fully supported; the engine only
        # exchanges Arrow tables with Spark, never pandas.
        warnings.filterwarnings(
            "ignore", "PySpark does not yet fully support pandas", FutureWarning
        )
        session = local_session()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
