"""E-certificates (电子证照) end to end through the facade, on SQLite and PostgreSQL.

Issue → our own verifier (trust from the database, or from the exported signed
trust list) → ``valid`` with the right type and holder; the EU DCC schema stage
passes against ``$HEALTHCODE_SHARED/vectors/dcc-schema``; a CertLogic rule of
``dcc-example-rules.json`` accepts our vaccination certificate; foreign and
tampered certificates are refused; keys, certificates and audit are as documented.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from healthcode.audit.tags import AuditTag
from healthcode.cli.verifying import build_options
from healthcode.credentials import hcert, shc
from healthcode.credentials.base45 import b45decode
from healthcode.credentials.keys import generate_private_key
from healthcode.ecerts import NoRecords
from healthcode.holders.identity import gb11643_check_char
from healthcode.issuers.service import trust_store_from_list
from healthcode.service import HealthCode
from healthcode.storage.models import AuditEntry, SigningKey
from tests.support.shared import shared_path

RULES = Path(hcert.__file__).parents[1] / "rules" / "data" / "dcc-example-rules.json"
PUBLIC_URL = "https://healthcode.example"


@pytest.fixture
def ec_svc(db_url, fixed_clock):
    """A service whose SHC issuers are on https (the fixture clock is 2022-11-20 12:00 +08)."""
    shared = str(shared_path("vectors", "dcc-schema").parents[1])
    from healthcode.config import Settings

    app = HealthCode(Settings(db=db_url, public_url=PUBLIC_URL, shared=shared), clock=fixed_clock)
    yield app
    app.close()


def holder(svc, *, name="张三丰", product="北京科兴 CoronaVac", tests=True, n=1):
    first17 = f"11010519900102{n:03d}"
    hid = svc.enrol(
        name=name,
        id_number=first17 + gb11643_check_char(first17),
        phone=f"1391230{n:04d}",
        region="110105",
    )["holder_id"]
    svc.import_facts(
        "vaccinations",
        [
            {"holder_id": hid, "dose": 1, "date": "2022-08-01", "product": product},
            {"holder_id": hid, "dose": 2, "date": "2022-09-01", "product": product},
        ],
        source="test",
    )
    if tests:
        svc.import_facts(
            "tests",
            [
                {
                    "holder_id": hid,
                    "kind": "antigen",
                    "result": "negative",
                    "sampled_at": "2022-11-18T09:00:00+08:00",
                    "lab": "旧检测点",
                },
                {
                    "holder_id": hid,
                    "kind": "pcr",
                    "result": "negative",
                    "sampled_at": "2022-11-19T20:30:00+08:00",
                    "lab": "北京市某检测实验室",
                },
            ],  # fmt: skip
            source="test",
        )
    return hid


def options(svc, **kw):
    return build_options(
        svc.settings, lenient_prefix=False, **{"rules_file": None, "country": None, **kw}
    )


@pytest.mark.parametrize("kind", ["vaccination", "test"])
def test_dcc_round_trip_valid_with_schema(ec_svc, kind):
    hid = holder(ec_svc)
    cert = ec_svc.issue_certificate(hid, kind=kind, format="hc1")
    assert cert.text.startswith("HC1:") and cert.to_dict().keys() == {
        "id", "format", "kind", "text", "uvci", "rid", "kid", "expires_at",
    }  # fmt: skip
    report = ec_svc.verify([cert.text], options=options(ec_svc))
    assert report.verdict == "valid", report.to_dict()
    # local mode signs with DEMO keys: the only warning says so
    assert report.stages["schema"] is True and report.warnings == ["demo"]
    assert report.type == kind
    assert report.holder["family_name"] == "张" and report.holder["given_name"] == "三丰"
    assert report.holder["birth_date"] == "1990-01-02"
    assert report.details["kid"] == cert.kid
    payload = report.claims["hcert"]
    assert report.claims["iss"] == "XH"
    assert payload["nam"] == {"fn": "张", "fnt": "ZHANG", "gn": "三丰", "gnt": "SANFENG"}
    entry = payload["v" if kind == "vaccination" else "t"][0]
    assert entry["co"] == "CN" and entry["tg"] == "840539006"
    assert entry["is"] == "healthcode 北京市 (110000) DEMO"
    assert entry["ci"] == cert.uvci and entry["ci"].startswith("URN:UVCI:01:XH:110000/")
    if kind == "vaccination":
        assert (entry["mp"], entry["ma"], entry["vp"]) == (
            "CoronaVac",
            "Sinovac-Biotech",
            "1157024006",
        )
        assert (entry["dn"], entry["sd"], entry["dt"]) == (2, 2, "2022-09-01")
        assert report.claims["exp"] - report.claims["iat"] == 365 * 86400
    else:  # the latest test
        assert (entry["tt"], entry["tr"], entry["sc"]) == (
            "LP6464-4",
            "260415000",
            "2022-11-19T12:30:00Z",
        )
        assert entry["tc"] == "北京市某检测实验室"


def test_dcc_business_rules_accept_our_vaccination(ec_svc):
    hid = holder(ec_svc)
    cert = ec_svc.issue_certificate(hid, kind="vaccination", format="hc1")
    report = ec_svc.verify(
        [cert.text], options=options(ec_svc, rules_file=str(RULES), country="CN")
    )
    assert report.verdict == "valid" and report.stages["rules"] is True, report.to_dict()
    results = {r["identifier"]: r["result"] for r in report.details["rules"]}
    assert results == {f"VR-CN-000{i}": "passed" for i in range(1, 5)}
    # an unknown product keeps the recorded text: the destination's product rule refuses it
    other = holder(ec_svc, product="某地方疫苗", n=2)
    cert = ec_svc.issue_certificate(other, kind="vaccination", format="hc1")
    report = ec_svc.verify(
        [cert.text], options=options(ec_svc, rules_file=str(RULES), country="CN")
    )
    assert report.stages["signature"] is True and report.stages["rules"] is False
    assert report.claims["hcert"]["v"][0]["mp"] == "某地方疫苗"
    assert "value-set-unknown-code" in report.warnings


@pytest.mark.parametrize("kind", ["vaccination", "test"])
def test_shc_round_trip_accept(ec_svc, kind):
    hid = holder(ec_svc)
    cert = ec_svc.issue_certificate(hid, kind=kind, format="shc")
    assert cert.text.startswith("shc:/") and cert.text[5:].isdigit()
    report = ec_svc.verify([cert.text])
    assert report.verdict == "valid" and report.warnings == ["demo"], report.to_dict()
    assert report.type == kind
    assert report.details["iss"] == f"{PUBLIC_URL}/issuers/110000"
    assert report.holder["family_name"] == "ZHANG" and report.holder["birth_date"] == "1990-01-02"
    jws = shc.numeric_to_jws(cert.text[5:])
    assert len(jws) <= shc.MAX_SINGLE_JWS
    header, body, _sig, _ = shc.split_jws(jws)
    assert header == {"alg": "ES256", "zip": "DEF", "kid": cert.kid}
    card = json.loads(shc.inflate(body))
    types = card["vc"]["type"]
    assert types[:2] == [shc.HEALTH_CARD, "https://smarthealth.cards#covid19"]
    entries = card["vc"]["credentialSubject"]["fhirBundle"]["entry"]
    names = entries[0]["resource"]["name"]
    assert names == [{"family": "ZHANG", "given": ["SANFENG"]}, {"family": "张", "given": ["三丰"]}]
    if kind == "vaccination":
        assert types[2] == "https://smarthealth.cards#immunization"
        assert [e["resource"]["vaccineCode"]["coding"][0]["code"] for e in entries[1:]] == [
            "511",
            "511",
        ]
    else:
        assert types[2] == "https://smarthealth.cards#laboratory"
        obs = entries[1]["resource"]
        assert obs["code"]["coding"][0]["code"] == "94500-6"
        assert obs["valueCodeableConcept"]["coding"][0]["code"] == "260385009"
    # the key set the issuer serves holds the card's key
    assert [k["kid"] for k in ec_svc.issuer_key_set("110000")["keys"]] == [cert.kid]


def test_trust_list_carries_the_e_certificate_keys(ec_svc):
    hid = holder(ec_svc)
    dcc = ec_svc.issue_certificate(hid, kind="test", format="hc1")
    card = ec_svc.issue_certificate(hid, kind="test", format="shc")
    doc = json.loads(json.dumps(ec_svc.trust_list()))
    beijing = next(i for i in doc["payload"]["issuers"] if i["code"] == "110000")
    assert [e["kid"] for e in beijing["dcc"]] == [dcc.kid]
    assert beijing["shc"][0]["iss"] == f"{PUBLIC_URL}/issuers/110000"
    assert beijing["shc"][0]["jwk"]["kid"] == card.kid and "d" not in beijing["shc"][0]["jwk"]
    shanghai = next(i for i in doc["payload"]["issuers"] if i["code"] == "310000")
    assert shanghai["dcc"] == [] and shanghai["shc"] == []
    store = trust_store_from_list(
        doc, at=ec_svc.now(), production=False, clock_skew_seconds=30, anchors=ec_svc.anchor_keys()
    )
    assert ec_svc.verify([dcc.text], trust=store).verdict == "valid"
    assert ec_svc.verify([card.text], trust=store).verdict == "valid"
    # a DSC swapped for another certificate under the listed kid breaks the list
    other = next(i for i in doc["payload"]["issuers"] if i["code"] == "110000")
    other["dcc"][0]["kid"] = base64.b64encode(b"\0" * 8).decode()
    from healthcode.errors import TrustListInvalid

    with pytest.raises(TrustListInvalid):
        trust_store_from_list(
            doc,
            at=ec_svc.now(),
            production=False,
            clock_skew_seconds=30,
            anchors=ec_svc.anchor_keys(),
        )


def test_dsc_certificate_and_keys(ec_svc):
    hid = holder(ec_svc)
    cert = ec_svc.issue_certificate(hid, kind="vaccination", format="hc1")
    with ec_svc.db.session() as s:
        rows = {
            k.purpose: k
            for k in s.execute(
                select(SigningKey).where(SigningKey.issuer_code == "110000")
            ).scalars()
        }
    dsc = x509.load_der_x509_certificate(rows["dcc"].certificate)
    csca = x509.load_der_x509_certificate(rows["dcc-csca"].certificate)
    assert rows["dcc"].demo and rows["dcc-csca"].demo and "shc" not in rows  # made on first use
    assert base64.b64encode(hcert.certificate_kid(dsc)).decode() == cert.kid
    assert rows["dcc"].kid == hcert.certificate_kid(dsc).hex()
    dsc.verify_directly_issued_by(csca)
    assert csca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert hcert.allowed_types(dsc) == {"v", "t"}
    assert (
        dsc.subject.rfc4514_string() == "CN=healthcode DSC 北京市 (110000) DEMO,O=healthcode,C=XH"
    )
    assert (dsc.not_valid_after_utc - dsc.not_valid_before_utc).days >= 2 * 365


def test_issue_is_audited_without_the_payload(ec_svc):
    hid = holder(ec_svc)
    cert = ec_svc.issue_certificate(hid, kind="vaccination", format="hc1", actor="test")
    with ec_svc.db.session() as s:
        entries = list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())
    issued = [e for e in entries if e.tag == AuditTag.CREDENTIAL_ISSUE]
    assert issued[-1].data == {"kid": hcert.certificate_kid(
        x509.load_der_x509_certificate(_dcc_row(ec_svc).certificate)).hex(), "format": "hc1",
        "kind": "vaccination", "certificate": cert.id}  # fmt: skip
    assert any(
        e.tag == AuditTag.HOLDER_READ and e.data == {"purpose": "e-certificate"} for e in entries
    )
    dump = json.dumps([e.data for e in entries], ensure_ascii=False)
    assert "张三丰" not in dump and "三丰" not in dump and cert.text[4:40] not in dump


def _dcc_row(svc):
    with svc.db.session() as s:
        return s.execute(select(SigningKey).where(SigningKey.purpose == "dcc")).scalar_one()


def test_no_record_no_certificate(ec_svc):
    first17 = "11010519900102999"
    hid = ec_svc.enrol(name="李四", id_number=first17 + gb11643_check_char(first17),
                       phone="13912399999", region="110000")["holder_id"]  # fmt: skip
    for kind in ("vaccination", "test"):
        with pytest.raises(NoRecords):
            ec_svc.issue_certificate(hid, kind=kind, format="hc1")


def _reencode(text: str, claims_fn=None, payload_bytes=None):
    sign1 = cbor2.loads(zlib.decompress(b45decode(text[4:])))
    prot, unprot, payload, sig = sign1.value
    return cbor2.loads(payload), prot, sig


def test_foreign_and_tampered_certificates_are_refused(ec_svc):
    hid = holder(ec_svc)
    cert = ec_svc.issue_certificate(hid, kind="vaccination", format="hc1")
    report = ec_svc.verify([cert.text])
    claims = report.claims
    payload = claims["hcert"]
    at = ec_svc.now()
    # signed by a key we do not trust, even when it claims our kid
    foreign = generate_private_key("ES256")
    kid = base64.b64decode(cert.kid)
    forged = hcert.encode(payload, key=foreign, kid=kid, issuer_country="XH",
                          issued_at=at, expires_at=at + timedelta(days=30))  # fmt: skip
    bad = ec_svc.verify([forged])
    assert bad.verdict == "invalid" and bad.stages["signature"] is False
    unknown = hcert.encode(payload, key=foreign, kid=b"\1" * 8, issuer_country="XH",
                           issued_at=at, expires_at=at + timedelta(days=30))  # fmt: skip
    assert ec_svc.verify([unknown]).reasons == ["unknown-kid"]
    # the same bytes with one payload byte changed
    raw = bytearray(zlib.decompress(b45decode(cert.text[4:])))
    at_name = raw.find("三丰".encode())
    raw[at_name + 2] ^= 1
    from healthcode.credentials.base45 import b45encode

    tampered = "HC1:" + b45encode(zlib.compress(bytes(raw)))
    t = ec_svc.verify([tampered])
    assert t.verdict == "invalid" and t.stages["signature"] is False
    # SHC: a foreign key under our iss, and a changed payload
    card = ec_svc.issue_certificate(hid, kind="vaccination", format="shc")
    jws = shc.numeric_to_jws(card.text[5:])
    _h, body, _s, _ = shc.split_jws(jws)
    doc = json.loads(shc.inflate(body))
    other = ec.generate_private_key(ec.SECP256R1())
    foreign_card = shc.encode(doc["vc"], key=other, issuer=doc["iss"], issued_at=at)
    assert ec_svc.verify([foreign_card.qr_text]).reasons == ["unknown-kid"]
    doc["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["birthDate"] = "1980-01-01"
    header_b64, _, sig_b64 = jws.split(".")
    swapped = shc.encode_jws(doc, key=other, kid=card.kid).split(".")
    tampered_card = f"{header_b64}.{swapped[1]}.{sig_b64}"
    assert ec_svc.verify([tampered_card]).reasons == ["signature-invalid"]


def test_production_store_leaves_demo_e_certificate_keys_out(ec_svc, db_url):
    hid = holder(ec_svc)
    cert = ec_svc.issue_certificate(hid, kind="test", format="hc1")
    from healthcode.issuers.service import trust_store_from_db

    with ec_svc.db.session() as s:
        store = trust_store_from_db(s, at=ec_svc.now(), production=True, clock_skew_seconds=30,
                                    public_url=PUBLIC_URL)  # fmt: skip
    assert store.dcc == {} and store.shc == {}
    assert ec_svc.verify([cert.text], trust=store).reasons == ["unknown-kid"]


def test_loopback_issuer_is_a_warning_locally_and_refused_in_production(db_url, fixed_clock):
    from healthcode.config import Settings

    app = HealthCode(Settings(db=db_url), clock=fixed_clock)  # default http://127.0.0.1:8000
    try:
        hid = holder(app)
        card = app.issue_certificate(hid, kind="test", format="shc")
        report = app.verify([card.text])
        assert report.verdict == "valid" and sorted(report.warnings) == ["demo", "iss-not-https"]
        trust = app.trust_store()
        strict = replace(trust, production=True)
        refused = app.verify([card.text], trust=strict)
        assert refused.reasons == ["payload-invalid"]
    finally:
        app.close()


def test_dsc_close_to_its_end_is_replaced_in_local_mode(ec_svc):
    hid = holder(ec_svc)
    first = ec_svc.issue_certificate(hid, kind="test", format="hc1")
    ec_svc.clock.advance(400 * 86400)  # the DSC has less than a year left
    second = ec_svc.issue_certificate(hid, kind="test", format="hc1")
    assert second.kid != first.kid
    with ec_svc.db.session() as s:
        statuses = sorted(
            k.status
            for k in s.execute(select(SigningKey).where(SigningKey.purpose == "dcc")).scalars()
        )
    assert statuses == ["active", "rotated"]
    assert ec_svc.verify([second.text]).verdict == "valid"


def test_production_needs_keys_made_on_purpose_and_https(db_url, fixed_clock):
    import os

    from healthcode.config import Settings
    from healthcode.errors import ConfigError, NotFound
    from healthcode.issuers import service as isv

    settings = Settings(db=db_url, environment="prod", master_key=os.urandom(32),
                        public_url=PUBLIC_URL)  # fmt: skip
    app = HealthCode(settings, clock=fixed_clock)
    try:
        hid = holder(app)
        with pytest.raises(NotFound, match="keys create 110000 --purpose dcc"):
            app.issue_certificate(hid, kind="test", format="hc1")
        with app.db.session() as s:
            isv.create_key(s, issuer="110000", purpose="dcc", master=settings.master_key,
                           at=app.now(), actor="test")  # fmt: skip
        cert = app.issue_certificate(hid, kind="test", format="hc1")
        report = app.verify([cert.text])
        assert report.verdict == "valid" and "DEMO" not in report.claims["hcert"]["t"][0]["is"]
        with pytest.raises(ConfigError):
            HealthCode(replace(settings, public_url="http://127.0.0.1:8000"), clock=fixed_clock,
                       db=app.db).issue_certificate(hid, kind="test", format="shc")  # fmt: skip
    finally:
        app.close()
