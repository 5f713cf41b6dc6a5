"""Crafted inputs of a bad-input attack: each gave a wrong verdict or an exception.

Every credential here is signed by a key made in the test (a self-made DSC for ``HC1:``,
a self-made issuer key set for ``shc:/``): what is checked is that hostile *signed*
data gets a report — invalid with a stable reason — that strict JSON accepts.
"""

from __future__ import annotations

import json
import math
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode.credentials import hcert, shc
from healthcode.credentials.base45 import b45encode
from healthcode.credentials.inputs import from_bytes
from healthcode.credentials.pipeline import VerifyOptions, verify
from healthcode.credentials.report import VerificationReport, json_safe
from healthcode.credentials.trust import TrustStore
from tests.unit.credentials.test_hcert import vaccination

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ISS = "https://atk.example/issuer"


def strict_dumps(report: VerificationReport) -> str:
    return json.dumps(report.to_dict(), allow_nan=False)


# --- HC1: factories -----------------------------------------------------------------
def make_cert(key: Any) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Atk DSC")])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(AT - timedelta(days=365))
        .not_valid_after(AT + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


DCC_KEY = ec.generate_private_key(ec.SECP256R1())
DCC_CERT = make_cert(DCC_KEY)
KID = hcert.certificate_kid(DCC_CERT)


def dcc_trust(cert: x509.Certificate = DCC_CERT) -> TrustStore:
    return TrustStore(dcc={hcert.certificate_kid(cert): [cert]})


def payload(**over: Any) -> dict[str, Any]:
    """A valid vaccination payload (the factory of ``test_hcert``), fields overridden."""
    return vaccination(**over)


def claims(pl: Any = None, *, iat: Any = None, exp: Any = None) -> bytes:
    iat = int((AT - timedelta(days=1)).timestamp()) if iat is None else iat
    exp = int((AT + timedelta(days=30)).timestamp()) if exp is None else exp
    return cbor2.dumps({1: "CN", 4: exp, 6: iat, -260: {1: payload() if pl is None else pl}})


def ecdsa_raw(key: Any, data: bytes, digest: Any, size: int) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def sign1(
    claims_b: bytes,
    *,
    prot_bytes: bytes | None = None,
    key: Any = DCC_KEY,
    alg: int = -7,
    kid: bytes = KID,
    wrap: Any = None,
) -> bytes:
    prot_b = cbor2.dumps({1: alg, 4: kid}) if prot_bytes is None else prot_bytes
    tbs = cbor2.dumps(["Signature1", prot_b, b"", claims_b])
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        sig = key.sign(tbs, pss, hashes.SHA256())
    elif alg == -35:
        sig = ecdsa_raw(key, tbs, hashes.SHA384(), 48)
    else:
        sig = ecdsa_raw(key, tbs, hashes.SHA256(), (key.curve.key_size + 7) // 8)
    body = cbor2.dumps(cbor2.CBORTag(18, [prot_b, {}, claims_b, sig]))
    return wrap(body) if wrap else body


def hc1(cose_bytes: bytes) -> str:
    return "HC1:" + b45encode(zlib.compress(cose_bytes, 9))


def check_hc1(text: str, trust: TrustStore | None = None) -> VerificationReport:
    report = verify(text, trust=trust or dcc_trust(), at=AT)
    strict_dumps(report)
    return report


def test_the_factory_makes_a_valid_code() -> None:
    report = check_hc1(hc1(sign1(claims())))
    assert report.verdict == "valid", report.to_dict()


# --- 1. impossible times --------------------------------------------------------------
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("claim", ["iat", "exp"])
def test_hc1_nan_or_infinite_times_are_claims_invalid(claim: str, bad: float) -> None:
    report = check_hc1(hc1(sign1(claims(**{claim: bad}))))
    assert report.verdict == "invalid"
    assert report.failures.get("expiry") == "claims-invalid"


def test_hc1_huge_times_do_not_overflow() -> None:
    report = check_hc1(hc1(sign1(claims(exp=10**5000))))
    assert report.verdict == "valid"  # far in the future: still a comparison, no overflow
    report = check_hc1(hc1(sign1(claims(iat=10**5000))))
    assert report.failures.get("expiry") == "not-yet-valid"


def test_hc1_finite_float_times_are_read() -> None:
    report = check_hc1(hc1(sign1(claims(iat=float(AT.timestamp() - 60)))))
    assert report.verdict == "valid"


# --- 2. crashes on crafted payloads -----------------------------------------------------
@pytest.mark.parametrize("v", [5, 1.5, True, "text", {"a": 1}])
def test_hc1_entries_that_are_not_a_list_give_a_report(v: Any) -> None:
    report = check_hc1(hc1(sign1(claims(payload(v=v)))))
    assert report.to_dict()["details"]["certificate"] == []


def test_hc1_huge_integers_nan_and_bytes_serialise() -> None:
    entry = {"dn": 10**5000, "sd": math.nan, "x": b"\x00\x01", "y": math.inf}
    report = check_hc1(hc1(sign1(claims(payload(v=[entry])))))
    (item,) = report.to_dict()["details"]["certificate"]
    assert item["dn"].startswith("<integer of")
    assert (item["sd"], item["y"]) == ("NaN", "Infinity")
    prot = cbor2.dumps({1: 10**5000, 4: KID})  # a huge alg in the protected header
    report = check_hc1(hc1(sign1(claims(), prot_bytes=prot)))
    assert report.verdict == "invalid"


def test_json_safe_copies() -> None:
    details: dict[str, Any] = {"a": [1, (2, 3)], 5: {b"k": b"v"}, "n": -math.inf}
    safe = json_safe(details)
    assert safe == {"a": [1, [2, 3]], "5": {"aw==": "dg=="}, "n": "-Infinity"}
    assert safe is not details


# --- 4. duplicates and leniency in signed data ------------------------------------------
def test_hc1_duplicate_claim_keys_refused() -> None:
    good = claims()
    # {1: "CN", 4: exp, 6: iat, -260: …} with 4 (exp) given twice: the map says 5 pairs
    exp_far = cbor2.dumps(4) + cbor2.dumps(int((AT + timedelta(days=3650)).timestamp()))
    dup = bytes([good[0] + 1]) + good[1:] + exp_far
    assert len(cbor2.loads(dup)) == 4  # cbor2's default: the last one wins
    report = check_hc1(hc1(sign1(dup)))
    assert report.failures.get("cbor") == "cbor-invalid"


def test_hc1_duplicate_protected_header_keys_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    prot = b"\xa3" + cbor2.dumps(1)[0:1] + cbor2.dumps(-7) + b"\x04" + cbor2.dumps(KID)
    prot += b"\x04" + cbor2.dumps(b"otherkid")
    assert cbor2.loads(prot)[4] == b"otherkid"
    report = check_hc1(hc1(sign1(claims(), prot_bytes=prot, key=other)))
    assert report.failures.get("cose") == "cose-invalid"


def test_hc1_byte_after_the_protected_header_refused() -> None:
    prot = cbor2.dumps({1: -7, 4: KID}) + b"\x00"
    report = check_hc1(hc1(sign1(claims(), prot_bytes=prot)))
    assert report.failures.get("cose") == "cose-invalid"


def test_hc1_self_described_tag_refused() -> None:
    report = check_hc1(hc1(sign1(claims(), wrap=lambda b: b"\xd9\xd9\xf7" + b)))
    assert report.failures.get("cose") == "cose-invalid"
    tagged_61 = check_hc1(hc1(sign1(claims(), wrap=lambda b: b"\xd8\x3d" + b)))
    assert tagged_61.verdict == "valid"  # tag 61 around tag 18 stays accepted


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (ec.generate_private_key(ec.SECP256R1()), -35),  # ES384 over a P-256 signer
        (ec.generate_private_key(ec.SECP256K1()), -7),  # ES256 over secp256k1
        (ec.generate_private_key(ec.SECP384R1()), -7),  # ES256 over P-384
        (rsa.generate_private_key(public_exponent=65537, key_size=1024), -37),  # noqa: S505  # weak PS256
    ],
    ids=["es384-p256", "es256-secp256k1", "es256-p384", "ps256-rsa1024"],
)
def test_hc1_algorithm_key_mismatch_refused(key: Any, alg: int) -> None:
    cert = make_cert(key)
    kid = hcert.certificate_kid(cert)
    report = check_hc1(hc1(sign1(claims(), key=key, alg=alg, kid=kid)), dcc_trust(cert))
    assert report.verdict == "invalid"
    assert report.failures.get("signature") == "unsupported-algorithm"


