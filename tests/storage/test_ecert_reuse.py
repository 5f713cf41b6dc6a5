"""The holder's current e-certificate is shown again, not signed anew (SQLite and
PostgreSQL): same ID, times and text until the records, the name, the key or the
certificate's state change; the register and the audit say one certificate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from healthcode.audit.tags import AuditTag
from healthcode.ecerts import CertificateNotCurrent, CertificateNotFound
from healthcode.storage.models import AuditEntry, ECertificate
from tests.storage.test_ecerts import ec_svc, holder  # noqa: F401 - the fixture

FORMATS = ["hc1", "shc"]


def issued(svc) -> int:
    with svc.db.read() as s:
        return s.execute(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.tag == AuditTag.CREDENTIAL_ISSUE.value)
        ).scalar_one()


@pytest.mark.parametrize("fmt", FORMATS)
def test_current_certificate_is_shown_again_byte_for_byte(ec_svc, fmt):  # noqa: F811
    hid = holder(ec_svc)
    first = ec_svc.issue_certificate(hid, kind="vaccination", format=fmt, reuse=True)
    assert not first.reused
    before = issued(ec_svc)
    again = ec_svc.issue_certificate(hid, kind="vaccination", format=fmt, reuse=True)
    shown = ec_svc.show_certificate(hid, first.id)
    for cert in (again, shown):
        assert cert.reused and cert.id == first.id and cert.text == first.text
        assert (cert.uvci, cert.rid, cert.issued_at, cert.expires_at) == (
            first.uvci, first.rid, first.issued_at, first.expires_at,
        )  # fmt: skip
    assert issued(ec_svc) == before  # nothing new issued or recorded
    assert len(ec_svc.list_certificates(hid)) == 1
    # the PDF of the reused certificate prints the same QR and ID
    assert ec_svc.verify([again.text]).verdict == "valid"


def test_kinds_and_formats_are_separate_certificates(ec_svc):  # noqa: F811
    hid = holder(ec_svc)
    ids = {
        ec_svc.issue_certificate(hid, kind=k, format=f, reuse=True).id
        for k in ("vaccination", "test")
        for f in FORMATS
    }
    assert len(ids) == 4
    assert {
        ec_svc.issue_certificate(hid, kind=k, format=f, reuse=True).id
        for k in ("vaccination", "test")
        for f in FORMATS
    } == ids


def test_explicit_issue_makes_a_new_one(ec_svc, fixed_clock):  # noqa: F811
    hid = holder(ec_svc)
    a = ec_svc.issue_certificate(hid, kind="test", format="hc1")
    fixed_clock.advance(1)
    b = ec_svc.issue_certificate(hid, kind="test", format="hc1")
    assert a.id != b.id and not b.reused
    # the newest is the current one; the older can no longer be shown
    assert ec_svc.issue_certificate(hid, kind="test", format="hc1", reuse=True).id == b.id
    with pytest.raises(CertificateNotCurrent):
        ec_svc.show_certificate(hid, a.id)


@pytest.mark.parametrize("fmt", FORMATS)
def test_changed_records_give_a_new_certificate(ec_svc, fmt):  # noqa: F811
    hid = holder(ec_svc)
    old = ec_svc.issue_certificate(hid, kind="test", format=fmt, reuse=True)
    ec_svc.import_facts(
        "tests",
        [{"holder_id": hid, "kind": "antigen", "result": "negative",
          "sampled_at": "2022-11-20T08:00:00+08:00"}],
        source="test",
    )  # fmt: skip
    new = ec_svc.issue_certificate(hid, kind="test", format=fmt, reuse=True)
    assert new.id != old.id and not new.reused
    assert new.events[0]["kind"] == "antigen"
    with pytest.raises(CertificateNotCurrent):
        ec_svc.show_certificate(hid, old.id)
    # an older test recorded later changes nothing: the certificate names the latest
    ec_svc.import_facts(
        "tests",
        [{"holder_id": hid, "kind": "pcr", "result": "negative",
          "sampled_at": "2022-11-01T08:00:00+08:00"}],
        source="test",
    )  # fmt: skip
    assert ec_svc.issue_certificate(hid, kind="test", format=fmt, reuse=True).id == new.id


def test_a_dcc_certifies_the_last_dose_only_an_shc_every_dose(ec_svc):  # noqa: F811
    hid = holder(ec_svc)
    dcc = ec_svc.issue_certificate(hid, kind="vaccination", format="hc1", reuse=True)
    card = ec_svc.issue_certificate(hid, kind="vaccination", format="shc", reuse=True)
    ec_svc.import_facts(
        "vaccinations",
        [{"holder_id": hid, "dose": 3, "date": "2022-10-01", "product": "北京科兴 CoronaVac"}],
        source="test",
    )
    assert ec_svc.issue_certificate(hid, kind="vaccination", format="hc1", reuse=True).id != dcc.id
    assert ec_svc.issue_certificate(hid, kind="vaccination", format="shc", reuse=True).id != card.id


def test_revoked_expiring_or_rotated_certificates_are_not_shown_again(ec_svc, fixed_clock):  # noqa: F811
    from healthcode.issuers import service as isv

    hid = holder(ec_svc)
    a = ec_svc.issue_certificate(hid, kind="test", format="shc", reuse=True)
    ec_svc.revoke_certificate(a.id, reason="lost phone")
    with pytest.raises(CertificateNotCurrent, match="revoked"):
        ec_svc.show_certificate(hid, a.id)
    b = ec_svc.issue_certificate(hid, kind="test", format="shc", reuse=True)
    assert b.id != a.id and not b.reused
    # a test certificate lives 14 days; with less than a day left a new one is issued
    fixed_clock.advance(timedelta(days=13, hours=1).total_seconds())
    c = ec_svc.issue_certificate(hid, kind="test", format="shc", reuse=True)
    assert c.id != b.id
    with pytest.raises(CertificateNotCurrent):
        ec_svc.show_certificate(hid, b.id)
    fixed_clock.advance(timedelta(days=2).total_seconds())
    with pytest.raises(CertificateNotCurrent, match="expired"):
        ec_svc.show_certificate(hid, b.id)
    # a new key: the certificate signed with the old one is not shown again
    with ec_svc.db.session() as s:
        isv.rotate_key(s, issuer="110000", purpose="shc", master=ec_svc.settings.master_key,
                       at=ec_svc.now(), actor="test", demo=True)  # fmt: skip
    d = ec_svc.issue_certificate(hid, kind="test", format="shc", reuse=True)
    assert d.id != c.id and d.kid != c.kid


def test_only_the_holders_own_certificates(ec_svc):  # noqa: F811
    mine, other = holder(ec_svc, n=1), holder(ec_svc, n=2)
    cert = ec_svc.issue_certificate(mine, kind="test", format="hc1", reuse=True)
    with pytest.raises(CertificateNotFound):
        ec_svc.show_certificate(other, cert.id)
    with pytest.raises(CertificateNotFound):
        ec_svc.show_certificate(mine, "NOSUCHCERTIFICATE000")


def test_the_register_keeps_a_keyed_digest_and_the_shc_issuer(ec_svc):  # noqa: F811
    hid = holder(ec_svc, name="阿依古丽·买买提")
    card = ec_svc.issue_certificate(hid, kind="test", format="shc", reuse=True)
    dcc = ec_svc.issue_certificate(hid, kind="test", format="hc1", reuse=True)
    with ec_svc.db.read() as s:
        rows = {
            r.id: (r.shc_issuer, r.content_digest)
            for r in s.execute(select(ECertificate)).scalars()
        }
    assert rows[card.id][0] == "https://healthcode.example/issuers/110000"
    assert rows[dcc.id][0] is None
    for _iss, digest in rows.values():
        assert len(digest or "") == 64 and int(digest, 16) >= 0  # hex of an HMAC, nothing else
    assert rows[card.id][1] != rows[dcc.id][1]


def test_holder_page_section(ec_svc):  # noqa: F811
    hid = holder(ec_svc)
    view = ec_svc.holder_view(hid, actor="test")["certificates"]
    assert [(o["kind"], o["format"], o["current"]) for o in view["offers"]] == [
        ("vaccination", "hc1", None), ("vaccination", "shc", None),
        ("test", "hc1", None), ("test", "shc", None),
    ]  # fmt: skip
    cert = ec_svc.issue_certificate(hid, kind="test", format="shc", reuse=True)
    view = ec_svc.holder_view(hid, actor="test")["certificates"]
    current = {(o["kind"], o["format"]): o["current"] for o in view["offers"]}
    assert current[("test", "shc")]["id"] == cert.id and current[("test", "shc")]["rid"] == cert.rid
    assert current[("test", "hc1")] is None
    (record,) = view["certificates"]
    assert record["current"] and record["status"] == "valid" and record["rid"] == cert.rid
    ec_svc.revoke_certificate(cert.id, reason="test")
    view = ec_svc.holder_view(hid, actor="test")["certificates"]
    assert all(o["current"] is None for o in view["offers"])
    assert [(c["status"], c["current"]) for c in view["certificates"]] == [("revoked", False)]
