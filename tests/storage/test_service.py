"""End-to-end domain behaviour through the service facade, on SQLite and PostgreSQL."""

import gzip
import json

import pytest
from sqlalchemy import select, text, update

from healthcode.errors import HolderExists, ImportRejected, InvalidIdNumber, InvalidRegion
from healthcode.holders.identity import gb11643_check_char
from healthcode.storage.models import AuditEntry, Holder, SigningKey, Status


def rid(first17):
    return first17 + gb11643_check_char(first17)


def enrol(svc, n=1, region="110000"):
    return svc.enrol(
        name="张三丰",
        id_number=rid(f"110105198001010{n:02d}"),
        phone=f"1391234{n:04d}",
        region=region,
    )


def test_issuers_and_dev_keys_created_once(svc):
    with svc.db.session() as s:
        keys = list(s.execute(select(SigningKey)).scalars())
    assert (
        len({k.issuer_code for k in keys if k.purpose == "health-code"}) == 35
    )  # 34 regions + national
    assert [k.issuer_code for k in keys if k.purpose == "trust-list"] == ["100000"]
    assert all(k.demo for k in keys)
    again = type(svc)(svc.settings, clock=svc.clock)
    with again.db.session() as s:
        assert len(list(s.execute(select(SigningKey)).scalars())) == len(keys)
    again.close()


def test_personal_data_is_sealed_and_indexed_blindly(svc):
    out = enrol(svc)
    assert out["name_masked"] == "张*丰" and out["id_masked"].startswith("1101")
    with svc.db.session() as s:
        h = s.get(Holder, out["holder_id"])
        blob = h.pii + h.id_index.encode() + h.phone_index.encode()
    assert (
        "张三丰".encode() not in blob and b"11010519800101" not in blob and b"1391234" not in blob
    )


def test_duplicate_and_invalid_enrolment_leave_nothing(svc):
    enrol(svc)
    with pytest.raises(HolderExists):
        enrol(svc)
    with pytest.raises(InvalidIdNumber):
        good = rid("11010519800101099")
        wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
        svc.enrol(name="李四", id_number=wrong, phone="13900000000", region="110000")
    with pytest.raises(InvalidRegion):
        svc.enrol(
            name="李四", id_number=rid("11010519800101002"), phone="13900000000", region="990000"
        )
    with svc.db.session() as s:
        assert len(list(s.execute(select(Holder)).scalars())) == 1


def test_code_round_trip_and_mutual_recognition_via_trust_list(svc):
    sh = enrol(svc, 1, region="310000")
    code = svc.issue_code(sh["holder_id"])
    assert code["colour"] == "green" and code["status_code"] == "00"
    report = svc.verify([code["token"]])
    assert report.verdict == "valid" and report.holder["code_name"] == "随申码"
    # a verifier holding only the signed national trust list accepts any region's code
    from healthcode.issuers.service import trust_store_from_list

    store = trust_store_from_list(
        svc.trust_list(),
        at=svc.now(),
        production=False,
        clock_skew_seconds=30,
        anchors=svc.anchor_keys(),
    )
    assert svc.verify([code["token"]], trust=store).verdict == "valid"


def test_tampered_trust_list_is_refused(svc):
    from healthcode.errors import TrustListInvalid
    from healthcode.issuers.service import trust_store_from_list

    anchors = svc.anchor_keys()
    doc = svc.trust_list()
    doc["payload"]["issuers"][0]["keys"] = []
    with pytest.raises(TrustListInvalid):
        trust_store_from_list(
            doc, at=svc.now(), production=False, clock_skew_seconds=30, anchors=anchors
        )
    with pytest.raises(TrustListInvalid):  # DEMO anchor in production
        trust_store_from_list(
            svc.trust_list(), at=svc.now(), production=True, clock_skew_seconds=30, anchors=anchors
        )


def test_a_trust_list_signed_by_an_unpinned_anchor_is_refused(svc, tmp_path):
    """Anyone can sign a list naming their own keys: only a pinned anchor counts."""
    from healthcode.errors import TrustListInvalid
    from healthcode.issuers.service import trust_store_from_list
    from healthcode.service import HealthCode

    forger = HealthCode(type(svc.settings)(db=str(tmp_path / "forger.db")), clock=svc.clock)
    forged = forger.trust_list()
    forger.close()
    with pytest.raises(TrustListInvalid, match="pinned"):
        trust_store_from_list(
            forged, at=svc.now(), production=False, clock_skew_seconds=30, anchors=svc.anchor_keys()
        )
    with pytest.raises(TrustListInvalid, match="pinned"):
        trust_store_from_list(
            svc.trust_list(), at=svc.now(), production=False, clock_skew_seconds=30
        )


