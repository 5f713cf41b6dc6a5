"""EU DCC ``HC1:`` verification: one test per real failure class of issue 4, and the edges.

Certificates and codes are built here with ``cryptography`` (no network, no shared data,
except the DCC schema for the schema tests).
"""

from __future__ import annotations

import json
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

from healthcode.credentials import dcc_rules, hcert
from healthcode.credentials.base45 import b45encode
from healthcode.credentials.pipeline import VerifyOptions, verify
from healthcode.credentials.trust import TrustStore
from healthcode.credentials.trustload import (
    load_dcc_certificates,
    load_dcc_schemas,
    parse_dcc_certificates,
    parse_dcc_trust_list,
)

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
OID_TEST = "1.3.6.1.4.1.1847.2021.1.1"
OID_VACC = "1.3.6.1.4.1.1847.2021.1.2"
OID_RECO_ALT = "1.3.6.1.4.1.0.1847.2021.1.3"
RULES = json.loads(
    (Path(hcert.__file__).parents[1] / "rules" / "data" / "dcc-example-rules.json").read_text()
)


# --- factories ---------------------------------------------------------------------
def make_cert(
    key: Any,
    *,
    not_before: datetime = AT - timedelta(days=365),
    not_after: datetime = AT + timedelta(days=365),
    eku: list[str] | None = None,
    name: str = "Test DSC",
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if eku is not None:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in eku]), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def vaccination(**overrides: Any) -> dict[str, Any]:
    entry = {
        "tg": "840539006",
        "vp": "1119349007",
        "mp": "EU/1/20/1528",
        "ma": "ORG-100030215",
        "dn": 2,
        "sd": 2,
        "dt": "2024-03-01",
        "co": "CN",
        "is": "healthcode test issuer",
        "ci": "URN:UVCI:01:CN:TEST0001#X",
    }
    payload: dict[str, Any] = {
        "ver": "1.3.0",
        "nam": {"fn": "Zhang", "fnt": "ZHANG", "gn": "San", "gnt": "SAN"},
        "dob": "1990-01-02",
        "v": [entry],
    }
    payload.update(overrides)
    return payload


def antigen_test(sc: str, *, result: str = "260415000") -> dict[str, Any]:
    return {
        "ver": "1.3.0",
        "nam": {"fn": "Li", "fnt": "LI", "gn": "Si", "gnt": "SI"},
        "dob": "1985-07-13",
        "t": [
            {
                "tg": "840539006",
                "tt": "LP217198-3",
                "ma": "1232",
                "sc": sc,
                "tr": result,
                "tc": "Test centre",
                "co": "DE",
                "is": "healthcode test issuer",
                "ci": "URN:UVCI:01:DE:TEST0002#Y",
            }
        ],
    }


def sign1_bytes(
    claims: bytes,
    key: Any,
    *,
    kid: bytes | None,
    alg: int = -7,
    unprotected_kid: bytes | None = None,
    tags: tuple[int, ...] = (18,),
) -> bytes:
    header: dict[int, Any] = {1: alg}
    if kid is not None:
        header[4] = kid
    prot = cbor2.dumps(header)
    tbs = cbor2.dumps(["Signature1", prot, b"", claims])
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size // 8 + (1 if key.curve.key_size % 8 else 0)
        digest = hashes.SHA256() if size == 32 else hashes.SHA384()
        r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(digest)))
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    else:
        sig = key.sign(
            tbs, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
        )
    item: Any = [prot, {4: unprotected_kid} if unprotected_kid else {}, claims, sig]
    for tag in reversed(tags):
        item = cbor2.CBORTag(tag, item)
    return cbor2.dumps(item)


def claims_bytes(payload: dict[str, Any], *, iat: datetime, exp: datetime, **extra: Any) -> bytes:
    claims: dict[int, Any] = {
        1: "CN",
        6: int(iat.timestamp()),
        4: int(exp.timestamp()),
        -260: {1: payload},
    }
    claims.update({int(k): v for k, v in extra.items()})
    return cbor2.dumps(claims)


def hc1(cose_bytes: bytes, *, after_zlib: bytes = b"") -> str:
    return "HC1:" + b45encode(zlib.compress(cose_bytes, 9) + after_zlib)


