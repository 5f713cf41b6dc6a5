"""SMART Health Card revocation on the web: the key set's ``crlVersion``, the CRL at
``{iss}/.well-known/crl/{kid}.json``, and the verifier API after a revocation; the
signed trust list's ``revocations`` for DCCs."""

from __future__ import annotations

from healthcode.credentials import shc
from healthcode.ecerts import revocation
from tests.web.helpers import enrol
from tests.web.test_certificates import records


def test_crl_follows_revocations(client, web):
    h = enrol(web.service, name="钱七")
    records(web.service, h["holder_id"])
    card = web.service.issue_certificate(h["holder_id"], kind="test", format="shc")
    other = web.service.issue_certificate(h["holder_id"], kind="vaccination", format="shc")
    dcc = web.service.issue_certificate(h["holder_id"], kind="test", format="hc1")
    base = "/issuers/110000/.well-known"
    keys = client.get(f"{base}/jwks.json").json()["keys"]
    mine = next(k for k in keys if k["kid"] == card.kid)
    crl = client.get(f"{base}/crl/{card.kid}.json")
    assert crl.status_code == 200 and crl.headers["access-control-allow-origin"] == "*"
    assert crl.json()["ctr"] == mine["crlVersion"]
    assert card.rid not in crl.json()["rids"]

    web.service.revoke_certificate(card.id, reason="test")
    web.service.revoke_certificate(dcc.uvci, reason="test")
    crl = client.get(f"{base}/crl/{card.kid}.json").json()
    keys = client.get(f"{base}/jwks.json").json()
    assert crl["ctr"] == mine["crlVersion"] + 1 and card.rid in crl["rids"]
    # what a third-party verifier does with them: the key's crlVersion matches the CRL
    iss = "http://127.0.0.1:8000/issuers/110000"
    kid, entries = shc.parse_crl(
        client.get(f"{base}/crl/{card.kid}.json").content,
        keys=shc.validate_keyset(keys, iss=iss),
    )
    assert kid == card.kid and card.rid in entries and other.rid not in entries

    for text, verdict in ((card.text, "invalid"), (other.text, "valid"), (dcc.text, "invalid")):
        r = client.post("/verify", json={"text": text})
        body = r.json()
        assert body["verdict"] == verdict, body
        if verdict == "invalid":
            assert body["reasons"] == ["revoked"] and body["stages"]["revocation"] is False

    listed = client.get("/trust-list").json()["payload"]["revocations"]
    assert revocation.uci_hash(dcc.uvci) in listed["dcc"]["hashes"]
    assert crl in listed["shc"]

    assert client.get(f"{base}/crl/no-such-kid.json").status_code == 404
    assert client.get(f"/issuers/310000/.well-known/crl/{card.kid}.json").status_code == 404