def test_rotation_keeps_old_codes_valid_and_revocation_kills_them(svc):
    from healthcode.issuers import service as isv

    h = enrol(svc)
    old = svc.issue_code(h["holder_id"])["token"]
    with svc.db.session() as s:
        old_kid = isv.active_key(s, "110000").kid
        isv.rotate_key(
            s,
            issuer="110000",
            purpose="health-code",
            master=svc.settings.master_key,
            at=svc.now(),
            actor="t",
            demo=True,
        )
    svc.forget_trust()  # this process changed keys; a server would see it within 10 s
    new = svc.issue_code(h["holder_id"])["token"]
    assert svc.verify([old]).verdict == "valid" and svc.verify([new]).verdict == "valid"
    with svc.db.session() as s:
        isv.revoke_key(s, kid=old_kid, reason="compromised", at=svc.now(), actor="t")
    svc.forget_trust()
    assert svc.verify([old]).reasons == ["key-revoked"]
    assert svc.verify([new]).verdict == "valid"


def test_facts_import_is_all_or_nothing_and_changes_status_with_history(svc):
    h = enrol(svc)
    rows = [
        {
            "holder_id": h["holder_id"],
            "kind": "pcr",
            "result": "negative",
            "sampled_at": "2022-11-19T08:00:00+08:00",
        },
        {
            "holder_id": h["holder_id"],
            "kind": "pcr",
            "result": "maybe",
            "sampled_at": "2022-11-19T08:00:00+08:00",
        },
        {
            "holder_id": "nobody",
            "kind": "pcr",
            "result": "negative",
            "sampled_at": "2022-11-19T08:00:00+08:00",
        },
        {
            "holder_id": h["holder_id"],
            "kind": "pcr",
            "result": "negative",
            "sampled_at": "2022-11-19 08:00",
        },
    ]
    with pytest.raises(ImportRejected) as exc:
        svc.import_facts("tests", rows, source="t.csv")
    lines = {(e["line"], e["code"]) for e in exc.value.details["errors"]}
    assert lines == {(3, "invalid-field"), (4, "unknown-holder"), (5, "invalid-field")}
    with svc.db.session() as s:
        assert s.execute(text("select count(*) from facts")).scalar_one() == 0
    out = svc.import_facts(
        "tests",
        [
            {
                "holder_id": h["holder_id"],
                "kind": "antigen",
                "result": "positive",
                "sampled_at": "2022-11-19T08:00:00+08:00",
            }
        ],
        source="lab.csv",
    )
    assert out["imported"] == 1 and out["status_changes"] == 1
    view = svc.holder_view(h["holder_id"], actor="test")
    assert view["status"]["colour"] == "red" and view["status"]["reasons"][0]["rule"] == "HC-R-0002"
    assert [x["colour"] for x in view["history"]] == ["red", "green"]
    assert view["latest_test"]["kind"] == "antigen" and view["latest_test"]["hours_since"] == 28
    assert svc.issue_code(h["holder_id"])["status_code"] == "10"


def _episodes(tmp_path, rows):
    p = tmp_path / "episodes.csv.gz"
    head = "level,province,city,county,community,first_listed,last_listed,first_absent\n"
    p.write_bytes(gzip.compress((head + "".join(r + "\n" for r in rows)).encode()))
    return p


def test_risk_area_listing_bounds_and_beijing_quirk(svc, tmp_path):
    from healthcode.clock import parse_instant

    p = _episodes(
        tmp_path,
        [
            "high,北京市,朝阳区,酒仙桥街道,二街坊,2022-11-15T11:00+08:00,2022-11-19T15:00+08:00,2022-11-19T17:00+08:00",
            "medium,上海市,上海市,嘉定区,某村,2022-11-10T11:00+08:00,2022-11-30T02:00+08:00,",
        ],
    )
    svc.import_risk_areas(p)
    at = parse_instant("2022-11-19T16:59:59+08:00")
    assert {a["community"] for a in svc.list_risk_areas(at=at)} == {"二街坊", "某村"}
    assert [a["city"] for a in svc.list_risk_areas(at=at, city="北京市")] == ["朝阳区"]
    end = parse_instant("2022-11-19T17:00:00+08:00")  # first_absent is exclusive
    assert [a["community"] for a in svc.list_risk_areas(at=end)] == ["某村"]
    before = parse_instant("2022-11-10T10:59:59+08:00")
    assert svc.list_risk_areas(at=before) == []
    assert (
        svc.list_risk_areas(at=at, level="high")[0]["first_listed"] == "2022-11-15T11:00:00+08:00"
    )