class Issuer:
    """A DSC with its key, and a trust store that trusts it."""

    def __init__(self, **cert_kw: Any) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = make_cert(self.key, **cert_kw)
        self.kid = hcert.certificate_kid(self.cert)
        self.trust = TrustStore(dcc={self.kid: [self.cert]})

    def code(
        self,
        payload: dict[str, Any] | None = None,
        *,
        iat: datetime = AT - timedelta(days=1),
        exp: datetime = AT + timedelta(days=30),
        **kw: Any,
    ) -> str:
        claims = claims_bytes(payload or vaccination(), iat=iat, exp=exp)
        return hc1(sign1_bytes(claims, self.key, kid=self.kid, **kw))


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def schema_options() -> VerifyOptions:
    from tests.support.shared import shared_path

    return VerifyOptions(dcc_schemas=load_dcc_schemas(shared_path("vectors", "dcc-schema")))


#: The value sets the example rules read (``external.valueSets``), by valueSetId.
VALUE_SETS = {
    "covid-19-lab-test-type": ["LP6464-4", "LP217198-3"],
    "vaccines-covid-19-names": ["EU/1/20/1528", "EU/1/20/1507", "EU/1/21/1529"],
}


def check(text: str, trust: TrustStore, at: datetime = AT, **opts: Any):
    if opts.get("rules"):
        opts.setdefault("value_sets", VALUE_SETS)
    return verify(text, trust=trust, at=at, options=VerifyOptions(**opts))


# --- the happy path ------------------------------------------------------------------
def test_valid_vaccination_certificate(issuer: Issuer) -> None:
    report = check(issuer.code(), issuer.trust)
    assert report.verdict == "valid", report.to_dict()
    assert report.type == "vaccination"
    assert report.holder["name"] == "San Zhang"
    assert report.holder["birth_date"] == "1990-01-02"
    assert report.stages["schema"] is None and "schema-unavailable" in report.warnings


def test_report_json_shape_is_serialisable(issuer: Issuer) -> None:
    body = check(issuer.code(), issuer.trust).to_dict()
    assert json.loads(json.dumps(body))["format"] == "hc1"
    assert list(body["stages"]) == list(hcert.STAGES)


# --- real failure classes (issue 4) ---------------------------------------------------
def test_two_signers_share_a_kid_and_the_real_one_is_second(issuer: Issuer) -> None:
    impostor = make_cert(ec.generate_private_key(ec.SECP256R1()), name="Other DSC")
    trust = TrustStore(dcc={issuer.kid: [impostor, issuer.cert]})
    report = check(issuer.code(), trust)
    assert report.verdict == "valid", report.to_dict()
    assert report.details["signer"] == "CN=Test DSC"


@pytest.mark.parametrize("text_of", [lambda c: c[4:], lambda c: "HC2:" + c[4:]])
def test_missing_or_other_prefix_is_rejected_by_default(issuer: Issuer, text_of) -> None:
    report = check(text_of(issuer.code()), issuer.trust)
    assert report.verdict == "invalid"
    assert report.stages["prefix"] is False


def test_missing_prefix_accepted_only_when_lenient(issuer: Issuer) -> None:
    bare = issuer.code()[4:]
    report = check(bare, issuer.trust, lenient_prefix=True)
    assert report.verdict == "valid" and "prefix-missing" in report.warnings
    other = check("HC2:" + bare, issuer.trust, lenient_prefix=True)
    assert other.verdict == "invalid" and "prefix-invalid" in other.reasons


def test_signer_certificate_expired_at_scan_time_has_its_own_reason() -> None:
    issuer = Issuer(not_before=AT - timedelta(days=400), not_after=AT - timedelta(days=1))
    report = check(
        issuer.code(iat=AT - timedelta(days=10), exp=AT + timedelta(days=30)), issuer.trust
    )
    assert report.verdict == "invalid"
    assert report.stages["expiry"] is True and report.stages["signature"] is True
    assert report.reasons == ["signer-certificate-expired"]


def test_clock_before_iat_is_not_yet_valid_never_signature_invalid(issuer: Issuer) -> None:
    report = check(issuer.code(iat=AT + timedelta(hours=2)), issuer.trust)
    assert report.stages["signature"] is True
    assert report.reasons == ["not-yet-valid"]


