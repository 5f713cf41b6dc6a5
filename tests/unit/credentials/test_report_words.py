"""What the verifier page needs from a report beyond the verdict: which stage failed with
which reason (``failures``), the instants of a failed validity window, DEMO e-certificate
keys (warning ``demo``), and SMART Health Cards whose revocation list was not loaded
(warning ``revocation-not-checked``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from healthcode.credentials import hcert
from healthcode.credentials.pipeline import verify
from healthcode.credentials.report import VerificationReport
from healthcode.credentials.trust import TrustStore
from healthcode.credentials.trustload import load_shc_crls
from tests.unit.credentials.test_hcert import make_cert, vaccination
from tests.unit.credentials.test_shc import ISS, Issuer

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- HC1 -------------------------------------------------------------------------------
class Dsc:
    def __init__(self, **cert_kw) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = make_cert(self.key, **cert_kw)
        self.kid = hcert.certificate_kid(self.cert)
        self.trust = TrustStore(dcc={self.kid: [self.cert]})

    def hc1(
        self, *, iat: datetime = AT - timedelta(days=1), exp: datetime = AT + timedelta(days=30)
    ) -> str:
        return hcert.encode(
            vaccination(),
            key=self.key,
            kid=self.kid,
            issuer_country="XH",
            issued_at=iat,
            expires_at=exp,
        )


def test_hc1_expired_names_the_end_of_validity_and_its_stage():
    dsc = Dsc()
    exp = datetime(2024, 4, 30, 8, 0, tzinfo=UTC)
    report = verify(dsc.hc1(iat=exp - timedelta(days=10), exp=exp), trust=dsc.trust, at=AT)
    out = report.to_dict()
    assert out["reasons"] == ["expired"]
    assert out["failures"] == {"expiry": "expired"}
    assert out["details"]["valid_until"] == "2024-04-30T08:00:00+00:00"
    assert "valid_from" not in out["details"]


def test_hc1_not_yet_valid_names_the_start():
    dsc = Dsc()
    iat = AT + timedelta(hours=3)
    out = verify(dsc.hc1(iat=iat, exp=iat + timedelta(days=1)), trust=dsc.trust, at=AT).to_dict()
    assert out["failures"] == {"expiry": "not-yet-valid"}
    assert out["details"]["valid_from"] == iat.isoformat()


def test_hc1_clock_before_the_signer_certificate_names_its_start():
    start = AT + timedelta(days=2)
    dsc = Dsc(not_before=start, not_after=start + timedelta(days=300))
    iat = start + timedelta(days=1)
    out = verify(dsc.hc1(iat=iat, exp=iat + timedelta(days=5)), trust=dsc.trust, at=AT).to_dict()
    assert out["reasons"] == ["not-yet-valid"]
    assert out["details"]["valid_from"] == iat.isoformat()  # iat is checked first
    out = verify(
        dsc.hc1(iat=AT - timedelta(days=1), exp=AT + timedelta(days=5)), trust=dsc.trust, at=AT
    ).to_dict()
    # issued before the DSC's validity: the clock is before the DSC too
    assert out["details"]["signer_valid_from"] == start.isoformat()


def test_hc1_signer_certificate_expired_names_its_end():
    end = AT - timedelta(days=3)
    dsc = Dsc(not_before=AT - timedelta(days=400), not_after=end)
    out = verify(dsc.hc1(), trust=dsc.trust, at=AT).to_dict()
    assert out["failures"] == {"signer": "signer-certificate-expired"}
    assert out["stages"]["signature"] is True
    assert out["details"]["signer_valid_until"] == end.isoformat()


def test_hc1_signed_by_a_demo_dsc_is_marked_demo():
    dsc = Dsc()
    text = dsc.hc1()
    assert "demo" not in verify(text, trust=dsc.trust, at=AT).warnings
    dsc.trust.demo_dcc.add(dsc.cert.fingerprint(hashes.SHA256()))
    report = verify(text, trust=dsc.trust, at=AT)
    assert report.verdict == "valid" and report.warnings == ["demo", "schema-unavailable"]


def test_hc1_demo_mark_needs_the_demo_dsc_to_have_signed():
    dsc, other = Dsc(), Dsc()
    # another DSC with the same kid is DEMO, but the one that verifies is not
    trust = TrustStore(dcc={dsc.kid: [other.cert, dsc.cert]})
    trust.demo_dcc.add(other.cert.fingerprint(hashes.SHA256()))
    report = verify(dsc.hc1(), trust=trust, at=AT)
    assert report.verdict == "valid" and "demo" not in report.warnings


def test_soft_stage_failure_is_a_warning_not_a_failure():
    report = VerificationReport.start(
        "hc1", ["schema", "signature"], soft_stages=frozenset({"schema"})
    )
    report.fail("schema", "schema-deviation")
    report.passed("signature")
    out = report.to_dict()
    assert out["verdict"] == "valid" and "failures" not in out
    assert out["warnings"] == ["schema-deviation"]


def test_failures_follow_stage_order_and_keep_the_first_reason():
    report = VerificationReport.start("shc", ["prefix", "signer", "expiry"])
    report.fail("expiry", "expired")
    report.fail("signer", "unknown-issuer")
    report.fail("signer", "unknown-kid")
    report.reasons.append("card-invalid")  # a reason of no stage
    out = report.to_dict()
    assert list(out["failures"].items()) == [("signer", "unknown-issuer"), ("expiry", "expired")]
    assert out["reasons"] == ["expired", "unknown-issuer", "unknown-kid", "card-invalid"]


# --- SHC -------------------------------------------------------------------------------
def _crl(tmp_path: Path, kid: str, rids: list[str]) -> Path:
    path = tmp_path / f"{kid}.json"
    path.write_text(json.dumps({"kid": kid, "method": "rid", "ctr": 1, "rids": rids}))
    return path


def test_shc_revocation_not_checked_when_the_key_announces_a_crl_and_none_is_loaded(tmp_path):
    issuer = Issuer()
    payload = issuer.payload()
    payload["vc"]["rid"] = "abcDEF_-123"
    text = issuer.qr(payload)
    # no crlVersion: the issuer revokes nothing, nothing to warn about
    plain = verify(text, trust=issuer.trust, at=AT)
    assert plain.verdict == "valid" and plain.warnings == []
    announced = TrustStore(shc={ISS: [dict(issuer.jwk, crlVersion=1)]})
    report = verify(text, trust=announced, at=AT)
    assert report.verdict == "valid"  # a warning, not a refusal
    assert report.warnings == ["revocation-not-checked"]
    assert report.stages["revocation"] is None
    # with the issuer's list loaded the card is checked: revoked, or not listed
    kid = issuer.jwk["kid"]
    revoked = load_shc_crls(
        [_crl(tmp_path, kid, ["abcDEF_-123"])],
        trust=TrustStore(shc={ISS: [dict(issuer.jwk, crlVersion=1)]}),
    )
    out = verify(text, trust=revoked, at=AT)
    assert out.reasons == ["revoked"] and "revocation-not-checked" not in out.warnings
    clean = load_shc_crls(
        [_crl(tmp_path, kid, ["otherRID"])],
        trust=TrustStore(shc={ISS: [dict(issuer.jwk, crlVersion=1)]}),
    )
    out = verify(text, trust=clean, at=AT)
    assert out.verdict == "valid" and out.warnings == [] and out.stages["revocation"] is True


def test_shc_revocation_warning_only_for_the_key_that_signed():
    issuer, other = Issuer(), Issuer()
    trust = TrustStore(shc={ISS: [issuer.jwk, dict(other.jwk, crlVersion=3)]})
    report = verify(issuer.qr(), trust=trust, at=AT)
    assert report.verdict == "valid" and report.warnings == []


def test_shc_signed_by_a_demo_key_is_marked_demo():
    issuer = Issuer()
    text = issuer.qr()
    trust = TrustStore(shc=issuer.trust.shc, demo_shc={issuer.jwk["kid"]})
    report = verify(text, trust=trust, at=AT)
    assert report.verdict == "valid" and report.warnings == ["demo"]
    forged = Issuer()  # same kid claimed, another key: no DEMO mark on a failed signature
    forged.jwk = issuer.jwk
    bad = verify(forged.qr(), trust=trust, at=AT)
    assert bad.reasons == ["signature-invalid"] and "demo" not in bad.warnings


def test_shc_expiry_names_the_instants():
    issuer = Issuer()
    nbf, exp = AT - timedelta(days=10), AT - timedelta(days=1)
    out = verify(
        issuer.qr(issuer.payload(nbf=nbf.timestamp(), exp=exp.timestamp())),
        trust=issuer.trust,
        at=AT,
    ).to_dict()
    assert out["failures"] == {"expiry": "expired"}
    assert out["details"]["valid_until"] == exp.isoformat()
    later = AT + timedelta(hours=2)
    out = verify(
        issuer.qr(issuer.payload(nbf=later.timestamp())), trust=issuer.trust, at=AT
    ).to_dict()
    assert out["failures"] == {"expiry": "not-yet-valid"}
    assert out["details"]["valid_from"] == later.isoformat()