@pytest.mark.parametrize(
    ("curve", "alg"), [(ec.SECP384R1(), -35), (ec.SECP256R1(), -7)], ids=["es384", "es256"]
)
def test_hc1_matching_curves_still_accepted(curve: Any, alg: int) -> None:
    key = ec.generate_private_key(curve)
    cert = make_cert(key)
    kid = hcert.certificate_kid(cert)
    report = check_hc1(hc1(sign1(claims(), key=key, alg=alg, kid=kid)), dcc_trust(cert))
    assert report.verdict == "valid", report.to_dict()


# --- SHC factories ------------------------------------------------------------------------
SHC_KEY = ec.generate_private_key(ec.SECP256R1())
JWK = shc.public_jwk(SHC_KEY.public_key())


def shc_trust() -> TrustStore:
    return TrustStore(shc={ISS: [JWK]})


def bundle(**patient_over: Any) -> dict[str, Any]:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Anyperson", "given": ["John", "B."]}],
        "birthDate": "1951-01-20",
    }
    patient.update(patient_over)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "resource:0", "resource": patient},
            {
                "fullUrl": "resource:1",
                "resource": {
                    "resourceType": "Immunization",
                    "status": "completed",
                    "vaccineCode": {
                        "coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}]
                    },
                    "patient": {"reference": "resource:0"},
                    "occurrenceDateTime": "2021-01-01",
                },
            },
        ],
    }