def test_bad_risk_area_file_imports_nothing(svc, tmp_path):
    good = _episodes(
        tmp_path,
        ["high,北京市,朝阳区,酒仙桥街道,二街坊,2022-11-15T11:00+08:00,2022-11-19T15:00+08:00,"],
    )
    svc.import_risk_areas(good)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "level,province,city,county,community,first_listed,last_listed,first_absent\n"
        "extreme,北京市,朝阳区,x,y,2022-11-15T11:00+08:00,2022-11-19T15:00+08:00,\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected):
        svc.import_risk_areas(bad)
    from healthcode.clock import parse_instant

    assert len(svc.list_risk_areas(at=parse_instant("2022-11-16T00:00+08:00"))) == 1


def test_risk_list_change_reevaluates_only_affected_holders(svc, tmp_path):
    a, b = enrol(svc, 1), enrol(svc, 2)
    stay = {
        "declared_at": "2022-11-19T20:00:00+08:00", "province": "北京市", "city": "朝阳区",
        "county": "酒仙桥街道", "community": "二街坊",
        "start": "2022-11-17T09:00:00+08:00", "end": "2022-11-17T18:00:00+08:00",
    }  # fmt: skip
    svc.import_facts("declarations", [dict(stay, holder_id=a["holder_id"])], source="d")
    svc.import_facts(
        "declarations", [dict(stay, holder_id=b["holder_id"], community="别处")], source="d"
    )
    assert svc.holder_view(a["holder_id"], actor="t")["status"]["colour"] == "green"
    out = svc.import_risk_areas(
        _episodes(
            tmp_path,
            ["high,北京市,朝阳区,酒仙桥街道,二街坊,2022-11-16T11:00+08:00,2022-11-19T15:00+08:00,"],
        )
    )
    assert out["holders_reevaluated"] == 1 and out["status_changes"] == 1
    st = svc.holder_view(a["holder_id"], actor="t")["status"]
    assert st["colour"] == "yellow" and st["reasons"][0]["facts"][0]["community"] == "二街坊"
    assert st["clears_at"] == "2022-11-24T10:00:00+00:00"
    assert svc.holder_view(b["holder_id"], actor="t")["status"]["colour"] == "green"


def test_audit_chain_detects_edit_insert_and_delete(svc):
    for n in range(3):
        enrol(svc, n + 1)
    svc.audit_checkpoint()
    assert svc.audit_verify().ok
    with svc.db.session() as s:
        e = s.execute(select(AuditEntry).where(AuditEntry.seq == 5)).scalar_one()
        original = dict(e.data)
        s.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == 5)
            .values(data={**original, "region": "990000"})
        )
    rep = svc.audit_verify()
    assert not rep.ok and rep.first_bad == 5
    with svc.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(data=original))
        s.execute(text("delete from audit_log where seq = 3"))
    rep = svc.audit_verify()
    assert not rep.ok and rep.first_bad == 3


def test_audit_truncated_tail_is_found_by_the_signed_checkpoint(svc):
    for n in range(3):
        enrol(svc, n + 1)
    svc.audit_checkpoint()
    with svc.db.session() as s:
        head = s.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())).scalars().first()
        s.execute(text("delete from audit_log where seq >= :seq"), {"seq": head - 1})
    rep = svc.audit_verify()
    assert not rep.ok and "missing" in rep.problem


def test_audit_never_holds_tokens_or_personal_data(svc):
    h = enrol(svc)
    token = svc.issue_code(h["holder_id"])["token"]
    svc.verify([token])
    svc.holder_view(h["holder_id"], actor="t")
    with svc.db.session() as s:
        dump = json.dumps(
            [(e.tag, e.actor, e.subject, e.data) for e in s.execute(select(AuditEntry)).scalars()],
            ensure_ascii=False,
        )
    assert token[4:40] not in dump and "张三丰" not in dump and "13912340001" not in dump
    assert '"credential:verify"' in dump and '"holder:read"' in dump


def test_failed_request_leaves_database_as_it_was(svc):
    before = svc.admin_overview()["audit_entries"]
    with pytest.raises(InvalidIdNumber):
        svc.enrol(name="王五", id_number="123", phone="13900000000", region="110000")
    assert svc.admin_overview()["audit_entries"] == before
    with svc.db.session() as s:
        assert s.execute(select(Status)).first() is None


