"""``healthcode keys``: what create and rotate make in local mode (DEMO keys, as every key
under the development master key) and in production (never a DEMO key), for every
purpose; ``keys list --purpose/--issuer``; a certificate signed with a created key."""

from __future__ import annotations

import base64
import json
import os

import pytest

from tests.cli.test_cli import enrol, run  # noqa: F401 - the run fixture

PURPOSES = ["health-code", "trust-list", "dcc", "shc"]


@pytest.fixture
def prod(monkeypatch):
    monkeypatch.setenv("HEALTHCODE_ENV", "prod")
    monkeypatch.setenv("HEALTHCODE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())


def listed(run, *args):  # noqa: F811
    r = run("keys", "list", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["keys"]


def made(run, command, issuer, purpose):  # noqa: F811
    r = run("keys", command, issuer, "--purpose", purpose)
    assert r.exit_code == 0, r.output
    kid = r.stdout.strip()
    (key,) = [k for k in listed(run) if k["kid"] == kid]
    assert key["purpose"] == purpose and key["status"] == "active" and key["issuer"] == issuer
    return key


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("command", ["create", "rotate"])
def test_local_mode_makes_demo_keys(run, command, purpose):  # noqa: F811
    issuer = "100000" if purpose == "trust-list" else "110000"
    key = made(run, command, issuer, purpose)
    assert key["demo"] is True
    if purpose == "dcc":  # its CSCA too
        cscas = listed(run, "--purpose", "dcc-csca", "--issuer", issuer)
        assert cscas and all(k["demo"] for k in cscas)
    again = made(run, "rotate" if command == "create" else "create", issuer, purpose)
    assert again["demo"] is True


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("command", ["create", "rotate"])
def test_production_never_makes_demo_keys(run, prod, command, purpose):  # noqa: F811
    issuer = "100000" if purpose == "trust-list" else "440000"
    key = made(run, command, issuer, purpose)
    assert key["demo"] is False
    if purpose == "dcc":
        cscas = listed(run, "--purpose", "dcc-csca", "--issuer", issuer)
        assert cscas and not any(k["demo"] for k in cscas)
    again = made(run, "rotate" if command == "create" else "create", issuer, purpose)
    assert again["demo"] is False


def test_keys_list_filters(run):  # noqa: F811
    everything = listed(run)
    assert {k["purpose"] for k in everything} == {"health-code", "trust-list"}
    made(run, "create", "650000", "shc")
    shc = listed(run, "--purpose", "shc")
    assert [k["issuer"] for k in shc] == ["650000"]
    both = listed(run, "--purpose", "shc", "--purpose", "trust-list")
    assert {k["purpose"] for k in both} == {"shc", "trust-list"}
    assert [k["purpose"] for k in listed(run, "--issuer", "650000")] == ["health-code", "shc"]
    text = run("keys", "list", "--purpose", "shc")
    assert text.exit_code == 0 and text.stdout.startswith("650000 ") and "DEMO" in text.stdout
    assert run("keys", "list", "--purpose", "nope").exit_code == 2


def test_a_created_local_key_signs_demo_certificates(run, tmp_path):  # noqa: F811
    hid = json.loads(enrol(run).stdout)["holder_id"]
    (tmp_path / "v.json").write_text(
        json.dumps([{"holder_id": hid, "dose": 1, "date": "2021-06-01", "product": "Comirnaty"}])
    )
    assert run("facts", "import", "vaccinations", "v.json").exit_code == 0
    kid = made(run, "create", "110000", "dcc")["kid"]
    out = json.loads(run("certificate", hid, "--json").stdout)
    assert base64.b64decode(out["kid"]).hex() == kid  # signed with the key just made
    report = json.loads(run("verify", out["text"], "--json").stdout)
    assert report["verdict"] == "valid" and "demo" in report["warnings"], report
    assert report["details"]["certificate"][0]["is"].endswith(" DEMO")
