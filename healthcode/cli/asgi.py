"""ASGI factory for multi-worker serving (``healthcode serve --workers N``).

Each uvicorn worker process imports this and builds its own app from the
environment (``HEALTHCODE_*``), since an app object cannot be shared across
processes.
"""

from __future__ import annotations

from typing import Any

from healthcode.config import load_settings


def app_from_env() -> Any:
    """Build the web app from ``HEALTHCODE_*`` settings."""
    from healthcode.web.app import create_app

    return create_app(load_settings())
