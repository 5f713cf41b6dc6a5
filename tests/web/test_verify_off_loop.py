"""``POST /verify`` with text verifies on a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from healthcode.web import verifier
from tests.web.helpers import enrol


def test_text_verification_runs_off_the_event_loop(client, web, monkeypatch) -> None:
    h = enrol(web.service)
    token = web.service.issue_code(h["holder_id"], actor="test")["token"]
    calls: list[bool] = []
    real = web.service.verify

    def spy(*a: Any, **k: Any) -> Any:
        try:
            asyncio.get_running_loop()
            calls.append(True)  # on the event loop's thread
        except RuntimeError:
            calls.append(False)
        return real(*a, **k)

    monkeypatch.setattr(web.service, "verify", spy)
    for body in ({"json": {"text": token}}, {"json": {"texts": [token]}}):
        r = client.post("/verify", **body)
        assert r.status_code == 200 and r.json()["verdict"] == "valid"
    r = client.post("/verify", content=token, headers={"content-type": "text/plain"})
    assert r.status_code == 200 and r.json()["verdict"] == "valid"
    assert calls == [False, False, False]
    assert verifier.TEXT_VERIFY_THREADS >= 1