def test_expiry_window_bounds(issuer: Issuer) -> None:
    exp = AT + timedelta(days=1)
    code = issuer.code(exp=exp)
    assert check(code, issuer.trust, at=exp).stages["expiry"] is True  # the EU suite's reading
    late = check(code, issuer.trust, at=exp + timedelta(seconds=1))
    assert late.reasons == ["expired"]


def test_48_hour_antigen_rule_across_daylight_saving_change(issuer: Issuer) -> None:
    # sampled Saturday 10:00 in Berlin (CET, +01:00); clocks go forward on Sunday 2024-03-31
    sample = "2024-03-30T10:00:00+01:00"  # = 09:00 UTC
    code = issuer.code(antigen_test(sample), iat=datetime(2024, 3, 30, 12, tzinfo=UTC))
    # Monday 10:30 CEST (+02:00) = 08:30 UTC: 47.5 h later, though the wall clocks differ by 48.5 h
    inside = datetime(2024, 4, 1, 8, 30, tzinfo=UTC)
    report = check(code, issuer.trust, at=inside, rules=RULES, country="CN")
    assert report.stages["rules"] is True, report.details.get("rules")
    outside = datetime(2024, 4, 1, 9, 0, 1, tzinfo=UTC)  # 48 h and 1 s after sampling
    late = check(code, issuer.trust, at=outside, rules=RULES, country="CN")
    assert late.stages["rules"] is False
    failed = [r for r in late.details["rules"] if r["result"] != "passed"]
    assert [r["identifier"] for r in failed] == ["TR-CN-0002"]
    assert "48 hours" in failed[0]["description"]


@pytest.mark.parametrize("tags", [(), (18,), (61, 18)])
def test_cose_framings_accepted(issuer: Issuer, tags: tuple[int, ...]) -> None:
    report = check(issuer.code(tags=tags), issuer.trust)
    assert report.verdict == "valid", report.to_dict()
    assert report.details["cose_tags"] == list(tags)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda item: cbor2.CBORTag(98, item),  # COSE_Sign (multi-signer), not Sign1
        lambda item: cbor2.CBORTag(61, item),  # CWT tag without the Sign1 tag
        lambda item: cbor2.CBORTag(18, cbor2.CBORTag(61, item)),  # tags in the wrong order
        lambda item: item[:3],  # three-element array
        lambda item: {"0": item},  # a map
    ],
)
def test_wrong_cose_structures_rejected(issuer: Issuer, wrap) -> None:
    raw = cbor2.loads(
        sign1_bytes(
            claims_bytes(vaccination(), iat=AT, exp=AT), issuer.key, kid=issuer.kid, tags=()
        )
    )
    report = check(hc1(cbor2.dumps(wrap(list(raw)))), issuer.trust)
    assert report.stages["cose"] is False and report.verdict == "invalid"


def _even(code: str) -> str:
    """Pad the payload so its Base45 has whole triples (length ≡ 0 mod 3 after ``HC1:``)."""
    return code if (len(code) - 4) % 3 == 0 else ""


@pytest.mark.parametrize(
    ("mangle", "stage"),
    [
        (lambda c: c + "A", "base45"),  # extra character after whole triples → dangling digit
        (lambda c: c + "ABC", "compression"),  # extra triple → data after the zlib stream
        (lambda c: c[:10] + "a" + c[11:], "base45"),  # lower case: outside the alphabet
        (lambda c: c[:10] + "#" + c[11:], "base45"),
        (lambda c: c[:-2], "base45"),  # a dangling character
        (lambda c: c + "GGW", "base45"),  # triple worth more than 65535
    ],
)
def test_corrupted_base45_and_trailing_data_rejected(issuer: Issuer, mangle, stage) -> None:
    code = ""
    for n in range(30):  # a code whose compressed length is even: Base45 of whole triples
        code = _even(issuer.code(vaccination(dob=f"19{n + 50}-01-02")))
        if code:
            break
    report = check(mangle(code), issuer.trust)
    assert report.stages[stage] is False, report.to_dict()
    assert report.verdict == "invalid"


