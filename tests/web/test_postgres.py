"""The web app on PostgreSQL: enrol → sign in → fresh code → POST /verify."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from healthcode.config import Settings
from healthcode.credentials.qr import encode_png
from healthcode.web.app import create_app
from tests.web.helpers import enrol, sign_in

pytestmark = pytest.mark.postgres


def test_enrol_code_verify_on_postgresql(pg_db_url, tmp_path):
    app = create_app(Settings(db=pg_db_url, outbox=str(tmp_path / "outbox.log")))
    svc = app.state.hc.service
    try:
        assert svc.db.dialect == "postgresql"
        h = enrol(svc)
        with TestClient(app) as c:
            assert c.get("/healthz").json() == {"ok": True}
            assert len(c.get("/trust-list").json()["payload"]["issuers"]) == 35
            sign_in(c, svc, h["phone"])
            assert h["name_masked"] in c.get("/holder").text
            code = c.get("/holder/code").json()
            rep = c.post("/verify", json={"text": code["token"]}).json()
            assert rep["verdict"] == "valid"
            assert rep["colour"] == code["colour"] == "green"
            rep = c.post(
                "/verify", files={"image": ("c.png", encode_png(code["token"]), "image/png")}
            ).json()
            assert rep["verdict"] == "valid"
            assert c.get("/admin").status_code == 200
            c.post("/holder/sign-out")
            assert c.get("/holder/code").status_code == 401
    finally:
        svc.close()
