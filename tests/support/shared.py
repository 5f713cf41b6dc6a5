"""Locate reference data under ``HEALTHCODE_SHARED`` (default ``../shared``).

In CI (``CI=true``) a missing file fails the test; elsewhere it skips with a
message saying what to get. Files are never copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_root() -> Path:
    return Path(os.environ.get("HEALTHCODE_SHARED", "../shared"))


def shared_path(*parts: str) -> Path:
    """Path of a shared file, or skip/fail the calling test when it is missing."""
    path = shared_root().joinpath(*parts)
    if not path.exists():
        msg = (
            f"reference data {'/'.join(parts)} not found under HEALTHCODE_SHARED="
            f"{shared_root()} — get the project's shared/ folder and point HEALTHCODE_SHARED at it"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path