def test_data_after_the_zlib_stream_rejected(issuer: Issuer) -> None:
    claims = claims_bytes(vaccination(), iat=AT - timedelta(days=1), exp=AT + timedelta(days=1))
    code = hc1(sign1_bytes(claims, issuer.key, kid=issuer.kid), after_zlib=b"\x00")
    assert check(code, issuer.trust).stages["compression"] is False


def test_data_after_the_cose_item_rejected(issuer: Issuer) -> None:
    claims = claims_bytes(vaccination(), iat=AT - timedelta(days=1), exp=AT + timedelta(days=1))
    code = hc1(sign1_bytes(claims, issuer.key, kid=issuer.kid) + b"\xf6")
    assert check(code, issuer.trust).stages["cose"] is False


def test_uncompressed_payload_rejected(issuer: Issuer) -> None:
    claims = claims_bytes(vaccination(), iat=AT, exp=AT)
    code = "HC1:" + b45encode(sign1_bytes(claims, issuer.key, kid=issuer.kid))
    assert check(code, issuer.trust).stages["compression"] is False


def test_decompression_is_bounded(issuer: Issuer) -> None:
    bomb = "HC1:" + b45encode(zlib.compress(b"\0" * (hcert.MAX_COSE_BYTES + 1), 9))
    report = check(bomb, issuer.trust)
    assert report.stages["compression"] is False


def test_percent_and_space_inside_base45_survive_only_trailing_crlf_dropped(issuer: Issuer) -> None:
    for _ in range(50):  # find a code whose Base45 holds both ' ' and '%'
        code = issuer.code(vaccination(dob=f"19{_ % 90 + 10}-01-02"))
        if " " in code and "%" in code:
            break
    assert " " in code and "%" in code
    assert check(code, issuer.trust).verdict == "valid"
    assert check(code + "\r\n", issuer.trust).verdict == "valid"
    assert check(code + "\n", issuer.trust).verdict == "valid"
    assert check(" " + code, issuer.trust).verdict == "invalid"  # never trimmed inside or before
    url_decoded = code.replace("%", "%25")
    assert check(url_decoded, issuer.trust).verdict == "invalid"


def test_positive_test_signature_valid_certificate_not_accepted(issuer: Issuer) -> None:
    sample = (AT - timedelta(hours=5)).isoformat()
    code = issuer.code(antigen_test(sample, result="260373001"))
    report = check(code, issuer.trust, rules=RULES, country="CN")
    assert report.stages["signature"] is True and report.stages["schema"] is None
    assert report.stages["rules"] is False and report.reasons == ["rule-failed"]
    failed = {r["identifier"] for r in report.details["rules"] if r["result"] == "failed"}
    assert failed == {"TR-CN-0001"}
    negative = check(issuer.code(antigen_test(sample)), issuer.trust, rules=RULES, country="CN")
    assert negative.verdict == "valid", negative.details["rules"]


def test_unknown_extra_fields_valid_with_warning(
    issuer: Issuer, schema_options: VerifyOptions
) -> None:
    payload = vaccination(xx={"note": "not in the schema"})
    payload["v"][0]["extra"] = 1
    report = verify(issuer.code(payload), trust=issuer.trust, at=AT, options=schema_options)
    assert report.verdict == "valid", report.to_dict()
    assert report.stages["schema"] is True
    assert "payload-unknown-fields" in report.warnings
    assert set(report.details["unknown_fields"]) == {"(root)/xx", "v/0/extra"}


@pytest.mark.parametrize(
    ("overrides", "warning", "birth_date"),
    [
        ({"dob": "1978-01-26T00:00:00"}, "dob-date-time", "1978-01-26"),
        ({"dob": "1963"}, None, "1963"),
        ({"dob": "1963-05"}, None, "1963-05"),
        ({"dob": "1963-XX-XX"}, "dob-placeholder", "1963"),
        ({"dob": "1963-00"}, "dob-invalid", None),
        ({"dob": "1963-00-10"}, "dob-invalid", None),
        ({"t": None, "r": None}, None, "1990-01-02"),
    ],
)
def test_real_issuer_deviations_decode_warn_and_rules_decide(
    issuer: Issuer, schema_options: VerifyOptions, overrides, warning, birth_date
) -> None:
    payload = vaccination(**overrides)
    options = VerifyOptions(
        dcc_schemas=schema_options.dcc_schemas, rules=RULES, country="CN", value_sets=VALUE_SETS
    )
    report = verify(issuer.code(payload), trust=issuer.trust, at=AT, options=options)
    assert report.holder["birth_date"] == birth_date
    if warning:
        assert warning in report.warnings
    assert report.stages["rules"] is True  # decided by the rules, not by the deviation
    assert report.verdict == "valid", report.to_dict()