def card(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "iss": ISS,
        "nbf": int(AT.timestamp()) - 3600,
        "vc": {
            "type": ["https://smarthealth.cards#health-card"],
            "credentialSubject": {"fhirVersion": "4.0.1", "fhirBundle": bundle()},
        },
    }
    doc.update(over)
    return doc


def jws_raw(body: bytes, header: bytes | None = None) -> str:
    head = header or json.dumps({"alg": "ES256", "zip": "DEF", "kid": JWK["kid"]}).encode()
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    signing_input = (
        f"{shc.b64url_encode(head)}.{shc.b64url_encode(deflater.compress(body) + deflater.flush())}"
    )
    sig = ecdsa_raw(SHC_KEY, signing_input.encode("ascii"), hashes.SHA256(), 32)
    return f"{signing_input}.{shc.b64url_encode(sig)}"


def jws(doc: Any) -> str:
    return jws_raw(json.dumps(doc).encode())


def qr(jws_text: str) -> str:
    return "shc:/" + shc.jws_to_numeric(jws_text)


def check_shc(texts: list[str] | str) -> VerificationReport:
    report = verify(texts, trust=shc_trust(), at=AT)
    strict_dumps(report)
    return report


def test_the_shc_factory_makes_a_valid_card() -> None:
    assert check_shc(qr(jws(card()))).verdict == "valid"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("claim", ["nbf", "exp"])
def test_shc_nan_and_infinity_refused(claim: str, constant: str) -> None:
    body = json.dumps(card(**{claim: 1})).replace(f'"{claim}": 1', f'"{claim}": {constant}')
    report = check_shc(qr(jws_raw(body.encode())))
    assert report.failures.get("payload") == "payload-invalid"


def test_shc_huge_nbf_refused() -> None:
    body = json.dumps(card(nbf=1)).replace('"nbf": 1', '"nbf": 1' + "0" * 400)
    report = check_shc(qr(jws_raw(body.encode())))
    assert report.failures.get("payload") == "payload-invalid"


@pytest.mark.parametrize("odd", [{}, [], 5, None])
def test_shc_vc_type_not_strings_refused(odd: Any) -> None:
    doc = card()
    doc["vc"]["type"].append(odd)
    report = check_shc(qr(jws(doc)))
    assert report.failures.get("payload") == "payload-invalid"


def test_shc_nan_in_vc_type_refused() -> None:
    doc = card()
    doc["vc"]["type"].append("X")
    body = json.dumps(doc).replace('"X"', "NaN")
    assert check_shc(qr(jws_raw(body.encode()))).failures.get("payload") == "payload-invalid"