def test_bulk_reevaluation_clears_expired_reasons_and_audits_each_change(svc, fixed_clock):
    a, b, c = enrol(svc, 1), enrol(svc, 2), enrol(svc, 3)
    svc.import_facts(
        "contacts",
        [
            {
                "holder_id": a["holder_id"],
                "kind": "secondary",
                "listed_at": "2022-11-19T12:00:00+08:00",
            },
            {
                "holder_id": b["holder_id"],
                "kind": "confirmed",
                "listed_at": "2022-11-19T12:00:00+08:00",
            },
        ],
        source="list",
    )
    assert svc.holder_view(a["holder_id"], actor="t")["status"]["colour"] == "yellow"
    assert svc.reevaluate_all() == {"evaluated": 3, "changed": 0}
    fixed_clock.advance(8 * 86400)  # secondary contact's 7 days are over; the case's 28 are not
    with svc.db.session() as s:
        before = s.execute(select(AuditEntry).where(AuditEntry.tag == "status:change")).all()
    assert svc.reevaluate_all() == {"evaluated": 3, "changed": 1}
    assert svc.holder_view(a["holder_id"], actor="t")["status"]["colour"] == "green"
    assert svc.holder_view(b["holder_id"], actor="t")["status"]["colour"] == "red"
    assert svc.holder_view(c["holder_id"], actor="t")["status"]["colour"] == "green"
    with svc.db.session() as s:
        after = s.execute(select(AuditEntry).where(AuditEntry.tag == "status:change")).all()
        batch_reads = s.execute(
            select(AuditEntry).where(AuditEntry.tag == "holder:batch-read")
        ).all()
    assert len(after) == len(before) + 1 and len(batch_reads) == 2
    assert svc.audit_verify().ok


def test_every_write_is_signed_so_rewriting_without_the_anchor_key_is_found(svc):
    """Deleting checkpoints and recomputing the chain is caught: the head must be signed."""
    from healthcode.audit.log import GENESIS, entry_hash

    enrol(svc, 1)
    assert svc.audit_verify().ok
    with svc.db.session() as s:
        s.execute(text("delete from audit_checkpoints"))
        entries = s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        prev = GENESIS
        for e in entries:  # a consistent, rewritten chain
            e.actor = "forger"
            e.prev_hash = prev
            e.hash = entry_hash(prev, e.seq, e.at, e.tag, e.actor, e.subject, e.data)
            prev = e.hash
    rep = svc.audit_verify()
    assert not rep.ok and "signed checkpoint" in rep.problem


def test_a_status_edited_behind_the_apps_back_is_found(svc):
    h = enrol(svc, 1)
    svc.import_facts(
        "contacts",
        [
            {
                "holder_id": h["holder_id"],
                "kind": "secondary",
                "listed_at": "2022-11-19T12:00:00+08:00",
            }
        ],
        source="x",
    )
    assert svc.audit_verify().ok
    with svc.db.session() as s:
        s.execute(
            update(Status)
            .where(Status.holder_id == h["holder_id"], Status.current.is_(True))
            .values(colour="green", status_code="00", reasons=[])
        )
    rep = svc.audit_verify()
    assert not rep.ok and h["holder_id"] in rep.problem


def test_buffered_verification_audit_is_written_and_signed(svc):
    before = svc.admin_overview()["audit_entries"]
    svc.buffer_verification_audit(interval_seconds=60)
    for text_ in ("garbage", "HP1:XYZ", "HC1:"):
        assert svc.verify([text_]).verdict == "invalid"
    assert svc.admin_overview()["audit_entries"] == before  # still buffered
    assert svc.flush_audit() == 3
    with svc.db.read() as s:
        rows = (
            s.execute(select(AuditEntry.data).where(AuditEntry.tag == "credential:verify"))
            .scalars()
            .all()
        )
    assert [r["verdict"] for r in rows] == ["invalid"] * 3
    assert svc.audit_verify().ok


def test_server_trusts_configured_foreign_dcc_signers(tmp_path, shared):
    """HEALTHCODE_DCC_TRUST: a checkpoint's verifier accepts a real EU test certificate."""
    from dataclasses import replace

    from healthcode.clock import parse_instant
    from healthcode.config import Settings
    from healthcode.service import HealthCode

    vector = json.loads(
        shared("vectors", "dcc", "DE", "2DCode", "raw", "1.json").read_text(encoding="utf-8")
    )
    cert = tmp_path / "de-dsc.b64"
    cert.write_text(vector["TESTCTX"]["CERTIFICATE"], encoding="ascii")
    at = parse_instant(vector["TESTCTX"]["VALIDATIONCLOCK"])
    plain = HealthCode(Settings(db=str(tmp_path / "a.db")))
    assert plain.verify([vector["PREFIX"]], at=at).reasons[:1] == ["unknown-kid"]
    plain.close()
    svc = HealthCode(replace(Settings(db=str(tmp_path / "b.db")), dcc_trust=(str(cert),)))
    report = svc.verify([vector["PREFIX"]], at=at)
    svc.close()
    assert (
        report.format == "hc1" and report.stages["signature"] is True and report.verdict == "valid"
    )