def test_schema_failure_alone_is_a_warning(issuer: Issuer, schema_options: VerifyOptions) -> None:
    payload = vaccination(dob="1978-01-26T00:00:00", t=None)
    report = verify(issuer.code(payload), trust=issuer.trust, at=AT, options=schema_options)
    assert report.stages["schema"] is False
    assert report.verdict == "valid" and "schema-deviation" in report.warnings
    assert report.details["schema_errors"]


def test_protected_kid_decides_a_signature_by_another_trusted_key_is_invalid() -> None:
    named, signing = Issuer(), Issuer(name="Other trusted DSC")
    trust = TrustStore(dcc={named.kid: [named.cert], signing.kid: [signing.cert]})
    claims = claims_bytes(vaccination(), iat=AT - timedelta(days=1), exp=AT + timedelta(days=1))
    code = hc1(sign1_bytes(claims, signing.key, kid=named.kid, unprotected_kid=signing.kid))
    report = check(code, trust)
    assert report.stages["signer"] is True and report.stages["signature"] is False
    assert "signature-invalid" in report.reasons


def test_unprotected_kid_used_only_without_a_protected_one(issuer: Issuer) -> None:
    claims = claims_bytes(vaccination(), iat=AT - timedelta(days=1), exp=AT + timedelta(days=1))
    code = hc1(sign1_bytes(claims, issuer.key, kid=None, unprotected_kid=issuer.kid))
    assert check(code, issuer.trust).verdict == "valid"


def test_unknown_kid(issuer: Issuer) -> None:
    report = check(issuer.code(), TrustStore())
    assert report.reasons == ["unknown-kid"] and report.stages["signature"] is None
    assert (
        report.stages["cbor"] is True and report.stages["expiry"] is True
    )  # independent checks ran


# --- algorithms and key usage ---------------------------------------------------------
def test_ps256_and_es384_signers() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_cert = make_cert(rsa_key)
    p384 = ec.generate_private_key(ec.SECP384R1())
    p384_cert = make_cert(p384)
    for key, cert, alg in ((rsa_key, rsa_cert, -37), (p384, p384_cert, -35)):
        kid = hcert.certificate_kid(cert)
        claims = claims_bytes(vaccination(), iat=AT - timedelta(days=1), exp=AT + timedelta(days=1))
        report = check(
            hc1(sign1_bytes(claims, key, kid=kid, alg=alg)), TrustStore(dcc={kid: [cert]})
        )
        assert report.verdict == "valid", (alg, report.to_dict())


@pytest.mark.parametrize(
    ("eku", "payload", "ok"),
    [
        (None, vaccination(), True),
        ([OID_VACC], vaccination(), True),
        ([OID_TEST], vaccination(), False),
        ([OID_RECO_ALT], vaccination(), False),
        ([OID_TEST, OID_VACC], vaccination(), True),
        (["1.3.6.1.5.5.7.3.2"], vaccination(), False),  # only other purposes: the EU suite's IS/3
    ],
)
def test_key_usage(eku, payload, ok) -> None:
    issuer = Issuer(eku=eku)
    report = check(issuer.code(payload), issuer.trust)
    assert report.stages["key_usage"] is ok


def test_revocation_by_uvci_hash(issuer: Issuer) -> None:
    import hashlib

    digest = hashlib.sha256(b"URN:UVCI:01:CN:TEST0001#X").digest()[:16].hex()
    trust = TrustStore(dcc=issuer.trust.dcc, revoked_dcc={digest})
    report = check(issuer.code(), trust)
    assert report.stages["revocation"] is False and report.reasons == ["revoked"]
    clean = TrustStore(dcc=issuer.trust.dcc, revoked_dcc={"00" * 16})
    assert check(issuer.code(), clean).stages["revocation"] is True