@pytest.mark.parametrize("given_", [5, "John", {"a": 1}, None])
def test_shc_odd_given_names_give_a_report(given_: Any) -> None:
    doc = card()
    doc["vc"]["credentialSubject"]["fhirBundle"] = bundle(name=[{"family": "A", "given": given_}])
    report = check_shc(qr(jws(doc)))
    assert report.holder["given_name"] is None


def test_shc_duplicate_jws_header_member_refused() -> None:
    head = b'{"alg":"none","alg":"ES256","zip":"DEF","kid":"' + JWK["kid"].encode() + b'"}'
    report = check_shc(qr(jws_raw(json.dumps(card()).encode(), header=head)))
    assert report.failures.get("jws") == "jws-invalid"


def test_shc_duplicate_payload_member_refused() -> None:
    body = json.dumps(card())[:-1] + ', "nbf": 1}'
    report = check_shc(qr(jws_raw(body.encode())))
    assert report.failures.get("payload") == "payload-invalid"


# --- 5. chunk numbers ---------------------------------------------------------------
@pytest.mark.parametrize("header", ["0/1", "7/1", "0/0", "2/1", "00001/1"])
def test_shc_chunk_index_out_of_range_refused(header: str) -> None:
    digits = shc.jws_to_numeric(jws(card()))
    report = check_shc(f"shc:/{header}/{digits}")
    assert report.failures.get("prefix") == "chunks-invalid"


def test_shc_single_chunk_header_still_accepted() -> None:
    digits = shc.jws_to_numeric(jws(card()))
    report = check_shc(f"shc:/1/1/{digits}")
    assert report.verdict == "valid"
    assert "chunk-header-single" in report.warnings


# --- 3. .smart-health-card files ------------------------------------------------------------
def file_reports(data: bytes) -> list[VerificationReport]:
    return shc.verify_file(data, name="x.smart-health-card", trust=shc_trust(), at=AT)


def test_card_file_with_two_cards_serialises_without_a_loop() -> None:
    data = json.dumps({"verifiableCredential": [jws(card()), jws(card())]}).encode()
    reports = file_reports(data)
    assert [r.verdict for r in reports] == ["valid", "valid"]
    first = reports[0]
    # what the service does with several cards (healthcode.service.verify_scanned)
    first.details["cards"] = [r.to_dict() for r in reports]
    doc = json.loads(strict_dumps(first))
    assert "cards" not in doc["details"]["cards"][0]["details"]


def test_card_file_deeply_nested_refused() -> None:
    data = b'{"verifiableCredential": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    (report,) = file_reports(data)
    assert report.failures.get("prefix") == "payload-invalid"


def test_card_file_with_too_many_cards_refused() -> None:
    one = jws(card())
    data = json.dumps({"verifiableCredential": [one] * (shc.MAX_FILE_CARDS + 1)}).encode()
    (report,) = file_reports(data)
    assert report.failures.get("prefix") == "payload-too-large"
    assert len(file_reports(json.dumps({"verifiableCredential": [one] * 3}).encode())) == 3


def test_card_file_beside_another_input_is_several_codes(tmp_path: Path) -> None:
    from healthcode.cli.verifying import read_inputs

    path = tmp_path / "one.smart-health-card"
    path.write_text(json.dumps({"verifiableCredential": [jws(card())]}))
    alone = read_inputs([str(path)])
    assert alone.card_file is not None
    mixed = read_inputs(["HC1:GARBAGE", str(path)])
    assert mixed.card_file is None and len(mixed.texts) == 2  # the service: several-codes


# --- 6. whitespace: one rule, only a trailing CR/LF is dropped ------------------------------------
def test_only_a_trailing_newline_is_dropped() -> None:
    text = hc1(sign1(claims()))
    assert check_hc1(text + "\r\n").verdict == "valid"
    assert from_bytes((text + "\n").encode()).texts == [text]
    for padded in ("  " + text, "\t" + text, text + " "):
        report = check_hc1(padded)
        assert report.verdict == "invalid"
    assert check_hc1("  " + text).failures.get("prefix") == "unknown-format"


