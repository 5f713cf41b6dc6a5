"""SMART Health Cards: the real failure classes of issue 4 and the edges, on cards minted here."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from healthcode.credentials import shc
from healthcode.credentials.errors import ChunksInvalid, IssuerKeysInvalid, RevocationListInvalid
from healthcode.credentials.pipeline import verify
from healthcode.credentials.report import VerificationReport
from healthcode.credentials.trust import TrustStore
from healthcode.credentials.trustload import load_shc_crls, load_shc_keysets

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
#: Incompressible text that pushes a card past one QR (so chunking is needed).
NOISE = base64.urlsafe_b64encode(hashlib.shake_256(b"noise").digest(900)).decode()
ISS = "https://issuer.example.org/shc"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    def __init__(self, iss: str = ISS) -> None:
        self.iss = iss
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk: dict[str, Any] = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u(numbers.x.to_bytes(32, "big")),
            "y": b64u(numbers.y.to_bytes(32, "big")),
            "use": "sig",
            "alg": "ES256",
        }
        self.jwk["kid"] = shc.jwk_thumbprint(self.jwk)
        self.trust = TrustStore(shc={iss: [self.jwk]})

    def payload(self, **overrides: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "iss": self.iss,
            "nbf": (AT - timedelta(days=1)).timestamp(),
            "vc": {
                "type": [shc.HEALTH_CARD, "https://smarthealth.cards#immunization"],
                "credentialSubject": {
                    "fhirVersion": "4.0.1",
                    "fhirBundle": {
                        "resourceType": "Bundle",
                        "type": "collection",
                        "entry": [
                            {
                                "fullUrl": "resource:0",
                                "resource": {
                                    "resourceType": "Patient",
                                    "name": [{"family": "Zhang", "given": ["San"]}],
                                    "birthDate": "1990-01-02",
                                },
                            },
                            {
                                "fullUrl": "resource:1",
                                "resource": {
                                    "resourceType": "Immunization",
                                    "status": "completed",
                                    "vaccineCode": {
                                        "coding": [
                                            {"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}
                                        ]
                                    },
                                    "patient": {"reference": "resource:0"},
                                    "occurrenceDateTime": "2024-03-01",
                                },
                            },
                        ],
                    },
                },
            },
        }
        doc.update(overrides)
        return doc

    def jws(
        self, payload: dict[str, Any] | None = None, *, header: dict[str, Any] | None = None
    ) -> str:
        head = (
            header if header is not None else {"zip": "DEF", "alg": "ES256", "kid": self.jwk["kid"]}
        )
        raw = json.dumps(payload or self.payload(), separators=(",", ":")).encode()
        deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = deflater.compress(raw) + deflater.flush()
        signing_input = f"{b64u(json.dumps(head).encode())}.{b64u(body)}"
        r, s = decode_dss_signature(
            self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        )
        return f"{signing_input}.{b64u(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def qr(self, payload: dict[str, Any] | None = None) -> str:
        return "shc:/" + shc.jws_to_numeric(self.jws(payload))


def chunks(jws: str, n: int) -> list[str]:
    size = -(-len(jws) // n)
    parts = [jws[i : i + size] for i in range(0, len(jws), size)]
    return [f"shc:/{i + 1}/{len(parts)}/{shc.jws_to_numeric(p)}" for i, p in enumerate(parts)]


def check(texts: list[str] | str, trust: TrustStore, at: datetime = AT) -> VerificationReport:
    return verify(texts, trust=trust, at=at)


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


def test_valid_card_numeric_and_bare_jws(issuer: Issuer) -> None:
    report = check(issuer.qr(), issuer.trust)
    assert report.verdict == "valid" and not report.warnings, report.to_dict()
    assert report.holder["name"] == "San Zhang" and report.type == "vaccination"
    bare = check(issuer.jws(), issuer.trust)
    assert bare.verdict == "valid" and bare.stages["prefix"] is None


def test_upper_case_scheme_accepted(issuer: Issuer) -> None:
    assert check("SHC:/" + issuer.qr()[5:], issuer.trust).verdict == "valid"


def test_tampered_signature_fails(issuer: Issuer) -> None:
    head, body, sig = issuer.jws().split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[10] ^= 1
    report = check(f"{head}.{body}.{b64u(bytes(raw))}", issuer.trust)
    assert report.stages["signature"] is False and "signature-invalid" in report.reasons


def test_tampered_payload_fails(issuer: Issuer) -> None:
    other = issuer.jws(issuer.payload(nbf=AT.timestamp() - 5)).split(".")[1]
    head, _, sig = issuer.jws().split(".")
    assert check(f"{head}.{other}.{sig}", issuer.trust).stages["signature"] is False


def test_der_signature_refused(issuer: Issuer) -> None:
    head, body, _ = issuer.jws().split(".")
    der = issuer.key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    report = check(f"{head}.{body}.{b64u(der)}", issuer.trust)
    assert report.stages["signature"] is False


def test_nbf_in_milliseconds_flagged(issuer: Issuer) -> None:
    payload = issuer.payload(nbf=(AT - timedelta(days=1)).timestamp() * 1000)
    report = check(issuer.qr(payload), issuer.trust)
    assert "nbf-milliseconds" in report.warnings
    assert report.stages["expiry"] is True


def test_not_yet_valid_and_expired(issuer: Issuer) -> None:
    future = check(
        issuer.qr(issuer.payload(nbf=(AT + timedelta(hours=1)).timestamp())), issuer.trust
    )
    assert future.reasons == ["not-yet-valid"] and future.stages["signature"] is True
    old = issuer.payload(exp=(AT - timedelta(seconds=1)).timestamp())
    assert check(issuer.qr(old), issuer.trust).reasons == ["expired"]


def test_chunks_in_any_order_accepted_with_a_warning(issuer: Issuer) -> None:
    big = issuer.payload()
    big["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["name"][0]["given"] = [
        NOISE
    ]
    parts = chunks(issuer.jws(big), 2)
    report = check([parts[1], parts[0]], issuer.trust)
    assert report.verdict == "valid", report.to_dict()
    assert "qr-chunking-deprecated" in report.warnings


@pytest.mark.parametrize(
    "pick",
    [
        lambda p: [p[0], p[0]],  # duplicated, the second missing
        lambda p: [p[0]],  # missing
        lambda p: [p[0], p[1].replace("shc:/2/2/", "shc:/3/2/")],  # out of range
        lambda p: [p[0], p[1].replace("shc:/2/2/", "shc:/0/2/")],  # index zero
        lambda p: [p[0], p[1], p[1]],  # duplicated
        lambda p: [p[0], p[1].replace("shc:/2/2/", "shc:/2/3/")],  # totals disagree
    ],
)
def test_chunks_duplicated_missing_or_out_of_range_rejected(issuer: Issuer, pick) -> None:
    big = issuer.payload()
    big["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["name"][0]["given"] = [
        NOISE
    ]
    report = check(pick(chunks(issuer.jws(big), 2)), issuer.trust)
    assert report.verdict == "invalid" and report.stages["prefix"] is False


def test_needless_chunking_rejected(issuer: Issuer) -> None:
    report = check(chunks(issuer.jws(), 2), issuer.trust)
    assert report.stages["prefix"] is False


def test_extra_vc_type_warned_missing_health_card_type_rejected(issuer: Issuer) -> None:
    extra = issuer.payload()
    extra["vc"]["type"].append("https://example.org#something-else")
    report = check(issuer.qr(extra), issuer.trust)
    assert report.verdict == "valid" and "vc-type-unknown" in report.warnings
    missing = issuer.payload()
    missing["vc"]["type"] = ["https://smarthealth.cards#immunization"]
    bad = check(issuer.qr(missing), issuer.trust)
    assert bad.stages["payload"] is False and bad.verdict == "invalid"


@pytest.mark.parametrize(
    "digits",
    ["123", "78" + "00" * 10, "12a4"],  # odd count, pair above 77, not a digit
)
def test_numeric_errors(issuer: Issuer, digits: str) -> None:
    assert check("shc:/" + digits, issuer.trust).stages["numeric"] is False


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "ES256", "kid": "k"},  # no zip
        {"zip": "DEF", "alg": "ES256"},  # no kid
        {"zip": "DEF", "alg": "none", "kid": "k"},
        {"zip": "DEF", "alg": "HS256", "kid": "k"},
    ],
)
def test_bad_jws_headers_rejected(issuer: Issuer, header: dict[str, Any]) -> None:
    assert check(issuer.jws(header=header), issuer.trust).stages["jws"] is False


def test_keys_looked_up_by_iss_never_by_kid_alone(issuer: Issuer) -> None:
    forged = issuer.payload(iss="https://other-issuer.example.org")
    report = check(issuer.qr(forged), issuer.trust)
    assert report.stages["signer"] is False and report.reasons == ["unknown-issuer"]


def test_wrong_kid_is_unknown_signer(issuer: Issuer) -> None:
    header = {"zip": "DEF", "alg": "ES256", "kid": "not-the-kid"}
    assert check(issuer.jws(header=header), issuer.trust).reasons == ["unknown-kid"]


def test_refused_key_set_keeps_its_cards_out(tmp_path: Path, issuer: Issuer) -> None:
    bad = dict(issuer.jwk, kid="ThisIsNotTheThumbprint")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [bad]}))
    trust = load_shc_keysets([(ISS, path)])
    assert ISS in trust.shc_errors and ISS not in trust.shc
    report = check(issuer.qr(), trust)
    assert report.reasons == ["issuer-keys-invalid"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kty": "RSA"}, "kty"),
        ({"crv": "P-384"}, "crv"),
        ({"alg": "ES384"}, "alg"),
        ({"use": "enc"}, "use"),
        ({"d": "AAAA"}, "private"),
        ({"kid": "x"}, "thumbprint"),
    ],
)
def test_key_set_validation(issuer: Issuer, change: dict[str, Any], message: str) -> None:
    with pytest.raises(IssuerKeysInvalid, match=message):
        shc.validate_keyset({"keys": [dict(issuer.jwk, **change)]}, iss=ISS)


def _x5c_for(issuer: Issuer, san: x509.GeneralName | None) -> list[str]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    now = AT - timedelta(days=1)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Issuer")]))
        .issuer_name(ca_name)
        .public_key(issuer.key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
    )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
    leaf = builder.sign(ca_key, hashes.SHA256())
    return [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in (leaf, ca)]


def test_x5c_chain_checked(issuer: Issuer) -> None:
    good = dict(issuer.jwk, x5c=_x5c_for(issuer, x509.UniformResourceIdentifier(ISS)))
    assert shc.validate_keyset({"keys": [good]}, iss=ISS)
    with pytest.raises(IssuerKeysInvalid, match="not"):
        shc.validate_keyset({"keys": [good]}, iss="https://elsewhere.example.org")
    no_san = dict(issuer.jwk, x5c=_x5c_for(issuer, None))
    with pytest.raises(IssuerKeysInvalid, match="subject alternative name"):
        shc.validate_keyset({"keys": [no_san]}, iss=ISS)
    dns = dict(issuer.jwk, x5c=_x5c_for(issuer, x509.DNSName("issuer.example.org")))
    with pytest.raises(IssuerKeysInvalid, match="URI"):
        shc.validate_keyset({"keys": [dns]}, iss=ISS)
    broken = dict(good, x5c=[good["x5c"][0], _x5c_for(issuer, None)[1]])
    with pytest.raises(IssuerKeysInvalid, match="chain"):
        shc.validate_keyset({"keys": [broken]}, iss=ISS)


def _crl(tmp_path: Path, kid: str, **fields: Any) -> Path:
    doc = {"kid": kid, "method": "rid", "ctr": 1, "rids": []}
    doc.update(fields)
    path = tmp_path / f"{kid}.json"
    path.write_text(json.dumps(doc))
    return path


def test_revocation_by_rid_with_timestamp(tmp_path: Path, issuer: Issuer) -> None:
    nbf = (AT - timedelta(days=1)).timestamp()
    payload = issuer.payload(nbf=nbf)
    payload["vc"]["rid"] = "abcDEF_-123"
    kid = issuer.jwk["kid"]
    revoked = load_shc_crls(
        [_crl(tmp_path, kid, rids=[f"abcDEF_-123.{int(nbf) + 10}"])],
        trust=TrustStore(shc=issuer.trust.shc),
    )
    assert check(issuer.qr(payload), revoked).reasons == ["revoked"]
    later = load_shc_crls(
        [_crl(tmp_path, kid, rids=[f"abcDEF_-123.{int(nbf) - 10}"])],
        trust=TrustStore(shc=issuer.trust.shc),
    )
    assert check(issuer.qr(payload), later).stages["revocation"] is True


@pytest.mark.parametrize(
    "fields",
    [
        {"method": "other"},
        {"rids": ["bad rid!"]},
        {"rids": ["a.1", "a.2"]},
        {"rids": ["x" * 25]},
        {"ctr": 2},
    ],
)
def test_unusable_crl_blocks_acceptance(tmp_path: Path, issuer: Issuer, fields) -> None:
    jwk = dict(issuer.jwk, crlVersion=1)
    trust = load_shc_crls(
        [_crl(tmp_path, jwk["kid"], **fields)], trust=TrustStore(shc={ISS: [jwk]})
    )
    report = check(issuer.qr(), trust)
    assert report.stages["revocation"] is False and report.verdict == "invalid"
    with pytest.raises(RevocationListInvalid):
        shc.parse_crl(_crl(tmp_path, jwk["kid"], **fields).read_bytes(), keys=[jwk])


def test_health_card_file_strict(issuer: Issuer) -> None:
    data = json.dumps({"verifiableCredential": [issuer.jws(), issuer.jws()]}).encode()
    reports = shc.verify_file(data, name="card.smart-health-card", trust=issuer.trust, at=AT)
    assert [r.verdict for r in reports] == ["valid", "valid"]
    assert shc.verify_file(data + b"\n ", trust=issuer.trust, at=AT)[0].verdict == "invalid"
    other = shc.verify_file(data, name="card.json", trust=issuer.trust, at=AT)
    assert "file-extension-unexpected" in other[0].warnings


def test_payload_with_bom_or_trailing_characters_rejected(issuer: Issuer) -> None:
    with pytest.raises(Exception, match="before or after"):
        shc.parse_payload(b"\xef\xbb\xbf" + json.dumps(issuer.payload()).encode())


def test_fhir_shape_checked(issuer: Issuer) -> None:
    payload = issuer.payload()
    payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][1]["resource"]["status"] = (
        "entered-in-error"
    )
    assert check(issuer.qr(payload), issuer.trust).stages["fhir"] is False
    empty = issuer.payload()
    empty["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["birthDate"] = ""
    assert check(issuer.qr(empty), issuer.trust).stages["fhir"] is False
    meta = issuer.payload()
    meta["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["meta"] = {"id": "x"}
    report = check(issuer.qr(meta), issuer.trust)
    assert report.verdict == "valid" and "fhir-meta-not-minimised" in report.warnings


def test_join_chunks_refuses_too_many() -> None:
    report = VerificationReport.start("shc", shc.STAGES)
    with pytest.raises(ChunksInvalid):
        shc.join_chunks([f"shc:/{i}/20/00" for i in range(1, 21)], report)


def test_inflate_is_bounded() -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflater.compress(b"\0" * (shc.MAX_PAYLOAD_BYTES + 1)) + deflater.flush()
    with pytest.raises(Exception, match="exceeds"):
        shc.inflate(bomb)


# --- bad input never escapes as an exception (the fuzz job runs this for minutes) ------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789/shc:", max_size=300), min_size=1, max_size=3))
def test_any_numeric_text_gives_a_report(parts: list[str]) -> None:
    report = verify(["shc:/" + p for p in parts], trust=TrustStore(), at=AT)
    assert report.verdict == "invalid"
    json.dumps(report.to_dict())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_any_file_bytes_give_a_report(data: bytes) -> None:
    for report in shc.verify_file(data, trust=TrustStore(), at=AT):
        assert report.verdict == "invalid"