def test_value_set_names_resolve_codes(issuer: Issuer) -> None:
    from healthcode.credentials.valuesets import parse_value_sets

    names = parse_value_sets(
        [
            (
                "vaccine-medicinal-product",
                {
                    "valueSetId": "vaccines-covid-19-names",
                    "valueSetValues": {"EU/1/20/1528": {"display": "Comirnaty"}},
                },
            )
        ]
    )
    report = check(issuer.code(), issuer.trust, value_set_names=names)
    assert report.details["certificate"][0]["mp_name"] == "Comirnaty"
    assert names.codes() == {"vaccines-covid-19-names": ["EU/1/20/1528"]}


# --- loaders ------------------------------------------------------------------------
def test_certificate_loaders_read_pem_der_and_base64(tmp_path: Path, issuer: Issuer) -> None:
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding

    der = issuer.cert.public_bytes(Encoding.DER)
    (tmp_path / "a.pem").write_bytes(issuer.cert.public_bytes(Encoding.PEM))
    (tmp_path / "b.der").write_bytes(der)
    (tmp_path / "c.b64").write_text(base64.b64encode(der).decode() + "\n")
    loaded = load_dcc_certificates(sorted(tmp_path.iterdir()))
    assert list(loaded) == [issuer.kid] and len(loaded[issuer.kid]) == 3
    trust_list = json.dumps(
        {
            "certificates": [
                {
                    "certificateType": "DSC",
                    "country": "CN",
                    "kid": base64.b64encode(issuer.kid).decode(),
                    "rawData": base64.b64encode(der).decode(),
                }
            ]
        }
    )
    assert list(parse_dcc_trust_list(b"signature-line\n" + trust_list.encode())) == [issuer.kid]
    with pytest.raises(Exception, match="no certificate|not a PEM"):
        parse_dcc_certificates(b"garbage")


# --- business-rule selection --------------------------------------------------------
def test_rule_selection_by_country_type_validity_and_version() -> None:
    base = {
        "Type": "Acceptance",
        "Country": "CN",
        "Engine": "CERTLOGIC",
        "CertificateType": "Vaccination",
        "Description": [{"lang": "en", "desc": "d"}],
        "ValidFrom": "2024-01-01T00:00:00Z",
        "ValidTo": "2025-01-01T00:00:00Z",
        "Logic": True,
    }
    rules = [
        dict(base, Identifier="VR-CN-0001", Version="1.0.0", Logic=False),
        dict(base, Identifier="VR-CN-0001", Version="1.1.0"),  # newer version wins
        dict(base, Identifier="VR-CN-0002", Version="1.0.0", ValidFrom="2024-06-01T00:00:00Z"),
        dict(base, Identifier="VR-DE-0001", Version="1.0.0", Country="DE"),
        dict(base, Identifier="TR-CN-0001", Version="1.0.0", CertificateType="Test"),
        dict(base, Identifier="GR-CN-0001", Version="1.0.0", CertificateType="General"),
        dict(base, Identifier="IR-CN-0001", Version="1.0.0", Type="Invalidation"),  # issuer CN
        dict(base, Identifier="IR-DE-0001", Version="1.0.0", Type="Invalidation", Country="DE"),
    ]
    results = dcc_rules.evaluate_rules(
        rules, vaccination(), at=AT, country="CN", value_sets={}, iat=None, exp=None, cert_type="v"
    )
    assert [(r.identifier, r.result) for r in results] == [
        ("GR-CN-0001", "passed"),
        ("IR-CN-0001", "passed"),
        ("VR-CN-0001", "passed"),
    ]


def test_rule_that_cannot_be_evaluated_is_open_and_fails_the_stage(issuer: Issuer) -> None:
    rule = dict(RULES[4], Logic={"plusTime": [{"var": "payload.v.0.dt"}, "x", "day"]})
    report = check(issuer.code(), issuer.trust, rules=[rule], country="CN")
    assert report.stages["rules"] is False
    assert report.details["rules"][0]["result"] == "open"


# --- bad input never escapes as an exception (the fuzz job runs this for minutes) ------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.booleans())
def test_any_bytes_give_a_report(data: bytes, compress: bool) -> None:
    text = "HC1:" + b45encode(zlib.compress(data) if compress else data)
    report = verify(text, trust=TrustStore(), at=AT)
    assert report.verdict == "invalid"
    json.dumps(report.to_dict())
