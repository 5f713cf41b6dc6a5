"""The server's configured foreign trust (``HEALTHCODE_SHC_ISSUER_KEYS``,
``HEALTHCODE_DCC_TRUST``) attacked with bad files.

At start-up an unusable file stops the server with ``config-invalid``; one that breaks
later (re-read on the request path every few seconds) is left out: ``POST /verify``
still answers with a report — never a 500 — that names the file, not its server path,
and the loaders' size bound applies to those re-reads too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from healthcode.credentials import trustload
from healthcode.errors import ConfigError
from healthcode.web.app import create_app
from tests.support.shared import shared_path
from tests.unit.credentials.test_trust_attacks import ISS, spec_jwks, unknown_algorithm_der
from tests.web.conftest import Web, make_settings


def card() -> str:
    """The SHC spec's example 00 as QR text (signed by the spec issuer)."""
    path = shared_path(
        "vectors", "shc", "spec-examples", "example-00-f-qr-code-numeric-value-0.txt"
    )
    return path.read_text(encoding="utf-8").strip()


def _x5c_int_noiss() -> dict:
    """A key set that names no issuer and whose key has ``x5c: [123]``."""
    doc = spec_jwks()
    doc["keys"] = [dict(doc["keys"][0], x5c=[123])]
    return doc


def test_a_key_set_with_a_non_string_x5c_entry_stops_the_server(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(_x5c_int_noiss()), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        create_app(make_settings(tmp_path, shc_issuer_keys=(str(path),)))
    assert info.value.code == "config-invalid"
    assert f"HEALTHCODE_SHC_ISSUER_KEYS: {path}: key set refused: " in info.value.message
    assert "x5c holds an entry that is not a base64 string" in info.value.message


def test_a_dsc_of_an_unknown_key_algorithm_stops_the_server(tmp_path: Path) -> None:
    path = tmp_path / "dsc.der"
    path.write_bytes(unknown_algorithm_der())
    with pytest.raises(ConfigError) as info:
        create_app(make_settings(tmp_path, dcc_trust=(str(path),)))
    assert info.value.code == "config-invalid"
    assert f"HEALTHCODE_DCC_TRUST: {path}: certificate 1 (CN=Attack DSC" in info.value.message


@pytest.fixture
def checkpoint(tmp_path: Path) -> Iterator[tuple[Web, Path]]:
    """A server trusting the SHC spec issuer from a key set that names it (a bare path)."""
    keys = tmp_path / "secret-folder" / "keys.json"
    keys.parent.mkdir()
    keys.write_text(json.dumps(spec_jwks() | {"iss": ISS}), encoding="utf-8")
    settings = make_settings(tmp_path, shc_issuer_keys=(str(keys),))
    app = create_app(settings)
    svc = app.state.hc.service
    try:
        yield Web(settings, app, svc), keys
    finally:
        svc.close()


def _verify_card(web: Web) -> dict:
    with web.client() as client:
        r = client.post("/verify", json={"text": card()})
    assert r.status_code == 200, r.text
    assert str(web.settings.db).rsplit("/", 1)[0] not in r.text  # no server path
    return r.json()


def test_a_key_set_that_breaks_at_run_time_never_makes_verify_a_500(checkpoint) -> None:
    web, keys = checkpoint
    assert _verify_card(web)["stages"]["signer"] is True

    keys.write_text(json.dumps(_x5c_int_noiss()), encoding="utf-8")  # was a TypeError: 500
    web.service.forget_trust()
    report = _verify_card(web)
    assert report["stages"]["signer"] is False
    assert "foreign-trust-unavailable" in report["warnings"]
    assert report["details"]["trust_unavailable"] == [
        {"format": "shc", "setting": "HEALTHCODE_SHC_ISSUER_KEYS", "file": "keys.json",
         "code": "issuer-keys-invalid"}
    ]  # fmt: skip

    keys.unlink()  # a missing file: its name only, never the folder it was in
    web.service.forget_trust()
    report = _verify_card(web)
    assert report["details"]["trust_unavailable"][0]["code"] == "file-unreadable"
    assert "secret-folder" not in json.dumps(report)


def test_the_run_time_re_read_keeps_the_size_bound(checkpoint, monkeypatch) -> None:
    web, keys = checkpoint
    monkeypatch.setattr(trustload, "MAX_FILE_BYTES", keys.stat().st_size - 1)
    web.service.forget_trust()
    report = _verify_card(web)
    assert report["stages"]["signer"] is False
    assert report["details"]["trust_unavailable"][0]["code"] == "trust-file-invalid"