# --- any signed JSON-ish payload gives a strict-JSON report ---------------------------------
_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_jsonish = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_names = st.sampled_from(["v", "t", "r", "nam", "dob", "ver", "fn", "gn", "dt", "ci", "tg"])
_payloads = st.dictionaries(_names | st.text(max_size=4), _jsonish, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pl=_payloads, iat=_leaves, exp=_leaves)
def test_any_signed_hc1_payload_gives_a_strict_json_report(pl: Any, iat: Any, exp: Any) -> None:
    report = check_hc1(hc1(sign1(claims(pl, iat=iat, exp=exp))))
    assert report.format == "hc1"


_shc_names = st.sampled_from(["iss", "nbf", "exp", "vc", "type", "credentialSubject", "fhirBundle"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=st.dictionaries(_shc_names | st.text(max_size=4), _jsonish, max_size=5), nbf=_leaves)
def test_any_signed_shc_payload_gives_a_strict_json_report(extra: Any, nbf: Any) -> None:
    doc = card()
    doc["vc"]["credentialSubject"].update(extra)
    doc["vc"].update({k: v for k, v in extra.items() if k in ("type", "rid")})
    doc["nbf"] = nbf
    body = json.dumps(doc)  # NaN / Infinity written as JSON's extension: must be refused
    report = check_shc(qr(jws_raw(body.encode())))
    assert report.format == "shc"


# --- HP1: the same strict CBOR for our own codes ----------------------------------------------
def test_hp1_duplicate_claim_key_or_trailing_byte_refused() -> None:
    from healthcode.credentials import cose, native
    from healthcode.credentials.keys import generate_private_key, kid_for
    from healthcode.credentials.model import Colour, HealthCodeClaims
    from healthcode.credentials.trust import TrustedKey

    key = generate_private_key("ES256")
    kid = kid_for(key.public_key())
    trust = TrustStore(
        native={kid: TrustedKey(kid=kid, issuer="110000", alg="ES256", public_key=key.public_key())}
    )
    claims_b = native.claims_to_cbor(
        HealthCodeClaims(
            issuer="110000",
            subject="p-1",
            issued_at=AT,
            expires_at=AT + timedelta(seconds=180),
            name_masked="张*丰",
            id_tail="002X",
            colour=Colour.GREEN,
            code_name="test",
        )
    )

    def hp1(body: bytes) -> VerificationReport:
        signed = cose.encode_sign1(body, key=key, alg=cose.ALG_ES256, kid=kid)
        report = verify(native.PREFIX + b45encode(zlib.compress(signed)), trust=trust, at=AT)
        strict_dumps(report)
        return report

    assert hp1(claims_b).verdict == "valid"
    first_key = claims_b[1 : 1 + len(cbor2.dumps(next(iter(cbor2.loads(claims_b)))))]
    dup = bytes([claims_b[0] + 1]) + claims_b[1:] + first_key + cbor2.dumps("x")
    assert hp1(dup).failures.get("cbor") == "cbor-invalid"
    assert hp1(claims_b + b"\x00").failures.get("cbor") == "cbor-invalid"


# --- bounded work: many entries, and an empty rule list --------------------------------
def test_hc1_with_hundreds_of_entries_is_refused_before_the_schema() -> None:
    entries = [payload()["v"][0] for _ in range(hcert.MAX_ENTRIES + 1)]
    schemas = {"1.3.0": {"type": "object"}}  # the stage must not even be reached
    report = verify(
        hc1(sign1(claims(payload(v=entries)))),
        trust=dcc_trust(),
        at=AT,
        options=VerifyOptions(dcc_schemas=schemas),
    )
    assert report.verdict == "invalid"
    assert report.failures.get("cbor") == "payload-too-large"
    assert report.stages.get("schema") is None
    few = [payload()["v"][0] for _ in range(hcert.MAX_ENTRIES)]
    assert verify(hc1(sign1(claims(payload(v=few)))), trust=dcc_trust(), at=AT).stages["cbor"]


def test_an_empty_rule_list_says_no_rule_applied() -> None:
    options = VerifyOptions(rules=[], country="CN")
    report = verify(hc1(sign1(claims())), trust=dcc_trust(), at=AT, options=options)
    assert report.verdict == "valid"
    assert report.stages["rules"] is None
    assert "no-applicable-rules" in report.warnings
