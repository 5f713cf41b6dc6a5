"""Web fixtures: an app on a temporary SQLite database per module, clients, a live server.

``live_server`` runs the real app under uvicorn in a thread, on a free port of
127.0.0.1, for the Playwright tests.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.testclient import TestClient

from healthcode.config import Settings
from healthcode.service import HealthCode
from healthcode.web.app import create_app

_client_ips = itertools.count(1)


@dataclass
class Web:
    settings: Settings
    app: FastAPI
    service: HealthCode

    def client(self, **kw) -> TestClient:
        """A client with its own peer address (the per-client sign-in limit stays out of the way)."""
        n = next(_client_ips)
        kw.setdefault("client", (f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", 40000 + n % 20000))
        kw.setdefault("raise_server_exceptions", False)
        return TestClient(self.app, **kw)


def make_settings(tmp_path, **kw) -> Settings:
    return Settings(db=str(tmp_path / "t.db"), outbox=str(tmp_path / "outbox.log"), **kw)


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Iterator[Web]:
    """One app (real clock) on a fresh SQLite file for the whole test module."""
    settings = make_settings(tmp_path_factory.mktemp("web"))
    app = create_app(settings)
    service = app.state.hc.service
    try:
        yield Web(settings, app, service)
    finally:
        service.close()


@pytest.fixture
def client(web: Web) -> Iterator[TestClient]:
    with web.client() as c:
        yield c


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: FastAPI
    service: HealthCode


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free port of 127.0.0.1; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """The app served by uvicorn on 127.0.0.1 (free port) from a thread; fresh SQLite file."""
    settings = make_settings(tmp_path_factory.mktemp("live"))
    app = create_app(settings)
    service = app.state.hc.service
    with serve(app) as url:
        yield LiveServer(url, settings, app, service)
