"""Individual revocation of our e-certificates, through the facade, on SQLite and PostgreSQL.

Every issue is recorded (no personal data); a revocation by UVCI or certificate ID is
audited; our verifier — with the database's trust, with the exported signed trust list,
or with the SHC issuer's public key set and CRL files — then reports the certificate
invalid with ``revocation`` failed, and the others still valid.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from healthcode.audit.tags import AuditTag
from healthcode.cli.verifying import build_trust
from healthcode.credentials import shc
from healthcode.credentials.trust import TrustStore
from healthcode.ecerts import (
    CertificateAlreadyRevoked,
    CertificateIdInvalid,
    CertificateNotFound,
    RevocationReasonInvalid,
    mapping,
    revocation,
)
from healthcode.errors import NotFound
from healthcode.issuers.service import trust_store_from_list
from healthcode.storage.models import AuditEntry, ECertificate
from tests.storage.test_ecerts import PUBLIC_URL, ec_svc, holder  # noqa: F401 - the fixture


def _verdict(svc, text, **kw):
    report = svc.verify([text], **kw)
    return report.verdict, report.reasons, report.stages["revocation"]


def test_every_issue_is_recorded_without_personal_data(ec_svc):  # noqa: F811
    hid = holder(ec_svc)
    dcc = ec_svc.issue_certificate(hid, kind="vaccination", format="hc1")
    ec_svc.clock.advance(60)
    card = ec_svc.issue_certificate(hid, kind="test", format="shc")
    assert dcc.uvci == f"URN:UVCI:01:XH:110000/{dcc.id}#{dcc.uvci[-1]}"
    assert mapping.uvci_checksum_valid(dcc.uvci) and dcc.rid is None
    report = ec_svc.verify([dcc.text])
    assert report.claims["hcert"]["v"][0]["ci"] == dcc.uvci  # the check character is in ci
    jws = shc.numeric_to_jws(card.text[5:])
    vc = json.loads(shc.inflate(shc.split_jws(jws)[1]))["vc"]
    assert vc["rid"] == card.rid and len(card.rid) == 11 and card.uvci is None
    assert ec_svc.verify([card.text]).stages["revocation"] is True  # its key has a list

    listed = ec_svc.list_certificates(hid)
    assert [c["id"] for c in listed] == [card.id, dcc.id]  # newest first
    assert listed[1] == {
        "id": dcc.id, "holder_id": hid, "issuer": "110000", "kind": "vaccination",
        "format": "hc1", "uvci": dcc.uvci, "rid": None, "kid": listed[1]["kid"],
        "issued_at": dcc.issued_at.isoformat(), "expires_at": dcc.expires_at.isoformat(),
        "revoked_at": None, "reason": None, "status": "valid",
    }  # fmt: skip
    with ec_svc.db.session() as s:
        rows = list(s.execute(select(ECertificate)).scalars())
        dump = json.dumps(
            [{c.name: str(getattr(r, c.name)) for c in r.__table__.columns} for r in rows],
            ensure_ascii=False,
        )
        issued = [
            e.data
            for e in s.execute(select(AuditEntry)).scalars()
            if e.tag == AuditTag.CREDENTIAL_ISSUE
        ]
    assert "张三丰" not in dump and "三丰" not in dump and "1990-01-02" not in dump
    assert [d["certificate"] for d in issued] == [dcc.id, card.id]
    with pytest.raises(NotFound):
        ec_svc.list_certificates("no-such-holder")


def test_revoked_dcc_is_invalid_for_our_verifier_and_the_trust_list(ec_svc):  # noqa: F811
    hid = holder(ec_svc)
    bad = ec_svc.issue_certificate(hid, kind="vaccination", format="hc1")
    good = ec_svc.issue_certificate(hid, kind="test", format="hc1")
    assert _verdict(ec_svc, bad.text) == ("valid", [], None)  # nothing revoked: no list
    ec_svc.trust_store()  # cached: the revocation must still show at once

    out = ec_svc.revoke_certificate(bad.uvci.lower(), reason="  issued   in error ", actor="test")
    assert out["status"] == "revoked" and out["reason"] == "issued in error"
    assert out["revoked_at"] == ec_svc.now().isoformat()
    assert _verdict(ec_svc, bad.text) == ("invalid", ["revoked"], False)
    assert _verdict(ec_svc, good.text) == ("valid", [], True)

    doc = json.loads(json.dumps(ec_svc.trust_list()))
    assert doc["payload"]["revocations"]["dcc"] == {
        "hash_type": "UCI",
        "hashes": [revocation.uci_hash(bad.uvci)],
    }
    store = trust_store_from_list(
        doc, at=ec_svc.now(), production=False, clock_skew_seconds=30, anchors=ec_svc.anchor_keys()
    )
    assert _verdict(ec_svc, bad.text, trust=store) == ("invalid", ["revoked"], False)
    assert _verdict(ec_svc, good.text, trust=store) == ("valid", [], True)
    # the list is signed: a verifier cannot be talked out of a revocation
    doc["payload"]["revocations"]["dcc"]["hashes"] = []
    from healthcode.errors import TrustListInvalid

    with pytest.raises(TrustListInvalid):
        trust_store_from_list(
            doc, at=ec_svc.now(), production=False, clock_skew_seconds=30,
            anchors=ec_svc.anchor_keys(),
        )  # fmt: skip

    with ec_svc.db.session() as s:
        entry = [
            e
            for e in s.execute(select(AuditEntry)).scalars()
            if e.tag == AuditTag.CREDENTIAL_REVOKE
        ]
    assert len(entry) == 1 and entry[0].actor == "test"
    assert entry[0].data == {
        "certificate": bad.id, "format": "hc1", "kid": out["kid"], "reason": "issued in error",
    }  # fmt: skip

    # an expired revoked certificate leaves the published list (it is refused anyway)
    ec_svc.clock.advance(366 * 86400)
    assert ec_svc.trust_list()["payload"]["revocations"]["dcc"]["hashes"] == []


def test_revoked_shc_through_the_issuer_key_set_and_crl(ec_svc, tmp_path):  # noqa: F811
    hid = holder(ec_svc)
    bad = ec_svc.issue_certificate(hid, kind="vaccination", format="shc")
    good = ec_svc.issue_certificate(hid, kind="test", format="shc")
    kid = bad.kid
    keys = ec_svc.issuer_key_set("110000")["keys"]
    assert [(k["kid"], k["crlVersion"]) for k in keys] == [(kid, 1)]
    assert ec_svc.issuer_crl("110000", kid) == {"kid": kid, "method": "rid", "ctr": 1, "rids": []}

    ec_svc.revoke_certificate(bad.id, reason="lost phone")
    assert _verdict(ec_svc, bad.text) == ("invalid", ["revoked"], False)
    assert _verdict(ec_svc, good.text) == ("valid", [], True)
    crl = ec_svc.issuer_crl("110000", kid)
    assert crl == {"kid": kid, "method": "rid", "ctr": 2, "rids": [bad.rid]}
    keyset = ec_svc.issuer_key_set("110000")
    assert keyset["keys"][0]["crlVersion"] == 2
    with pytest.raises(NotFound):
        ec_svc.issuer_crl("310000", kid)  # not that issuer's key
    with pytest.raises(NotFound):
        ec_svc.issuer_crl("110000", "no-such-kid")

    # a verifier that has only what the issuer publishes: key set and CRL files
    (tmp_path / "jwks.json").write_text(json.dumps(keyset))
    (tmp_path / f"{kid}.json").write_text(json.dumps(crl))
    iss = f"{PUBLIC_URL}/issuers/110000"
    store = build_trust(
        ec_svc, ec_svc.settings, at=ec_svc.now(), trust_list=None,
        issuer_keys=(f"{iss}={tmp_path / 'jwks.json'}",),
        revocations=(str(tmp_path / f"{kid}.json"),), explicit=True,
    )  # fmt: skip
    assert _verdict(ec_svc, bad.text, trust=store) == ("invalid", ["revoked"], False)
    assert _verdict(ec_svc, good.text, trust=store) == ("valid", [], True)
    # and the signed trust list carries the same CRL
    doc = ec_svc.trust_list()
    assert doc["payload"]["revocations"]["shc"] == [crl]
    from_list = trust_store_from_list(
        json.loads(json.dumps(doc)), at=ec_svc.now(), production=False, clock_skew_seconds=30,
        anchors=ec_svc.anchor_keys(),
    )  # fmt: skip
    assert _verdict(ec_svc, bad.text, trust=from_list) == ("invalid", ["revoked"], False)


def test_revoke_errors(ec_svc):  # noqa: F811
    hid = holder(ec_svc)
    cert = ec_svc.issue_certificate(hid, kind="test", format="hc1")
    body, _, check = cert.uvci.rpartition("#")
    other = next(c for c in mapping.UVCI_CHECK_ALPHABET if c != check)
    with pytest.raises(CertificateIdInvalid, match="check character"):
        ec_svc.revoke_certificate(f"{body}#{other}", reason="typo")
    with pytest.raises(CertificateIdInvalid):
        ec_svc.revoke_certificate("not an id", reason="x")
    with pytest.raises(CertificateNotFound):
        ec_svc.revoke_certificate("URN:UVCI:01:XH:310000/" + cert.id, reason="x")  # other region
    with pytest.raises(CertificateNotFound):
        ec_svc.revoke_certificate("ABCDEFGH12345678", reason="x")
    for reason in ("", "   ", "x" * 201):
        with pytest.raises(RevocationReasonInvalid):
            ec_svc.revoke_certificate(cert.id, reason=reason)
    assert ec_svc.list_certificates(hid)[0]["status"] == "valid"  # nothing written
    ec_svc.revoke_certificate(body, reason="without the check character")
    with pytest.raises(CertificateAlreadyRevoked):
        ec_svc.revoke_certificate(cert.id, reason="twice")
    assert ec_svc.list_certificates(hid)[0]["reason"] == "without the check character"


def test_production_store_checks_revocations_of_our_keys(ec_svc):  # noqa: F811
    hid = holder(ec_svc)
    card = ec_svc.issue_certificate(hid, kind="test", format="shc")
    store = TrustStore()
    with ec_svc.db.read() as s:
        from healthcode.ecerts.service import add_revocations

        add_revocations(s, store, at=ec_svc.now())
    assert store.revoked_shc == {card.kid: set()} and store.revoked_dcc == set()


def test_retention_sweep_drops_expired_register_rows_but_keeps_revocations(ec_svc):  # noqa: F811
    hid = holder(ec_svc)
    kept = ec_svc.issue_certificate(hid, kind="test", format="hc1")
    revoked = ec_svc.issue_certificate(hid, kind="test", format="shc")
    ec_svc.revoke_certificate(revoked.id, reason="superseded", actor="test")
    last_expiry = max(kept.expires_at, revoked.expires_at)

    # one day of grace after expiry: the row of an unrevoked certificate is still there
    out = ec_svc.retention_sweep(at=kept.expires_at + timedelta(hours=23))
    assert out["deleted"]["e_certificates"] == 0
    out = ec_svc.retention_sweep(at=last_expiry + timedelta(days=1, seconds=1))
    assert out["deleted"]["e_certificates"] == 1
    with ec_svc.db.read() as s:
        left = list(s.execute(select(ECertificate.id)).scalars())
    assert left == [revoked.id]  # a CRL's ctr counts revocations: they are never swept
